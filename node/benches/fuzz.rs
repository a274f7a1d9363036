#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Hostile bytes (issue 30): every decoder that takes bytes from outside, fed mutated inputs
//! until each target has had `--inputs` of them (1,000,000 by default). A panic is a crash: its
//! input is written to `tests/fuzz/crashes/TARGET-N.bin` (to become a regression test) and the
//! run goes on. Which inputs are made is fixed by `--seed`, so a run can be repeated.
//!
//! Targets, each from seeds built here from real values (the committed config examples, real
//! gossip of every kind signed by a real key, a real keystore, a real `eth_getProof` answer of an
//! anvil):
//! - `envelope`: `Envelope::decode` of the bytes, `from_words` and `from_felts` of them cut in
//!   32-byte words;
//! - `gossip`: `Gossip::decode` on each topic, then the signature recovery of each signed claim
//!   the message carries (what the router's validation does first);
//! - `gossip_router`: the same bytes through a router's whole validation (`Network::verdict_on`:
//!   membership, impersonation, bounds, freshness, signatures, the store's evidence and
//!   certificates, answers to requests), from a member of its set, on a real sled store and a
//!   real libp2p swarm;
//! - `config`, `deploy`: `Config::parse` and `DeployFile::parse` of the bytes as text;
//! - `keystore`: `check_keystore_bounds` (what runs before any key derivation);
//! - `storage_proof`: an `eth_getProof` answer parsed and verified against its state root;
//! - `api`: an HTTP request (method, path and query, body) to the router's API in-process, over
//!   a real sled store holding messages, with the operator token on the write routes;
//! - `rpc_evm`, `rpc_starknet`: a node's answer to the L1 (Hub chain) and Starknet adapters'
//!   calls (the sends of a block range, a block's hash, a transaction's block), through their
//!   HTTP transports ([`rpc_fuzz`]; seeds recorded from a real anvil and devnet).
//!
//! ```sh
//! cargo bench -p xroute --bench fuzz -- --inputs 1000000
//! ```

use std::{
    collections::BTreeMap,
    panic::AssertUnwindSafe,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    time::Instant,
};

#[path = "support/rpc_fuzz.rs"]
mod rpc_fuzz;

use alloy_primitives::{Address, B256, U256};
use clap::Parser;
use rand::{Rng, SeedableRng, rngs::StdRng};
use xroute::{
    model::{MessageRecord, SourceRef},
    network::{
        Network, NetworkSettings, Verdict,
        wire::{
            BatchAttestation, ChainView, CheckpointWant, Gossip, Heartbeat, RelayClaim, Want,
            Wanted, WantedCheckpoint, topics,
        },
    },
    pipeline::Chains,
    router::{ApiSettings, Router},
};
use xroute_proofs::{
    attestation::{AttestedStage, Claim, Signed, domain},
    checkpoint::CheckpointClaim,
    envelope::{Envelope, MessageId},
    starknet::Felt,
    storage::AccountProof,
};

#[derive(Parser)]
struct Args {
    /// Inputs per target.
    #[arg(long, default_value_t = 1_000_000)]
    inputs: u64,
    /// Only this target.
    #[arg(long)]
    target: Option<String>,
    /// The generator's seed.
    #[arg(long, default_value_t = 30)]
    seed: u64,
    /// (cargo bench passes this.)
    #[arg(long, hide = true)]
    bench: bool,
}

/// Bytes worth putting anywhere: bounds, signs, syntax.
const INTERESTING: &[u8] = &[
    0x00, 0xff, 0x7f, 0x80, 0x01, b'"', b'\\', b'{', b'}', b'[', b']', b'=', b'\n', b',', b':',
    b'-', b'0', b'9', b'.', b'e', b'x',
];
/// Tokens that stand in for a number or a string.
const TOKENS: &[&str] = &[
    "18446744073709551616",
    "-1",
    "1e309",
    "0x",
    "0xffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
    "340282366920938463463374607431768211456",
    "null",
    "\"\"",
    "[]",
    "{}",
    "NaN",
    "\u{0}",
];
/// The largest input made (larger than every bound the decoders enforce).
const MAX_INPUT: usize = 300 * 1024;

struct Mutator {
    rng: StdRng,
}

impl Mutator {
    fn input(&mut self, corpus: &[Vec<u8>]) -> Vec<u8> {
        let rng = &mut self.rng;
        let mut b = corpus[rng.random_range(0..corpus.len())].clone();
        for _ in 0..rng.random_range(1..=4) {
            let len = b.len();
            match rng.random_range(0..9) {
                0 if len > 0 => {
                    let i = rng.random_range(0..len);
                    b[i] ^= 1 << rng.random_range(0..8);
                }
                1 if len > 0 => {
                    let i = rng.random_range(0..len);
                    b[i] = INTERESTING[rng.random_range(0..INTERESTING.len())];
                }
                2 => {
                    let at = rng.random_range(0..=len);
                    let n = rng.random_range(1..16);
                    let bytes: Vec<u8> = (0..n).map(|_| rng.random()).collect();
                    b.splice(at..at, bytes);
                }
                3 if len > 0 => {
                    let from = rng.random_range(0..len);
                    let to = (from + rng.random_range(1..64)).min(len);
                    b.drain(from..to);
                }
                4 if len > 0 => {
                    // A repeated chunk: long strings, deep nesting, size bombs.
                    let from = rng.random_range(0..len);
                    let to = (from + rng.random_range(1..32)).min(len);
                    let chunk = b[from..to].to_vec();
                    let times = rng.random_range(2..2_000);
                    let mut grown = Vec::with_capacity(chunk.len() * times);
                    for _ in 0..times {
                        grown.extend_from_slice(&chunk);
                    }
                    b.splice(to..to, grown);
                }
                5 if len > 0 => b.truncate(rng.random_range(0..len)),
                6 => {
                    let other = &corpus[rng.random_range(0..corpus.len())];
                    if !other.is_empty() {
                        let from = rng.random_range(0..other.len());
                        let to = (from + rng.random_range(1..128)).min(other.len());
                        let at = rng.random_range(0..=len);
                        b.splice(at..at, other[from..to].iter().copied());
                    }
                }
                7 => {
                    // A digit run (a number in text) replaced by an extreme.
                    let digits: Vec<usize> = (0..len).filter(|i| b[*i].is_ascii_digit()).collect();
                    if let Some(&start) = digits.get(rng.random_range(0..digits.len().max(1))) {
                        let mut end = start;
                        while end < len && b[end].is_ascii_alphanumeric() {
                            end += 1;
                        }
                        let token = TOKENS[rng.random_range(0..TOKENS.len())];
                        b.splice(start..end, token.bytes());
                    }
                }
                _ => {
                    let at = rng.random_range(0..=len);
                    let token = TOKENS[rng.random_range(0..TOKENS.len())];
                    b.splice(at..at, token.bytes());
                }
            }
        }
        b.truncate(MAX_INPUT);
        b
    }
}

/// What one target's run came to.
struct Report {
    inputs: u64,
    secs: f64,
    accepted: u64,
    crashes: Vec<(String, PathBuf)>,
}

/// The message of the last panic inside a target (the hook records it, quietly).
static PANIC: Mutex<Option<String>> = Mutex::new(None);
/// Whether a target is running (a panic elsewhere is the bench's own, printed as usual).
static IN_TARGET: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn crash_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fuzz/crashes")
}

/// Runs `check` on `inputs` mutated inputs of `corpus`; `check` says whether the decoder
/// accepted the input (for the report); a panic is a crash.
fn fuzz(
    name: &str,
    corpus: &[Vec<u8>],
    inputs: u64,
    seed: u64,
    mut check: impl FnMut(&[u8]) -> bool,
) -> Report {
    let mut m = Mutator {
        rng: StdRng::seed_from_u64(seed),
    };
    let started = Instant::now();
    let mut accepted = 0;
    let mut crashes = Vec::new();
    for n in 0..inputs {
        let input = if n < corpus.len() as u64 {
            corpus[n as usize].clone()
        } else {
            m.input(corpus)
        };
        IN_TARGET.store(true, std::sync::atomic::Ordering::SeqCst);
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| check(&input)));
        IN_TARGET.store(false, std::sync::atomic::Ordering::SeqCst);
        match outcome {
            Ok(true) => accepted += 1,
            Ok(false) => {}
            Err(_) => {
                let message = PANIC
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .take()
                    .unwrap_or_default();
                let path = crash_dir().join(format!("{name}-{n}.bin"));
                std::fs::create_dir_all(crash_dir()).unwrap();
                std::fs::write(&path, &input).unwrap();
                eprintln!("{name}: CRASH on input {n} ({}): {message}", path.display());
                crashes.push((message, path));
            }
        }
    }
    Report {
        inputs,
        secs: started.elapsed().as_secs_f64(),
        accepted,
        crashes,
    }
}

fn envelopes() -> Vec<Envelope> {
    (0..4u64)
        .map(|i| Envelope {
            src_domain: 2 + i as u32,
            nonce: i * 1_000,
            sender: B256::repeat_byte(0x11 + i as u8),
            dst_domain: 1,
            recipient: B256::left_padding_from(&[0x22, i as u8]),
            payload: (0..i * 3).map(|w| B256::from(U256::from(w))).collect(),
        })
        .collect()
}

fn envelope_corpus() -> Vec<Vec<u8>> {
    envelopes().iter().map(Envelope::encode).collect()
}

fn words(bytes: &[u8]) -> Vec<B256> {
    bytes
        .chunks(32)
        .map(|c| B256::left_padding_from(c))
        .collect()
}

fn check_envelope(bytes: &[u8]) -> bool {
    let decoded = Envelope::decode(bytes).is_ok();
    let w = words(bytes);
    let from_words = Envelope::from_words(&w).is_ok();
    let felts: Vec<Felt> = bytes.chunks(31).map(Felt::from_bytes_be_slice).collect();
    let _ = Envelope::from_felts(&felts);
    decoded || from_words
}

/// The key the gossip seeds are signed with (a member of the `gossip_router` target's set).
fn gossip_signer() -> alloy::signers::local::PrivateKeySigner {
    alloy::signers::local::PrivateKeySigner::from_bytes(&B256::repeat_byte(7)).unwrap()
}

fn gossip_domain() -> alloy::sol_types::Eip712Domain {
    domain(31337, Address::repeat_byte(0x44))
}

fn gossip_corpus() -> Vec<Vec<u8>> {
    gossips(1_700_000_000_000)
        .iter()
        .map(Gossip::encode)
        .collect()
}

/// One gossip message of each kind, the signed ones signed by [`gossip_signer`], the dated ones
/// dated `at_ms`.
fn gossips(at_ms: u64) -> Vec<Gossip> {
    let signer = gossip_signer();
    let dom = gossip_domain();
    let router = signer.address();
    let id = |i: u8| MessageId(B256::repeat_byte(i));
    let claim = |i: u8| Claim {
        message_id: id(i),
        stage: AttestedStage::Proven,
        domain: 2,
        block_number: 100 + u64::from(i),
        block_hash: B256::repeat_byte(0x55),
    };
    let attestations = (1..4u8)
        .map(|i| Signed::sign(&signer, &dom, claim(i)).unwrap())
        .collect();
    // A valid batch (its root recomputed from its ids), of messages not attested singly above.
    let batch_ids = vec![id(4), id(5)];
    let items = batch_ids
        .iter()
        .map(|i| (*i, AttestedStage::Proven))
        .collect();
    let claim = xroute_proofs::attestation::Batch::new(items, 2, 7, B256::repeat_byte(8))
        .unwrap()
        .claim;
    let batch = BatchAttestation {
        signed: Signed::sign(&signer, &dom, claim).unwrap(),
        message_ids: batch_ids,
    };
    let checkpoint = Signed::sign(
        &signer,
        &dom,
        CheckpointClaim {
            root: B256::repeat_byte(3),
            count: 5,
            domain: 2,
            l1_block: 40,
            l1_block_hash: B256::repeat_byte(4),
        },
    )
    .unwrap();
    [
        Gossip::Attestations { attestations },
        Gossip::BatchAttestation(batch),
        Gossip::Want(Want {
            router,
            wanted: vec![Wanted { id: id(1), have: 1 }],
            at_ms,
        }),
        Gossip::Checkpoints {
            attestations: vec![checkpoint],
        },
        Gossip::CheckpointWant(CheckpointWant {
            router,
            wanted: vec![WantedCheckpoint {
                domain: 2,
                l1_block: 40,
                have: 0,
            }],
            at_ms,
        }),
        Gossip::Claim(RelayClaim {
            message_id: id(1),
            hop: 0,
            router,
            at_ms,
        }),
        Gossip::Heartbeat(Heartbeat {
            router,
            at_ms,
            chains: vec![ChainView {
                chain: "ethereum".into(),
                head: 10,
                finalized: 8,
                finalized_hash: B256::repeat_byte(1),
            }],
        }),
    ]
    .into()
}

/// A router of a set of two (threshold 2) on a real sled store and a real, unconnected libp2p
/// swarm (spawned on `runtime`); the other member signs with [`gossip_signer`] and publishes
/// from the peer returned.
fn gossip_router(dir: &Path, runtime: &tokio::runtime::Runtime) -> (Network, libp2p::PeerId) {
    let _in = runtime.enter();
    let me = alloy::signers::local::PrivateKeySigner::from_bytes(&B256::repeat_byte(8)).unwrap();
    let node_key = libp2p::identity::Keypair::generate_ed25519();
    let other = libp2p::identity::Keypair::generate_ed25519()
        .public()
        .to_peer_id();
    let (handle, _inbound) = xroute::p2p::spawn(
        node_key.clone(),
        xroute::network::wire::p2p_settings(
            "/ip4/127.0.0.1/tcp/0".parse().unwrap(),
            vec![],
            4,
            std::time::Duration::from_secs(1),
        ),
    )
    .unwrap();
    let network = Network::new(
        handle,
        xroute::store::Store::open(dir).unwrap(),
        NetworkSettings {
            signer: me.clone(),
            members: vec![
                (me.address(), node_key.public().to_peer_id()),
                (gossip_signer().address(), other),
            ],
            threshold: 2,
            relay_window_ms: 1_000,
            claim_settle_ms: 200,
            heartbeat_ms: 1_000,
            batch_attestations: true,
        },
        gossip_domain(),
    )
    .unwrap();
    (network, other)
}

/// Each seed's topic (its index in `topics::ALL`) and bytes, dated now.
fn gossip_router_corpus() -> Vec<Vec<u8>> {
    gossips(xroute::time::now_ms())
        .iter()
        .map(|g| {
            let topic = topics::ALL.iter().position(|t| *t == g.topic()).unwrap() as u8;
            [vec![topic], g.encode()].concat()
        })
        .collect()
}

/// The router's whole validation of the bytes, received from the other member on the topic the
/// first byte names; whether it accepted them.
fn check_gossip_router(network: &Network, peer: libp2p::PeerId, n: u64, bytes: &[u8]) -> bool {
    let Some((topic, data)) = bytes.split_first() else {
        return false;
    };
    let received = xroute::p2p::Received {
        from: peer,
        author: Some(peer),
        id: libp2p::gossipsub::MessageId::new(&n.to_le_bytes()),
        topic: topics::ALL[usize::from(*topic) % topics::ALL.len()].to_string(),
        data: data.to_vec(),
    };
    network.verdict_on(&received) == Verdict::Accept
}

fn check_gossip(bytes: &[u8]) -> bool {
    let dom = domain(31337, Address::repeat_byte(0x44));
    let mut any = false;
    for topic in topics::ALL {
        let Ok(gossip) = Gossip::decode(topic, bytes) else {
            continue;
        };
        any = true;
        match gossip {
            Gossip::Attestations { attestations } => {
                for a in attestations {
                    let _ = a.signer(&dom);
                }
            }
            Gossip::BatchAttestation(b) => {
                let _ = b.signed.signer(&dom);
            }
            Gossip::Checkpoints { attestations } => {
                for a in attestations {
                    let _ = a.signer(&dom);
                }
            }
            _ => {}
        }
    }
    any
}

fn files(dir: &Path) -> Vec<Vec<u8>> {
    let mut out: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let p = e.ok()?.path();
            (p.extension()? == "toml")
                .then(|| (p.clone(), std::fs::read(&p).ok()))?
                .1
                .map(|b| (p, b))
        })
        .collect();
    out.sort();
    out.into_iter().map(|(_, b)| b).collect()
}

fn keystore_corpus() -> Vec<Vec<u8>> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.json");
    xroute_adapters::keys::write_keystore(&path, &[7u8; 32], "fuzz").unwrap();
    vec![std::fs::read(&path).unwrap()]
}

/// A real `eth_getProof` answer from an anvil (an account with storage) and its state root.
async fn proof_seed() -> (Vec<u8>, B256, B256) {
    let anvil = xroute_tests::anvil::Anvil::start().await.unwrap();
    let client = reqwest::Client::new();
    let call = |method: &'static str, params: serde_json::Value| {
        let client = client.clone();
        let url = anvil.endpoint().to_string();
        async move {
            xroute_tests::rpc::call(&client, &url, method, params)
                .await
                .unwrap()
        }
    };
    let account = format!("{:#x}", Address::repeat_byte(0x42));
    call(
        "anvil_setStorageAt",
        serde_json::json!([
            account,
            format!("{:#x}", B256::ZERO),
            format!("{:#x}", B256::repeat_byte(9))
        ]),
    )
    .await;
    call("anvil_setBalance", serde_json::json!([account, "0x1000"])).await;
    call("evm_mine", serde_json::json!([])).await;
    let block = call("eth_getBlockByNumber", serde_json::json!(["latest", false])).await;
    let root: B256 = block["stateRoot"].as_str().unwrap().parse().unwrap();
    let proof = call(
        "eth_getProof",
        serde_json::json!([account, [format!("{:#x}", B256::ZERO)], "latest"]),
    )
    .await;
    (serde_json::to_vec(&proof).unwrap(), root, B256::ZERO)
}

fn check_proof(bytes: &[u8], root: B256, slot: B256) -> bool {
    let Ok(proof) = serde_json::from_slice::<AccountProof>(bytes) else {
        return false;
    };
    proof.verify_slot(root, slot).is_ok()
}

/// A router over two scripted chains and a real store with `n` messages; its API with an
/// operator token.
async fn api_router(dir: &Path) -> (axum::Router, Vec<MessageId>) {
    use xroute_adapters::testing::FakeChain;
    let mut by_domain: BTreeMap<u32, Arc<dyn xroute_adapters::ChainAdapter>> = BTreeMap::new();
    by_domain.insert(1, FakeChain::hub("ethereum", 1));
    by_domain.insert(2, FakeChain::rollup("starknet", 2));
    let router = Router::builder(Default::default())
        .chains(Chains::new(1, by_domain).unwrap())
        .store_at(dir.join("store"))
        .api(ApiSettings {
            addr: "127.0.0.1:0".parse().unwrap(),
            token: Some("fuzz-token".into()),
            ledger: None,
        })
        .build()
        .await
        .unwrap();
    let mut ids = Vec::new();
    for e in envelopes() {
        let record = MessageRecord::new(
            e,
            SourceRef {
                domain: 2,
                block_number: 5,
                block_hash: B256::repeat_byte(5),
                tx_hash: B256::repeat_byte(6),
            },
            1,
        );
        ids.push(record.id);
        router.store().insert_new(&record).unwrap();
    }
    (router.api_app(), ids)
}

fn api_corpus(ids: &[MessageId]) -> Vec<Vec<u8>> {
    let id = ids[0];
    [
        "GET /health\n".to_string(),
        "GET /stats\n".into(),
        "GET /ready\n".into(),
        "GET /metrics\n".into(),
        "GET /peers\n".into(),
        format!("GET /messages/{id}\n"),
        format!("GET /messages?status=sent&limit=10&after={id}\n"),
        "GET /messages?route=starknet&limit=1000000\n".into(),
        "GET /quote?from=starknet&to=ethereum&payload_words=3\n".into(),
        format!("POST /messages/{id}/retry\n"),
        format!("POST /messages/{id}/drop\n{{\"reason\":\"fuzz\"}}"),
        "GET /openapi.json\n".into(),
    ]
    .into_iter()
    .map(String::into_bytes)
    .collect()
}

/// Sends the request `bytes` describe (first line `METHOD PATH`, the rest its body) to `app`;
/// true when it answered 2xx. The backup route (it writes files) is never called.
async fn check_api(app: &axum::Router, bytes: &[u8]) -> bool {
    use tower::ServiceExt;
    let text = String::from_utf8_lossy(bytes);
    let (line, body) = text.split_once('\n').unwrap_or((&text, ""));
    let (method, path) = line.split_once(' ').unwrap_or(("GET", line));
    if path.contains("backup") {
        return false;
    }
    let method = if method == "POST" { "POST" } else { "GET" };
    let Ok(request) = axum::http::Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", "Bearer fuzz-token")
        .header("content-type", "application/json")
        .body(axum::body::Body::from(body.to_string()))
    else {
        return false; // not an HTTP request line: hyper refuses it before the router
    };
    match app.clone().oneshot(request).await {
        Ok(response) => {
            let ok = response.status().is_success();
            let _ = axum::body::to_bytes(response.into_body(), 16 << 20).await;
            ok
        }
        Err(e) => match e {},
    }
}

fn main() {
    let args = Args::parse();
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if IN_TARGET.load(std::sync::atomic::Ordering::SeqCst) {
            *PANIC.lock().unwrap_or_else(|p| p.into_inner()) = Some(info.to_string());
        } else {
            default_hook(info);
        }
    }));
    let wanted = |t: &str| args.target.as_deref().is_none_or(|w| w == t);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut reports: Vec<(&str, Report)> = Vec::new();
    let n = args.inputs;
    if wanted("envelope") {
        reports.push((
            "envelope",
            fuzz("envelope", &envelope_corpus(), n, args.seed, check_envelope),
        ));
    }
    if wanted("gossip") {
        reports.push((
            "gossip",
            fuzz("gossip", &gossip_corpus(), n, args.seed, check_gossip),
        ));
    }
    if wanted("gossip_router") {
        // Its own runtime with a worker: the swarm's task runs beside the validation.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (network, peer) = gossip_router(dir.path(), &runtime);
        let mut count = 0u64;
        reports.push((
            "gossip_router",
            fuzz(
                "gossip_router",
                &gossip_router_corpus(),
                n,
                args.seed,
                |b| {
                    count += 1;
                    check_gossip_router(&network, peer, count, b)
                },
            ),
        ));
    }
    if wanted("config") {
        let path = Path::new("fuzz.toml");
        reports.push((
            "config",
            fuzz(
                "config",
                &files(&root.join("config/examples")),
                n,
                args.seed,
                |b| xroute_config::Config::parse(path, &String::from_utf8_lossy(b)).is_ok(),
            ),
        ));
    }
    if wanted("deploy") {
        let path = Path::new("deploy.toml");
        reports.push((
            "deploy",
            fuzz(
                "deploy",
                &files(&root.join("config/examples/deploy")),
                n,
                args.seed,
                |b| xroute_config::DeployFile::parse(path, &String::from_utf8_lossy(b)).is_ok(),
            ),
        ));
    }
    if wanted("keystore") {
        reports.push((
            "keystore",
            fuzz("keystore", &keystore_corpus(), n, args.seed, |b| {
                xroute_adapters::keys::check_keystore_bounds(&String::from_utf8_lossy(b)).is_ok()
            }),
        ));
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    if wanted("storage_proof") {
        let (seed, state_root, slot) = runtime.block_on(proof_seed());
        reports.push((
            "storage_proof",
            fuzz("storage_proof", &[seed], n, args.seed, |b| {
                check_proof(b, state_root, slot)
            }),
        ));
    }
    if wanted("api") {
        let dir = tempfile::tempdir().unwrap();
        let (app, ids) = runtime.block_on(api_router(dir.path()));
        reports.push((
            "api",
            fuzz("api", &api_corpus(&ids), n, args.seed, |b| {
                runtime.block_on(check_api(&app, b))
            }),
        ));
    }
    if wanted("rpc_evm") || wanted("rpc_starknet") {
        let seeded = runtime.block_on(rpc_fuzz::seeded());
        for (name, (target, seeds)) in
            [("rpc_evm", &seeded.evm), ("rpc_starknet", &seeded.starknet)]
        {
            if wanted(name) {
                reports.push((
                    name,
                    fuzz(name, seeds, n, args.seed, |b| {
                        runtime.block_on(target.check(b))
                    }),
                ));
            }
        }
    }
    println!("| target | inputs | accepted | seconds | inputs/s | crashes |");
    println!("|---|---|---|---|---|---|");
    let mut crashed = false;
    for (name, r) in &reports {
        println!(
            "| {name} | {} | {} | {:.1} | {:.0} | {} |",
            r.inputs,
            r.accepted,
            r.secs,
            r.inputs as f64 / r.secs.max(1e-9),
            r.crashes.len()
        );
        crashed |= !r.crashes.is_empty();
    }
    for (name, r) in &reports {
        for (message, path) in &r.crashes {
            println!("{name}: {} — {message}", path.display());
        }
    }
    if crashed {
        std::process::exit(1);
    }
}
