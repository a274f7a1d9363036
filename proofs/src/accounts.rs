//! Interchain accounts and L1 reads (issue 31): the words of their requests and answers, as
//! `contracts/evm/src/AccountRouter.sol` reads and writes them, and an account's address.
//!
//! Every word stays below 2^251, so a request can be sent from, and an answer sent to, any chain
//! (a Starknet payload word is a felt). Bytes travel as their length, then 31 bytes a word
//! (big-endian, the last word's unused low bytes zero): [`encode_bytes`].
//!
//! - calls request: `[1, tag, k, (domain, recipient) × k, outputs, n, (target, value, bytes) × n]`
//!   (bit i of `outputs`: call i's return data goes into the result)
//! - calls result: `[2, tag, srcDomain, owner, ok, failedIndex, m, bytes × m]`
//! - read request: `[3, tag, k, (domain, recipient) × k, n, (target, bytes) × n]`
//! - read answer: `[4, tag, srcDomain, requester, blockNumber, n, (ok, bytes) × n]`
//! - storage read request: `[5, tag, k, (domain, recipient) × k, block, n, (account, slotHigh,
//!   slotLow) × n]`, answered (once proven) as a read answer whose bytes are each slot's word

use alloy_primitives::{Address, B256, U256, keccak256};

use crate::{Error, Result};

mod describe;
pub use describe::describe;

/// A calls request's first word.
pub const OP_CALLS: u64 = 1;
/// A calls result's first word.
pub const OP_RESULT: u64 = 2;
/// A read request's first word.
pub const OP_READ: u64 = 3;
/// A read answer's first word.
pub const OP_ANSWER: u64 = 4;
/// A storage read request's first word.
pub const OP_STORAGE: u64 = 5;
/// The most replies one request names.
pub const MAX_REPLIES: usize = 4;
/// The most calls (or reads) in one request.
pub const MAX_CALLS: usize = 16;
/// Bytes per word.
const CHUNK: usize = 31;

/// Where an answer goes: a domain and a recipient there (a word).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reply {
    /// The destination domain.
    pub domain: u32,
    /// The recipient there.
    pub recipient: B256,
}

/// One call an account makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// The contract (or account) called.
    pub target: Address,
    /// Wei sent with it, from the account's balance.
    pub value: U256,
    /// Its calldata.
    pub data: Vec<u8>,
}

/// One view call the reader runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Read {
    /// The contract read.
    pub target: Address,
    /// Its calldata.
    pub data: Vec<u8>,
}

/// `data` as words: its length, then 31 bytes a word.
pub fn encode_bytes(data: &[u8]) -> Vec<U256> {
    let mut out = Vec::with_capacity(1 + data.len().div_ceil(CHUNK));
    out.push(U256::from(data.len()));
    for chunk in data.chunks(CHUNK) {
        let mut word = [0u8; 32];
        word[1..1 + chunk.len()].copy_from_slice(chunk);
        out.push(U256::from_be_bytes(word));
    }
    out
}

/// The byte string at `words[at]` (its length) and after, and the index after it.
pub fn decode_bytes(words: &[U256], at: usize) -> Result<(Vec<u8>, usize)> {
    let len = word_at(words, at, "a byte string's length")?;
    let len = usize::try_from(len)
        .ok()
        .filter(|l| *l <= words.len() * CHUNK);
    let len =
        len.ok_or_else(|| malformed(format!("word {at}: a byte string longer than the message")))?;
    let n = len.div_ceil(CHUNK);
    if at + 1 + n > words.len() {
        return Err(malformed(format!(
            "word {at}: a byte string of {len} bytes needs {n} words, {} are left",
            words.len() - at - 1
        )));
    }
    let mut data = Vec::with_capacity(len);
    for (i, word) in words[at + 1..at + 1 + n].iter().enumerate() {
        let bytes = word.to_be_bytes::<32>();
        if bytes[0] != 0 {
            return Err(malformed(format!(
                "word {}: more than 31 bytes in one word",
                at + 1 + i
            )));
        }
        data.extend_from_slice(&bytes[1..]);
    }
    data.truncate(len);
    Ok((data, at + 1 + n))
}

fn malformed(reason: String) -> Error {
    Error::Malformed {
        what: "interchain account message",
        reason,
    }
}

fn word_at(words: &[U256], at: usize, what: &str) -> Result<U256> {
    words
        .get(at)
        .copied()
        .ok_or_else(|| malformed(format!("word {at} ({what}) is missing")))
}

fn small<T: TryFrom<U256>>(words: &[U256], at: usize, what: &str) -> Result<T> {
    T::try_from(word_at(words, at, what)?)
        .map_err(|_| malformed(format!("word {at} ({what}) is out of range")))
}

fn head(op: u64, tag: U256, replies: &[Reply]) -> Result<Vec<U256>> {
    if replies.len() > MAX_REPLIES {
        return Err(malformed(format!(
            "{} replies (at most {MAX_REPLIES})",
            replies.len()
        )));
    }
    let mut out = vec![U256::from(op), tag, U256::from(replies.len())];
    for r in replies {
        out.push(U256::from(r.domain));
        out.push(U256::from_be_bytes(r.recipient.0));
    }
    Ok(out)
}

fn count(n: usize) -> Result<U256> {
    if n == 0 || n > MAX_CALLS {
        return Err(malformed(format!("{n} calls (1 to {MAX_CALLS})")));
    }
    Ok(U256::from(n))
}

/// The words of a calls request: `calls` run by the sender's account, the result sent to
/// `replies`, tagged `tag`, with the return data of the calls whose index is in `outputs`.
pub fn calls_request(
    tag: U256,
    replies: &[Reply],
    outputs: &[usize],
    calls: &[Call],
) -> Result<Vec<U256>> {
    let mut out = head(OP_CALLS, tag, replies)?;
    let mut mask = U256::ZERO;
    for i in outputs {
        if *i >= calls.len() {
            return Err(malformed(format!(
                "output {i} names no call ({} calls)",
                calls.len()
            )));
        }
        mask |= U256::from(1) << *i;
    }
    out.push(mask);
    out.push(count(calls.len())?);
    for c in calls {
        out.push(U256::from_be_bytes(c.target.into_word().0));
        out.push(c.value);
        out.extend(encode_bytes(&c.data));
    }
    Ok(out)
}

/// The words of a read request: `reads` run on L1, the answer sent to `replies`.
pub fn read_request(tag: U256, replies: &[Reply], reads: &[Read]) -> Result<Vec<U256>> {
    let mut out = head(OP_READ, tag, replies)?;
    out.push(count(reads.len())?);
    for r in reads {
        out.push(U256::from_be_bytes(r.target.into_word().0));
        out.extend(encode_bytes(&r.data));
    }
    Ok(out)
}

/// One storage slot read at a past block, proven.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotRead {
    /// The account whose storage is read.
    pub account: Address,
    /// The slot.
    pub slot: B256,
}

/// The words of a storage read request: `reads` at L1 block `block`, the proven values sent to
/// `replies`. A slot travels as its two 128-bit halves.
pub fn storage_request(
    tag: U256,
    replies: &[Reply],
    block: u64,
    reads: &[SlotRead],
) -> Result<Vec<U256>> {
    let mut out = head(OP_STORAGE, tag, replies)?;
    out.push(U256::from(block));
    out.push(count(reads.len())?);
    for r in reads {
        let slot = U256::from_be_bytes(r.slot.0);
        out.push(U256::from_be_bytes(r.account.into_word().0));
        out.push(slot >> 128);
        out.push(slot & U256::from(u128::MAX));
    }
    Ok(out)
}

/// A storage read request, decoded (as `StorageReadKept` logs it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageRequest {
    /// The request's tag.
    pub tag: U256,
    /// Where the answer goes.
    pub replies: Vec<Reply>,
    /// The L1 block read.
    pub block: u64,
    /// The slots read.
    pub reads: Vec<SlotRead>,
}

impl StorageRequest {
    /// Decodes `words`; a word out of place is an error naming it.
    pub fn decode(words: &[U256]) -> Result<Self> {
        if word_at(words, 0, "the operation")? != U256::from(OP_STORAGE) {
            return Err(malformed(format!(
                "not a storage read (word 0 is not {OP_STORAGE})"
            )));
        }
        let (replies, next) = replies_at(words, 2)?;
        let block: u64 = small(words, next, "the block")?;
        let n: usize = small(words, next + 1, "the number of reads")?;
        if n == 0 || n > MAX_CALLS {
            return Err(malformed(format!("{n} storage reads (1 to {MAX_CALLS})")));
        }
        if words.len() != next + 2 + 3 * n {
            return Err(malformed(format!(
                "{} words for {n} storage reads ({} expected)",
                words.len(),
                next + 2 + 3 * n
            )));
        }
        let mut reads = Vec::with_capacity(n);
        for i in 0..n {
            let w = next + 2 + 3 * i;
            let account = words[w];
            if account >> 160 != U256::ZERO {
                return Err(malformed(format!("read {i}'s account is not an address")));
            }
            let (high, low) = (words[w + 1], words[w + 2]);
            if high >> 128 != U256::ZERO || low >> 128 != U256::ZERO {
                return Err(malformed(format!("read {i}'s slot half is over 128 bits")));
            }
            reads.push(SlotRead {
                account: Address::from_word(account.to_be_bytes::<32>().into()),
                slot: B256::from(((high << 128usize) | low).to_be_bytes::<32>()),
            });
        }
        Ok(Self {
            tag: words[1],
            replies,
            block,
            reads,
        })
    }
}

/// The account of (`domain`, `owner`) behind a Starknet-family `AccountRouter`
/// (`contracts/starknet/src/account_router.cairo`), made or not yet: what its `deploy_syscall`
/// gives, with salt `pedersen(domain, owner)`, the router as deployer and `[router]` as the
/// constructor's calldata.
pub fn starknet_account_address(
    router: starknet_rust_core::types::Felt,
    account_class: starknet_rust_core::types::Felt,
    domain: u32,
    owner: starknet_rust_core::types::Felt,
) -> starknet_rust_core::types::Felt {
    let salt = starknet_rust_crypto::pedersen_hash(&domain.into(), &owner);
    starknet_rust_core::utils::get_contract_address(salt, account_class, &[router], router)
}

/// A calls request to an EVM `AccountRouter`, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallsRequest {
    /// Its tag.
    pub tag: U256,
    /// Where the result goes.
    pub replies: Vec<Reply>,
    /// Bit i: call i's return data goes into the result.
    pub outputs: U256,
    /// The calls.
    pub calls: Vec<Call>,
}

impl CallsRequest {
    /// Decodes a request's words; a word out of place is an error naming it.
    pub fn decode(words: &[U256]) -> Result<Self> {
        if word_at(words, 0, "the operation")? != U256::from(OP_CALLS) {
            return Err(malformed("not a calls request (word 0 is not 1)".into()));
        }
        let (replies, at) = replies_at(words, 2)?;
        let outputs = word_at(words, at, "the outputs")?;
        let n: usize = small(words, at + 1, "the number of calls")?;
        if n == 0 || n > MAX_CALLS {
            return Err(malformed(format!("{n} calls (1 to {MAX_CALLS})")));
        }
        let mut at = at + 2;
        let mut calls = Vec::with_capacity(n);
        for _ in 0..n {
            let target = word_at(words, at, "a call's target")?;
            if target >> 160 != U256::ZERO {
                return Err(malformed(format!(
                    "word {at} (a call's target) is not an address"
                )));
            }
            let value = word_at(words, at + 1, "a call's value")?;
            let (data, next) = decode_bytes(words, at + 2)?;
            calls.push(Call {
                target: Address::from_word(target.to_be_bytes::<32>().into()),
                value,
                data,
            });
            at = next;
        }
        if at != words.len() {
            return Err(malformed(format!(
                "{} words after the last call",
                words.len() - at
            )));
        }
        Ok(Self {
            tag: words[1],
            replies,
            outputs,
            calls,
        })
    }
}

/// The replies at `words[at]` (their count, then the pairs) and the index after them.
fn replies_at(words: &[U256], at: usize) -> Result<(Vec<Reply>, usize)> {
    let k: usize = small(words, at, "the number of replies")?;
    if k > MAX_REPLIES {
        return Err(malformed(format!("{k} replies (at most {MAX_REPLIES})")));
    }
    let mut replies = Vec::with_capacity(k);
    for i in 0..k {
        replies.push(Reply {
            domain: small(words, at + 1 + 2 * i, "a reply's domain")?,
            recipient: B256::from(
                word_at(words, at + 2 + 2 * i, "a reply's recipient")?.to_be_bytes::<32>(),
            ),
        });
    }
    Ok((replies, at + 1 + 2 * k))
}

/// What an account's calls came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallsResult {
    /// The request's tag.
    pub tag: U256,
    /// The owner's domain.
    pub domain: u32,
    /// The owner.
    pub owner: B256,
    /// Whether every call succeeded.
    pub ok: bool,
    /// The failing call's index (the number of calls when all succeeded).
    pub failed_index: u64,
    /// The asked calls' return data when all succeeded, else the failing call's revert data.
    pub outputs: Vec<Vec<u8>>,
}

impl CallsResult {
    /// Decodes a result's words.
    pub fn decode(words: &[U256]) -> Result<Self> {
        if word_at(words, 0, "the operation")? != U256::from(OP_RESULT) {
            return Err(malformed("not a calls result (word 0 is not 2)".into()));
        }
        let ok = match small::<u8>(words, 4, "ok")? {
            0 => false,
            1 => true,
            _ => return Err(malformed("word 4 (ok) is neither 0 nor 1".into())),
        };
        let m: usize = small(words, 6, "the number of outputs")?;
        let (outputs, end) = bytes_list(words, 7, m)?;
        if end != words.len() {
            return Err(malformed(format!(
                "{} words after the last output",
                words.len() - end
            )));
        }
        Ok(Self {
            tag: words[1],
            domain: small(words, 2, "the domain")?,
            owner: B256::from(words[3].to_be_bytes::<32>()),
            ok,
            failed_index: small(words, 5, "the failed index")?,
            outputs,
        })
    }
}

fn bytes_list(words: &[U256], mut at: usize, m: usize) -> Result<(Vec<Vec<u8>>, usize)> {
    if m > MAX_CALLS {
        return Err(malformed(format!("{m} outputs (at most {MAX_CALLS})")));
    }
    let mut out = Vec::with_capacity(m);
    for _ in 0..m {
        let (data, next) = decode_bytes(words, at)?;
        out.push(data);
        at = next;
    }
    Ok((out, at))
}

/// What the reader answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadAnswer {
    /// The request's tag.
    pub tag: U256,
    /// The requester's domain.
    pub domain: u32,
    /// The requester.
    pub requester: B256,
    /// The L1 block the reads ran at.
    pub block: u64,
    /// Each read: whether it succeeded, and what it returned (or reverted with).
    pub results: Vec<(bool, Vec<u8>)>,
}

impl ReadAnswer {
    /// Decodes an answer's words.
    pub fn decode(words: &[U256]) -> Result<Self> {
        if word_at(words, 0, "the operation")? != U256::from(OP_ANSWER) {
            return Err(malformed("not a read answer (word 0 is not 4)".into()));
        }
        let n: usize = small(words, 5, "the number of reads")?;
        if n > MAX_CALLS {
            return Err(malformed(format!("{n} reads (at most {MAX_CALLS})")));
        }
        let mut at = 6;
        let mut results = Vec::with_capacity(n);
        for _ in 0..n {
            let ok = small::<u8>(words, at, "a read's ok")? == 1;
            let (data, next) = decode_bytes(words, at + 1)?;
            results.push((ok, data));
            at = next;
        }
        if at != words.len() {
            return Err(malformed(format!(
                "{} words after the last read",
                words.len() - at
            )));
        }
        Ok(Self {
            tag: words[1],
            domain: small(words, 2, "the domain")?,
            requester: B256::from(words[3].to_be_bytes::<32>()),
            block: small(words, 4, "the block")?,
            results,
        })
    }
}

/// The CREATE2 salt of `owner`'s account on `domain`: keccak256(abi.encode(domain, owner)).
pub fn account_salt(domain: u32, owner: B256) -> B256 {
    let mut input = [0u8; 64];
    input[28..32].copy_from_slice(&domain.to_be_bytes());
    input[32..].copy_from_slice(&owner.0);
    keccak256(input)
}

/// The hash of the EIP-1167 creation code of a clone of `implementation` (what the account
/// router deploys with CREATE2, OpenZeppelin's `Clones`).
pub fn clone_code_hash(implementation: Address) -> B256 {
    let mut code = Vec::with_capacity(55);
    code.extend_from_slice(&[
        0x3d, 0x60, 0x2d, 0x80, 0x60, 0x0a, 0x3d, 0x39, 0x81, 0xf3, 0x36, 0x3d, 0x3d, 0x37, 0x3d,
        0x3d, 0x3d, 0x36, 0x3d, 0x73,
    ]);
    code.extend_from_slice(implementation.as_slice());
    code.extend_from_slice(&[
        0x5a, 0xf4, 0x3d, 0x82, 0x80, 0x3e, 0x90, 0x3d, 0x91, 0x60, 0x2b, 0x57, 0xfd, 0x5b, 0xf3,
    ]);
    keccak256(code)
}

/// The address of `owner`'s account on `domain` (made or not yet), made by the account router
/// at `router` as a clone of `implementation` (the router's `implementation()`).
pub fn account_address(
    router: Address,
    implementation: Address,
    domain: u32,
    owner: B256,
) -> Address {
    router.create2(account_salt(domain, owner), clone_code_hash(implementation))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_round_trip_at_every_length_around_a_word() {
        for len in [0usize, 1, 30, 31, 32, 61, 62, 63, 200] {
            let data: Vec<u8> = (0..len).map(|i| (i * 7 + 1) as u8).collect();
            let words = encode_bytes(&data);
            assert_eq!(words.len(), 1 + len.div_ceil(31));
            assert!(words.iter().all(|w| *w < (U256::from(1) << 248)));
            let mut framed = vec![U256::from(9)];
            framed.extend(&words);
            framed.push(U256::from(5));
            let (back, next) = decode_bytes(&framed, 1).unwrap();
            assert_eq!(back, data);
            assert_eq!(next, framed.len() - 1);
        }
    }

    #[test]
    fn a_length_past_the_words_or_a_full_word_is_refused_naming_the_word() {
        let err = decode_bytes(&[U256::from(40), U256::from(1)], 0).unwrap_err();
        assert!(err.to_string().contains("word 0"), "{err}");
        let err = decode_bytes(&[U256::from(3), U256::MAX], 0).unwrap_err();
        assert!(
            err.to_string().contains("word 1: more than 31 bytes"),
            "{err}"
        );
        let err = decode_bytes(&[U256::MAX], 0).unwrap_err();
        assert!(err.to_string().contains("longer than the message"), "{err}");
    }

    #[test]
    fn a_calls_request_is_laid_out_as_the_contract_reads_it() {
        let replies = [Reply {
            domain: 2,
            recipient: B256::repeat_byte(0x0a),
        }];
        let call = Call {
            target: Address::repeat_byte(0x11),
            value: U256::from(3),
            data: vec![0xab; 40],
        };
        let words =
            calls_request(U256::from(77), &replies, &[0], std::slice::from_ref(&call)).unwrap();
        assert_eq!(words[0], U256::from(OP_CALLS));
        assert_eq!(words[1], U256::from(77));
        assert_eq!(words[2], U256::from(1));
        assert_eq!(words[3], U256::from(2));
        assert_eq!(words[5], U256::from(1), "the outputs mask");
        assert_eq!(words[6], U256::from(1), "one call");
        assert_eq!(words[7], U256::from_be_bytes(call.target.into_word().0));
        assert_eq!(words[8], U256::from(3));
        assert_eq!(
            decode_bytes(&words, 9).unwrap(),
            (call.data.clone(), words.len())
        );
        assert!(calls_request(U256::ZERO, &replies, &[], &[]).is_err());
        assert!(calls_request(U256::ZERO, &replies, &[1], &[call]).is_err());
    }

    #[test]
    fn describe_reads_each_format_whole_and_nothing_else() {
        let replies = [Reply {
            domain: 2,
            recipient: B256::repeat_byte(1),
        }];
        let call = Call {
            target: Address::repeat_byte(0xaa),
            value: U256::ZERO,
            data: vec![1, 2, 3],
        };
        let request =
            calls_request(U256::from(4), &replies, &[0], std::slice::from_ref(&call)).unwrap();
        assert_eq!(CallsRequest::decode(&request).unwrap().calls, vec![call]);
        assert_eq!(
            describe(&request).unwrap(),
            format!(
                "account calls (tag 4): 1 call ({}), result to 1 domain",
                Address::repeat_byte(0xaa)
            )
        );
        // Revert data of `Error("no")`, as a failed result carries it.
        let mut revert = vec![0x08, 0xc3, 0x79, 0xa0];
        revert.extend(U256::from(32).to_be_bytes::<32>());
        revert.extend(U256::from(2).to_be_bytes::<32>());
        revert.extend(b"no");
        revert.extend([0u8; 30]);
        let mut failed = vec![
            U256::from(OP_RESULT),
            U256::from(4),
            U256::from(2),
            U256::from(7),
            U256::ZERO,
            U256::from(1),
            U256::from(1),
        ];
        failed.extend(encode_bytes(&revert));
        let said = describe(&failed).unwrap();
        assert!(said.ends_with("call 1 failed (no), none ran"), "{said}");
        // One word too many, or another app's payload: nothing.
        let mut longer = request.clone();
        longer.push(U256::ZERO);
        assert_eq!(describe(&longer), None);
        assert_eq!(describe(&[U256::from(1), U256::from(2)]), None);
    }

    #[test]
    fn a_storage_request_round_trips_and_a_bad_slot_half_is_refused() {
        let replies = [Reply {
            domain: 7,
            recipient: B256::repeat_byte(3),
        }];
        let reads = [SlotRead {
            account: Address::repeat_byte(0x11),
            slot: B256::repeat_byte(0xfe),
        }];
        let words = storage_request(U256::from(9), &replies, 1234, &reads).unwrap();
        // [5, tag, k, domain, recipient, block, n, account, high, low]
        assert_eq!(words.len(), 10);
        assert_eq!(words[5], U256::from(1234));
        assert_eq!(
            words[8] << 128usize | words[9],
            U256::from_be_bytes(reads[0].slot.0)
        );
        let back = StorageRequest::decode(&words).unwrap();
        assert_eq!(back.reads, reads);
        assert_eq!(back.replies, replies);
        assert_eq!((back.tag, back.block), (U256::from(9), 1234));
        let mut bad = words.clone();
        bad[9] = U256::from(1) << 128;
        let err = StorageRequest::decode(&bad).unwrap_err();
        assert!(err.to_string().contains("read 0's slot half"), "{err}");
        let err = StorageRequest::decode(&words[..9]).unwrap_err();
        assert!(
            err.to_string().contains("9 words for 1 storage reads"),
            "{err}"
        );
    }

    #[test]
    fn the_salt_is_the_abi_encoding_of_domain_and_owner() {
        let owner = B256::repeat_byte(0x42);
        let mut expected = vec![0u8; 28];
        expected.extend(7u32.to_be_bytes());
        expected.extend(owner.0);
        assert_eq!(account_salt(7, owner), keccak256(expected));
    }
}
