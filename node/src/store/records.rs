//! How a message record is laid out (schema 3), so that a change writes only what changed.
//!
//! - `message_bodies_v1`: id → what never changes once seen (envelope, source, when it was seen),
//!   JSON, written once.
//! - `message_states_v1`: id → the small state a step changes ([`State`], a few dozen bytes: stage,
//!   attempts, next attempt, reason, checkpoint place, relay block, and how many history and relay
//!   entries the message has).
//! - `message_history_v1`: id ‖ n (4 bytes, big-endian) → the n-th stage change, appended.
//! - `message_relays_v1`: id ‖ n → the n-th relay transaction (JSON), appended.
//!
//! A stage change is one transaction over the state, history, relay and status trees: the state
//! rewritten, one history entry and the status key moved (and one relay entry if the change names
//! one). Moves of many messages commit in one transaction ([`Store::transition_all`]). A reader
//! reads the state first and then as many entries as the state counts, so it sees one committed
//! version even while the message moves.

use serde::{Deserialize, Serialize};
use sled::{
    Transactional,
    transaction::{ConflictableTransactionError, TransactionalTree},
};
use xroute_proofs::envelope::{Envelope, MessageId};

use super::{Result, Store, StoreError, status_key};
use crate::model::{
    Change, CheckpointPlace, MessageRecord, RelayAttempt, SourceRef, Stage, Transition,
};

pub(super) const BODIES: &str = "message_bodies_v1";
pub(super) const STATES: &str = "message_states_v1";
pub(super) const HISTORY: &str = "message_history_v1";
pub(super) const RELAYS: &str = "message_relays_v1";

/// The version byte a [`State`] starts with.
const STATE_FORMAT: u8 = 1;
/// Moves per transaction in [`Store::transition_all`].
const MOVES_PER_TRANSACTION: usize = 1_000;
/// How often a move is tried again when the message changed between its read and its commit.
const STALE_RETRIES: usize = 3;

/// One stage change to make: `id` from `from` to `to`, at `at_ms`, with `note` in its history and
/// `change` made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Move {
    /// The message.
    pub id: MessageId,
    /// The stage it must be in (nothing changes otherwise).
    pub from: Stage,
    /// The stage it moves to.
    pub to: Stage,
    /// When, ms since the epoch.
    pub at_ms: u64,
    /// Why (its history entry's note).
    pub note: String,
    /// What else it sets.
    pub change: Change,
}

/// The part of a record written once.
#[derive(Serialize, Deserialize)]
struct Body {
    id: MessageId,
    envelope: Envelope,
    source: SourceRef,
    #[serde(default)]
    seen_at_ms: u64,
}

/// The part of a record a step changes, in a fixed binary layout: format byte, stage, attempts
/// (u32), next attempt (u64), history entries (u32), relay entries (u32), a flag byte (1: relay
/// block, 2: checkpoint place, 4: reason, 8: pruned), then the delivery time of a pruned record
/// (u64), the relay block (u64), the place (domain u32, L1 block u64, index u32) and the reason
/// (UTF-8, to the end), each if flagged. Integers are big-endian.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct State {
    pub stage: Stage,
    pub attempts: u32,
    pub next_attempt_at_ms: u64,
    pub history: u32,
    pub relays: u32,
    pub relayed_in: Option<u64>,
    pub checkpoint: Option<CheckpointPlace>,
    pub reason: Option<String>,
    /// When the message was delivered, if its record was pruned ([`Store::prune_delivered`]):
    /// this state is then all that is kept of it.
    pub pruned: Option<u64>,
}

impl State {
    fn of(record: &MessageRecord) -> Self {
        Self {
            stage: record.stage,
            attempts: record.attempts,
            next_attempt_at_ms: record.next_attempt_at_ms,
            history: u32::try_from(record.history.len()).unwrap_or(u32::MAX),
            relays: u32::try_from(record.relays.len()).unwrap_or(u32::MAX),
            relayed_in: record.relayed_in,
            checkpoint: record.checkpoint,
            reason: record.reason.clone(),
            pruned: None,
        }
    }

    fn apply(&mut self, change: &Change) {
        if let Some(n) = change.attempts {
            self.attempts = n;
        }
        if let Some(at) = change.next_attempt_at_ms {
            self.next_attempt_at_ms = at;
        }
        if let Some(reason) = &change.reason {
            self.reason.clone_from(reason);
        }
        if let Some(place) = change.checkpoint {
            self.checkpoint = place;
        }
        if let Some(block) = change.relayed_in {
            self.relayed_in = block;
        }
    }

    /// `record`'s changing fields set from this state.
    fn set_on(&self, record: &mut MessageRecord) {
        record.stage = self.stage;
        record.attempts = self.attempts;
        record.next_attempt_at_ms = self.next_attempt_at_ms;
        record.reason.clone_from(&self.reason);
        record.checkpoint = self.checkpoint;
        record.relayed_in = self.relayed_in;
    }

    pub(super) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(48);
        out.push(STATE_FORMAT);
        out.push(self.stage as u8);
        out.extend_from_slice(&self.attempts.to_be_bytes());
        out.extend_from_slice(&self.next_attempt_at_ms.to_be_bytes());
        out.extend_from_slice(&self.history.to_be_bytes());
        out.extend_from_slice(&self.relays.to_be_bytes());
        let flags = u8::from(self.relayed_in.is_some())
            | (u8::from(self.checkpoint.is_some()) << 1)
            | (u8::from(self.reason.is_some()) << 2)
            | (u8::from(self.pruned.is_some()) << 3);
        out.push(flags);
        if let Some(at) = self.pruned {
            out.extend_from_slice(&at.to_be_bytes());
        }
        if let Some(block) = self.relayed_in {
            out.extend_from_slice(&block.to_be_bytes());
        }
        if let Some(place) = self.checkpoint {
            out.extend_from_slice(&place.domain.to_be_bytes());
            out.extend_from_slice(&place.l1_block.to_be_bytes());
            out.extend_from_slice(&place.index.to_be_bytes());
        }
        if let Some(reason) = &self.reason {
            out.extend_from_slice(reason.as_bytes());
        }
        out
    }

    pub(super) fn decode(id: &MessageId, bytes: &[u8]) -> Result<Self> {
        let corrupt = |reason: String| StoreError::Corrupt {
            what: "message state",
            key: id.to_string(),
            reason,
        };
        let mut r = Reader(bytes);
        let format = r.u8().ok_or_else(|| corrupt("empty".into()))?;
        if format != STATE_FORMAT {
            return Err(corrupt(format!(
                "format {format}, this xroute reads format {STATE_FORMAT}"
            )));
        }
        let short = || corrupt(format!("{} bytes is too short", bytes.len()));
        let stage_byte = r.u8().ok_or_else(short)?;
        let stage =
            Stage::from_byte(stage_byte).ok_or_else(|| corrupt(format!("stage {stage_byte}")))?;
        let attempts = r.u32().ok_or_else(short)?;
        let next_attempt_at_ms = r.u64().ok_or_else(short)?;
        let history = r.u32().ok_or_else(short)?;
        let relays = r.u32().ok_or_else(short)?;
        let flags = r.u8().ok_or_else(short)?;
        if flags & !15 != 0 {
            return Err(corrupt(format!("flags {flags:#04x}")));
        }
        let pruned = if flags & 8 != 0 {
            Some(r.u64().ok_or_else(short)?)
        } else {
            None
        };
        let relayed_in = if flags & 1 != 0 {
            Some(r.u64().ok_or_else(short)?)
        } else {
            None
        };
        let checkpoint = if flags & 2 != 0 {
            Some(CheckpointPlace {
                domain: r.u32().ok_or_else(short)?,
                l1_block: r.u64().ok_or_else(short)?,
                index: r.u32().ok_or_else(short)?,
            })
        } else {
            None
        };
        let reason = if flags & 4 != 0 {
            Some(
                String::from_utf8(r.0.to_vec())
                    .map_err(|e| corrupt(format!("reason is not UTF-8: {e}")))?,
            )
        } else if r.0.is_empty() {
            None
        } else {
            return Err(corrupt(format!("{} bytes left over", r.0.len())));
        };
        Ok(Self {
            stage,
            attempts,
            next_attempt_at_ms,
            history,
            relays,
            relayed_in,
            checkpoint,
            reason,
            pruned,
        })
    }
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = self.0.split_first_chunk::<N>()?;
        self.0 = rest;
        Some(*head)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take::<1>().map(|b| b[0])
    }
    fn u32(&mut self) -> Option<u32> {
        self.take().map(u32::from_be_bytes)
    }
    fn u64(&mut self) -> Option<u64> {
        self.take().map(u64::from_be_bytes)
    }
}

/// The key of `id`'s `n`-th history or relay entry.
pub(super) fn entry_key(id: &MessageId, n: u32) -> [u8; 36] {
    let mut key = [0u8; 36];
    key[..32].copy_from_slice(id.0.as_slice());
    key[32..].copy_from_slice(&n.to_be_bytes());
    key
}

/// A history entry: from, to (stage bytes), at_ms (u64), then the note (UTF-8, to the end).
pub(super) fn encode_transition(t: &Transition) -> Vec<u8> {
    let mut out = Vec::with_capacity(10 + t.note.len());
    out.push(t.from as u8);
    out.push(t.to as u8);
    out.extend_from_slice(&t.at_ms.to_be_bytes());
    out.extend_from_slice(t.note.as_bytes());
    out
}

fn decode_transition(key: &[u8], bytes: &[u8]) -> Result<Transition> {
    let corrupt = |reason: String| StoreError::Corrupt {
        what: "history entry",
        key: super::hex(key),
        reason,
    };
    let mut r = Reader(bytes);
    let (Some(from), Some(to), Some(at_ms)) = (r.u8(), r.u8(), r.u64()) else {
        return Err(corrupt(format!("{} bytes is too short", bytes.len())));
    };
    let stage = |b: u8| Stage::from_byte(b).ok_or_else(|| corrupt(format!("stage {b}")));
    Ok(Transition {
        from: stage(from)?,
        to: stage(to)?,
        at_ms,
        note: String::from_utf8(r.0.to_vec())
            .map_err(|e| corrupt(format!("note is not UTF-8: {e}")))?,
    })
}

fn encode_body(record: &MessageRecord) -> Result<Vec<u8>> {
    #[derive(Serialize)]
    struct BodyRef<'a> {
        id: &'a MessageId,
        envelope: &'a Envelope,
        source: &'a SourceRef,
        seen_at_ms: u64,
    }
    serde_json::to_vec(&BodyRef {
        id: &record.id,
        envelope: &record.envelope,
        source: &record.source,
        seen_at_ms: record.seen_at_ms,
    })
    .map_err(|e| StoreError::Corrupt {
        what: "message body",
        key: record.id.to_string(),
        reason: format!("cannot encode: {e}"),
    })
}

fn encode_relay(id: &MessageId, attempt: &RelayAttempt) -> Result<Vec<u8>> {
    serde_json::to_vec(attempt).map_err(|e| StoreError::Corrupt {
        what: "relay entry",
        key: id.to_string(),
        reason: format!("cannot encode: {e}"),
    })
}

/// Every key and value of `record`, by tree: what a new message, a migration and a backup write.
pub(super) struct Whole {
    pub body: Vec<u8>,
    pub state: Vec<u8>,
    pub history: Vec<([u8; 36], Vec<u8>)>,
    pub relays: Vec<([u8; 36], Vec<u8>)>,
}

impl Whole {
    pub(super) fn of(record: &MessageRecord) -> Result<Self> {
        let id = &record.id;
        Ok(Self {
            body: encode_body(record)?,
            state: State::of(record).encode(),
            history: (0u32..)
                .zip(&record.history)
                .map(|(n, t)| (entry_key(id, n), encode_transition(t)))
                .collect(),
            relays: (0u32..)
                .zip(&record.relays)
                .map(|(n, a)| Ok((entry_key(id, n), encode_relay(id, a)?)))
                .collect::<Result<_>>()?,
        })
    }
}

/// What a move came to inside its transaction.
pub(super) enum Applied {
    /// Committed (with the others of its transaction): the record as it now is.
    Moved(Box<MessageRecord>),
    /// Not made, for this reason (not in `from`, unknown); nothing of it was written.
    Refused(StoreError),
    /// The record the caller read is older than the stored one: read again and retry.
    Stale,
}

/// The trees a move writes, inside a transaction: states, history, relays, status.
pub(super) type MoveTrees<'a> = (
    &'a TransactionalTree,
    &'a TransactionalTree,
    &'a TransactionalTree,
    &'a TransactionalTree,
);

/// Makes `m` on `base` (the caller's read of the message) inside a transaction.
pub(super) fn move_in(
    (states, history, relays, status): MoveTrees<'_>,
    base: &MessageRecord,
    m: &Move,
) -> std::result::Result<Applied, ConflictableTransactionError<StoreError>> {
    let abort = ConflictableTransactionError::Abort;
    let key = m.id.0;
    let Some(bytes) = states.get(key.as_slice())? else {
        return Ok(Applied::Refused(StoreError::UnknownMessage(m.id)));
    };
    let mut state = State::decode(&m.id, &bytes).map_err(abort)?;
    if state.stage != m.from {
        return Ok(Applied::Refused(StoreError::StageMismatch {
            id: m.id,
            expected: m.from,
            found: state.stage,
        }));
    }
    if state.history as usize != base.history.len() || state.relays as usize != base.relays.len() {
        return Ok(Applied::Stale);
    }
    let mut record = base.clone();
    state.apply(&m.change);
    let entry = Transition {
        from: m.from,
        to: m.to,
        at_ms: m.at_ms,
        note: m.note.clone(),
    };
    history.insert(
        entry_key(&m.id, state.history).as_slice(),
        encode_transition(&entry),
    )?;
    state.history += 1;
    record.history.push(entry);
    if let Some(attempt) = &m.change.relay {
        relays.insert(
            entry_key(&m.id, state.relays).as_slice(),
            encode_relay(&m.id, attempt).map_err(abort)?,
        )?;
        state.relays += 1;
        record.relays.push(attempt.clone());
    }
    state.stage = m.to;
    states.insert(key.as_slice(), state.encode())?;
    status.remove(status_key(m.from, &m.id).as_slice())?;
    status.insert(status_key(m.to, &m.id).as_slice(), &[][..])?;
    if m.to == Stage::Delivered {
        status.insert(super::delivered_key(m.at_ms, &m.id).as_slice(), &[][..])?;
    }
    state.set_on(&mut record);
    Ok(Applied::Moved(Box::new(record)))
}

impl Store {
    /// The record of `id`: its state, then its body and as many history and relay entries as the
    /// state counts.
    pub fn get(&self, id: &MessageId) -> Result<Option<MessageRecord>> {
        let key = id.0;
        let Some(state) = self.states.get(key.as_slice())? else {
            return Ok(None);
        };
        let state = State::decode(id, &state)?;
        if state.pruned.is_some() {
            return Ok(None);
        }
        let body = self
            .bodies
            .get(key.as_slice())?
            .ok_or_else(|| StoreError::Corrupt {
                what: "message body",
                key: id.to_string(),
                reason: "missing (its state is stored)".into(),
            })?;
        let body: Body = serde_json::from_slice(&body).map_err(|e| StoreError::Corrupt {
            what: "message body",
            key: id.to_string(),
            reason: e.to_string(),
        })?;
        if body.id != *id {
            return Err(StoreError::Corrupt {
                what: "message body",
                key: id.to_string(),
                reason: format!("holds message {}", body.id),
            });
        }
        let history = entries(&self.history, id, state.history, "history entry", |k, v| {
            decode_transition(k, v)
        })?;
        let relays = entries(&self.relays, id, state.relays, "relay entry", |k, v| {
            serde_json::from_slice(v).map_err(|e| StoreError::Corrupt {
                what: "relay entry",
                key: super::hex(k),
                reason: e.to_string(),
            })
        })?;
        let mut record = MessageRecord {
            id: *id,
            envelope: body.envelope,
            source: body.source,
            stage: state.stage,
            attempts: 0,
            next_attempt_at_ms: 0,
            reason: None,
            relays,
            history,
            seen_at_ms: body.seen_at_ms,
            checkpoint: None,
            relayed_in: None,
        };
        state.set_on(&mut record);
        Ok(Some(record))
    }

    /// Moves `id` from stage `from` to `to`, making `change`, in one transaction with the status
    /// index. Fails with [`StoreError::StageMismatch`] (and changes nothing) when the message is
    /// not in `from`, so two racing steps cannot both win.
    pub fn transition(
        &self,
        id: &MessageId,
        from: Stage,
        to: Stage,
        at_ms: u64,
        note: &str,
        change: Change,
    ) -> Result<MessageRecord> {
        let m = Move {
            id: *id,
            from,
            to,
            at_ms,
            note: note.to_string(),
            change,
        };
        for _ in 0..STALE_RETRIES {
            let base = self.get(id)?.ok_or(StoreError::UnknownMessage(*id))?;
            match self.commit(&[(&base, &m)])?.pop() {
                Some(Applied::Moved(record)) => return Ok(*record),
                Some(Applied::Refused(e)) => return Err(e),
                Some(Applied::Stale) | None => {}
            }
        }
        let found = self.get(id)?.map_or(from, |r| r.stage);
        Err(StoreError::StageMismatch {
            id: *id,
            expected: from,
            found,
        })
    }

    /// Makes every move, each on the record its caller read (`base`), committing them together
    /// ([`MOVES_PER_TRANSACTION`] to a transaction): one result per move, in order. A move whose
    /// message is not in its `from` stage is refused alone; one whose message changed since it was
    /// read is made again on a fresh read.
    pub fn transition_all(
        &self,
        moves: &[(MessageRecord, Move)],
    ) -> Result<Vec<Result<MessageRecord>>> {
        let mut out = Vec::with_capacity(moves.len());
        for chunk in moves.chunks(MOVES_PER_TRANSACTION) {
            let pairs: Vec<(&MessageRecord, &Move)> = chunk.iter().map(|(b, m)| (b, m)).collect();
            for (applied, (_, m)) in self.commit(&pairs)?.into_iter().zip(chunk) {
                out.push(match applied {
                    Applied::Moved(record) => Ok(*record),
                    Applied::Refused(e) => Err(e),
                    Applied::Stale => {
                        self.transition(&m.id, m.from, m.to, m.at_ms, &m.note, m.change.clone())
                    }
                });
            }
        }
        Ok(out)
    }

    /// Commits `moves` in one transaction; counts and tells the observer of those made.
    fn commit(&self, moves: &[(&MessageRecord, &Move)]) -> Result<Vec<Applied>> {
        let _changing = self.changing()?;
        let applied = (&self.states, &self.history, &self.relays, &self.status)
            .transaction(|(states, history, relays, status)| {
                moves
                    .iter()
                    .map(|(base, m)| {
                        if m.from.can_move_to(m.to) {
                            move_in((states, history, relays, status), base, m)
                        } else {
                            Ok(Applied::Refused(StoreError::IllegalTransition {
                                id: m.id,
                                from: m.from,
                                to: m.to,
                            }))
                        }
                    })
                    .collect::<std::result::Result<Vec<_>, _>>()
            })
            .map_err(super::flatten)?;
        crate::failpoint::hit("store.move");
        for ((_, m), a) in moves.iter().zip(&applied) {
            if let Applied::Moved(record) = a {
                self.counts.moved(m.from, m.to);
                if let Some(observer) = &self.observer {
                    observer.moved(record, m.from, m.to, m.at_ms);
                }
            }
        }
        Ok(applied)
    }

    /// Moves `id`'s source to `source` (its sending transaction found in another block after a
    /// reorg, or sent again on the new branch); nothing else of it changes.
    pub fn set_source(&self, id: &MessageId, source: SourceRef) -> Result<()> {
        let mut record = self.get(id)?.ok_or(StoreError::UnknownMessage(*id))?;
        record.source = source;
        let body = encode_body(&record)?;
        self.bodies.insert(id.0.as_slice(), body)?;
        Ok(())
    }

    /// Makes `change` on `id` without changing its stage (attempts, reason, a relay transaction).
    pub fn update(&self, id: &MessageId, change: Change) -> Result<()> {
        let key = id.0;
        (&self.states, &self.relays)
            .transaction(|(states, relays)| {
                let bytes =
                    states
                        .get(key.as_slice())?
                        .ok_or(ConflictableTransactionError::Abort(
                            StoreError::UnknownMessage(*id),
                        ))?;
                let mut state =
                    State::decode(id, &bytes).map_err(ConflictableTransactionError::Abort)?;
                state.apply(&change);
                if let Some(attempt) = &change.relay {
                    relays.insert(
                        entry_key(id, state.relays).as_slice(),
                        encode_relay(id, attempt).map_err(ConflictableTransactionError::Abort)?,
                    )?;
                    state.relays += 1;
                }
                states.insert(key.as_slice(), state.encode())?;
                Ok(())
            })
            .map_err(super::flatten)?;
        crate::failpoint::hit("store.update");
        Ok(())
    }
}

/// The first `n` entries under `id` in `tree`, decoded (fewer is a corrupt store).
fn entries<T>(
    tree: &sled::Tree,
    id: &MessageId,
    n: u32,
    what: &'static str,
    decode: impl Fn(&[u8], &[u8]) -> Result<T>,
) -> Result<Vec<T>> {
    let mut out = Vec::with_capacity(n as usize);
    for entry in tree.scan_prefix(id.0.as_slice()).take(n as usize) {
        let (key, value) = entry?;
        out.push(decode(&key, &value)?);
    }
    if out.len() != n as usize {
        return Err(StoreError::Corrupt {
            what,
            key: id.to_string(),
            reason: format!("{} of {n} entries stored", out.len()),
        });
    }
    Ok(out)
}
