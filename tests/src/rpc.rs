//! Raw JSON-RPC for methods no typed client has (devnet_*, anvil_*).

use eyre::{Result, WrapErr, bail};
use serde_json::{Value, json};

/// Calls `method` with `params` on `url` and returns the `result`, or the node's error as text.
pub async fn call(
    client: &reqwest::Client,
    url: &str,
    method: &str,
    params: Value,
) -> Result<Value> {
    let body = json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params });
    let response: Value = client
        .post(url)
        .json(&body)
        .send()
        .await
        .wrap_err_with(|| format!("{method}: request to {url} failed"))?
        .json()
        .await
        .wrap_err_with(|| format!("{method}: answer from {url} is not JSON"))?;
    if let Some(error) = response.get("error") {
        bail!("{method} failed on {url}: {error}");
    }
    match response.get("result") {
        Some(result) => Ok(result.clone()),
        None => bail!("{method}: answer from {url} has neither result nor error: {response}"),
    }
}
