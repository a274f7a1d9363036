//! `xroute status | messages | retry | drop`: talk to a running router over its HTTP API.

use std::{path::PathBuf, process::ExitCode};

use clap::Args;
use xroute::api::{MessageView, parse_stage};
use xroute_config::Config;

use super::{EXIT_FAILED, EXIT_USAGE};

/// Where the router's API is.
#[derive(Args, Clone)]
pub(crate) struct ApiArgs {
    /// The router's API base URL.
    #[arg(
        long,
        env = "XROUTE_API",
        value_name = "URL",
        conflicts_with = "config"
    )]
    api: Option<String>,
    /// Read the API address (`node.api`) and token (`node.api_token_file`) from this router
    /// config.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// The API token for the write routes (`retry`, `drop`), when the router requires one.
    #[arg(
        long,
        env = "XROUTE_API_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    token: Option<String>,
    /// Print the API's JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// `xroute status` arguments.
#[derive(Args)]
pub(crate) struct StatusArgs {
    /// Message id (0x + 64 hex digits).
    id: String,
    #[command(flatten)]
    api: ApiArgs,
}

/// `xroute messages` arguments.
#[derive(Args)]
pub(crate) struct MessagesArgs {
    /// Only messages in this stage (sent, proven, attested, relaying, relayed, delivered, parked,
    /// dropped).
    #[arg(long)]
    status: Option<String>,
    /// At most this many.
    #[arg(long, default_value_t = 50)]
    limit: usize,
    #[command(flatten)]
    api: ApiArgs,
}

/// `xroute retry` arguments.
#[derive(Args)]
pub(crate) struct RetryArgs {
    /// Id of a parked message.
    id: String,
    #[command(flatten)]
    api: ApiArgs,
}

/// `xroute drop` arguments.
#[derive(Args)]
pub(crate) struct DropArgs {
    /// Id of a parked message.
    id: String,
    /// Why (recorded in its history).
    #[arg(long)]
    reason: String,
    #[command(flatten)]
    api: ApiArgs,
}

enum Failure {
    Usage(String),
    Failed(String),
}

fn base_url(args: &ApiArgs) -> Result<String, Failure> {
    if let Some(url) = &args.api {
        return Ok(url.trim_end_matches('/').to_string());
    }
    if let Some(path) = &args.config {
        let config = Config::load(path).map_err(|e| Failure::Usage(e.to_string()))?;
        return Ok(format!("http://{}", config.node.api));
    }
    Ok("http://127.0.0.1:7300".into())
}

/// The API token: `--token` (or `XROUTE_API_TOKEN`), else the config's `node.api_token_file`.
fn token(args: &ApiArgs) -> Result<Option<String>, Failure> {
    if let Some(token) = &args.token {
        return Ok(Some(token.trim().to_string()));
    }
    match &args.config {
        Some(path) => {
            let config = Config::load(path).map_err(|e| Failure::Usage(e.to_string()))?;
            config
                .node
                .api_token()
                .map_err(|e| Failure::Usage(format!("node.api_token_file: {e}")))
        }
        None => Ok(None),
    }
}

fn check_id(id: &str) -> Result<(), Failure> {
    id.parse::<xroute_proofs::envelope::MessageId>()
        .map(|_| ())
        .map_err(|_| {
            Failure::Usage(format!(
                "<ID>: {id:?} is not a message id (0x + 64 hex digits)"
            ))
        })
}

async fn request(
    base: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> Result<serde_json::Value, Failure> {
    write_request(base, method, path, body, None).await
}

/// A request with the API token as a bearer token, when there is one.
async fn write_request(
    base: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<serde_json::Value>,
    token: Option<&str>,
) -> Result<serde_json::Value, Failure> {
    let client = reqwest::Client::new();
    let mut req = client.request(method, format!("{base}{path}"));
    if let Some(body) = body {
        req = req.json(&body);
    }
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    let resp = req.send().await.map_err(|e| {
        if e.is_connect() || e.is_timeout() {
            Failure::Failed(format!(
                "no xroute router answering at {base} (start one with `xroute run --config FILE`, \
                 or point --api/--config at it)"
            ))
        } else {
            Failure::Failed(format!("{base}{path}: {e}"))
        }
    })?;
    let status = resp.status();
    let value: serde_json::Value = resp
        .json()
        .await
        .map_err(|e| Failure::Failed(format!("{base}{path}: answer is not JSON: {e}")))?;
    if !status.is_success() {
        let msg = value
            .get("error")
            .and_then(|e| e.as_str())
            .unwrap_or("unknown error")
            .to_string();
        return Err(
            if status.is_client_error() && ![404, 409, 410].contains(&status.as_u16()) {
                Failure::Usage(msg)
            } else {
                Failure::Failed(msg)
            },
        );
    }
    Ok(value)
}

fn finish(result: Result<(), Failure>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(m)) => {
            eprintln!("error: {m}");
            ExitCode::from(EXIT_USAGE)
        }
        Err(Failure::Failed(m)) => {
            eprintln!("error: {m}");
            ExitCode::from(EXIT_FAILED)
        }
    }
}

fn block_on(f: impl Future<Output = Result<(), Failure>>) -> ExitCode {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => finish(rt.block_on(f)),
        Err(e) => finish(Err(Failure::Failed(format!(
            "cannot start the async runtime: {e}"
        )))),
    }
}

fn print_message(v: &serde_json::Value, json: bool) -> Result<(), Failure> {
    if json {
        println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
        return Ok(());
    }
    let m: MessageView = serde_json::from_value(v.clone())
        .map_err(|e| Failure::Failed(format!("unexpected answer: {e}")))?;
    println!("id        {}", m.id);
    println!("stage     {}", m.stage);
    println!(
        "route     {} (domain {} → {})",
        m.route, m.src_domain, m.dst_domain
    );
    println!("nonce     {}", m.nonce);
    println!("sender    {}", m.sender);
    println!("recipient {}", m.recipient);
    println!("payload   {} words", m.payload_words);
    if let Some(account) = &m.account {
        println!("account   {account}");
    }
    println!("source tx {}", m.source_tx);
    if let Some(reason) = &m.reason {
        println!("reason    {reason}");
    }
    if let Some(advice) = &m.what_to_do {
        println!("to do     {advice}");
    }
    println!("attempts  {}", m.attempts);
    if let Some(p) = &m.payment {
        println!(
            "payment   {} wei reserved by {}: up to {} L1 gas at a base fee of at most {} wei \
             (+ {} priority), {} wei toward the next leg, relayed by {} (unix time)",
            p.reserved,
            p.payer,
            p.gas_limit,
            p.max_base_fee,
            p.max_priority_fee,
            p.leg_budget,
            p.deadline
        );
    }
    if let Some(s) = &m.settlement {
        println!(
            "settled   {} wei charged by relayer {}, {} wei to settler {}, {} wei back to the payer",
            s.charge, s.relayer, s.share, s.settler, s.refund
        );
    }
    for r in &m.relays {
        println!(
            "relay     {} on {} (nonce {}, L2 fee {} wei)",
            r.tx_hash, r.chain, r.nonce, r.value
        );
    }
    if let Some(signers) = &m.certificate_signers {
        println!("certified by {}", signers.join(", "));
    }
    if let Some(t) = &m.transfer {
        let amount = t.amount.as_deref().unwrap_or("?");
        let to = t.to.as_deref().unwrap_or("?");
        let to_domain = t.to_domain.map_or("?".to_string(), |d| d.to_string());
        match t.kind.as_str() {
            "transfer" => println!(
                "transfer  {amount} from {} (domain {}) to {to} (domain {to_domain}): {}",
                t.from,
                t.from_domain,
                t.outcome
                    .as_deref()
                    .unwrap_or("not yet taken by the ledger")
            ),
            "mint" => println!(
                "mint      {amount} to {to} (domain {to_domain}), a {} of a transfer from {} \
                 (domain {})",
                t.why.as_deref().unwrap_or("?"),
                t.from,
                t.from_domain
            ),
            _ => println!(
                "cancel    {} by {} (domain {})",
                t.why.as_deref().unwrap_or("?"),
                t.from,
                t.from_domain
            ),
        }
    }
    for t in &m.history {
        println!("history   {:?} → {:?}: {}", t.from, t.to, t.note);
    }
    Ok(())
}

pub(crate) fn status(args: StatusArgs) -> ExitCode {
    block_on(async move {
        check_id(&args.id)?;
        let base = base_url(&args.api)?;
        let v = request(
            &base,
            reqwest::Method::GET,
            &format!("/messages/{}", args.id),
            None,
        )
        .await?;
        print_message(&v, args.api.json)
    })
}

pub(crate) fn messages(args: MessagesArgs) -> ExitCode {
    block_on(async move {
        if let Some(s) = &args.status
            && parse_stage(s).is_none()
        {
            return Err(Failure::Usage(format!(
                "--status: {s:?} is not a stage (sent, proven, attested, relaying, relayed, delivered, parked, dropped)"
            )));
        }
        if args.limit == 0 || args.limit > xroute::api::MAX_LIMIT {
            return Err(Failure::Usage(format!(
                "--limit: must be between 1 and {}",
                xroute::api::MAX_LIMIT
            )));
        }
        let base = base_url(&args.api)?;
        let mut path = format!("/messages?limit={}", args.limit);
        if let Some(s) = &args.status {
            path.push_str(&format!("&status={s}"));
        }
        let v = request(&base, reqwest::Method::GET, &path, None).await?;
        if args.api.json {
            println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
            return Ok(());
        }
        let list: Vec<MessageView> = serde_json::from_value(v)
            .map_err(|e| Failure::Failed(format!("unexpected answer: {e}")))?;
        println!(
            "{:<68} {:<10} {:<26} {:>3}  REASON",
            "ID", "STAGE", "ROUTE", "TRY"
        );
        for m in &list {
            println!(
                "{:<68} {:<10} {:<26} {:>3}  {}",
                m.id,
                m.stage,
                m.route,
                m.attempts,
                m.reason.as_deref().unwrap_or("")
            );
        }
        println!("{} message(s)", list.len());
        Ok(())
    })
}

pub(crate) fn retry(args: RetryArgs) -> ExitCode {
    block_on(async move {
        check_id(&args.id)?;
        let base = base_url(&args.api)?;
        let token = token(&args.api)?;
        let v = write_request(
            &base,
            reqwest::Method::POST,
            &format!("/messages/{}/retry", args.id),
            None,
            token.as_deref(),
        )
        .await?;
        print_message(&v, args.api.json)
    })
}

pub(crate) fn drop(args: DropArgs) -> ExitCode {
    block_on(async move {
        check_id(&args.id)?;
        if args.reason.trim().is_empty() {
            return Err(Failure::Usage("--reason: must not be empty".into()));
        }
        let base = base_url(&args.api)?;
        let token = token(&args.api)?;
        let body = serde_json::json!({ "reason": args.reason });
        let v = write_request(
            &base,
            reqwest::Method::POST,
            &format!("/messages/{}/drop", args.id),
            Some(body),
            token.as_deref(),
        )
        .await?;
        print_message(&v, args.api.json)
    })
}

/// `xroute peers` arguments.
#[derive(Args)]
pub(crate) struct PeersArgs {
    #[command(flatten)]
    api: ApiArgs,
}

pub(crate) fn peers(args: PeersArgs) -> ExitCode {
    block_on(async move {
        let base = base_url(&args.api)?;
        let v = request(&base, reqwest::Method::GET, "/peers", None).await?;
        if args.api.json {
            println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
            return Ok(());
        }
        println!("peer id   {}", v["peer_id"].as_str().unwrap_or(""));
        println!("threshold {}", v["threshold"]);
        println!(
            "{:<44} {:<5} {:<6} {:>8}  VIEW",
            "ROUTER", "ME", "LIVE", "LAST HB"
        );
        for r in v["routers"].as_array().into_iter().flatten() {
            let views: Vec<String> = r["chains"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| {
                    format!(
                        "{} {}/{}",
                        c["chain"].as_str().unwrap_or("?"),
                        c["head"],
                        c["finalized"]
                    )
                })
                .collect();
            let ago = r["last_heartbeat_ms_ago"]
                .as_u64()
                .map(|ms| format!("{ms} ms"))
                .unwrap_or_else(|| "—".into());
            println!(
                "{:<44} {:<5} {:<6} {:>8}  {}{}",
                r["address"].as_str().unwrap_or(""),
                r["me"].as_bool().unwrap_or(false),
                r["live"].as_bool().unwrap_or(false),
                ago,
                views.join(", "),
                r["divergent"]
                    .as_str()
                    .map(|d| format!("  DIVERGENT: {d}"))
                    .unwrap_or_default()
            );
        }
        println!(
            "\n{:<54} {:<9} {:>8} {:>8}  {:<6} WHY REJECTED",
            "P2P PEER", "CONNECTED", "ACCEPTED", "REJECTED", "BANNED"
        );
        for c in v["connections"].as_array().into_iter().flatten() {
            let why: Vec<String> = c["rejected_by"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(reason, n)| format!("{reason} {n}"))
                .collect();
            println!(
                "{:<54} {:<9} {:>8} {:>8}  {:<6} {}",
                c["peer_id"].as_str().unwrap_or(""),
                c["connected"],
                c["accepted"],
                c["rejected"],
                c["banned"],
                why.join(", ")
            );
        }
        Ok(())
    })
}
