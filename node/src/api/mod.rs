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
//! - `GET /` → the explorer page (embedded; it reads the routes below)
//! - `GET /openapi.json` → the OpenAPI 3.1 document of all of this, generated from the handlers
//!   (utoipa): every route is registered through it, so none can be missing
//!
//! Errors are `{"error": "…"}` with 400 (bad input, naming it: a query, a path or a body that
//! does not parse is one too), 401 (a write route without the API token), 404 (unknown id) or
//! 409 (the message is not in a stage that allows it).
//!
//! With `node.api_token_file` configured (required when the API listens beyond loopback), the
//! write routes (`retry`, `drop`, `store/backup`) need `Authorization: Bearer <token>`; read
//! routes stay open. The OpenAPI document says so only for a router that has a token: without
//! one, the write routes take requests as they come, and the document says that instead.

use std::sync::Arc;

use axum::{
    Json, Router,
    extract::{Path, Query, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::{Deserialize, Serialize};
use utoipa::OpenApi as _;
use utoipa_axum::{router::OpenApiRouter, routes};
use xroute_proofs::envelope::MessageId;

mod advice;
mod quote;
mod transfer;
mod views;

use quote::{__path_quote, quote};
pub use transfer::TransferView;
use transfer::transfer_outcome;
use views::view;
pub use views::{CheckpointView, MessageView, RelayView, parse_stage, stage_name};

use crate::{
    model::Stage,
    network::{Network, PeersView},
    pipeline::Pipeline,
    store::StoreError,
};

/// What the handlers read: the pipeline (store, chains) and, in a router network, the network;
/// the canonical token's L1 ledger when the config names it (`[token]`).
#[derive(Debug, Clone)]
pub struct AppState {
    pipeline: Arc<Pipeline>,
    network: Option<Arc<Network>>,
    ledger: Option<alloy_primitives::Address>,
    /// Whether the write routes need the API token.
    token: bool,
}

/// Most messages one `GET /messages` returns.
pub const MAX_LIMIT: usize = 10_000;

/// An API error: status and message.
#[derive(Debug)]
pub struct ApiError(StatusCode, String);

/// Every error's body.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// What is wrong, naming the input.
    pub error: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(ErrorBody { error: self.1 })).into_response()
    }
}

/// `GET /health`.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HealthView {
    /// Always `ok` while the API answers.
    pub status: String,
}

/// `GET /ready`.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReadyView {
    /// Whether the router is ready.
    pub ready: bool,
    /// What keeps it from being ready, one line each.
    pub problems: Vec<String>,
    /// Per chain, milliseconds since its indexer last finished a pass (`null`: none yet).
    pub chains_silent_ms: std::collections::BTreeMap<String, Option<u64>>,
    /// The store takes writes.
    pub store: bool,
    /// Routers of the set live (this one included), in a network.
    pub routers_live: Option<usize>,
}

/// The OpenAPI document's frame; the paths come from the handlers as they are routed.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "xroute router API",
        description = "A router's messages, their lifecycle, its network, metrics and operator \
                       actions."
    ),
    tags((name = "messages"), (name = "operator"), (name = "router"))
)]
struct ApiDoc;

/// What the document says of the write routes: with a token, they need it (the bearer scheme,
/// a security requirement and the 401 answer on each); without one, none of that.
fn with_token_or_not(mut doc: utoipa::openapi::OpenApi, token: bool) -> utoipa::openapi::OpenApi {
    use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
    if token {
        doc.components
            .get_or_insert_with(Default::default)
            .add_security_scheme(
                "api_token",
                SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
            );
        if let Some(info) = doc.info.description.as_mut() {
            info.push_str(
                " Write routes need `Authorization: Bearer <token>` (this router has \
                 `node.api_token_file`).",
            );
        }
        return doc;
    }
    for item in doc.paths.paths.values_mut() {
        for op in [&mut item.get, &mut item.post].into_iter().flatten() {
            op.security = None;
            op.responses.responses.remove("401");
        }
    }
    if let Some(info) = doc.info.description.as_mut() {
        info.push_str(
            " This router has no `node.api_token_file`: its write routes take requests without \
             a token (it listens on loopback only).",
        );
    }
    doc
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

/// A query string that does not parse, as a 400 with the error body.
fn bad_query(e: axum::extract::rejection::QueryRejection) -> ApiError {
    ApiError(StatusCode::BAD_REQUEST, e.body_text())
}

/// A body that is not the JSON a route takes, as a 400 with the error body.
fn bad_body(e: axum::extract::rejection::JsonRejection, shape: &str) -> ApiError {
    ApiError(
        StatusCode::BAD_REQUEST,
        format!("body must be {shape}: {}", e.body_text()),
    )
}

fn parse_id(s: &str) -> Result<MessageId, ApiError> {
    s.parse().map_err(|_| {
        ApiError(
            StatusCode::BAD_REQUEST,
            format!("message id {s:?} is not 32 bytes of 0x-hex"),
        )
    })
}

/// The read routes and the write routes, each registered with its OpenAPI path.
fn routes() -> (OpenApiRouter<AppState>, OpenApiRouter<AppState>) {
    let reads = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(health))
        .routes(routes!(stats))
        .routes(routes!(list))
        .routes(routes!(one))
        .routes(routes!(peers))
        .routes(routes!(metrics))
        .routes(routes!(ready))
        .routes(routes!(openapi_json))
        .routes(routes!(quote))
        .routes(routes!(explorer));
    let writes = OpenApiRouter::new()
        .routes(routes!(retry))
        .routes(routes!(drop_message))
        .routes(routes!(backup));
    (reads, writes)
}

/// The API's OpenAPI document as a router with (`token`) or without an API token serves it at
/// `GET /openapi.json`.
pub fn openapi(token: bool) -> utoipa::openapi::OpenApi {
    let (reads, writes) = routes();
    with_token_or_not(reads.merge(writes).into_openapi(), token)
}

/// The API's routes over `pipeline` and, for a router of a network, `network`; with `token`, the
/// write routes require it as a bearer token.
pub fn router(
    pipeline: Arc<Pipeline>,
    network: Option<Arc<Network>>,
    token: Option<String>,
    ledger: Option<alloy_primitives::Address>,
) -> Router {
    let (reads, writes) = routes();
    let required = token.is_some();
    let writes = match token {
        Some(token) => writes.route_layer(axum::middleware::from_fn_with_state(
            Arc::new(token),
            require_token,
        )),
        None => writes,
    };
    let (router, _) = reads.merge(writes).split_for_parts();
    router.with_state(AppState {
        pipeline,
        network,
        ledger,
        token: required,
    })
}

/// The OpenAPI 3.1 document of this API.
#[utoipa::path(get, path = "/openapi.json", tag = "router",
    responses((status = 200, description = "The OpenAPI document", content_type = "application/json")))]
async fn openapi_json(State(app): State<AppState>) -> Json<utoipa::openapi::OpenApi> {
    Json(openapi(app.token))
}

/// The explorer page: messages with filters and search, a message's timeline, per-route counts
/// and latency, the router set. One self-contained file embedded in the binary; it reads this API.
#[utoipa::path(get, path = "/", tag = "router", responses(
    (status = 200, description = "The explorer page", content_type = "text/html")))]
async fn explorer() -> axum::response::Html<&'static str> {
    axum::response::Html(include_str!("../explorer.html"))
}

/// Liveness: the API answers.
#[utoipa::path(get, path = "/health", tag = "router", responses((status = 200, body = HealthView)))]
async fn health() -> Json<HealthView> {
    Json(HealthView {
        status: "ok".into(),
    })
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

/// The router set with heartbeat views and divergence, and every p2p peer with its counters.
#[utoipa::path(get, path = "/peers", tag = "router", responses(
    (status = 200, body = PeersView),
    (status = 404, description = "The router runs alone (no `[p2p]`)", body = ErrorBody)))]
async fn peers(State(app): State<AppState>) -> Result<Json<PeersView>, ApiError> {
    match &app.network {
        Some(n) => Ok(Json(n.peers().await)),
        None => Err(ApiError(
            StatusCode::NOT_FOUND,
            "this router runs alone: its config has no [p2p] section".into(),
        )),
    }
}

/// Prometheus metrics: OpenMetrics text to a client that accepts it (a Prometheus server asks
/// for it), the classic text format (0.0.4) to any other.
#[utoipa::path(get, path = "/metrics", tag = "router", responses(
    (status = 200, description = "The metrics, in the format the `Accept` header asks for",
     content(("application/openmetrics-text"), ("text/plain")))))]
async fn metrics(State(app): State<AppState>, headers: axum::http::HeaderMap) -> Response {
    let openmetrics = headers
        .get_all(axum::http::header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("application/openmetrics-text"));
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
                    *sample
                        .gossip
                        .entry(("rejected", reason.clone()))
                        .or_default() += u64::from(*n);
                }
            }
            Some(sample)
        }
        None => None,
    };
    let text = app.pipeline.metrics().encode(&counts, network.as_ref());
    if openmetrics {
        return (
            [(
                axum::http::header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            text,
        )
            .into_response();
    }
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        crate::metrics::prometheus_text(&text),
    )
        .into_response()
}

/// A chain whose indexer has not finished a pass for this long makes the router not ready (at
/// least this, or ten poll intervals): a node that does not answer, or a catch-up in progress.
const READY_SILENCE_MS: u64 = 5_000;

/// Readiness: every chain indexed recently, the store takes writes, enough routers live.
#[utoipa::path(get, path = "/ready", tag = "router", responses(
    (status = 200, description = "Ready", body = ReadyView),
    (status = 503, description = "Not ready; `problems` says why", body = ReadyView)))]
async fn ready(State(app): State<AppState>) -> Response {
    let mut problems = Vec::new();
    let poll = app.pipeline.relay_config().poll_interval_ms;
    let limit = READY_SILENCE_MS.max(poll.saturating_mul(10));
    let mut chains = std::collections::BTreeMap::new();
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
        chains.insert(name, silence);
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
    let body = ReadyView {
        ready,
        problems,
        chains_silent_ms: chains,
        store: store_ok,
        routers_live: live,
    };
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

/// `POST /store/backup` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct BackupBody {
    /// An absolute folder that does not exist yet (or is empty).
    #[schema(value_type = String, pattern = "^/")]
    to: std::path::PathBuf,
}

/// Copies the store into a new folder while the router runs.
#[utoipa::path(post, path = "/store/backup", tag = "operator", request_body = BackupBody,
    security(("api_token" = [])),
    responses(
        (status = 200, body = crate::store::BackupReport),
        (status = 400, description = "No JSON body, or `to` is not absolute", body = ErrorBody),
        (status = 401, description = "No or a wrong API token", body = ErrorBody),
        (status = 409, description = "`to` exists and is not empty", body = ErrorBody)))]
async fn backup(
    State(app): State<AppState>,
    body: Result<Json<BackupBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<crate::store::BackupReport>, ApiError> {
    let Json(body) = body.map_err(|e| bad_body(e, "{\"to\": \"/absolute/folder\"}"))?;
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

/// Messages per stage.
#[utoipa::path(get, path = "/stats", tag = "messages", responses(
    (status = 200, description = "Stage name → messages in it",
     body = std::collections::BTreeMap<String, usize>)))]
async fn stats(State(app): State<AppState>) -> Json<std::collections::BTreeMap<String, usize>> {
    Json(
        Stage::ALL
            .into_iter()
            .map(|stage| (stage_name(stage), app.pipeline.store().count_in(stage)))
            .collect(),
    )
}

/// A stage's name, as `GET /messages?status=` takes it (the schema of that parameter).
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)] // documents the parameter; the handler parses the name
enum StageName {
    Sent,
    Proven,
    Attested,
    Relaying,
    Relayed,
    Delivered,
    Parked,
    Dropped,
}

/// `GET /messages` query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only this stage; every stage when absent.
    #[param(inline, value_type = Option<StageName>)]
    status: Option<String>,
    /// At most this many (100 when absent).
    #[param(minimum = 1, maximum = 10000)]
    limit: Option<usize>,
}

/// Message summaries, newest stage first.
#[utoipa::path(get, path = "/messages", tag = "messages", params(ListQuery), responses(
    (status = 200, body = Vec<MessageView>),
    (status = 400, description = "A bad `status` or `limit`", body = ErrorBody)))]
async fn list(
    State(app): State<AppState>,
    q: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<MessageView>>, ApiError> {
    let Query(q) = q.map_err(bad_query)?;
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

/// One message with its relays and history.
#[utoipa::path(get, path = "/messages/{id}", tag = "messages",
    params(("id" = String, Path, description = "Envelope id, 32 bytes of 0x-hex",
        pattern = "^0x[0-9a-fA-F]{64}$")),
    responses(
        (status = 200, body = MessageView),
        (status = 400, description = "Not a message id", body = ErrorBody),
        (status = 404, description = "No such message", body = ErrorBody),
        (status = 410, description = "Delivered, its record pruned (node.keep_delivered_s)",
         body = ErrorBody)))]
async fn one(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<MessageView>, ApiError> {
    let id = parse_id(&id)?;
    let store = app.pipeline.store();
    let Some(r) = store.get(&id)? else {
        return Err(match store.pruned(&id)? {
            Some(at) => ApiError(
                StatusCode::GONE,
                format!(
                    "message {id} was delivered (at {at} ms since the epoch); its record was \
                     pruned after node.keep_delivered_s"
                ),
            ),
            None => StoreError::UnknownMessage(id).into(),
        });
    };
    let mut v = view(&app, &r);
    if let Some(src) = app.pipeline.chains().get(r.envelope.src_domain) {
        // Read live; a chain that does not answer leaves it out.
        v.payment = src.payment(id).await.ok().flatten().map(Into::into);
        // A settlement follows the relay; it is looked for from the message's own block on.
        if v.payment.is_none() && matches!(r.stage, Stage::Relayed | Stage::Delivered) {
            v.settlement = src
                .settlement(id, r.source.block_number)
                .await
                .ok()
                .flatten()
                .map(Into::into);
        }
    }
    if let (Some(ledger), Some(t)) = (app.ledger, v.transfer.as_mut())
        && t.kind == "transfer"
    {
        t.outcome = transfer_outcome(&app, ledger, &r).await;
    }
    Ok(Json(v))
}

/// Starts a parked message over.
#[utoipa::path(post, path = "/messages/{id}/retry", tag = "operator",
    params(("id" = String, Path, description = "Envelope id, 32 bytes of 0x-hex",
        pattern = "^0x[0-9a-fA-F]{64}$")),
    security(("api_token" = [])),
    responses(
        (status = 200, body = MessageView),
        (status = 400, description = "Not a message id", body = ErrorBody),
        (status = 401, description = "No or a wrong API token", body = ErrorBody),
        (status = 404, description = "No such message", body = ErrorBody),
        (status = 409, description = "The message is not parked", body = ErrorBody)))]
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
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct DropBody {
    /// Why, kept with the message (not empty, not only spaces).
    #[schema(min_length = 1, pattern = "\\S")]
    reason: String,
}

/// Drops a parked message for good.
#[utoipa::path(post, path = "/messages/{id}/drop", tag = "operator", request_body = DropBody,
    params(("id" = String, Path, description = "Envelope id, 32 bytes of 0x-hex",
        pattern = "^0x[0-9a-fA-F]{64}$")),
    security(("api_token" = [])),
    responses(
        (status = 200, body = MessageView),
        (status = 400, description = "Not a message id, or no reason", body = ErrorBody),
        (status = 401, description = "No or a wrong API token", body = ErrorBody),
        (status = 404, description = "No such message", body = ErrorBody),
        (status = 409, description = "The message is not parked", body = ErrorBody)))]
async fn drop_message(
    State(app): State<AppState>,
    Path(id): Path<String>,
    body: Result<Json<DropBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<MessageView>, ApiError> {
    let id = parse_id(&id)?;
    let Json(body) = body.map_err(|e| bad_body(e, "{\"reason\": \"…\"}"))?;
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
