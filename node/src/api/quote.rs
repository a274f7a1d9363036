//! `GET /quote` (issue 27): suggested payment terms for a message's relay on a route.

use axum::{
    Json,
    extract::{Query, State},
    http::StatusCode,
};
use serde::Deserialize;

use super::{ApiError, AppState, ErrorBody, bad_query};

/// `GET /quote` query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct QuoteQuery {
    /// Source domain.
    from: u32,
    /// Destination domain.
    to: u32,
    /// The recipient on the destination, a 0x-hex word (its entry fee is quoted for it).
    #[param(pattern = "^0x[0-9a-fA-F]{1,64}$")]
    recipient: String,
    /// Payload words (0x-hex, or decimal below 10^77), comma-separated.
    #[param(
        pattern = "^((0x[0-9a-fA-F]{1,64}|[0-9]{1,77})(,(0x[0-9a-fA-F]{1,64}|[0-9]{1,77}))*)?$"
    )]
    payload: Option<String>,
    /// The cap on the L1 base fee as a multiple of today's (2 when absent).
    base_fee_factor: Option<u64>,
    /// The priority fee in wei (2 gwei when absent).
    priority_fee: Option<u64>,
}

/// Suggested payment terms for a message's relay on a route, from the chains' prices now.
#[utoipa::path(get, path = "/quote", tag = "messages", params(QuoteQuery), responses(
    (status = 200, body = crate::quote::Quote),
    (status = 400, description = "A query that does not parse", body = ErrorBody),
    (status = 404, description = "No chain of this router has the domain", body = ErrorBody),
    (status = 409, description = "The destination refuses the message", body = ErrorBody),
    (status = 502, description = "A chain did not answer", body = ErrorBody)))]
pub(super) async fn quote(
    State(app): State<AppState>,
    q: Result<Query<QuoteQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<crate::quote::Quote>, ApiError> {
    let Query(q) = q.map_err(bad_query)?;
    let word = |s: &str, what: &str| -> Result<alloy_primitives::B256, ApiError> {
        let v = match s.trim().strip_prefix("0x") {
            Some(h) if !h.is_empty() && h.len() <= 64 => {
                alloy_primitives::U256::from_str_radix(h, 16).ok()
            }
            Some(_) => None,
            None => alloy_primitives::U256::from_str_radix(s.trim(), 10).ok(),
        };
        v.map(|v| alloy_primitives::B256::from(v.to_be_bytes::<32>()))
            .ok_or_else(|| {
                ApiError(
                    StatusCode::BAD_REQUEST,
                    format!("{what}: {s:?} is not a 256-bit word"),
                )
            })
    };
    let recipient = word(&q.recipient, "recipient")?;
    let payload = match &q.payload {
        None => Vec::new(),
        Some(p) if p.is_empty() => Vec::new(),
        Some(p) => p
            .split(',')
            .enumerate()
            .map(|(i, w)| word(w, &format!("payload word {i}")))
            .collect::<Result<_, _>>()?,
    };
    let req = crate::quote::QuoteRequest {
        src: q.from,
        dst: q.to,
        recipient,
        payload,
        base_fee_factor: q.base_fee_factor.unwrap_or(2),
        priority_fee: u128::from(q.priority_fee.unwrap_or(2_000_000_000)),
    };
    use crate::quote::QuoteError;
    crate::quote::quote(app.pipeline.chains(), &req)
        .await
        .map(Json)
        .map_err(|e| {
            let status = match &e {
                QuoteError::UnknownDomain(_) => StatusCode::NOT_FOUND,
                QuoteError::Refused(_) => StatusCode::CONFLICT,
                QuoteError::Chain(_) => StatusCode::BAD_GATEWAY,
            };
            ApiError(status, e.to_string())
        })
}
