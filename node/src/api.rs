//! The router's HTTP API (axum), read by `xroute status`, `xroute messages`, `xroute retry`,
//! `xroute drop` and the demo's live table.
//!
//! - `GET /health` → `{"status":"ok"}`
//! - `GET /stats` → messages per stage
//! - `GET /messages?status=<stage>&limit=<n>` → message summaries (every live stage when no
//!   status is given)
//! - `GET /messages/{id}` → one message with its relays and history
//! - `POST /messages/{id}/retry` → a parked message starts over
//! - `POST /messages/{id}/drop` with `{"reason": "…"}` → a parked message is dropped
//! - `POST /store/backup` with `{"to": "/absolute/folder"}` → a copy of the store, made while the
//!   router runs (`xroute store backup`)
//! - `GET /peers` → the router set with heartbeat views and divergence, and every p2p peer with
//!   its accepted/rejected counters (404 for a router without `[p2p]`)
//! - `GET /metrics` → Prometheus text exposition ([`crate::metrics`])
//! - `GET /ready` → 200 when every chain answered the indexer recently, the store takes writes
//!   and (in a network) enough routers are live for a quorum; else 503, saying what is missing
//!
//! Errors are `{"error": "…"}` with 400 (bad input, naming it), 401 (a write route without the
//! API token), 404 (unknown id) or 409 (the message is not in a stage that allows it).
//!
//! With `node.api_token_file` configured (required when the API listens beyond loopback), the
//! write routes (`retry`, `drop`) need `Authorization: Bearer <token>`; read routes stay open.

use std::sync::Arc;

use axum::{
    Json, Router,
    extract::{Path, Query, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde::{Deserialize, Serialize};
use xroute_proofs::envelope::MessageId;

use crate::{
    network::{Network, PeersView},
    pipeline::Pipeline,
    store::{MessageRecord, Stage, StoreError, Transition},
};

/// What the handlers read: the pipeline (store, chains) and, in a router network, the network.
#[derive(Debug, Clone)]
pub struct AppState {
    pipeline: Arc<Pipeline>,
    network: Option<Arc<Network>>,
}

/// Most messages one `GET /messages` returns.
pub const MAX_LIMIT: usize = 10_000;

/// A message as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct MessageView {
    /// Envelope id.
    pub id: String,
    /// Stage, lowercase.
    pub stage: String,
    /// "source → destination" chain names.
    pub route: String,
    /// Source domain.
    pub src_domain: u32,
    /// Destination domain.
    pub dst_domain: u32,
    /// Source nonce.
    pub nonce: u64,
    /// Sender word.
    pub sender: String,
    /// Recipient word.
    pub recipient: String,
    /// Payload length in words.
    pub payload_words: usize,
    /// Failed attempts of the current step.
    pub attempts: u32,
    /// Why it is parked or dropped, or the last retried error.
    pub reason: Option<String>,
    /// Source transaction.
    pub source_tx: String,
    /// Relay transactions, oldest first.
    pub relays: Vec<RelayView>,
    /// Stage changes, oldest first.
    pub history: Vec<Transition>,
    /// The quorum certificate's signers (attestation addresses), in a router network.
    #[serde(default)]
    pub certificate_signers: Option<Vec<String>>,
}

/// A relay transaction as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RelayView {
    /// Chain.
    pub chain: String,
    /// Hash.
    pub tx_hash: String,
    /// Nonce.
    pub nonce: u64,
    /// When sent (ms since the epoch).
    pub sent_at_ms: u64,
    /// L2 fee carried, wei (decimal).
    pub value: String,
}

/// Lowercase name of a stage.
pub fn stage_name(stage: Stage) -> String {
    format!("{stage:?}").to_lowercase()
}

/// Parses a stage name (any case).
pub fn parse_stage(s: &str) -> Option<Stage> {
    Stage::ALL
        .into_iter()
        .find(|st| stage_name(*st) == s.to_lowercase())
}

fn view(app: &AppState, r: &MessageRecord) -> MessageView {
    MessageView {
        id: r.id.to_string(),
        stage: stage_name(r.stage),
        route: app.pipeline.metrics().route(r),
        src_domain: r.envelope.src_domain,
        dst_domain: r.envelope.dst_domain,
        nonce: r.envelope.nonce,
        sender: r.envelope.sender.to_string(),
        recipient: r.envelope.recipient.to_string(),
        payload_words: r.envelope.payload.len(),
        attempts: r.attempts,
        reason: r.reason.clone(),
        source_tx: r.source.tx_hash.to_string(),
        relays: r
            .relays
            .iter()
            .map(|a| RelayView {
                chain: a.chain.clone(),
                tx_hash: a.tx_hash.to_string(),
                nonce: a.nonce,
                sent_at_ms: a.sent_at_ms,
                value: a.value.to_string(),
            })
            .collect(),
        history: r.history.clone(),
        certificate_signers: app.network.as_ref().and_then(|n| {
            let qc = n.certificate(&r.id).ok().flatten()?;
            let signers = n.signers(&qc).ok()?;
            Some(signers.iter().map(|a| a.to_string()).collect())
        }),
    }
}

/// An API error: status and message.
#[derive(Debug)]
pub struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(serde_json::json!({ "error": self.1 }))).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::UnknownMessage(id) => {
                ApiError(StatusCode::NOT_FOUND, format!("no message {id}"))
            }
            StoreError::StageMismatch {
                id,
                expected,
                found,
            } => ApiError(
                StatusCode::CONFLICT,
                format!(
                    "message {id} is {}, not {}: only parked messages can be retried or dropped",
                    stage_name(found),
                    stage_name(expected)
                ),
            ),
            other => ApiError(StatusCode::INTERNAL_SERVER_ERROR, other.to_string()),
        }
    }
}

fn parse_id(s: &str) -> Result<MessageId, ApiError> {
    s.parse().map_err(|_| {
        ApiError(
            StatusCode::BAD_REQUEST,
            format!("message id {s:?} is not 32 bytes of 0x-hex"),
        )
    })
}

/// The API's routes over `pipeline` and, for a router of a network, `network`; with `token`, the
/// write routes require it as a bearer token.
pub fn router(
    pipeline: Arc<Pipeline>,
    network: Option<Arc<Network>>,
    token: Option<String>,
) -> Router {
    let writes = Router::new()
        .route("/messages/{id}/retry", post(retry))
        .route("/messages/{id}/drop", post(drop_message))
        .route("/store/backup", post(backup));
    let writes = match token {
        Some(token) => writes.route_layer(axum::middleware::from_fn_with_state(
            Arc::new(token),
            require_token,
        )),
        None => writes,
    };
    Router::new()
        .route(
            "/health",
            get(|| async { Json(serde_json::json!({ "status": "ok" })) }),
        )
        .route("/stats", get(stats))
        .route("/messages", get(list))
        .route("/messages/{id}", get(one))
        .route("/peers", get(peers))
        .route("/metrics", get(metrics))
        .route("/ready", get(ready))
        .merge(writes)
        .with_state(AppState { pipeline, network })
}

/// Refuses a request whose `Authorization` is not `Bearer <token>` (401, nothing done).
async fn require_token(
    State(token): State<Arc<String>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let given = request
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match given {
        Some(given) if same_secret(given.as_bytes(), token.as_bytes()) => next.run(request).await,
        Some(_) => ApiError(StatusCode::UNAUTHORIZED, "wrong API token".into()).into_response(),
        None => ApiError(
            StatusCode::UNAUTHORIZED,
            "this route changes state and needs the API token: send `Authorization: Bearer \
             <token>` (the token in the router's node.api_token_file)"
                .into(),
        )
        .into_response(),
    }
}

/// Compares two secrets in time that depends on their length only.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn peers(State(app): State<AppState>) -> Result<Json<PeersView>, ApiError> {
    match &app.network {
        Some(n) => Ok(Json(n.peers().await)),
        None => Err(ApiError(
            StatusCode::NOT_FOUND,
            "this router runs alone: its config has no [p2p] section".into(),
        )),
    }
}

async fn metrics(State(app): State<AppState>) -> Response {
    let store = app.pipeline.store();
    let counts: Vec<(Stage, usize)> = Stage::ALL
        .into_iter()
        .map(|s| (s, store.count_in(s)))
        .collect();
    let network = match &app.network {
        Some(n) => {
            let view = n.peers().await;
            let mut sample = crate::metrics::NetworkSample {
                peers: view.connections.iter().filter(|p| p.connected).count(),
                ..Default::default()
            };
            for peer in &view.connections {
                *sample
                    .gossip
                    .entry(("accepted", String::new()))
                    .or_default() += peer.accepted;
                for (reason, n) in &peer.rejected_by {
                    let reason = serde_json::to_value(reason)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_else(|| format!("{reason:?}"));
                    *sample.gossip.entry(("rejected", reason)).or_default() += u64::from(*n);
                }
            }
            Some(sample)
        }
        None => None,
    };
    let text = app.pipeline.metrics().encode(&counts, network.as_ref());
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

/// A chain whose indexer has not finished a pass for this long makes the router not ready (at
/// least this, or ten poll intervals): a node that does not answer, or a catch-up in progress.
const READY_SILENCE_MS: u64 = 5_000;

async fn ready(State(app): State<AppState>) -> Response {
    let mut problems = Vec::new();
    let poll = app.pipeline.relay_config().poll_interval_ms;
    let limit = READY_SILENCE_MS.max(poll.saturating_mul(10));
    let mut chains = serde_json::Map::new();
    for (name, silence) in app.pipeline.metrics().chain_silence_ms() {
        match silence {
            None => problems.push(format!("{name}: no indexing pass has finished yet")),
            Some(ms) if ms > limit => problems.push(format!(
                "{name}: no indexing pass has finished for {} s (its node does not answer, or \
                 the router is catching up)",
                ms / 1000
            )),
            Some(_) => {}
        }
        chains.insert(name, silence.into());
    }
    let store = app.pipeline.store().clone();
    let store_ok = match tokio::task::spawn_blocking(move || store.flush()).await {
        Ok(Ok(())) => true,
        Ok(Err(e)) => {
            problems.push(format!("the store does not take writes: {e}"));
            false
        }
        Err(e) => {
            problems.push(format!("the store check did not finish: {e}"));
            false
        }
    };
    let mut live = None;
    if let Some(n) = &app.network {
        let view = n.peers().await;
        let count = view.routers.iter().filter(|r| r.live).count();
        if count < view.threshold {
            problems.push(format!(
                "{count} of the router set live (this one included), fewer than the threshold {}",
                view.threshold
            ));
        }
        live = Some(count);
    }
    let ready = problems.is_empty();
    let body = serde_json::json!({
        "ready": ready,
        "problems": problems,
        "chains_silent_ms": chains,
        "store": store_ok,
        "routers_live": live,
    });
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

/// `POST /store/backup` body.
#[derive(Debug, Deserialize)]
pub struct BackupBody {
    to: std::path::PathBuf,
}

async fn backup(
    State(app): State<AppState>,
    Json(body): Json<BackupBody>,
) -> Result<Json<crate::store::BackupReport>, ApiError> {
    if !body.to.is_absolute() {
        return Err(ApiError(
            StatusCode::BAD_REQUEST,
            format!("to: {} is not an absolute path", body.to.display()),
        ));
    }
    let store = app.pipeline.store().clone();
    let report = tokio::task::spawn_blocking(move || store.backup_to(&body.to))
        .await
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .map_err(|e| match e {
            StoreError::BackupTarget { .. } => ApiError(StatusCode::CONFLICT, e.to_string()),
            other => ApiError(StatusCode::INTERNAL_SERVER_ERROR, other.to_string()),
        })?;
    Ok(Json(report))
}

async fn stats(State(app): State<AppState>) -> Json<serde_json::Value> {
    let mut out = serde_json::Map::new();
    for stage in Stage::ALL {
        out.insert(
            stage_name(stage),
            app.pipeline.store().count_in(stage).into(),
        );
    }
    Json(out.into())
}

/// `GET /messages` query.
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    status: Option<String>,
    limit: Option<usize>,
}

async fn list(
    State(app): State<AppState>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Vec<MessageView>>, ApiError> {
    let limit = q.limit.unwrap_or(100);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(ApiError(
            StatusCode::BAD_REQUEST,
            format!("limit must be between 1 and {MAX_LIMIT}, got {limit}"),
        ));
    }
    let stages = match q.status.as_deref() {
        Some(s) => vec![parse_stage(s).ok_or_else(|| {
            let names: Vec<String> = Stage::ALL.into_iter().map(stage_name).collect();
            ApiError(
                StatusCode::BAD_REQUEST,
                format!("status {s:?} is not one of {}", names.join(", ")),
            )
        })?],
        None => Stage::ALL.to_vec(),
    };
    let store = app.pipeline.store();
    let mut out = Vec::new();
    for stage in stages {
        for id in store.ids_in(stage, limit - out.len())? {
            if let Some(r) = store.get(&id)? {
                out.push(view(&app, &r));
            }
        }
        if out.len() >= limit {
            break;
        }
    }
    Ok(Json(out))
}

async fn one(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<MessageView>, ApiError> {
    let id = parse_id(&id)?;
    let r = app
        .pipeline
        .store()
        .get(&id)?
        .ok_or(StoreError::UnknownMessage(id))?;
    Ok(Json(view(&app, &r)))
}

async fn retry(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<MessageView>, ApiError> {
    let id = parse_id(&id)?;
    let r = app.pipeline.retry(&id)?;
    tracing::info!(%id, "operator retried a parked message");
    Ok(Json(view(&app, &r)))
}

/// `POST /messages/{id}/drop` body.
#[derive(Debug, Deserialize)]
pub struct DropBody {
    reason: String,
}

async fn drop_message(
    State(app): State<AppState>,
    Path(id): Path<String>,
    body: Result<Json<DropBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<MessageView>, ApiError> {
    let id = parse_id(&id)?;
    let Json(body) = body.map_err(|e| {
        ApiError(
            StatusCode::BAD_REQUEST,
            format!("body must be {{\"reason\": \"…\"}}: {}", e.body_text()),
        )
    })?;
    if body.reason.trim().is_empty() {
        return Err(ApiError(
            StatusCode::BAD_REQUEST,
            "reason must not be empty".into(),
        ));
    }
    let r = app.pipeline.drop_message(&id, body.reason.trim())?;
    tracing::warn!(%id, reason = body.reason.trim(), "operator dropped a message");
    Ok(Json(view(&app, &r)))
}
