//! Leaving an Arbitrum-family rollup: the send read from its own block's `L2ToL1Tx` log, the
//! newest send root the rollup posted to the Outbox, the size of the accumulator under it
//! (`ArbSys.sendMerkleTreeState`) and the leaf's path from the node
//! (`NodeInterface.constructOutboxProof` at 0xc8), checked against the root (see the module doc
//! of [`super`]).

use alloy::{
    primitives::{Address, B256, Bytes, U256},
    providers::Provider,
    rpc::types::Filter,
    sol_types::SolEvent,
};
use xroute_proofs::{
    arbitrum::{self, L2ToL1Send},
    envelope::{Envelope, MessageId},
};

use super::{
    ARB_SYS, ArbBridgeContracts, ArbSys, ArbitrumAdapter, LOG_RANGE, NODE_INTERFACE, NodeInterface,
    bridge::envelope_of, outbox_root_key, relay_from_arbitrum,
};
use crate::{
    AdapterError, Exit, L1, L1State, Result,
    hub::{self, Hub},
};

/// The most sends kept in memory (each is found again from its block's logs when evicted).
const SENDS_KEPT: usize = 10_000;

/// A send root the rollup posted to the Outbox.
#[derive(Debug, Clone)]
pub(super) struct PostedRoot {
    root: B256,
    l2_block_hash: B256,
    /// How many sends it covers, once known.
    size: Option<u64>,
}

/// The newest send root the rollup posted (older ones cover no more leaves), and the next L1
/// block to read for a newer one.
#[derive(Debug, Default)]
pub(super) struct Roots {
    next_block: u64,
    newest: Option<PostedRoot>,
}

impl ArbitrumAdapter {
    /// The leaf index and the send of message `id`, from the `L2ToL1Tx` logs of L2 block
    /// `sent_in` (the block the endpoint sent it in); `None` when that block holds none.
    async fn send_of(
        &self,
        id: &MessageId,
        hub: Address,
        sent_in: u64,
    ) -> Result<Option<(u64, L2ToL1Send)>> {
        if let Some(found) = self.sends.lock().await.get(id) {
            // A send remembered from another L2 block is of a branch the L2 left (a reorg moved
            // the message's transaction): its hash names that block, so it is read again.
            if found.1.arb_block_num == U256::from(sent_in) {
                return Ok(Some(found.clone()));
            }
        }
        let chain = &self.client;
        let filter = Filter::new()
            .address(ARB_SYS)
            .event_signature(ArbSys::L2ToL1Tx::SIGNATURE_HASH)
            .topic1(hub.into_word())
            .from_block(sent_in)
            .to_block(sent_in);
        for log in chain.logs(&filter).await? {
            let tx = log.transaction_hash;
            let event = ArbSys::L2ToL1Tx::decode_log(&log.inner)
                .map_err(|e| chain.bad("L2ToL1Tx log", tx, e.to_string()))?;
            let send = L2ToL1Send {
                caller: event.caller,
                destination: event.destination,
                arb_block_num: event.arbBlockNum,
                eth_block_num: event.ethBlockNum,
                timestamp: event.timestamp,
                value: event.callvalue,
                data: event.data.data.clone(),
            };
            if send.hash() != B256::from(event.hash) {
                return Err(chain.bad(
                    "L2ToL1Tx log",
                    tx,
                    format!(
                        "its fields hash to {}, the log says {:#x}",
                        send.hash(),
                        event.hash
                    ),
                ));
            }
            if send.caller != self.contracts.endpoint
                || send.destination != hub
                || envelope_of(&send.data).map(|e| e.id()) != Some(*id)
            {
                continue;
            }
            let position = u64::try_from(event.position)
                .map_err(|_| chain.bad("L2ToL1Tx log", tx, "leaf index over 2^64"))?;
            let mut sends = self.sends.lock().await;
            if sends.len() >= SENDS_KEPT {
                // A message is looked up again from its own block if needed: no unbounded map.
                sends.clear();
            }
            sends.insert(*id, (position, send.clone()));
            return Ok(Some((position, send)));
        }
        Ok(None)
    }

    /// How many sends the accumulator held at the end of L2 block `block_hash`, whose root the
    /// rollup posted as `root` (`ArbSys.sendMerkleTreeState`, asked from address zero as nitro
    /// requires, at that block).
    async fn size_at(&self, block_hash: B256, root: B256) -> Result<u64> {
        let chain = &self.client;
        let state = ArbSys::new(ARB_SYS, &chain.provider)
            .sendMerkleTreeState()
            .from(Address::ZERO)
            .block(alloy::eips::BlockId::hash(block_hash))
            .call()
            .await
            .map_err(|e| AdapterError::rpc(&chain.info.name, "ArbSys.sendMerkleTreeState", e))?;
        if state.root != root {
            return Err(chain.bad(
                "send root",
                None,
                format!(
                    "the Outbox has root {root} for L2 block {block_hash}, ArbSys there has {} \
                     (wrong chain, or an L2 reorg under a posted root)",
                    state.root
                ),
            ));
        }
        u64::try_from(state.size).map_err(|_| chain.bad("send root", None, "size over 2^64"))
    }

    /// The Merkle path of leaf `position` (send `send`) under `root`, a tree of `size` sends,
    /// from the node (`NodeInterface.constructOutboxProof`), checked here: the node names the
    /// same send and root, and the path leads from the leaf to the root.
    async fn outbox_proof(
        &self,
        size: u64,
        position: u64,
        send: B256,
        root: B256,
    ) -> Result<Vec<B256>> {
        let chain = &self.client;
        let answer = NodeInterface::new(NODE_INTERFACE, &chain.provider)
            .constructOutboxProof(size, position)
            .call()
            .await
            .map_err(|e| {
                AdapterError::rpc(&chain.info.name, "NodeInterface.constructOutboxProof", e)
            })?;
        let leads_to = arbitrum::outbox_root_from_proof(send, position, &answer.proof)
            .map_err(|e| chain.bad("outbox proof", None, e.to_string()))?;
        if answer.send != send || answer.root != root || leads_to != root {
            return Err(chain.bad(
                "outbox proof",
                None,
                format!(
                    "asked for leaf {position} of {size} (send {send}, root {root}), the node \
                     answered send {}, root {}, and a path to {leads_to}",
                    answer.send, answer.root
                ),
            ));
        }
        Ok(answer.proof)
    }

    /// The Outbox's `SendRootUpdated` logs in L1 blocks `from..=to` (the L1 state windows
    /// the query to its provider's range).
    /// A root posted in L1 blocks `from..=to` covers every send up to its L2 block.
    pub(super) async fn exits_in(
        &self,
        l1: &dyn L1State,
        from: u64,
        to: u64,
    ) -> Result<crate::Exits> {
        Ok(match self.root_logs(l1, from, to).await?.pop() {
            Some(newest) => crate::Exits::UpTo(self.l2_block_number(newest.l2_block_hash).await?),
            None => crate::Exits::Ids(Vec::new()),
        })
    }

    async fn root_logs(&self, l1: &dyn L1State, from: u64, to: u64) -> Result<Vec<PostedRoot>> {
        let filter = self.roots_filter().from_block(from).to_block(to);
        Ok(l1
            .logs(&filter)
            .await?
            .iter()
            .filter_map(posted_root)
            .collect())
    }

    /// The Outbox's `SendRootUpdated` logs.
    fn roots_filter(&self) -> Filter {
        Filter::new()
            .address(self.contracts.outbox)
            .event_signature(ArbBridgeContracts::SendRootUpdated::SIGNATURE_HASH)
    }

    /// Brings `roots` up to L1 block `to`. The first time, the newest root is looked for
    /// backwards from `to`, a window at a time (not from L1's genesis: on a public chain the
    /// Outbox holds years of roots, and only the newest matters).
    async fn read_roots(&self, l1: &dyn L1State, roots: &mut Roots, to: u64) -> Result<()> {
        if roots.next_block == 0 {
            if let Some(log) = last_log_back(l1, &self.roots_filter(), to).await? {
                roots.newest = posted_root(&log);
            }
        } else if roots.next_block <= to
            && let Some(newest) = self.root_logs(l1, roots.next_block, to).await?.pop()
        {
            roots.newest = Some(newest);
        }
        roots.next_block = roots.next_block.max(to + 1);
        Ok(())
    }

    /// The number of L2 block `hash`, which a posted root names.
    async fn l2_block_number(&self, hash: B256) -> Result<u64> {
        let chain = &self.client;
        let block = chain
            .provider
            .get_block_by_hash(hash)
            .await
            .map_err(|e| chain.rpc_error("eth_getBlockByHash", e))?
            .ok_or_else(|| {
                chain.bad(
                    "send root",
                    None,
                    format!(
                        "the Outbox names L2 block {hash}, which the L2 does not have (wrong \
                         chain, or an L2 reorg under a posted root)"
                    ),
                )
            })?;
        Ok(block.header.number)
    }

    /// The exit of `envelope` (see the module doc).
    pub(super) async fn exit_of(
        &self,
        envelope: &Envelope,
        sent_in: u64,
        l1: &L1<'_>,
        terms: &Bytes,
    ) -> Result<Exit> {
        let chain = &self.client;
        let id = envelope.id();
        let hub = l1.state.hub();
        let words = envelope.to_words();
        // Executed on L1 already (anyone may execute an Outbox message): the Hub holds it.
        let pending = l1
            .state
            .proven_slot(hub, hub::outbound_key(id.0), l1.finalized)
            .await?;
        if !pending.is_zero() {
            return Ok(Exit::from_slot(
                pending,
                "Hub.outbound[id] (executed through the Outbox)",
                l1,
                hub::relay_from_l1(hub, &words, terms),
                pending.saturating_sub(U256::from(1)),
            ));
        }
        let Some((position, send)) = self.send_of(&id, hub, sent_in).await? else {
            return Ok(Exit::NotYet);
        };
        let mut roots = self.roots.lock().await;
        self.read_roots(l1.state, &mut roots, l1.finalized.number)
            .await?;
        // The newest posted root decides (older ones cover no more leaves).
        let Some(posted) = roots.newest.clone() else {
            return Ok(Exit::NotYet);
        };
        let size = match posted.size {
            Some(size) => size,
            None => {
                let size = self.size_at(posted.l2_block_hash, posted.root).await?;
                if let Some(newest) = roots.newest.as_mut() {
                    newest.size = Some(size);
                }
                size
            }
        };
        drop(roots);
        if size <= position {
            return Ok(Exit::NotYet);
        }
        let proof = match self
            .outbox_proof(size, position, send.hash(), posted.root)
            .await
        {
            Ok(proof) => proof,
            Err(e) => {
                // Whatever was remembered of this send is read again next time.
                self.sends.lock().await.remove(&id);
                return Err(e);
            }
        };
        let confirmed = l1
            .state
            .proven_slot(
                self.contracts.outbox,
                outbox_root_key(posted.root),
                l1.finalized,
            )
            .await?;
        if confirmed.is_zero() {
            return Ok(Exit::NotYet);
        }
        let exit = Hub::ArbitrumExit {
            srcDomain: chain.info.domain,
            proof: proof.clone(),
            index: U256::from(position),
            l2Block: send.arb_block_num,
            l1Block: send.eth_block_num,
            l2Timestamp: send.timestamp,
            words: hub::envelope_words(&words),
        };
        Ok(Exit::Ready {
            proof: format!(
                "Outbox.roots[{}] set at L1 block {} (storage proof); leaf {position} of {size} \
                 under it by a {}-step Merkle path",
                posted.root,
                l1.finalized.number,
                proof.len()
            ),
            call: relay_from_arbitrum(hub, exit, terms),
            prepaid: U256::ZERO,
        })
    }
}

/// The root a `SendRootUpdated` log posted.
fn posted_root(log: &alloy::rpc::types::Log) -> Option<PostedRoot> {
    match log.topics() {
        [_, root, block_hash] => Some(PostedRoot {
            root: *root,
            l2_block_hash: *block_hash,
            size: None,
        }),
        _ => None,
    }
}

/// The newest log `filter` selects at or before L1 block `from`, looked for backwards a window of
/// `LOG_RANGE` blocks at a time (what is recent is found in one query, and nothing is read from
/// L1's genesis unless nothing newer matches).
pub(super) async fn last_log_back(
    l1: &dyn L1State,
    filter: &Filter,
    from: u64,
) -> Result<Option<alloy::rpc::types::Log>> {
    let mut end = from;
    loop {
        let start = end.saturating_sub(LOG_RANGE - 1);
        let window = filter.clone().from_block(start).to_block(end);
        if let Some(log) = l1.logs(&window).await?.pop() {
            return Ok(Some(log));
        }
        if start == 0 {
            return Ok(None);
        }
        end = start - 1;
    }
}
