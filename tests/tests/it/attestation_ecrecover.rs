//! Router attestations signed in Rust recover on chain: a Solidity verifier on a real anvil
//! `ecrecover`s the EIP-712 digests xroute-proofs computes, single and batch, and checks batch
//! inclusion proofs.

// Integration tests: helpers outside #[test] fns may unwrap and panic too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use alloy::{
    primitives::{B256, Bytes, keccak256},
    signers::local::PrivateKeySigner,
};
use eyre::Result;
use xroute_proofs::{
    attestation::{AttestedStage, Batch, BatchClaim, Claim, Signed, domain},
    envelope::MessageId,
};
use xroute_tests::{Anvil, artifacts::evm::AttestationVerifier};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_signed_attestations_recover_on_chain() -> Result<()> {
    let anvil = Anvil::start().await?;
    let l1 = anvil.provider(0)?;
    let verifier = AttestationVerifier::deploy(&l1).await?;
    let domain = domain(anvil.chain_id(), *verifier.address());
    assert_eq!(verifier.domainSeparator().call().await?, domain.separator());

    for i in 0u8..3 {
        let router = PrivateKeySigner::random();
        let claim = Claim {
            message_id: MessageId(keccak256([i])),
            stage: AttestedStage::Proven,
            domain: 2 + u32::from(i),
            block_number: 1_000 + u64::from(i),
            block_hash: keccak256([i, i]),
        };
        let signed = Signed::<Claim>::sign(&router, &domain, claim)?;
        assert_eq!(signed.signer(&domain)?, router.address());
        let signature = Bytes::from(signed.signature.as_bytes().to_vec());
        let on_chain = verifier
            .attestationSigner(
                claim.message_id.0,
                claim.stage as u8,
                claim.domain,
                claim.block_number,
                claim.block_hash,
                signature.clone(),
            )
            .call()
            .await?;
        assert_eq!(on_chain, router.address(), "ecrecover of attestation {i}");

        // The same signature over another stage names someone else (or reverts).
        let other = verifier
            .attestationSigner(
                claim.message_id.0,
                AttestedStage::Delivered as u8,
                claim.domain,
                claim.block_number,
                claim.block_hash,
                signature,
            )
            .call()
            .await;
        assert!(other.map(|a| a != router.address()).unwrap_or(true));
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_attestations_and_inclusion_proofs_check_on_chain() -> Result<()> {
    let anvil = Anvil::start().await?;
    let l1 = anvil.provider(0)?;
    let verifier = AttestationVerifier::deploy(&l1).await?;
    let domain = domain(anvil.chain_id(), *verifier.address());

    let items: Vec<(MessageId, AttestedStage)> = (0u16..37)
        .map(|i| (MessageId(keccak256(i.to_be_bytes())), AttestedStage::Proven))
        .collect();
    let batch = Batch::new(items, 2, 77, B256::repeat_byte(7))?;
    let router = PrivateKeySigner::random();
    let signed = Signed::<BatchClaim>::sign(&router, &domain, batch.claim)?;
    let c = batch.claim;
    let on_chain = verifier
        .batchSigner(
            c.root,
            c.count,
            c.domain,
            c.block_number,
            c.block_hash,
            Bytes::from(signed.signature.as_bytes().to_vec()),
        )
        .call()
        .await?;
    assert_eq!(on_chain, router.address());

    for index in [0usize, 1, 17, 31, 32, 36] {
        let inc = batch.inclusion(index)?;
        let included = verifier
            .batchIncludes(
                c.root,
                inc.message_id.0,
                inc.stage as u8,
                alloy::primitives::U256::from(index),
                inc.proof.clone(),
            )
            .call()
            .await?;
        assert!(included, "leaf {index} is in the batch on chain");
        let wrong_stage = verifier
            .batchIncludes(
                c.root,
                inc.message_id.0,
                AttestedStage::Delivered as u8,
                alloy::primitives::U256::from(index),
                inc.proof,
            )
            .call()
            .await?;
        assert!(!wrong_stage, "leaf {index} with another stage is not");
    }
    Ok(())
}
