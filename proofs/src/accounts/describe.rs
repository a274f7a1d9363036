//! One line saying what an account or read message is (`xroute status`, the API's `account`).

use alloy_primitives::U256;
use alloy_sol_types::{Revert, SolError};

use super::{CallsRequest, CallsResult, ReadAnswer, StorageRequest};

/// What `payload` is, if it reads whole as one of the account and read formats of this module:
/// one line for `xroute status` and the API, e.g. `account calls (tag 4): 3 calls, result to 1
/// domain`. `None` for any other payload.
pub fn describe(payload: &[U256]) -> Option<String> {
    let plural = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
    if let Ok(r) = CallsRequest::decode(payload) {
        let targets: Vec<String> = r.calls.iter().map(|c| c.target.to_string()).collect();
        return Some(format!(
            "account calls (tag {}): {} ({}), result to {}",
            r.tag,
            plural(r.calls.len(), "call"),
            targets.join(", "),
            plural(r.replies.len(), "domain")
        ));
    }
    if let Ok(r) = CallsResult::decode(payload) {
        return Some(if r.ok {
            format!(
                "account result (tag {}) for owner {} of domain {}: all calls ran, {}",
                r.tag,
                r.owner,
                r.domain,
                plural(r.outputs.len(), "output")
            )
        } else {
            let reason = r
                .outputs
                .first()
                .and_then(|data| Revert::abi_decode(data).ok())
                .map(|r| r.reason)
                .unwrap_or_else(|| "no reason".into());
            format!(
                "account result (tag {}) for owner {} of domain {}: call {} failed ({reason}), none ran",
                r.tag, r.owner, r.domain, r.failed_index
            )
        });
    }
    if let Ok(r) = StorageRequest::decode(payload) {
        return Some(format!(
            "storage read (tag {}) of {} at L1 block {}, answer to {}",
            r.tag,
            plural(r.reads.len(), "slot"),
            r.block,
            plural(r.replies.len(), "domain")
        ));
    }
    if let Ok(a) = ReadAnswer::decode(payload) {
        let ok = a.results.iter().filter(|(ok, _)| *ok).count();
        return Some(format!(
            "read answer (tag {}) at L1 block {}: {} of {} ok",
            a.tag,
            a.block,
            ok,
            a.results.len()
        ));
    }
    None
}
