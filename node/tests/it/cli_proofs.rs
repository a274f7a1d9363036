//! `xroute proofs` as scripts call it: every public vector through the binary, one-line errors
//! with exit code 2, and a storage proof from a real anvil checked from a file.

// Integration tests: helpers outside #[test] fns may unwrap and panic too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::{Command, Output};

use alloy_primitives::{B256, keccak256};
use serde_json::{Value, json};
use xroute_proofs::{
    arbitrum::{L2ToL1Send, outbox_proof, outbox_root},
    envelope::Envelope,
};
use xroute_tests::{Anvil, rpc};

fn xroute(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xroute"))
        .args(args)
        .output()
        .unwrap()
}

/// Runs `xroute proofs …`, expects success, returns stdout trimmed.
fn ok(args: &[&str]) -> String {
    let mut full = vec!["proofs"];
    full.extend_from_slice(args);
    let out = xroute(&full);
    assert!(
        out.status.success(),
        "xroute {full:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        stdout.lines().count(),
        1,
        "result alone on stdout: {stdout:?}"
    );
    stdout.trim().to_string()
}

/// Runs `xroute proofs …`, expects exit code `code` and one stderr line containing `needles`.
fn fails(code: i32, args: &[&str], needles: &[&str]) {
    let mut full = vec!["proofs"];
    full.extend_from_slice(args);
    let out = xroute(&full);
    assert_eq!(
        out.status.code(),
        Some(code),
        "xroute {full:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty(), "nothing on stdout on error");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr:?}");
    for needle in needles {
        assert!(
            stderr.contains(needle),
            "{stderr:?} should mention {needle:?}"
        );
    }
}

fn vectors() -> Value {
    let path = std::env::var("XROUTE_VECTORS").unwrap_or_else(|_| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/vectors/public.json"
        )
        .to_string()
    });
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        other => panic!("unexpected {other}"),
    }
}

fn list(v: &Value) -> String {
    v.as_array()
        .unwrap()
        .iter()
        .map(s)
        .collect::<Vec<_>>()
        .join(",")
}

#[test]
fn starknet_vectors_through_the_cli() {
    let v = vectors();
    for case in v["starknet_l1_to_l2"].as_array().unwrap() {
        let from = s(&case["from_address"]);
        let to = s(&case["to_address"]);
        let sel = s(&case["selector"]);
        let nonce = s(&case["nonce"]);
        let payload = list(&case["payload"]);
        let chain = s(&case["chain_id"]);
        let message = [
            "--from",
            &from,
            "--to",
            &to,
            "--selector",
            &sel,
            "--nonce",
            &nonce,
            "--payload",
            &payload,
        ];
        let hash = ok(&[&["starknet-l1-to-l2"][..], &message].concat());
        assert_eq!(hash, s(&case["message_hash"]));
        let tx = ok(&[&["l1-handler-tx"][..], &message, &["--chain-id", &chain]].concat());
        assert_eq!(tx, s(&case["l1_handler_tx_hash"]));
        let json = ok(&[
            &["--json", "l1-handler-tx"][..],
            &message,
            &["--chain-id", &chain],
        ]
        .concat());
        let json: Value = serde_json::from_str(&json).unwrap();
        assert_eq!(json["transaction_hash"], case["l1_handler_tx_hash"]);
    }
    for case in v["starknet_l2_to_l1"].as_array().unwrap() {
        let hash = ok(&[
            "starknet-l2-to-l1",
            "--from",
            &s(&case["from_address"]),
            "--to",
            &s(&case["to_address"]),
            "--payload",
            &list(&case["payload"]),
        ]);
        assert_eq!(hash, s(&case["message_hash"]));
    }
}

#[test]
fn chain_id_names_are_the_mainnet_and_sepolia_felts() {
    let base = [
        "l1-handler-tx",
        "--from",
        "0x0000000000000000000000000000000000000001",
        "--to",
        "2",
        "--selector",
        "3",
        "--nonce",
        "4",
        "--payload",
        "5",
    ];
    let named = ok(&[&base[..], &["--chain-id", "SN_SEPOLIA"]].concat());
    let hex = ok(&[&base[..], &["--chain-id", "0x534e5f5345504f4c4941"]].concat());
    assert_eq!(named, hex);
    assert_ne!(ok(&[&base[..], &["--chain-id", "SN_MAIN"]].concat()), named);
}

#[test]
fn arbitrum_vectors_through_the_cli() {
    let v = vectors();
    for case in v["arbitrum_retryable"].as_array().unwrap() {
        let field = |k: &str| s(&case[k]);
        let id = ok(&[
            "arbitrum-retryable-id",
            "--chain-id",
            &field("chain_id"),
            "--message-number",
            &field("message_number"),
            "--sender",
            &field("aliased_sender"),
            "--l1-base-fee",
            &field("l1_base_fee"),
            "--deposit",
            &field("deposit"),
            "--max-fee-per-gas",
            &field("max_fee_per_gas"),
            "--gas-limit",
            &field("gas_limit"),
            "--to",
            &field("to"),
            "--l2-call-value",
            &field("l2_call_value"),
            "--call-value-refund-address",
            &field("call_value_refund_address"),
            "--max-submission-cost",
            &field("max_submission_cost"),
            "--excess-fee-refund-address",
            &field("excess_fee_refund_address"),
            "--data",
            &field("data"),
        ]);
        assert_eq!(id, field("retryable_ticket_id"));
    }
}

#[test]
fn send_hash_outbox_root_and_envelope_id_match_the_library() {
    let send = L2ToL1Send {
        caller: "0x00000000000000000000000000000000000000c1"
            .parse()
            .unwrap(),
        destination: "0x00000000000000000000000000000000000000d2"
            .parse()
            .unwrap(),
        arb_block_num: 1000u64.try_into().unwrap(),
        eth_block_num: 20u64.try_into().unwrap(),
        timestamp: 1_700_000_000u64.try_into().unwrap(),
        value: 0u64.try_into().unwrap(),
        data: "0xdeadbeef".parse().unwrap(),
    };
    let hash = ok(&[
        "arbitrum-send-hash",
        "--caller",
        "0x00000000000000000000000000000000000000c1",
        "--destination",
        "0x00000000000000000000000000000000000000d2",
        "--arb-block-num",
        "1000",
        "--eth-block-num",
        "0x14",
        "--timestamp",
        "1700000000",
        "--value",
        "0",
        "--data",
        "0xdeadbeef",
    ]);
    assert_eq!(hash, send.hash().to_string());

    let sends: Vec<B256> = (0u8..6).map(|i| keccak256([i])).collect();
    let proof = outbox_proof(&sends, 4).unwrap();
    let proof_arg = proof
        .iter()
        .map(|h| h.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let send4 = sends[4].to_string();
    let root = ok(&[
        "arbitrum-outbox-root",
        "--send-hash",
        &send4,
        "--index",
        "4",
        "--proof",
        &proof_arg,
    ]);
    assert_eq!(root, outbox_root(&sends).to_string());
    fails(
        2,
        &[
            "arbitrum-outbox-root",
            "--send-hash",
            &send4,
            "--index",
            "9",
            "--proof",
            &proof_arg,
        ],
        &["--index", "9"],
    );

    let envelope = Envelope {
        src_domain: 2,
        nonce: 7,
        sender: B256::with_last_byte(0xab),
        dst_domain: 1,
        recipient: B256::with_last_byte(0xcd),
        payload: vec![B256::with_last_byte(1), B256::with_last_byte(2)],
    };
    let id = ok(&[
        "envelope-id",
        "--src-domain",
        "2",
        "--nonce",
        "7",
        "--sender",
        "0xab",
        "--dst-domain",
        "1",
        "--recipient",
        "205",
        "--payload",
        "1,0x2",
    ]);
    assert_eq!(id, envelope.id().to_string());
}

#[test]
fn bad_input_is_one_line_naming_the_argument_with_exit_code_2() {
    let to = "0xb6dbfaa86bb683152e4fc2401260f9ca249519c0";
    let prime = "0x800000000000011000000000000000000000000000000000000000000000001";
    let zero = format!("0x{}", "00".repeat(32));
    fails(
        2,
        &["starknet-l2-to-l1", "--to", to],
        &["missing", "--from"],
    );
    fails(
        2,
        &["starknet-l2-to-l1", "--from", "0xzz", "--to", to],
        &["--from", "0x-hex"],
    );
    fails(
        2,
        &["starknet-l2-to-l1", "--from", "1", "--to", "0x1234"],
        &["--to", "2 bytes", "20 bytes"],
    );
    fails(
        2,
        &["starknet-l2-to-l1", "--from", prime, "--to", to],
        &["--from", "field prime"],
    );
    fails(
        2,
        &[
            "starknet-l2-to-l1",
            "--from",
            "1",
            "--to",
            to,
            "--payload",
            "1,2,nope",
        ],
        &["--payload", "element 2"],
    );
    fails(
        2,
        &[
            "arbitrum-send-hash",
            "--caller",
            to,
            "--destination",
            to,
            "--arb-block-num",
            "1",
            "--eth-block-num",
            "1",
            "--timestamp",
            "1",
            "--value",
            "1",
            "--data",
            "0xabc",
        ],
        &["--data", "odd number"],
    );
    fails(
        2,
        &[
            "l1-handler-tx",
            "--from",
            to,
            "--to",
            "1",
            "--selector",
            "1",
            "--nonce",
            "1",
            "--chain-id",
            "SN_NOPE",
        ],
        &["--chain-id", "SN_MAIN"],
    );
    fails(
        2,
        &[
            "verify-storage-proof",
            "--file",
            "/nonexistent/proof.json",
            "--state-root",
            &zero,
            "--slot",
            &zero,
        ],
        &["--file", "/nonexistent/proof.json"],
    );
    fails(2, &["no-such-kind"], &["no-such-kind"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_storage_proof_checks_a_real_eth_get_proof_answer() {
    let anvil = Anvil::start().await.unwrap();
    let http = reqwest::Client::new();
    let url = anvil.endpoint();
    let account = "0x00000000000000000000000000000000000000aa";
    let slot = format!("0x{:064x}", 7);
    let value = format!("0x{:064x}", 0x1234_5678u64);
    rpc::call(
        &http,
        url,
        "anvil_setStorageAt",
        json!([account, slot, value]),
    )
    .await
    .unwrap();
    anvil.mine().await.unwrap();
    let block = rpc::call(&http, url, "eth_getBlockByNumber", json!(["latest", false]))
        .await
        .unwrap();
    let state_root = block["stateRoot"].as_str().unwrap().to_string();
    let proof = rpc::call(
        &http,
        url,
        "eth_getProof",
        json!([account, [slot], block["number"]]),
    )
    .await
    .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, v: &Value| {
        let path = dir.path().join(name);
        std::fs::write(&path, serde_json::to_string(v).unwrap()).unwrap();
        path.to_str().unwrap().to_string()
    };
    let file = write("proof.json", &proof);
    let check = |file: &str, root: &str| {
        [
            "verify-storage-proof",
            "--file",
            file,
            "--state-root",
            root,
            "--slot",
            &slot,
        ]
        .map(String::from)
    };
    let args = check(&file, &state_root);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_eq!(ok(&args), "0x12345678");

    // A whole JSON-RPC response is accepted too.
    let wrapped = write(
        "wrapped.json",
        &json!({"jsonrpc": "2.0", "id": 1, "result": proof}),
    );
    let args = check(&wrapped, &state_root);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_eq!(ok(&args), "0x12345678");

    // Another root: exit 1, one line.
    let other_root = format!("0x{}", "11".repeat(32));
    let args = check(&file, &other_root);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    fails(1, &args, &["account proof"]);

    // A tampered value: exit 1.
    let mut bad = proof.clone();
    bad["storageProof"][0]["value"] = json!("0x12345679");
    let bad = write("bad.json", &bad);
    let args = check(&bad, &state_root);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    fails(1, &args, &["storage proof"]);

    // Not an eth_getProof answer: exit 2.
    let junk = write("junk.json", &json!({"hello": 1}));
    let args = check(&junk, &state_root);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    fails(2, &args, &["--file", "eth_getProof"]);
}
