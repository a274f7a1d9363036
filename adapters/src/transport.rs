//! RPC transports with a timeout on every request and retries of transient failures, per chain
//! (`[chains.transport]`), as layers under the providers rather than code in every call.
//!
//! - EVM (alloy): a reqwest client with the request timeout, under alloy's
//!   [`RetryBackoffLayer`] with a policy that also retries timeouts, refused connections and 5xx
//!   answers; below it a layer that turns reqwest's errors into ones that say what happened
//!   (timed out, connection failed) without the URL, which may carry an API key.
//! - Starknet (starknet-rs): [`RetryingHttp`], a [`JsonRpcTransport`] around starknet-rs's HTTP
//!   transport with the same timeout, retries and redaction.
//!
//! A node that accepts connections and never answers costs `(retries + 1) × timeout` per request,
//! after which the call fails with [`crate::ErrorKind::Timeout`] and the router moves on.
//!
//! Each chain's client has at most `transport.max_connections` requests in flight to its node (as
//! many permits; a request past them waits for one, before its timeout starts), and its pool keeps
//! no more idle connections, closing them after [`POOL_IDLE`] unused. (Open connections can pass
//! twice that for a moment: hyper returns a finished connection to the pool on a task of its own,
//! so a request that gets the freed permit first may open another, and the pool closes the extra
//! once it is full.) An adapter reads and sends through one client, so the bound is the chain's.

use std::{
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use alloy::{
    providers::{DynProvider, Provider, ProviderBuilder},
    rpc::client::ClientBuilder,
    transports::{
        TransportError, TransportErrorKind, TransportFut,
        http::Http,
        layers::{RateLimitRetryPolicy, RetryBackoffLayer},
    },
};
use alloy_json_rpc::{RequestPacket, ResponsePacket};
use async_trait::async_trait;
use serde::{Serialize, de::DeserializeOwned};
use starknet_rust::providers::{
    JsonRpcClient, ProviderRequestData, Url,
    jsonrpc::{
        HttpTransport, HttpTransportError, JsonRpcMethod, JsonRpcResponse, JsonRpcTransport,
    },
};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tower::{Layer, Service};
use xroute_config::TransportConfig;

use crate::{
    AdapterError, Result,
    rpc_metrics::{RpcMetrics, RpcOutcome},
};

/// How long an idle connection to a node is kept for the next request.
pub const POOL_IDLE: Duration = Duration::from_secs(30);

/// The reqwest client of one chain: every request times out after `transport.timeout_ms`, and at
/// most `transport.max_connections` idle connections are kept, each for at most [`POOL_IDLE`].
fn http_client(chain: &str, transport: &TransportConfig) -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(Duration::from_millis(transport.timeout_ms))
        .connect_timeout(Duration::from_millis(transport.timeout_ms))
        .pool_max_idle_per_host(transport.max_connections as usize)
        .pool_idle_timeout(POOL_IDLE)
        .build()
        .map_err(|e| AdapterError::config(chain, format!("cannot build an HTTP client: {e}")))
}

/// The permits of one chain's client: one per request it may have in flight (`max_connections`,
/// at least one).
fn connection_permits(transport: &TransportConfig) -> Arc<Semaphore> {
    Arc::new(Semaphore::new(transport.max_connections.max(1) as usize))
}

/// Waits for a permit to send a request on `chain` (on an idle connection or a new one); a try
/// that finds none free is counted with its wait ([`RpcMetrics::observe_connection_wait`]). The
/// semaphore is never closed; if it were, the request would fail rather than run unbounded.
async fn connection_permit(
    chain: &str,
    permits: Arc<Semaphore>,
) -> std::result::Result<OwnedSemaphorePermit, HttpFailure> {
    if let Ok(permit) = permits.clone().try_acquire_owned() {
        return Ok(permit);
    }
    let started = std::time::Instant::now();
    let permit = permits
        .acquire_owned()
        .await
        .map_err(|_| HttpFailure::Other("the client's connections are closed".into()))?;
    RpcMetrics::global().observe_connection_wait(chain, started.elapsed());
    Ok(permit)
}

/// A failed HTTP exchange, said without the URL.
#[derive(Debug, Clone, thiserror::Error)]
pub enum HttpFailure {
    /// No answer within the timeout.
    #[error("timed out: no answer within the request timeout")]
    TimedOut,
    /// The connection could not be made or broke.
    #[error("connection failed: {0}")]
    Connection(String),
    /// Anything else reqwest reports.
    #[error("{0}")]
    Other(String),
}

impl HttpFailure {
    fn of(e: reqwest::Error) -> Self {
        let e = e.without_url();
        if e.is_timeout() {
            Self::TimedOut
        } else if e.is_connect() || e.is_request() {
            let mut message = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                message = format!("{message}: {s}");
                source = s.source();
            }
            Self::Connection(message)
        } else {
            Self::Other(e.to_string())
        }
    }

    fn is_transient(&self) -> bool {
        matches!(self, Self::TimedOut | Self::Connection(_))
    }
}

/// The outermost layer: counts every logical request (its retries included) per chain and method.
#[derive(Debug, Clone)]
struct Observe {
    chain: String,
}

impl<S> Layer<S> for Observe {
    type Service = ObserveService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ObserveService {
            inner,
            chain: self.chain.clone(),
        }
    }
}

#[derive(Debug, Clone)]
struct ObserveService<S> {
    inner: S,
    chain: String,
}

impl<S> Service<RequestPacket> for ObserveService<S>
where
    S: Service<
            RequestPacket,
            Response = ResponsePacket,
            Error = TransportError,
            Future = TransportFut<'static>,
        > + Send
        + 'static,
{
    type Response = ResponsePacket;
    type Error = TransportError;
    type Future = TransportFut<'static>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: RequestPacket) -> Self::Future {
        let method = match &request {
            RequestPacket::Single(r) => r.method().to_string(),
            RequestPacket::Batch(_) => "batch".to_string(),
        };
        let chain = self.chain.clone();
        let started = std::time::Instant::now();
        let future = self.inner.call(request);
        Box::pin(async move {
            let result = future.await;
            let outcome = match &result {
                Ok(ResponsePacket::Single(r)) if r.is_error() => RpcOutcome::ErrorAnswer,
                Ok(_) => RpcOutcome::Answered,
                Err(TransportError::ErrorResp(_)) => RpcOutcome::ErrorAnswer,
                Err(TransportError::Transport(TransportErrorKind::Custom(custom)))
                    if custom.downcast_ref::<HttpFailure>().is_some() =>
                {
                    match custom.downcast_ref::<HttpFailure>() {
                        Some(HttpFailure::TimedOut) => RpcOutcome::Timeout,
                        Some(HttpFailure::Connection(_)) => RpcOutcome::Unavailable,
                        _ => RpcOutcome::Other,
                    }
                }
                // After the retries, alloy says what happened in words ("Max retries exceeded
                // operation timed out"): read them as the adapter's errors are read.
                Err(e) => match crate::error::classify(e) {
                    crate::ErrorKind::Timeout => RpcOutcome::Timeout,
                    crate::ErrorKind::Unavailable | crate::ErrorKind::RateLimited => {
                        RpcOutcome::Unavailable
                    }
                    crate::ErrorKind::Revert => RpcOutcome::ErrorAnswer,
                    _ => RpcOutcome::Other,
                },
            };
            RpcMetrics::global().observe(&chain, &method, started.elapsed(), outcome);
            result
        })
    }
}

/// The layer under the retries: each try waits for one of the chain's connection permits and
/// holds it until its answer is read, and reqwest errors become [`HttpFailure`]s.
#[derive(Debug, Clone)]
struct Redact {
    chain: String,
    permits: Arc<Semaphore>,
}

impl<S> Layer<S> for Redact {
    type Service = RedactService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RedactService {
            inner,
            chain: self.chain.clone(),
            permits: self.permits.clone(),
        }
    }
}

#[derive(Debug, Clone)]
struct RedactService<S> {
    inner: S,
    chain: String,
    permits: Arc<Semaphore>,
}

impl<S> Service<RequestPacket> for RedactService<S>
where
    S: Service<
            RequestPacket,
            Response = ResponsePacket,
            Error = TransportError,
            Future = TransportFut<'static>,
        > + Send
        + 'static,
{
    type Response = ResponsePacket;
    type Error = TransportError;
    type Future = TransportFut<'static>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: RequestPacket) -> Self::Future {
        // The HTTP transport's future sends nothing until polled, so the request's timeout runs
        // from when it has a permit.
        let future = self.inner.call(request);
        let permits = self.permits.clone();
        let chain = self.chain.clone();
        Box::pin(async move {
            let _permit = connection_permit(&chain, permits)
                .await
                .map_err(TransportErrorKind::custom)?;
            future.await.map_err(|e| match e {
                TransportError::Transport(TransportErrorKind::Custom(custom)) => {
                    match custom.downcast::<reqwest::Error>() {
                        Ok(r) => TransportErrorKind::custom(HttpFailure::of(*r)),
                        Err(other) => TransportError::Transport(TransportErrorKind::Custom(other)),
                    }
                }
                other => other,
            })
        })
    }
}

/// Whether alloy's retry layer should try `error` again: rate limits (alloy's own policy),
/// timeouts, broken connections, 5xx answers, an answer that is not JSON-RPC (a truncated or
/// garbled body from a proxy or an overloaded node) and a JSON-RPC internal error that is not a
/// revert.
fn transient(error: &TransportError) -> bool {
    match error {
        TransportError::Transport(TransportErrorKind::Custom(custom)) => custom
            .downcast_ref::<HttpFailure>()
            .is_some_and(HttpFailure::is_transient),
        TransportError::Transport(TransportErrorKind::HttpError(http)) => http.status >= 500,
        TransportError::DeserError { .. } | TransportError::NullResp => true,
        TransportError::ErrorResp(payload) => {
            internal_error(payload.code, &payload.message) && payload.as_revert_data().is_none()
        }
        _ => false,
    }
}

/// A JSON-RPC error answer that says the node failed, not the request: an internal error
/// (-32603) that is not a revert, or a rate limit in words.
fn internal_error(code: i64, message: &str) -> bool {
    let message = message.to_lowercase();
    (code == -32603 && !message.contains("revert"))
        || code == 429
        || message.contains("rate limit")
        || message.contains("too many requests")
}

/// An alloy provider for `url` with `transport`'s timeout and retries.
pub fn evm_provider(chain: &str, url: &str, transport: &TransportConfig) -> Result<DynProvider> {
    let url: Url = url
        .parse()
        .map_err(|e| AdapterError::config(chain, format!("rpc: not a URL: {e}")))?;
    let http = Http::with_client(http_client(chain, transport)?, url);
    let is_local = http.guess_local();
    let retry = RetryBackoffLayer::new_with_policy(
        transport.retries,
        transport.retry_backoff_ms,
        u64::MAX,
        RateLimitRetryPolicy::default().or(transient),
    );
    let client = ClientBuilder::default()
        .layer(Observe {
            chain: chain.to_string(),
        })
        .layer(retry)
        .layer(Redact {
            chain: chain.to_string(),
            permits: connection_permits(transport),
        })
        .transport(http, is_local);
    Ok(ProviderBuilder::new()
        .disable_recommended_fillers()
        .connect_client(client)
        .erased())
}

/// starknet-rs's HTTP transport with a request timeout and retries of transient failures.
#[derive(Debug, Clone)]
pub struct RetryingHttp {
    chain: String,
    inner: HttpTransport,
    permits: Arc<Semaphore>,
    retries: u32,
    backoff: Duration,
}

/// Why a Starknet RPC request failed, without the URL.
#[derive(Debug, thiserror::Error)]
pub enum StarknetTransportError {
    /// The HTTP exchange failed (after the retries).
    #[error("{failure} (after {tries} tries)")]
    Http {
        /// What happened.
        failure: HttpFailure,
        /// Tries made.
        tries: u32,
    },
    /// The request or the answer is not the JSON-RPC expected.
    #[error("{0}")]
    Json(String),
    /// Anything else the transport reports.
    #[error("{0}")]
    Other(String),
}

impl RetryingHttp {
    /// A transport for `url` with `transport`'s timeout and retries.
    pub fn new(chain: &str, url: &str, transport: &TransportConfig) -> Result<Self> {
        let url: Url = url
            .parse()
            .map_err(|e| AdapterError::config(chain, format!("rpc: not a URL: {e}")))?;
        Ok(Self {
            chain: chain.to_string(),
            inner: HttpTransport::new_with_client(url, http_client(chain, transport)?),
            permits: connection_permits(transport),
            retries: transport.retries,
            backoff: Duration::from_millis(transport.retry_backoff_ms),
        })
    }

    /// Counts one logical request of `method` (its retries included); `error_answer`: the node
    /// answered with a JSON-RPC error.
    fn observe<T>(
        &self,
        method: &str,
        started: std::time::Instant,
        result: &std::result::Result<T, StarknetTransportError>,
        error_answer: bool,
    ) {
        let outcome = match result {
            Ok(_) if error_answer => RpcOutcome::ErrorAnswer,
            Ok(_) => RpcOutcome::Answered,
            Err(StarknetTransportError::Http {
                failure: HttpFailure::TimedOut,
                ..
            }) => RpcOutcome::Timeout,
            Err(StarknetTransportError::Http { .. }) => RpcOutcome::Unavailable,
            Err(_) => RpcOutcome::Other,
        };
        RpcMetrics::global().observe(&self.chain, method, started.elapsed(), outcome);
    }

    async fn retry<T, F, Fut>(&self, mut send: F) -> std::result::Result<T, StarknetTransportError>
    where
        F: FnMut() -> Fut + Send,
        Fut: std::future::Future<Output = std::result::Result<T, HttpTransportError>> + Send,
        T: Send + NodeFailed,
    {
        let mut tries = 0;
        loop {
            tries += 1;
            let permit = match connection_permit(&self.chain, self.permits.clone()).await {
                Ok(p) => p,
                Err(failure) => return Err(StarknetTransportError::Http { failure, tries }),
            };
            let sent = send().await;
            drop(permit);
            let failure = match sent {
                Ok(v) if tries <= self.retries && v.node_failed() => {
                    tokio::time::sleep(self.backoff).await;
                    continue;
                }
                Ok(v) => return Ok(v),
                Err(HttpTransportError::Reqwest(e)) => HttpFailure::of(e),
                // An answer that is not JSON-RPC (a 5xx page, a truncated or garbled body): the
                // node's failure, tried again like a broken connection.
                Err(HttpTransportError::Json(e)) if tries <= self.retries => {
                    tracing::debug!(chain = %self.chain, error = %e, "an answer that is not JSON-RPC; trying again");
                    tokio::time::sleep(self.backoff).await;
                    continue;
                }
                Err(HttpTransportError::Json(e)) => {
                    return Err(StarknetTransportError::Json(e.to_string()));
                }
                Err(other) => return Err(StarknetTransportError::Other(other.to_string())),
            };
            if !failure.is_transient() || tries > self.retries {
                return Err(StarknetTransportError::Http { failure, tries });
            }
            tokio::time::sleep(self.backoff).await;
        }
    }
}

/// An answer of the node that says the node failed (tried again) rather than the request.
trait NodeFailed {
    fn node_failed(&self) -> bool;
}

impl<R> NodeFailed for JsonRpcResponse<R> {
    fn node_failed(&self) -> bool {
        match self {
            JsonRpcResponse::Error { error, .. } => internal_error(error.code, &error.message),
            JsonRpcResponse::Success { .. } => false,
        }
    }
}

impl<R> NodeFailed for Vec<R> {
    fn node_failed(&self) -> bool {
        false
    }
}

#[async_trait]
impl JsonRpcTransport for RetryingHttp {
    type Error = StarknetTransportError;

    async fn send_request<P, R>(
        &self,
        method: JsonRpcMethod,
        params: P,
    ) -> std::result::Result<JsonRpcResponse<R>, Self::Error>
    where
        P: Serialize + Send + Sync,
        R: DeserializeOwned + Send,
    {
        let params = serde_json::to_value(&params)
            .map_err(|e| StarknetTransportError::Json(e.to_string()))?;
        let started = std::time::Instant::now();
        let result = self
            .retry(|| {
                self.inner
                    .send_request::<&serde_json::Value, R>(method, &params)
            })
            .await;
        let name = serde_json::to_value(method)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_else(|| format!("{method:?}"));
        let error_answer = matches!(result, Ok(JsonRpcResponse::Error { .. }));
        self.observe(&name, started, &result, error_answer);
        result
    }

    async fn send_requests<R>(
        &self,
        requests: R,
    ) -> std::result::Result<Vec<JsonRpcResponse<serde_json::Value>>, Self::Error>
    where
        R: AsRef<[ProviderRequestData]> + Send + Sync,
    {
        let started = std::time::Instant::now();
        let result = self
            .retry(|| self.inner.send_requests(requests.as_ref()))
            .await;
        self.observe("batch", started, &result, false);
        result
    }
}

/// A starknet-rs client for `url` with `transport`'s timeout and retries.
pub fn starknet_client(
    chain: &str,
    url: &str,
    transport: &TransportConfig,
) -> Result<JsonRpcClient<RetryingHttp>> {
    Ok(JsonRpcClient::new(RetryingHttp::new(
        chain, url, transport,
    )?))
}

/// Whether a node refused a log or event query for its range or its number of results (`error`,
/// the node's answer; the wordings of public providers: "block range", "range too large",
/// "exceeds max block range", "query returned more than 10000 results", "response size
/// exceeded", "limit exceeded").
pub(crate) fn too_large(error: &str) -> bool {
    let text = error.to_lowercase();
    [
        "range",
        "more than",
        "too many",
        "too large",
        "size exceeded",
        "limit exceeded",
    ]
    .iter()
    .any(|w| text.contains(w))
}
