//! Relay claims: each router's claim of each hop as this router saw it ([`Seen`]: since when it
//! claimed without a break, and its newest renewal), heard over gossip or made here; and the hops
//! this router holds.
//!
//! A hop is held from the moment this router decides to relay it until the pipeline stops saying
//! its relay is in flight. While held, our claim of it is kept fresh by the network's own timer
//! ([`super::Network::run_claims`]), not by the pipeline's tick: a tick that waits on a slow chain
//! (a devnet that answers nothing while its postman flushes, an RPC timing out) must not let the
//! claim lapse, or the next router pays for the hop a second time. The pipeline releases the hold
//! when the message moves on; one it has not confirmed for [`HOLD_MS`] is dropped (a pipeline
//! stuck that long is not relaying).

use std::{collections::HashMap, sync::Mutex};

use alloy_primitives::Address;
use xroute_proofs::envelope::MessageId;

use super::assign::Seen;
use crate::{network::wire::RelayClaim, time::now_ms};

/// The longest the network keeps a hop's claim fresh after the pipeline last confirmed its relay
/// in flight.
pub const HOLD_MS: u64 = 120_000;

#[derive(Debug, Default)]
struct State {
    /// Relay claims heard or made: one per router and hop of a message.
    heard: HashMap<MessageId, Vec<Seen>>,
    /// When expired claims were last dropped.
    pruned_ms: u64,
    /// Hops this router holds: when the pipeline last confirmed each.
    held: HashMap<(MessageId, u8), u64>,
}

/// The claims book of one router.
#[derive(Debug)]
pub struct Claims {
    me: Address,
    window_ms: u64,
    state: Mutex<State>,
}

impl Claims {
    /// The book of router `me`, whose claims expire after two windows of `window_ms`.
    pub fn new(me: Address, window_ms: u64) -> Self {
        Self {
            me,
            window_ms,
            state: Mutex::new(State::default()),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn ttl_ms(&self) -> u64 {
        2 * self.window_ms
    }

    /// Keeps `claim` (a renewal of the same router's claim of the hop merges into it, see
    /// [`Seen::merge`]), and now and then drops the claims too old to matter.
    pub fn note(&self, claim: RelayClaim) {
        let expired = self.ttl_ms();
        let mut state = self.state();
        let claims = state.heard.entry(claim.message_id).or_default();
        match claims
            .iter_mut()
            .find(|c| c.router == claim.router && c.hop == claim.hop)
        {
            Some(c) => c.merge(&claim, expired),
            None => claims.push(Seen::of(&claim)),
        }
        let now = now_ms();
        if now.saturating_sub(state.pruned_ms) >= expired {
            state.pruned_ms = now;
            state.heard.retain(|_, cs| {
                cs.retain(|c| now.saturating_sub(c.last_ms) < expired);
                !cs.is_empty()
            });
            state
                .held
                .retain(|_, confirmed| now.saturating_sub(*confirmed) < HOLD_MS);
        }
    }

    /// The claims of message `id`'s hop `hop` (one per router, any age).
    pub fn of(&self, id: &MessageId, hop: u8) -> Vec<Seen> {
        self.state()
            .heard
            .get(id)
            .map(|cs| cs.iter().filter(|c| c.hop == hop).copied().collect())
            .unwrap_or_default()
    }

    /// A claim of `id`'s hop `hop` by this router at `now`, noted here (the caller gossips it).
    pub fn claim(&self, id: MessageId, hop: u8, now: u64) -> RelayClaim {
        let claim = RelayClaim {
            message_id: id,
            hop,
            router: self.me,
            at_ms: now,
        };
        self.note(claim);
        claim
    }

    /// Whether our claim of `id`'s `hop` is younger than `age` ms at `now`.
    fn ours_younger(&self, id: &MessageId, hop: u8, age: u64, now: u64) -> bool {
        self.state().heard.get(id).is_some_and(|cs| {
            cs.iter()
                .any(|c| c.router == self.me && c.hop == hop && now.saturating_sub(c.last_ms) < age)
        })
    }

    /// Holds `id`'s hop `hop` (the pipeline's relay of it is in flight, confirmed at `now`); a
    /// fresh claim to gossip at once if ours is a window old or missing (after a restart).
    pub fn hold(&self, id: MessageId, hop: u8, now: u64) -> Option<RelayClaim> {
        self.state().held.insert((id, hop), now);
        if self.ours_younger(&id, hop, self.window_ms, now) {
            return None;
        }
        Some(self.claim(id, hop, now))
    }

    /// Stops holding `id`'s hop `hop` (made, given up or parked).
    pub fn release(&self, id: &MessageId, hop: u8) {
        self.state().held.remove(&(*id, hop));
    }

    /// The claims to gossip again at `now` to keep every held hop's claim fresh: one for each hop
    /// confirmed within [`HOLD_MS`] whose claim is half a window old.
    pub fn renewals(&self, now: u64) -> Vec<RelayClaim> {
        let due: Vec<(MessageId, u8)> = {
            let mut state = self.state();
            state
                .held
                .retain(|_, confirmed| now.saturating_sub(*confirmed) < HOLD_MS);
            state.held.keys().copied().collect()
        };
        due.into_iter()
            .filter(|(id, hop)| !self.ours_younger(id, *hop, self.window_ms / 2, now))
            .map(|(id, hop)| self.claim(id, hop, now))
            .collect()
    }

    /// The hops held now (tests).
    #[cfg(test)]
    pub fn held(&self) -> usize {
        self.state().held.len()
    }
}

#[cfg(test)]
mod tests {
    use alloy_primitives::B256;

    use super::*;

    #[test]
    fn a_held_hop_is_claimed_again_every_half_window_until_the_hold_lapses() {
        let me = Address::repeat_byte(1);
        let claims = Claims::new(me, 1_000);
        let id = MessageId(B256::repeat_byte(2));
        let t0 = now_ms();
        // Held with no claim yet (as after a restart): claimed at once.
        let first = claims.hold(id, 0, t0).expect("claimed at once");
        assert_eq!((first.router, first.hop), (me, 0));
        assert!(claims.renewals(t0).is_empty(), "fresh: nothing to renew");
        // Half a window later the claim is renewed, without the pipeline saying anything; the
        // renewal keeps the claim's first time (what orders it against other routers' claims).
        let renewed = claims.renewals(first.at_ms + 500);
        assert_eq!(renewed.len(), 1);
        assert_eq!(renewed[0].at_ms, first.at_ms + 500);
        let seen = claims.of(&id, 0);
        assert_eq!(seen.len(), 1, "one claim per router");
        assert_eq!(
            (seen[0].first_ms, seen[0].last_ms),
            (first.at_ms, first.at_ms + 500)
        );
        // Another router's claim is kept beside ours; another hop's claims are apart.
        claims.note(RelayClaim {
            message_id: id,
            hop: 0,
            router: Address::repeat_byte(3),
            at_ms: t0,
        });
        assert_eq!(claims.of(&id, 0).len(), 2);
        assert!(claims.of(&id, 1).is_empty());
        // Released when the message moves on: nothing more is renewed.
        claims.release(&id, 0);
        assert!(claims.renewals(first.at_ms + 5_000).is_empty());
        // Not confirmed for HOLD_MS: the hold lapses by itself.
        claims.hold(id, 0, t0);
        assert_eq!(claims.held(), 1);
        assert!(claims.renewals(t0 + HOLD_MS).is_empty());
        assert_eq!(claims.held(), 0);
    }
}
