//! The `rpc_evm` and `rpc_starknet` fuzz targets: the adapters' parsing of what a node answers
//! (logs and events carrying envelopes, blocks, receipts, felts), through their real HTTP
//! transports.
//!
//! A node of this file stands between the adapters and the real chains. First it forwards: each
//! adapter call is made once against a real anvil and a real devnet (the stack deployed, a message
//! sent each way), and the answers are recorded as seeds. Then it answers each request with the
//! input under test instead (its JSON-RPC id set to the request's where the input still has one),
//! once per input: a second request of the same call gets an error answer. An input is one byte
//! naming the call (the sends of a block range, a block's hash, a transaction's block) and the
//! answer's bytes.

use std::sync::Arc;

use axum::{Router, body::Bytes, extract::State, http::header, response::IntoResponse};
use tokio::sync::Mutex;
use xroute_adapters::{ChainAdapter, evm::HubChainAdapter, starknet::StarknetAdapter};
use xroute_config::{ChainConfig, Config, RpcUrl};

/// What the node in the middle does.
#[derive(Default)]
struct Node {
    /// Record mode: the real node's URL.
    forward: Option<String>,
    /// The answers seen in record mode (their ids set to 1).
    recorded: Vec<Vec<u8>>,
    /// Fuzz mode: the answer to the next request (served once).
    answer: Option<Vec<u8>>,
}

type Shared = Arc<Mutex<Node>>;

/// The input's answer with its JSON-RPC id made the request's (if the input still has `"id":1`).
fn with_id(answer: &[u8], id: &serde_json::Value) -> Vec<u8> {
    const ONE: &[u8] = b"\"id\":1";
    match answer.windows(ONE.len()).position(|w| w == ONE) {
        Some(at) => {
            let mut out = answer[..at].to_vec();
            out.extend_from_slice(format!("\"id\":{id}").as_bytes());
            out.extend_from_slice(&answer[at + ONE.len()..]);
            out
        }
        None => answer.to_vec(),
    }
}

async fn answer(State(node): State<Shared>, body: Bytes) -> impl IntoResponse {
    let request: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let id = request["id"].clone();
    let mut node = node.lock().await;
    let out = if let Some(url) = node.forward.clone() {
        let real = reqwest::Client::new()
            .post(url)
            .header(header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap()
            .to_vec();
        let mut seed: serde_json::Value = serde_json::from_slice(&real).unwrap();
        seed["id"] = 1.into();
        node.recorded.push(serde_json::to_vec(&seed).unwrap());
        real
    } else if let Some(input) = node.answer.take() {
        with_id(&input, &id)
    } else {
        serde_json::to_vec(&serde_json::json!({
            "jsonrpc": "2.0",
            "id": id,
            "error": { "code": -32000, "message": "the fuzz node answers one request per input" }
        }))
        .unwrap()
    };
    ([(header::CONTENT_TYPE, "application/json")], out)
}

/// One chain's adapter behind the node in the middle, and the arguments of its calls.
pub(crate) struct Target {
    node: Shared,
    adapter: Arc<dyn ChainAdapter>,
    from: u64,
    to: u64,
    tx: [u8; 32],
}

impl Target {
    /// Runs call `op` (0: the sends of the range, 1: a block's hash, 2: a transaction's block);
    /// whether the adapter took the answer.
    async fn call(&self, op: u8) -> bool {
        match op % 3 {
            0 => self.adapter.sent_messages(self.from, self.to).await.is_ok(),
            1 => self.adapter.block_hash(self.to).await.is_ok(),
            _ => self.adapter.block_of_tx(self.tx).await.is_ok(),
        }
    }

    /// The seeds: each call made once against the real node, its first answer prefixed with the
    /// call's byte.
    async fn seeds(&self, real: &str) -> Vec<Vec<u8>> {
        let mut seeds = Vec::new();
        for op in 0..3u8 {
            {
                let mut node = self.node.lock().await;
                node.forward = Some(real.to_string());
                node.recorded.clear();
            }
            assert!(
                self.call(op).await,
                "call {op} against the real node failed"
            );
            let mut node = self.node.lock().await;
            node.forward = None;
            let answer = node.recorded.first().cloned().expect("a recorded answer");
            eprintln!(
                "{}: seed of call {op}: {} bytes: {}…",
                self.adapter.info().name,
                answer.len(),
                String::from_utf8_lossy(&answer[..answer.len().min(160)])
            );
            seeds.push([vec![op], answer].concat());
        }
        seeds
    }

    /// Feeds `input` to its call; whether the adapter took it.
    pub(crate) async fn check(&self, input: &[u8]) -> bool {
        let Some((op, answer)) = input.split_first() else {
            return false;
        };
        self.node.lock().await.answer = Some(answer.to_vec());
        self.call(*op).await
    }
}

/// Serves the node in the middle on 127.0.0.1; its URL.
async fn serve(node: Shared) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = Router::new()
        .route("/", axum::routing::post(answer))
        .with_state(node);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

/// The local network the seeds come from (kept running while the targets run).
pub(crate) struct Seeded {
    _net: xroute_tests::LocalNet,
    _dir: tempfile::TempDir,
    /// The L1 (the Hub's chain) adapter and its seeds.
    pub(crate) evm: (Target, Vec<Vec<u8>>),
    /// The Starknet adapter and its seeds.
    pub(crate) starknet: (Target, Vec<Vec<u8>>),
}

/// The latest block's first transaction, from `url`'s node (`method` reads the latest block).
async fn a_transaction(url: &str, method: &str, params: serde_json::Value) -> [u8; 32] {
    let block = xroute_tests::rpc::call(&reqwest::Client::new(), url, method, params)
        .await
        .unwrap();
    let tx = block["transactions"][0].as_str().unwrap();
    let hex = format!("{:0>64}", tx.trim_start_matches("0x"));
    alloy_primitives::hex::decode_to_array(hex).unwrap()
}

/// Starts anvil and a devnet, deploys the stack, sends a message each way, and records the seeds.
pub(crate) async fn seeded() -> Seeded {
    use alloy_primitives::{B256, U256};
    let net = xroute_tests::LocalNet::start(1).await.unwrap();
    let stack = xroute_tests::XrouteStack::deploy(&net).await.unwrap();
    let sn = stack.starknets[0];
    stack
        .send_from_l1(
            &net,
            sn.domain,
            xroute_tests::XrouteStack::felt_word(sn.app),
            vec![U256::from(7)],
            0,
        )
        .await
        .unwrap();
    stack
        .send_from_starknet(
            &net,
            0,
            xroute_tests::stack::L1_DOMAIN,
            B256::left_padding_from(stack.l1_app.as_slice()),
            &[vec![xroute_proofs::starknet::Felt::from(8u8)]],
        )
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = xroute_tests::router::write_config(
        dir.path(),
        &net,
        &stack,
        xroute_tests::process::free_port().unwrap(),
        &Default::default(),
    )
    .unwrap();
    let config = Config::load(&path).unwrap();
    let l1_url = net.l1.endpoint().to_string();
    let sn_url = net.starknets[0].devnet.rpc_url().to_string();

    let evm_node: Shared = Default::default();
    let evm_url = serve(evm_node.clone()).await;
    let sn_node: Shared = Default::default();
    let sn_url_fuzz = serve(sn_node.clone()).await;
    let mut evm = None;
    let mut starknet = None;
    for chain in config.chains {
        match chain {
            ChainConfig::Ethereum(mut hub) => {
                hub.chain.rpc = RpcUrl::new(evm_url.clone()).unwrap();
                hub.chain.transport.retries = 0;
                evm = Some(HubChainAdapter::read_only(&hub, &[]).unwrap());
            }
            ChainConfig::Starknet(mut s) if starknet.is_none() => {
                s.rpc = RpcUrl::new(sn_url_fuzz.clone()).unwrap();
                s.transport.retries = 0;
                starknet = Some(StarknetAdapter::read_only(&s).unwrap());
            }
            _ => {}
        }
    }
    let l1_head = net.l1.block_number().await.unwrap();
    let l1_tx = a_transaction(
        &l1_url,
        "eth_getBlockByNumber",
        serde_json::json!(["latest", false]),
    )
    .await;
    let sn_head = net.starknets[0].devnet.block_number().await.unwrap();
    let sn_tx = a_transaction(
        &sn_url,
        "starknet_getBlockWithTxHashes",
        serde_json::json!({ "block_id": "latest" }),
    )
    .await;
    let evm = Target {
        node: evm_node,
        adapter: Arc::new(evm.expect("an ethereum chain in the config")),
        from: 0,
        to: l1_head,
        tx: l1_tx,
    };
    let starknet = Target {
        node: sn_node,
        adapter: Arc::new(starknet.expect("a starknet chain in the config")),
        from: 0,
        to: sn_head,
        tx: sn_tx,
    };
    let evm_seeds = evm.seeds(&l1_url).await;
    let sn_seeds = starknet.seeds(&sn_url).await;
    Seeded {
        _net: net,
        _dir: dir,
        evm: (evm, evm_seeds),
        starknet: (starknet, sn_seeds),
    }
}
