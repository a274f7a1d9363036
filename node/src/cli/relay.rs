//! `xroute relay --from CHAIN --config FILE <TX | MESSAGE ID>`: the escape hatch. Someone whose
//! routers are all down relays their own message hop by hop from their own keys, with the same
//! proofs and checks a router makes (the same pipeline, over a private store that holds only their
//! messages, so nobody else's message is relayed), and sees each step. The hash is the source
//! transaction (every message it sent is relayed) or a message id, looked up among the source
//! chain's `MessageSent` events of the last `--search-blocks` final blocks.

use std::{collections::HashMap, path::PathBuf, process::ExitCode, time::Duration};

use clap::Args;
use xroute::{
    model::{MessageRecord, SourceRef, Stage},
    pipeline::now_ms,
    router::Router,
};
use xroute_adapters::ChainAdapterExt;
use xroute_config::Config;
use xroute_proofs::envelope::MessageId;

use super::{EXIT_FAILED, EXIT_USAGE};

/// `xroute relay` arguments.
#[derive(Args)]
pub(crate) struct RelayArgs {
    /// The hash of the transaction that sent the message, or the message id (0x-hex).
    tx: String,
    /// The chain it was sent on (a chain name of the config).
    #[arg(long, value_name = "CHAIN")]
    from: String,
    /// Chains and keys, as a router's config (`[node]` and `[p2p]` are not used).
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 900)]
    timeout: u64,
    /// How many final blocks of the source chain back to look for a message id.
    #[arg(long, default_value_t = 50_000)]
    search_blocks: u64,
}

/// Blocks asked for at once while looking for a message id.
const SEARCH_WINDOW: u64 = 2_000;

pub(crate) fn relay(args: RelayArgs) -> ExitCode {
    let config = match super::load_config(&args.config) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let tx = match parse_tx(&args.tx) {
        Some(tx) => tx,
        None => {
            eprintln!(
                "error: <TX>: {:?} is neither a transaction hash nor a message id (0x + 64 hex \
                 digits)",
                args.tx
            );
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let runtime = match super::runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let dir =
        std::env::temp_dir().join(format!("xroute-relay-{}-{}", std::process::id(), now_ms()));
    let result = runtime.block_on(run(&config, &args, tx, &dir));
    let _ = std::fs::remove_dir_all(&dir);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err((code, e)) => {
            eprintln!("error: {e}");
            ExitCode::from(code)
        }
    }
}

fn parse_tx(s: &str) -> Option<[u8; 32]> {
    let hex = s.strip_prefix("0x")?;
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

async fn run(
    config: &Config,
    args: &RelayArgs,
    tx: [u8; 32],
    dir: &std::path::Path,
) -> Result<(), (u8, String)> {
    let failed = |e: String| (EXIT_FAILED, e);
    let (chains, src) = super::connect_from(config, &args.from, "--from").await?;
    let deadline = std::time::Instant::now() + Duration::from_secs(args.timeout);
    let poll = Duration::from_millis(config.relay.poll_interval_ms.max(100));
    // The transaction, or the message, in a block the source chain treats as final.
    let mut searched_to: Option<u64> = None;
    let (block, sent) = loop {
        let (_, finalized) = src.heads().await.map_err(|e| failed(e.to_string()))?;
        if let Some(block) = src
            .block_of_tx(tx)
            .await
            .map_err(|e| failed(e.to_string()))?
        {
            if finalized.number >= block {
                let sent: Vec<_> = src
                    .sent_messages(block, block)
                    .await
                    .map_err(|e| failed(e.to_string()))?
                    .into_iter()
                    .filter(|m| m.tx_hash == tx)
                    .collect();
                if sent.is_empty() {
                    return Err(failed(format!(
                        "transaction 0x{} (block {block} of {}) sent no xroute message",
                        hex(&tx),
                        args.from
                    )));
                }
                break (block, sent);
            }
        } else {
            // Not a transaction of the chain: a message id, among the final blocks not searched yet.
            let from = match searched_to {
                Some(done) => done + 1,
                None => finalized.number.saturating_sub(args.search_blocks),
            };
            if let Some(m) = find_message(src.as_ref(), tx, from, finalized.number)
                .await
                .map_err(failed)?
            {
                println!(
                    "message 0x{}: sent by transaction {} in block {}",
                    hex(&tx),
                    hex0x(&m.tx_hash),
                    m.block.number
                );
                break (m.block.number, vec![m]);
            }
            searched_to = Some(finalized.number.max(from.saturating_sub(1)));
        }
        if std::time::Instant::now() > deadline {
            return Err(failed(format!(
                "0x{} is neither a transaction in a final block of {} nor a message sent in its \
                 last {} final blocks",
                hex(&tx),
                args.from,
                args.search_blocks
            )));
        }
        tokio::time::sleep(poll).await;
    };
    let router = Router::builder(config.relay.clone())
        .chains(chains)
        .store_at(dir)
        .build()
        .await
        .map_err(|e| failed(e.to_string()))?;
    let (store, pipeline) = (router.store(), router.pipeline());
    let mut ids = Vec::with_capacity(sent.len());
    for m in sent {
        let record = MessageRecord::new(
            m.envelope,
            SourceRef {
                domain: src.domain(),
                block_number: m.block.number,
                block_hash: m.block.hash.into(),
                tx_hash: m.tx_hash.into(),
            },
            now_ms(),
        );
        let route = pipeline.metrics().route(&record);
        println!("message {} ({route}): sent in block {block}", record.id);
        store
            .insert_new(&record)
            .map_err(|e| failed(e.to_string()))?;
        ids.push(record.id);
    }
    let mut shown: HashMap<MessageId, usize> = HashMap::new();
    loop {
        pipeline
            .step_round()
            .await
            .map_err(|e| failed(e.to_string()))?;
        let mut done = true;
        for id in &ids {
            let Some(r) = store.get(id).map_err(|e| failed(e.to_string()))? else {
                continue;
            };
            let seen = shown.entry(*id).or_default();
            for t in &r.history[*seen..] {
                println!(
                    "message {id}: {} → {}: {}",
                    stage(t.from),
                    stage(t.to),
                    t.note
                );
            }
            *seen = r.history.len();
            match r.stage {
                Stage::Delivered => {}
                Stage::Parked | Stage::Dropped => {
                    return Err(failed(format!(
                        "message {id} is {}: {}",
                        stage(r.stage),
                        r.reason.unwrap_or_default()
                    )));
                }
                _ => done = false,
            }
        }
        if done {
            println!("delivered");
            return Ok(());
        }
        if std::time::Instant::now() > deadline {
            return Err(failed(format!(
                "not delivered after {} s (run it again: it resumes from the chains)",
                args.timeout
            )));
        }
        tokio::time::sleep(poll).await;
    }
}

/// The message with id `id` among `src`'s `MessageSent` events of blocks `from..=to`, newest
/// window first.
async fn find_message(
    src: &dyn xroute_adapters::ChainAdapter,
    id: [u8; 32],
    from: u64,
    to: u64,
) -> Result<Option<xroute_adapters::SentMessage>, String> {
    let mut high = to;
    while high >= from {
        let low = high.saturating_sub(SEARCH_WINDOW - 1).max(from);
        let found = src
            .sent_messages(low, high)
            .await
            .map_err(|e| e.to_string())?
            .into_iter()
            .find(|m| m.envelope.id().0 == id);
        if found.is_some() {
            return Ok(found);
        }
        if low == 0 || low == from {
            break;
        }
        high = low - 1;
    }
    Ok(None)
}

fn hex0x(bytes: &[u8]) -> String {
    format!("0x{}", hex(bytes))
}

fn stage(s: Stage) -> String {
    format!("{s:?}").to_lowercase()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
