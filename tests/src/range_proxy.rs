//! An HTTP JSON-RPC proxy in front of a node that refuses `eth_getLogs` and `starknet_getEvents`
//! over more blocks than a limit, with the error a public provider answers ("query exceeds max
//! block range"), and forwards everything else unchanged (issue 28). Stops on drop.

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

use axum::{Json, Router, extract::State, routing::post};
use eyre::{Result, WrapErr};
use serde_json::{Value, json};
use tokio::task::JoinHandle;

/// The proxy. Stops on drop.
#[derive(Debug)]
pub struct RangeLimitProxy {
    port: u16,
    refused: Arc<AtomicU64>,
    task: JoinHandle<()>,
}

#[derive(Clone)]
struct Proxied {
    target: String,
    max_range: u64,
    refused: Arc<AtomicU64>,
    http: reqwest::Client,
}

fn block(v: &Value) -> Option<u64> {
    u64::from_str_radix(v.as_str()?.strip_prefix("0x")?, 16).ok()
}

/// The block range of a log or event query (`None`: not one, or not by numbers).
fn range(request: &Value) -> Option<(u64, u64)> {
    let params = &request["params"];
    match request["method"].as_str()? {
        "eth_getLogs" => Some((
            block(&params[0]["fromBlock"])?,
            block(&params[0]["toBlock"])?,
        )),
        "starknet_getEvents" => {
            // By name (`{"filter": …}`) or by position.
            let filter = if params["filter"].is_object() {
                &params["filter"]
            } else {
                &params[0]
            };
            Some((
                filter["from_block"]["block_number"].as_u64()?,
                filter["to_block"]["block_number"].as_u64()?,
            ))
        }
        _ => None,
    }
}

async fn forward(State(p): State<Proxied>, Json(request): Json<Value>) -> Json<Value> {
    if let Some((from, to)) = range(&request)
        && to.saturating_sub(from) + 1 > p.max_range
    {
        p.refused.fetch_add(1, Ordering::SeqCst);
        return Json(json!({
            "jsonrpc": "2.0",
            "id": request["id"],
            "error": {
                "code": -32005,
                "message": format!("query exceeds max block range {}", p.max_range),
            },
        }));
    }
    let answer = async {
        p.http
            .post(&p.target)
            .json(&request)
            .send()
            .await?
            .json::<Value>()
            .await
    };
    match answer.await {
        Ok(v) => Json(v),
        Err(e) => Json(json!({
            "jsonrpc": "2.0",
            "id": request["id"],
            "error": { "code": -32603, "message": format!("proxy: {e}") },
        })),
    }
}

impl RangeLimitProxy {
    /// Proxies a free port on 127.0.0.1 to the node at `target` (an HTTP URL), refusing log and
    /// event queries over more than `max_range` blocks.
    pub async fn start(target: &str, max_range: u64) -> Result<Self> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .wrap_err("binding the proxy")?;
        let port = listener.local_addr()?.port();
        let refused = Arc::new(AtomicU64::new(0));
        let state = Proxied {
            target: target.to_string(),
            max_range,
            refused: refused.clone(),
            http: reqwest::Client::new(),
        };
        let app = Router::new().route("/", post(forward)).with_state(state);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self {
            port,
            refused,
            task,
        })
    }

    /// The proxy's URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// How many log and event queries it refused.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::SeqCst)
    }
}

impl Drop for RangeLimitProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}
