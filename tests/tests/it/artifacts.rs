//! The committed contract artifacts are current: each records digests of the sources it was built
//! from, and those must match the sources in the tree. (`contracts/build --check` goes further and
//! recompiles; CI runs both.)

// Integration tests: helpers outside #[test] fns may unwrap and panic too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use serde_json::Value;
use sha2::{Digest, Sha256};
use xroute_tests::artifacts::{STARKNET_ARTIFACTS, contracts_dir};

fn contracts() -> PathBuf {
    contracts_dir()
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn files_with_extension(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.to_str().is_some_and(|s| s.ends_with(ext)))
        .collect();
    files.sort();
    files
}

#[test]
fn evm_artifacts_match_their_sources() {
    let src = contracts().join("evm/src");
    let mut hasher = Sha256::new();
    for file in files_with_extension(&src, ".sol") {
        hasher.update(file.file_name().unwrap().to_str().unwrap().as_bytes());
        hasher.update([0]);
        hasher.update(std::fs::read(&file).unwrap());
        hasher.update([0]);
    }
    // The imported OpenZeppelin Contracts count by their pinned version (scripts/bootstrap).
    let bootstrap =
        std::fs::read_to_string(contracts().join("../scripts/bootstrap")).unwrap_or_default();
    let oz = bootstrap
        .lines()
        .find_map(|l| l.strip_prefix("OZ_VERSION="))
        .and_then(|v| v.split_whitespace().next())
        .expect("OZ_VERSION in scripts/bootstrap");
    hasher.update(format!("@openzeppelin/contracts@{oz}").as_bytes());
    let want = hex::encode(hasher.finalize());
    let artifacts = files_with_extension(&contracts().join("evm/out"), ".json");
    assert!(
        !artifacts.is_empty(),
        "no EVM artifacts: run contracts/build"
    );
    for artifact in artifacts {
        let json: Value = serde_json::from_slice(&std::fs::read(&artifact).unwrap()).unwrap();
        assert_eq!(
            json["sourcesSha256"].as_str(),
            Some(want.as_str()),
            "{} is stale against contracts/evm/src: run contracts/build",
            artifact.display()
        );
        assert!(
            json["bytecode"].as_str().is_some_and(|b| b.len() > 2),
            "{}",
            artifact.display()
        );
    }
}

#[test]
fn starknet_artifacts_match_their_sources() {
    let root = contracts().join("starknet");
    let sources = files_with_extension(&root.join("src"), ".cairo");
    let names: Vec<String> = sources
        .iter()
        .map(|p| p.file_stem().unwrap().to_str().unwrap().to_string())
        .collect();
    let mut embedded: Vec<String> = STARKNET_ARTIFACTS
        .iter()
        .map(|a| a.name().to_string())
        .collect();
    embedded.sort();
    assert_eq!(
        names, embedded,
        "every Cairo source has an artifact the kit knows"
    );

    for artifact in STARKNET_ARTIFACTS {
        let meta = artifact.meta().unwrap();
        let source = std::fs::read(root.join(&meta.source)).unwrap();
        assert_eq!(
            meta.source_sha256,
            sha256_hex(&source),
            "{} is stale against {}: run contracts/build",
            artifact.name(),
            meta.source
        );
        let on_disk = artifact.sierra_json().unwrap().into_bytes();
        assert_eq!(
            meta.sierra_sha256,
            sha256_hex(&on_disk),
            "{}.class.json records another Sierra",
            artifact.name()
        );
        assert_eq!(
            meta.class_hash,
            artifact.class_hash().unwrap(),
            "recorded class hash"
        );
    }
}
