//! Router attestations: "message M reached stage S on domain D at block N with hash B", signed as
//! EIP-712 typed data with secp256k1, so that an EVM contract can check them with `ecrecover`;
//! quorum certificates (distinct signers of a configured router set reaching a threshold); and
//! batch attestations (one signature over a Merkle root of many (message, stage) leaves).
//!
//! A signed attestation carries the EIP-712 domain separator and the schema version it was made
//! for, so that a signature for another network or another schema is rejected with a typed error
//! instead of recovering to a random address.

use alloy_primitives::{Address, B256, Signature, keccak256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::{Eip712Domain, SolStruct, eip712_domain, sol};
use serde::{Deserialize, Serialize};

use crate::{Error, Result, envelope::MessageId, merkle};

/// The attestation schema version this code signs and accepts.
pub const ATTESTATION_VERSION: u16 = 1;
/// EIP-712 domain name.
pub const DOMAIN_NAME: &str = "xroute";
/// EIP-712 domain version (bumped with [`ATTESTATION_VERSION`]).
pub const DOMAIN_VERSION: &str = "1";

sol! {
    /// EIP-712 type of a single attestation.
    #[derive(Debug, PartialEq, Eq)]
    struct Attestation {
        bytes32 messageId;
        uint8 stage;
        uint32 domain;
        uint64 blockNumber;
        bytes32 blockHash;
    }

    /// EIP-712 type of a batch attestation over a Merkle root of (messageId, stage) leaves.
    #[derive(Debug, PartialEq, Eq)]
    struct BatchAttestation {
        bytes32 root;
        uint32 count;
        uint32 domain;
        uint64 blockNumber;
        bytes32 blockHash;
    }
}

/// How far a message got, as routers attest it (the router's own lifecycle stage is
/// `xroute::store::Stage`; this is what a signature says).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[repr(u8)]
pub enum AttestedStage {
    /// Seen on the source chain after its confirmations.
    Sent = 1,
    /// The hub-side proof exists and was checked with a storage proof.
    Proven = 2,
    /// A hop was relayed and is final.
    Relayed = 3,
    /// The destination endpoint executed it.
    Delivered = 4,
}

impl TryFrom<u8> for AttestedStage {
    type Error = Error;

    fn try_from(v: u8) -> Result<Self> {
        Ok(match v {
            1 => Self::Sent,
            2 => Self::Proven,
            3 => Self::Relayed,
            4 => Self::Delivered,
            _ => {
                return Err(Error::Malformed {
                    what: "attestation stage",
                    reason: format!("{v} is not a stage (1..=4)"),
                });
            }
        })
    }
}

/// The EIP-712 domain of a router network: the L1 chain and the Hub contract that checks its
/// signatures.
pub fn domain(chain_id: u64, hub: Address) -> Eip712Domain {
    eip712_domain! {
        name: DOMAIN_NAME,
        version: DOMAIN_VERSION,
        chain_id: chain_id,
        verifying_contract: hub,
    }
}

/// What one attestation says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Claim {
    /// The message.
    pub message_id: MessageId,
    /// The stage reached.
    pub stage: AttestedStage,
    /// The domain on which it was observed.
    pub domain: u32,
    /// The block of that domain.
    pub block_number: u64,
    /// That block's hash.
    pub block_hash: B256,
}

impl Claim {
    fn typed(&self) -> Attestation {
        Attestation {
            messageId: self.message_id.0,
            stage: self.stage as u8,
            domain: self.domain,
            blockNumber: self.block_number,
            blockHash: self.block_hash,
        }
    }

    /// The EIP-712 digest a router signs for this claim.
    pub fn signing_hash(&self, domain: &Eip712Domain) -> B256 {
        self.typed().eip712_signing_hash(domain)
    }
}

/// A signature together with the schema version and domain it was made for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signed<T> {
    /// Schema version.
    pub version: u16,
    /// EIP-712 domain separator the signer used.
    pub domain_separator: B256,
    /// What was signed.
    pub body: T,
    /// 65-byte secp256k1 signature (r ‖ s ‖ v).
    pub signature: Signature,
}

fn sign_digest(signer: &PrivateKeySigner, digest: B256) -> Result<Signature> {
    signer
        .sign_hash_sync(&digest)
        .map_err(|e| Error::BadSignature {
            index: 0,
            reason: format!("signing failed: {e}"),
        })
}

fn check_envelope(version: u16, separator: B256, domain: &Eip712Domain) -> Result<()> {
    if version != ATTESTATION_VERSION {
        return Err(Error::UnsupportedVersion {
            what: "attestation",
            got: version,
            want: ATTESTATION_VERSION,
        });
    }
    let expected = domain.separator();
    if separator != expected {
        return Err(Error::WrongDomainSeparator {
            got: separator,
            expected,
        });
    }
    Ok(())
}

/// The address whose key made `signature` over `digest`.
///
/// Recovery is what a router spends its CPU on (one per attestation received), so it uses
/// libsecp256k1 rather than the pure-Rust k256 that signs (ADR 0003). It accepts exactly what
/// alloy's k256 recovery accepts: r and s in 1..n, a high s taken as its low twin (n − s, the
/// other parity), as the EVM's `ecrecover` also accepts it.
fn recover(index: usize, signature: &Signature, digest: B256) -> Result<Address> {
    use secp256k1::{
        Message, Secp256k1, VerifyOnly,
        ecdsa::{RecoverableSignature, RecoveryId},
    };
    static CONTEXT: std::sync::OnceLock<Secp256k1<VerifyOnly>> = std::sync::OnceLock::new();
    let bad = |reason: String| Error::BadSignature { index, reason };
    let signature = signature.normalized_s();
    let mut compact = [0u8; 64];
    compact[..32].copy_from_slice(&signature.r().to_be_bytes::<32>());
    compact[32..].copy_from_slice(&signature.s().to_be_bytes::<32>());
    let id = RecoveryId::try_from(i32::from(signature.v())).map_err(|e| bad(e.to_string()))?;
    let recoverable =
        RecoverableSignature::from_compact(&compact, id).map_err(|e| bad(e.to_string()))?;
    let key = CONTEXT
        .get_or_init(Secp256k1::verification_only)
        .recover_ecdsa(Message::from_digest(digest.0), &recoverable)
        .map_err(|e| bad(e.to_string()))?;
    Ok(Address::from_raw_public_key(
        &key.serialize_uncompressed()[1..],
    ))
}

/// Something routers sign as EIP-712 typed data.
pub trait Signable: Copy {
    /// The EIP-712 digest for `domain`.
    fn signing_hash(&self, domain: &Eip712Domain) -> B256;
}

impl Signable for Claim {
    fn signing_hash(&self, domain: &Eip712Domain) -> B256 {
        Claim::signing_hash(self, domain)
    }
}

impl Signable for BatchClaim {
    fn signing_hash(&self, domain: &Eip712Domain) -> B256 {
        BatchClaim::signing_hash(self, domain)
    }
}

impl Signable for crate::checkpoint::CheckpointClaim {
    fn signing_hash(&self, domain: &Eip712Domain) -> B256 {
        crate::checkpoint::CheckpointClaim::signing_hash(self, domain)
    }
}

impl<T: Signable> Signed<T> {
    /// Signs `body` for `domain`.
    pub fn sign(signer: &PrivateKeySigner, domain: &Eip712Domain, body: T) -> Result<Self> {
        Ok(Self {
            version: ATTESTATION_VERSION,
            domain_separator: domain.separator(),
            body,
            signature: sign_digest(signer, body.signing_hash(domain))?,
        })
    }

    /// Checks version and domain, and returns who signed.
    pub fn signer(&self, domain: &Eip712Domain) -> Result<Address> {
        check_envelope(self.version, self.domain_separator, domain)?;
        recover(0, &self.signature, self.body.signing_hash(domain))
    }
}

/// The routers whose signatures count, and how many must agree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouterSet {
    members: Vec<Address>,
    threshold: usize,
}

impl RouterSet {
    /// A set of distinct `members` with quorum `threshold` (1 ≤ t ≤ n).
    pub fn new(mut members: Vec<Address>, threshold: usize) -> Result<Self> {
        let n = members.len();
        members.sort();
        members.dedup();
        if members.len() != n {
            return Err(Error::InvalidRouterSet("a router is listed twice".into()));
        }
        if threshold == 0 || threshold > n {
            return Err(Error::InvalidRouterSet(format!(
                "threshold {threshold} must be between 1 and the {n} routers"
            )));
        }
        Ok(Self { members, threshold })
    }

    /// Members, sorted.
    pub fn members(&self) -> &[Address] {
        &self.members
    }

    /// The quorum threshold.
    pub fn threshold(&self) -> usize {
        self.threshold
    }

    /// Whether `address` is a member.
    pub fn contains(&self, address: &Address) -> bool {
        self.members.binary_search(address).is_ok()
    }

    /// Checks `signatures` over `digest`: each must recover to a member, none twice, and at least
    /// the threshold of them. Returns the signers in signature order.
    pub fn check_quorum(&self, digest: B256, signatures: &[Signature]) -> Result<Vec<Address>> {
        let mut signers: Vec<Address> = Vec::with_capacity(signatures.len());
        for (index, signature) in signatures.iter().enumerate() {
            let signer = recover(index, signature, digest)?;
            if !self.contains(&signer) {
                return Err(Error::UnknownSigner { index, signer });
            }
            if signers.contains(&signer) {
                return Err(Error::DuplicateSigner { index, signer });
            }
            signers.push(signer);
        }
        if signers.len() < self.threshold {
            return Err(Error::BelowThreshold {
                have: signers.len(),
                need: self.threshold,
            });
        }
        Ok(signers)
    }
}

/// One leaf of a batch: `keccak256(0x00 ‖ messageId ‖ stage)` (34 bytes, so never a 64-byte node).
pub fn batch_leaf(message_id: MessageId, stage: AttestedStage) -> B256 {
    let mut buf = [0u8; 34];
    buf[1..33].copy_from_slice(message_id.0.as_slice());
    buf[33] = stage as u8;
    keccak256(buf)
}

/// What one batch attestation says: all `(message, stage)` leaves under `root` were observed on
/// `domain` at `block_number`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchClaim {
    /// Merkle root of the leaves ([`batch_leaf`]).
    pub root: B256,
    /// Number of leaves.
    pub count: u32,
    /// The domain.
    pub domain: u32,
    /// The block.
    pub block_number: u64,
    /// Its hash.
    pub block_hash: B256,
}

impl BatchClaim {
    /// The EIP-712 digest a router signs for this batch.
    pub fn signing_hash(&self, domain: &Eip712Domain) -> B256 {
        BatchAttestation {
            root: self.root,
            count: self.count,
            domain: self.domain,
            blockNumber: self.block_number,
            blockHash: self.block_hash,
        }
        .eip712_signing_hash(domain)
    }
}

/// A batch of claims on one domain at one block, with the tree to prove each one.
#[derive(Debug, Clone)]
pub struct Batch {
    /// The signed part.
    pub claim: BatchClaim,
    /// The leaves' messages, in leaf order.
    pub items: Vec<(MessageId, AttestedStage)>,
    proofs: Vec<Vec<B256>>,
}

/// The proof that one (message, stage) is in a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchInclusion {
    /// The message.
    pub message_id: MessageId,
    /// Its stage.
    pub stage: AttestedStage,
    /// Leaf index.
    pub index: u32,
    /// Sibling hashes.
    pub proof: Vec<B256>,
}

impl Batch {
    /// Builds the tree of `items` observed on `domain` at a block.
    pub fn new(
        items: Vec<(MessageId, AttestedStage)>,
        domain: u32,
        block_number: u64,
        block_hash: B256,
    ) -> Result<Self> {
        let count = u32::try_from(items.len()).map_err(|_| Error::Malformed {
            what: "batch",
            reason: format!("{} items is too many", items.len()),
        })?;
        if count == 0 {
            return Err(Error::Malformed {
                what: "batch",
                reason: "a batch needs at least one item".into(),
            });
        }
        let leaves: Vec<B256> = items.iter().map(|(m, s)| batch_leaf(*m, *s)).collect();
        let proofs = merkle::proofs(&leaves);
        let root = merkle::root(&leaves);
        Ok(Self {
            claim: BatchClaim {
                root,
                count,
                domain,
                block_number,
                block_hash,
            },
            items,
            proofs,
        })
    }

    /// The inclusion proof of item `index`.
    pub fn inclusion(&self, index: usize) -> Result<BatchInclusion> {
        let (message_id, stage) = *self.items.get(index).ok_or(Error::IndexOutOfRange {
            what: "batch",
            index: index as u64,
            size: self.items.len() as u64,
        })?;
        Ok(BatchInclusion {
            message_id,
            stage,
            index: index as u32,
            proof: self.proofs[index].clone(),
        })
    }
}

impl BatchInclusion {
    /// Checks this inclusion against a batch claim; returns the single claim it proves.
    pub fn verify(&self, batch: &BatchClaim) -> Result<Claim> {
        if self.index >= batch.count {
            return Err(Error::IndexOutOfRange {
                what: "batch",
                index: self.index.into(),
                size: batch.count.into(),
            });
        }
        if self.proof.len() != merkle::depth(batch.count.into()) {
            return Err(Error::Malformed {
                what: "batch inclusion",
                reason: format!(
                    "proof has {} levels, a batch of {} has {}",
                    self.proof.len(),
                    batch.count,
                    merkle::depth(batch.count.into())
                ),
            });
        }
        merkle::verify(
            "batch inclusion",
            batch_leaf(self.message_id, self.stage),
            self.index.into(),
            &self.proof,
            batch.root,
        )?;
        Ok(Claim {
            message_id: self.message_id,
            stage: self.stage,
            domain: batch.domain,
            block_number: batch.block_number,
            block_hash: batch.block_hash,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routers(n: usize) -> Vec<PrivateKeySigner> {
        (1..=n)
            .map(|i| PrivateKeySigner::from_bytes(&B256::with_last_byte(i as u8)).unwrap())
            .collect()
    }

    fn claim() -> Claim {
        Claim {
            message_id: MessageId(B256::repeat_byte(0x11)),
            stage: AttestedStage::Proven,
            domain: 1,
            block_number: 42,
            block_hash: B256::repeat_byte(0x22),
        }
    }

    fn set(keys: &[PrivateKeySigner], t: usize) -> RouterSet {
        RouterSet::new(keys.iter().map(|k| k.address()).collect(), t).unwrap()
    }

    /// The reference: what alloy recovers with k256.
    fn k256_recover(signature: &Signature, digest: B256) -> Option<Address> {
        signature.recover_address_from_prehash(&digest).ok()
    }

    proptest::proptest! {
        #[test]
        fn recovery_agrees_with_k256(key in proptest::array::uniform32(1u8..), digest: [u8; 32]) {
            let signer = PrivateKeySigner::from_bytes(&B256::from(key)).unwrap();
            let digest = B256::from(digest);
            let signature = signer.sign_hash_sync(&digest).unwrap();
            proptest::prop_assert_eq!(recover(0, &signature, digest).ok(), Some(signer.address()));
            proptest::prop_assert_eq!(k256_recover(&signature, digest), Some(signer.address()));
            // Its high-s twin (same r, s' = n - s, the other parity) recovers the same signer.
            let twin = Signature::new(
                signature.r(),
                alloy_primitives::U256::from_be_bytes(SECP256K1_ORDER) - signature.s(),
                !signature.v(),
            );
            proptest::prop_assert_eq!(recover(0, &twin, digest).ok(), Some(signer.address()));
            proptest::prop_assert_eq!(k256_recover(&twin, digest), Some(signer.address()));
        }

        #[test]
        fn arbitrary_signatures_recover_as_k256_does(
            r: [u8; 32],
            s: [u8; 32],
            v: bool,
            digest: [u8; 32],
        ) {
            let signature = Signature::new(
                alloy_primitives::U256::from_be_bytes(r),
                alloy_primitives::U256::from_be_bytes(s),
                v,
            );
            let digest = B256::from(digest);
            proptest::prop_assert_eq!(
                recover(0, &signature, digest).ok(),
                k256_recover(&signature, digest)
            );
        }
    }

    /// The order n of secp256k1's group.
    const SECP256K1_ORDER: [u8; 32] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xfe, 0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48, 0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36,
        0x41, 0x41,
    ];

    #[test]
    fn edge_signatures_are_refused_as_k256_refuses_them() {
        let n = alloy_primitives::U256::from_be_bytes(SECP256K1_ORDER);
        let digest = B256::repeat_byte(7);
        let one = alloy_primitives::U256::from(1);
        for (r, s) in [
            (alloy_primitives::U256::ZERO, one),
            (one, alloy_primitives::U256::ZERO),
            (n, one),
            (one, n),
            (alloy_primitives::U256::MAX, one),
        ] {
            for v in [false, true] {
                let signature = Signature::new(r, s, v);
                assert!(recover(0, &signature, digest).is_err(), "r={r} s={s}");
                assert_eq!(k256_recover(&signature, digest), None, "r={r} s={s}");
            }
        }
    }

    #[test]
    fn a_signed_attestation_recovers_its_signer() {
        let keys = routers(1);
        let d = domain(31337, Address::repeat_byte(9));
        let signed = Signed::<Claim>::sign(&keys[0], &d, claim()).unwrap();
        assert_eq!(signed.signer(&d).unwrap(), keys[0].address());
    }

    #[test]
    fn wrong_domain_or_version_is_a_typed_error() {
        let keys = routers(1);
        let d = domain(31337, Address::repeat_byte(9));
        let other = domain(1, Address::repeat_byte(9));
        let signed = Signed::<Claim>::sign(&keys[0], &other, claim()).unwrap();
        assert!(matches!(
            signed.signer(&d),
            Err(Error::WrongDomainSeparator { .. })
        ));
        let mut signed = Signed::<Claim>::sign(&keys[0], &d, claim()).unwrap();
        signed.version = 2;
        assert!(matches!(
            signed.signer(&d),
            Err(Error::UnsupportedVersion { got: 2, .. })
        ));
    }

    #[test]
    fn a_quorum_needs_distinct_known_signers() {
        let keys = routers(5);
        let s = set(&keys[..4], 3);
        let d = domain(31337, Address::repeat_byte(9));
        let sign = |k: &PrivateKeySigner| Signed::<Claim>::sign(k, &d, claim()).unwrap();
        let good: Vec<_> = keys[..3].iter().map(sign).collect();
        let digest = claim().signing_hash(&d);
        let qc: Vec<_> = good.iter().map(|a| a.signature).collect();
        assert_eq!(
            s.check_quorum(digest, &qc).unwrap(),
            keys[..3].iter().map(|k| k.address()).collect::<Vec<_>>()
        );

        let two = &qc[..2];
        assert_eq!(
            s.check_quorum(digest, two),
            Err(Error::BelowThreshold { have: 2, need: 3 })
        );

        let mut dup = qc.clone();
        dup.push(good[0].signature);
        assert!(matches!(
            s.check_quorum(digest, &dup),
            Err(Error::DuplicateSigner { index: 3, .. })
        ));

        let mut unknown = qc.clone();
        unknown.push(sign(&keys[4]).signature);
        assert!(matches!(
            s.check_quorum(digest, &unknown),
            Err(Error::UnknownSigner { index: 3, .. })
        ));

        let mut other_claim = claim();
        other_claim.block_number += 1;
        assert!(matches!(
            s.check_quorum(other_claim.signing_hash(&d), &qc),
            Err(Error::UnknownSigner { index: 0, .. })
        ));
    }

    #[test]
    fn router_sets_are_validated() {
        let a = Address::repeat_byte(1);
        assert!(RouterSet::new(vec![a, a], 1).is_err());
        assert!(RouterSet::new(vec![a], 0).is_err());
        assert!(RouterSet::new(vec![a], 2).is_err());
    }

    #[test]
    fn batch_inclusions_verify_and_tampering_fails() {
        let items: Vec<(MessageId, AttestedStage)> = (0u8..13)
            .map(|i| (MessageId(keccak256([i])), AttestedStage::Proven))
            .collect();
        let batch = Batch::new(items.clone(), 2, 100, B256::repeat_byte(3)).unwrap();
        let keys = routers(1);
        let d = domain(31337, Address::repeat_byte(9));
        let signed = Signed::<BatchClaim>::sign(&keys[0], &d, batch.claim).unwrap();
        assert_eq!(signed.signer(&d).unwrap(), keys[0].address());
        for (i, item) in items.iter().enumerate() {
            let inc = batch.inclusion(i).unwrap();
            let claim = inc.verify(&batch.claim).unwrap();
            assert_eq!(
                (claim.message_id, claim.stage, claim.block_number),
                (item.0, item.1, 100)
            );
        }
        let mut inc = batch.inclusion(5).unwrap();
        inc.stage = AttestedStage::Delivered;
        assert!(matches!(
            inc.verify(&batch.claim),
            Err(Error::RootMismatch { .. })
        ));
        let mut inc = batch.inclusion(5).unwrap();
        inc.index = 6;
        assert!(inc.verify(&batch.claim).is_err());
        let mut inc = batch.inclusion(5).unwrap();
        inc.proof.pop();
        assert!(matches!(
            inc.verify(&batch.claim),
            Err(Error::Malformed { .. })
        ));
    }
}
