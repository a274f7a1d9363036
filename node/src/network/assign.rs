//! Relay assignment, as a pure function of the set, the claims heard and the clock.
//!
//! Per hop, the routers of the configured set are ranked by rendezvous hashing of (message id,
//! router address); every router computes the same order. The first acts at once; the k-th only
//! after k × `window_ms`, and only if no other router claimed the hop recently. A router gossips
//! its claim, waits `settle_ms`, and relays only if no router claimed before it (claims ordered by
//! time, then rank). A claim holds the others back for two windows; the relaying router keeps it
//! fresh while its transaction waits (see [`super::claims`]).
//!
//! Liveness (heartbeats) is not used for ranking: two routers whose views differ for a heartbeat
//! would both rank themselves first and pay twice. A dead router costs its successors one window.

use alloy_primitives::{Address, B256, keccak256};
use xroute_proofs::envelope::MessageId;

use crate::network::wire::RelayClaim;

/// What a router does about a hop now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Not now; why (for logs).
    Wait(String),
    /// Gossip a claim of the hop, then wait for it to settle.
    Claim,
    /// Send the relay transaction.
    Relay,
}

/// A router's claim of a hop as this router saw it: since when the router has claimed it without
/// a break (what orders claims: a renewal must not make an earlier claim look later) and its
/// newest renewal (what keeps it fresh).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seen {
    /// The claiming router.
    pub router: Address,
    /// The hop.
    pub hop: u8,
    /// Its first claim of the hop, of those that followed each other within a claim's lifetime.
    pub first_ms: u64,
    /// Its newest claim.
    pub last_ms: u64,
}

impl Seen {
    /// A first claim.
    pub fn of(claim: &RelayClaim) -> Self {
        Self {
            router: claim.router,
            hop: claim.hop,
            first_ms: claim.at_ms,
            last_ms: claim.at_ms,
        }
    }

    /// `claim` (the same router's, of the same hop) heard after this: a renewal before this one
    /// expired (`ttl_ms`) keeps the first time; after, it starts over. Older claims change
    /// nothing.
    pub fn merge(&mut self, claim: &RelayClaim, ttl_ms: u64) {
        if claim.at_ms <= self.last_ms {
            return;
        }
        if claim.at_ms.saturating_sub(self.last_ms) >= ttl_ms {
            self.first_ms = claim.at_ms;
        }
        self.last_ms = claim.at_ms;
    }
}

/// One router's view of the assignment rules.
#[derive(Debug, Clone)]
pub struct Assignment {
    /// This router.
    pub me: Address,
    /// The configured set.
    pub routers: Vec<Address>,
    /// Failover window.
    pub window_ms: u64,
    /// Wait between claiming and relaying.
    pub settle_ms: u64,
}

/// Rendezvous score of `router` for message `id` (higher relays first).
fn score(id: &MessageId, router: &Address) -> B256 {
    let mut buf = [0u8; 52];
    buf[..32].copy_from_slice(id.0.as_slice());
    buf[32..].copy_from_slice(router.as_slice());
    keccak256(buf)
}

impl Assignment {
    /// How long a claim holds the other routers back: two windows.
    pub fn claim_ttl_ms(&self) -> u64 {
        2 * self.window_ms
    }

    /// `router`'s rank for `id` (0 = relays first).
    pub fn rank_of(&self, id: &MessageId, router: &Address) -> usize {
        let theirs = score(id, router);
        self.routers
            .iter()
            .filter(|a| *a != router && score(id, a) > theirs)
            .count()
    }

    /// This router's rank for `id`.
    pub fn rank(&self, id: &MessageId) -> usize {
        self.rank_of(id, &self.me)
    }

    /// What this router does about message `id`'s hop at `now`, `claims` being the claims of the
    /// hop it heard or made (one [`Seen`] per router), the message attested here at
    /// `attested_at`:
    /// - another router's claim younger than two windows, and none of ours: wait (the claimant
    ///   relays; if it dies, its claim expires);
    /// - no claim of ours, and `rank × window_ms` has not passed since `attested_at`: wait for the
    ///   routers ranked before us;
    /// - no claim of ours otherwise: [`Decision::Claim`];
    /// - our claim, and another router's claim came first: wait (it relays). Claims are ordered by
    ///   when their router first claimed (renewals keep that time), then by rank;
    /// - our claim, `settle_ms` old: [`Decision::Relay`].
    ///
    /// Why this never pays twice: a router relays at `t + settle` having heard every claim made
    /// before `t + settle − latency`; a claim it has not heard was made after `t`, so it comes
    /// second, and its router, deciding at its own claim time + settle, has heard ours by then.
    /// This holds while gossip latency plus clock skew stays under `settle_ms`.
    pub fn decide(&self, id: &MessageId, claims: &[Seen], attested_at: u64, now: u64) -> Decision {
        let fresh: Vec<&Seen> = claims
            .iter()
            .filter(|c| now.saturating_sub(c.last_ms) < self.claim_ttl_ms())
            .collect();
        let rank = self.rank(id);
        let mine = fresh.iter().find(|c| c.router == self.me);
        let mut others = fresh.iter().filter(|c| c.router != self.me);
        match mine {
            None => {
                if let Some(other) = others.next() {
                    return Decision::Wait(format!("{} claimed the hop", other.router));
                }
                let at = attested_at + rank as u64 * self.window_ms;
                if now < at {
                    return Decision::Wait(format!("rank {rank}: acts at {at}"));
                }
                Decision::Claim
            }
            Some(mine) => {
                let ours = (mine.first_ms, rank);
                if let Some(first) =
                    others.find(|c| (c.first_ms, self.rank_of(id, &c.router)) < ours)
                {
                    return Decision::Wait(format!("{} claimed the hop first", first.router));
                }
                let at = mine.first_ms + self.settle_ms;
                if now < at {
                    return Decision::Wait(format!("claimed; relays at {at}"));
                }
                Decision::Relay
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const WINDOW: u64 = 1_000;
    const SETTLE: u64 = 200;
    /// Latency and skew bounds of a healthy network: their sum is under the settle time.
    const MAX_LATENCY: u64 = 120;
    const MAX_SKEW: u64 = 60;

    /// Keeps one [`Seen`] per router, as the claims book does.
    fn note(book: &mut Vec<Seen>, claim: RelayClaim) {
        match book.iter_mut().find(|c| c.router == claim.router) {
            Some(c) => c.merge(&claim, 2 * WINDOW),
            None => book.push(Seen::of(&claim)),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// For any set of 2 to 6 routers, any times at which each got its certificate, any poll
        /// intervals, clock skews and gossip latencies of a healthy network, and however long the
        /// relay waits for a block: exactly one router relays the hop.
        #[test]
        fn never_two_routers_relay_one_hop_while_all_are_healthy(
            n in 2usize..=6,
            nonce in any::<u64>(),
            attested in proptest::collection::vec(0u64..4 * WINDOW, 6),
            polls in proptest::collection::vec(10u64..400, 6),
            skews in proptest::collection::vec(0u64..=MAX_SKEW, 6),
            latencies in proptest::collection::vec(0u64..=MAX_LATENCY, 36),
            mined_after in 0u64..12 * WINDOW,
        ) {
            let routers: Vec<Address> = (0..n).map(|i| Address::repeat_byte(i as u8 + 1)).collect();
            let id = MessageId(keccak256(nonce.to_be_bytes()));
            let rules = |i: usize| Assignment {
                me: routers[i],
                routers: routers.clone(),
                window_ms: WINDOW,
                settle_ms: SETTLE,
            };
            let local = |i: usize, t: u64| t + skews[i];
            let mut books: Vec<Vec<Seen>> = vec![Vec::new(); n];
            // (true time it arrives, receiver, claim)
            let mut in_flight: Vec<(u64, usize, RelayClaim)> = Vec::new();
            let mut relays: Vec<(usize, u64)> = Vec::new();
            let mut made_at: Option<u64> = None;
            // The relayer's own claim refresh while its transaction waits (every half window).
            let mut holding: Option<(usize, u64)> = None;
            let horizon = 4 * WINDOW + (n as u64 + 4) * WINDOW + 12 * WINDOW;
            for t in 0..horizon {
                in_flight.retain(|(at, to, claim)| {
                    if *at <= t {
                        note(&mut books[*to], *claim);
                        false
                    } else {
                        true
                    }
                });
                let publish = |from: usize, claim: RelayClaim, in_flight: &mut Vec<(u64, usize, RelayClaim)>| {
                    for to in 0..n {
                        if to != from {
                            in_flight.push((t + latencies[from * 6 + to], to, claim));
                        }
                    }
                };
                if let Some((i, last)) = holding
                    && made_at.is_none_or(|m| t < m)
                    && t >= last + WINDOW / 2
                {
                    let claim = RelayClaim { message_id: id, hop: 0, router: routers[i], at_ms: local(i, t) };
                    note(&mut books[i], claim);
                    publish(i, claim, &mut in_flight);
                    holding = Some((i, t));
                }
                for i in 0..n {
                    // Not attested yet, not a poll, already relayed, or the hop is visibly made.
                    if t < attested[i] || (t - attested[i]) % polls[i] != 0 {
                        continue;
                    }
                    if relays.iter().any(|(r, _)| *r == i) || made_at.is_some_and(|m| t >= m) {
                        continue;
                    }
                    let decision = rules(i).decide(&id, &books[i], local(i, attested[i]), local(i, t));
                    match decision {
                        Decision::Wait(_) => {}
                        Decision::Claim => {
                            let claim = RelayClaim { message_id: id, hop: 0, router: routers[i], at_ms: local(i, t) };
                            note(&mut books[i], claim);
                            publish(i, claim, &mut in_flight);
                        }
                        Decision::Relay => {
                            relays.push((i, t));
                            made_at = Some(made_at.map_or(t + mined_after, |m| m.min(t + mined_after)));
                            holding = Some((i, t));
                        }
                    }
                }
            }
            prop_assert_eq!(relays.len(), 1, "relays (router, time): {:?}", relays);
        }
    }

    #[test]
    fn a_claim_expires_after_two_windows_and_ranks_are_a_permutation() {
        let routers: Vec<Address> = (1..=4u8).map(Address::repeat_byte).collect();
        let id = MessageId(B256::repeat_byte(9));
        let rules: Vec<Assignment> = routers
            .iter()
            .map(|me| Assignment {
                me: *me,
                routers: routers.clone(),
                window_ms: WINDOW,
                settle_ms: SETTLE,
            })
            .collect();
        let mut ranks: Vec<usize> = rules.iter().map(|r| r.rank(&id)).collect();
        ranks.sort_unstable();
        assert_eq!(ranks, [0, 1, 2, 3]);
        let first = rules.iter().position(|r| r.rank(&id) == 0).unwrap();
        let other = (first + 1) % 4;
        let claim = Seen::of(&RelayClaim {
            message_id: id,
            hop: 0,
            router: routers[first],
            at_ms: 10_000,
        });
        let late = 10_000 + 10 * WINDOW;
        assert!(matches!(
            rules[other].decide(&id, &[claim], 0, 10_000 + 2 * WINDOW - 1),
            Decision::Wait(_)
        ));
        assert_eq!(rules[other].decide(&id, &[claim], 0, late), Decision::Claim);
        // A renewal within the claim's lifetime keeps its first time; one after it starts over.
        let mut seen = claim;
        let renewal = |at_ms| RelayClaim {
            message_id: id,
            hop: 0,
            router: routers[first],
            at_ms,
        };
        seen.merge(&renewal(10_000 + WINDOW), 2 * WINDOW);
        assert_eq!((seen.first_ms, seen.last_ms), (10_000, 10_000 + WINDOW));
        seen.merge(&renewal(10_000 + 5 * WINDOW), 2 * WINDOW);
        assert_eq!(seen.first_ms, 10_000 + 5 * WINDOW);
        seen.merge(&renewal(10_000), 2 * WINDOW);
        assert_eq!(
            seen.last_ms,
            10_000 + 5 * WINDOW,
            "an older claim changes nothing"
        );
    }
}
