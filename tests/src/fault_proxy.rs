//! An HTTP JSON-RPC proxy in front of a node that fails a share of the requests on purpose, the
//! way public providers and overloaded nodes do (issue 30): HTTP 503, a JSON-RPC "rate limited"
//! or internal error, a hang past the client's timeout, a truncated or garbled body, a slow
//! answer, another chain's id, and a head a few blocks behind (a lagging node). Which requests
//! fail is drawn from a seeded generator, so a run can be repeated; the share can be changed while
//! it runs (0 to forward everything, 1 for a node that is down). Stops on drop.

use std::{
    collections::BTreeMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering},
    },
    time::Duration,
};

use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use eyre::{Result, WrapErr};
use rand::{Rng, SeedableRng, rngs::StdRng};
use serde_json::{Value, json};
use tokio::task::JoinHandle;

/// A failure the proxy can answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fault {
    /// HTTP 503 with a plain-text body.
    Unavailable,
    /// A JSON-RPC error answer saying the client is rate limited (code -32005).
    RateLimited,
    /// A JSON-RPC internal error (-32603).
    Internal,
    /// No answer for [`FaultProxy::HANG`], then the connection is dropped.
    Hang,
    /// The node's answer cut in half.
    Truncated,
    /// A body that is not JSON.
    Garbled,
    /// The node's answer, late by up to [`FaultProxy::SLOW`].
    Slow,
    /// A chain-id request answered with another chain's id (other requests: forwarded).
    WrongChainId,
    /// The latest block asked for answered with one a few blocks older (other requests:
    /// forwarded).
    StaleHead,
}

impl Fault {
    /// Every fault.
    pub const ALL: [Fault; 9] = [
        Fault::Unavailable,
        Fault::RateLimited,
        Fault::Internal,
        Fault::Hang,
        Fault::Truncated,
        Fault::Garbled,
        Fault::Slow,
        Fault::WrongChainId,
        Fault::StaleHead,
    ];

    /// Its name in [`FaultProxy::counts`].
    pub fn name(self) -> &'static str {
        match self {
            Fault::Unavailable => "http 503",
            Fault::RateLimited => "rate limited",
            Fault::Internal => "internal error",
            Fault::Hang => "hang",
            Fault::Truncated => "truncated",
            Fault::Garbled => "garbled",
            Fault::Slow => "slow",
            Fault::WrongChainId => "wrong chain id",
            Fault::StaleHead => "stale head",
        }
    }
}

struct Shared {
    target: String,
    http: reqwest::Client,
    /// The share of requests that fail, in millionths.
    rate: AtomicU32,
    rng: Mutex<StdRng>,
    faults: Vec<Fault>,
    counts: Mutex<BTreeMap<Fault, u64>>,
    forwarded: AtomicU64,
    /// Every request answered 503 (a node that is down), whatever the rate.
    down: AtomicBool,
}

/// The proxy. Stops on drop.
pub struct FaultProxy {
    port: u16,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for FaultProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultProxy")
            .field("port", &self.port)
            .field("target", &self.shared.target)
            .finish_non_exhaustive()
    }
}

impl FaultProxy {
    /// How long a hung request waits before its connection is dropped (longer than the
    /// `timeout_ms` a router under test is given).
    pub const HANG: Duration = Duration::from_secs(4);
    /// The most a slow answer is late.
    pub const SLOW: Duration = Duration::from_millis(800);

    /// Proxies a free port on 127.0.0.1 to the node at `target` (its full URL, path included),
    /// failing `rate` (0 to 1) of the requests with one of `faults`, drawn from `seed`.
    pub async fn start(target: &str, rate: f64, faults: &[Fault], seed: u64) -> Result<Self> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .wrap_err("binding the fault proxy")?;
        let port = listener.local_addr()?.port();
        let shared = Arc::new(Shared {
            target: target.to_string(),
            http: reqwest::Client::new(),
            rate: AtomicU32::new(millionths(rate)),
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
            faults: if faults.is_empty() {
                Fault::ALL.to_vec()
            } else {
                faults.to_vec()
            },
            counts: Mutex::new(BTreeMap::new()),
            forwarded: AtomicU64::new(0),
            down: AtomicBool::new(false),
        });
        let app = Router::new().fallback(handle).with_state(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { port, shared, task })
    }

    /// The proxy's URL (any path is forwarded to the target's).
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The port it listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// From now on `rate` (0 to 1) of the requests fail.
    pub fn set_rate(&self, rate: f64) {
        self.shared.rate.store(millionths(rate), Ordering::SeqCst);
    }

    /// From now on every request is answered 503 (`true`: the node is down), or the rate
    /// applies again (`false`).
    pub fn set_down(&self, down: bool) {
        self.shared.down.store(down, Ordering::SeqCst);
    }

    /// How many requests failed with each fault so far.
    pub fn counts(&self) -> BTreeMap<&'static str, u64> {
        self.shared
            .counts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(f, n)| (f.name(), *n))
            .collect()
    }

    /// How many requests were forwarded untouched.
    pub fn forwarded(&self) -> u64 {
        self.shared.forwarded.load(Ordering::SeqCst)
    }
}

/// What a router behind fault proxies is given: a timeout under [`FaultProxy::HANG`] (so a hang
/// is a timeout), two retries, 100 ms between them.
pub fn router_transport() -> xroute_config::TransportConfig {
    xroute_config::TransportConfig {
        timeout_ms: 1_500,
        retries: 2,
        retry_backoff_ms: 100,
        ..xroute_config::TransportConfig::default()
    }
}

/// Points each chain of the router config at `path` that `proxies` names (chain name, proxy) at
/// its proxy, with [`router_transport`]; the router reads it at its next start.
pub fn route_through(path: &std::path::Path, proxies: &[(String, FaultProxy)]) -> Result<()> {
    let urls: Vec<(String, String)> = proxies.iter().map(|(n, p)| (n.clone(), p.url())).collect();
    crate::router::set_rpcs(
        path,
        |name, url| {
            urls.iter()
                .find(|(n, _)| n == name)
                .map(|(_, u)| u.clone())
                .unwrap_or_else(|| url.to_string())
        },
        router_transport(),
    )
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn millionths(rate: f64) -> u32 {
    (rate.clamp(0.0, 1.0) * 1_000_000.0).round() as u32
}

/// The fault for the next request, if it fails.
fn draw(shared: &Shared) -> Option<(Fault, u64)> {
    let rate = shared.rate.load(Ordering::SeqCst);
    let mut rng = shared.rng.lock().unwrap_or_else(|p| p.into_inner());
    if rng.random_range(0..1_000_000) >= rate {
        return None;
    }
    let fault = shared.faults[rng.random_range(0..shared.faults.len())];
    Some((fault, rng.random()))
}

fn count(shared: &Shared, fault: Fault) {
    *shared
        .counts
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .entry(fault)
        .or_default() += 1;
}

fn json_response(status: StatusCode, body: Vec<u8>) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn error_answer(request: &Value, code: i64, message: &str) -> Response {
    let one = |r: &Value| json!({"jsonrpc": "2.0", "id": r["id"], "error": {"code": code, "message": message}});
    let body = match request {
        Value::Array(batch) => Value::Array(batch.iter().map(one).collect()),
        single => one(single),
    };
    json_response(StatusCode::OK, body.to_string().into_bytes())
}

async fn forward(shared: &Shared, body: Bytes) -> Response {
    match shared
        .http
        .post(&shared.target)
        .header(header::CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await
    {
        Ok(answer) => {
            let status = answer.status();
            match answer.bytes().await {
                Ok(bytes) => json_response(status, bytes.to_vec()),
                Err(e) => (StatusCode::BAD_GATEWAY, format!("proxy: {e}")).into_response(),
            }
        }
        Err(e) => (StatusCode::BAD_GATEWAY, format!("proxy: {e}")).into_response(),
    }
}

fn method(request: &Value) -> &str {
    request["method"].as_str().unwrap_or("")
}

fn hex_number(v: &Value) -> Option<u64> {
    u64::from_str_radix(v.as_str()?.strip_prefix("0x")?, 16).ok()
}

async fn handle(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    if shared.down.load(Ordering::SeqCst) {
        return (StatusCode::SERVICE_UNAVAILABLE, "down").into_response();
    }
    let Some((fault, extra)) = draw(&shared) else {
        shared.forwarded.fetch_add(1, Ordering::SeqCst);
        return forward(&shared, body).await;
    };
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    count(&shared, fault);
    match fault {
        Fault::Unavailable => {
            (StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable").into_response()
        }
        Fault::RateLimited => error_answer(&request, -32005, "rate limited: too many requests"),
        Fault::Internal => error_answer(&request, -32603, "internal error"),
        Fault::Hang => {
            tokio::time::sleep(FaultProxy::HANG).await;
            (StatusCode::GATEWAY_TIMEOUT, "hung").into_response()
        }
        Fault::Truncated => {
            let answer = forward(&shared, body).await;
            let bytes = axum::body::to_bytes(answer.into_body(), usize::MAX)
                .await
                .unwrap_or_default();
            json_response(StatusCode::OK, bytes[..bytes.len() / 2].to_vec())
        }
        Fault::Garbled => json_response(
            StatusCode::OK,
            b"{\"jsonrpc\":\"2.0\",\"id\":<html>".to_vec(),
        ),
        Fault::Slow => {
            let late = extra % (FaultProxy::SLOW.as_millis() as u64 + 1);
            tokio::time::sleep(Duration::from_millis(late)).await;
            forward(&shared, body).await
        }
        Fault::WrongChainId => match method(&request) {
            "eth_chainId" => json_response(
                StatusCode::OK,
                json!({"jsonrpc": "2.0", "id": request["id"], "result": "0x1"})
                    .to_string()
                    .into_bytes(),
            ),
            "starknet_chainId" => json_response(
                StatusCode::OK,
                json!({"jsonrpc": "2.0", "id": request["id"], "result": "0x534e5f4d41494e"})
                    .to_string()
                    .into_bytes(),
            ),
            _ => forward(&shared, body).await,
        },
        Fault::StaleHead => stale_head(&shared, request, body, 1 + extra % 3).await,
    }
}

/// The latest block, `behind` blocks older: `eth_blockNumber` and `starknet_blockNumber` answer
/// a smaller number, `eth_getBlockByNumber("latest")` answers that older block. Anything else
/// is forwarded.
async fn stale_head(shared: &Shared, mut request: Value, body: Bytes, behind: u64) -> Response {
    match method(&request) {
        "eth_blockNumber" | "starknet_blockNumber" => {
            let answer = forward(shared, body).await;
            let bytes = axum::body::to_bytes(answer.into_body(), usize::MAX)
                .await
                .unwrap_or_default();
            let mut v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            let stale = match &v["result"] {
                Value::Number(n) => n.as_u64().map(|n| json!(n.saturating_sub(behind))),
                other => {
                    hex_number(other).map(|n| json!(format!("{:#x}", n.saturating_sub(behind))))
                }
            };
            if let Some(stale) = stale {
                v["result"] = stale;
            }
            json_response(StatusCode::OK, v.to_string().into_bytes())
        }
        "eth_getBlockByNumber" if request["params"][0] == "latest" => {
            let head =
                json!({"jsonrpc": "2.0", "id": 0, "method": "eth_blockNumber", "params": []});
            let number = match shared.http.post(&shared.target).json(&head).send().await {
                Ok(r) => r
                    .json::<Value>()
                    .await
                    .ok()
                    .and_then(|v| hex_number(&v["result"])),
                Err(_) => None,
            };
            if let Some(n) = number {
                request["params"][0] = json!(format!("{:#x}", n.saturating_sub(behind)));
            }
            forward(shared, Bytes::from(request.to_string())).await
        }
        _ => forward(shared, body).await,
    }
}
