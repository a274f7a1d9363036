//! xroute-gas: the L1 gas of relays, measured side by side in one run on a local anvil with
//! devnet's Starknet messaging contract: the Hub as it was before batches and the processed
//! bitmap (`tests/fixtures/hub-baseline.json`, the committed artifact of that time), today's Hub
//! relaying one message per transaction, and today's Hub relaying batches. Every Hub gets its own
//! sample app and the same messages (Starknet → L1, the same payloads and nonces), made
//! consumable by the messaging contract's `mockSendMessageFromL2`, and one warm-up message first
//! (the app's and the Hub's first writes are then not counted). The recipient app's execution is
//! read from each transaction's call trace (`debug_traceTransaction`, callTracer): the Hub's own
//! work is the transaction's gas minus it. Then the metering: how far the gas the Hub's
//! `RelaysMetered` receipts of a transaction add up to is from the transaction's `gasUsed`.
//!
//!   cargo run -p xroute-tests --bin xroute-gas [-- --messages 16 --batches 1,2,4,8,16,32]

use alloy::{
    primitives::{Address, B256, Bytes, U256},
    providers::{DynProvider, Provider},
    sol_types::SolCall,
};
use clap::Parser;
use eyre::{Result, WrapErr, bail, ensure};
use serde_json::{Value, json};
use starknet_rust::core::utils::get_selector_from_name;
use xroute_proofs::{envelope::Envelope, starknet::felt_to_u256};
use xroute_tests::{
    LocalNet,
    artifacts::evm::{Hub, SampleApp},
    localnet::L1_KIT_ACCOUNT,
    stack::{L1_DOMAIN, STARKNET_DOMAIN},
};

mod baseline {
    #![allow(missing_docs)]
    alloy::sol!(
        #[sol(rpc)]
        BaselineHub,
        "fixtures/hub-baseline.json"
    );
}
use baseline::BaselineHub;

alloy::sol! {
    #[sol(rpc)]
    interface IMockMessaging {
        function mockSendMessageFromL2(uint256 fromAddress, uint256 toAddress, uint256[] calldata payload) external;
    }
}

/// The Starknet endpoint the messages come from (any felt: the Hubs are registered with it).
const ENDPOINT: u64 = 0x0e_d9_01_17;
/// The sending app on Starknet (the envelope's sender).
const SENDER: u64 = 0x5a_4d_01;

#[derive(Parser)]
#[command(about = "L1 gas of single and batched relays, against the Hub before batches")]
struct Args {
    /// Single relays measured per Hub.
    #[arg(long, default_value_t = 16)]
    messages: u64,
    /// Batch sizes measured (today's Hub).
    #[arg(long, value_delimiter = ',', default_value = "1,2,4,8,16,32")]
    batches: Vec<u64>,
}

/// What one relay transaction cost.
#[derive(Debug, Clone)]
struct Cost {
    /// Gas used by the transaction.
    total: u64,
    /// Gas the recipient app's `onMessage` used, from the trace.
    app: u64,
    /// Gas the transaction's `RelaysMetered` receipts add up to (0 for the Hub before them).
    metered: u64,
}

impl Cost {
    /// The metering error, in % of the transaction's gas (positive: metered more).
    fn error(&self) -> f64 {
        (self.metered as f64 - self.total as f64) * 100.0 / self.total as f64
    }
}

struct Chain {
    l1: DynProvider,
    messaging: Address,
}

impl Chain {
    /// The envelope words of message `nonce` to `app`.
    fn words(nonce: u64, app: Address) -> Vec<U256> {
        Envelope {
            src_domain: STARKNET_DOMAIN,
            nonce,
            sender: B256::from(U256::from(SENDER)),
            dst_domain: L1_DOMAIN,
            recipient: B256::left_padding_from(app.as_slice()),
            payload: vec![B256::from(U256::from(nonce)), B256::from(U256::from(2))],
        }
        .to_words()
        .iter()
        .map(|w| U256::from_be_bytes(w.0))
        .collect()
    }

    /// Makes `words` consumable by `hub`, as a state update of the source would.
    async fn post(&self, hub: Address, words: &[U256]) -> Result<()> {
        let receipt = IMockMessaging::new(self.messaging, &self.l1)
            .mockSendMessageFromL2(
                U256::from(ENDPOINT),
                U256::from_be_slice(hub.as_slice()),
                words.to_vec(),
            )
            .send()
            .await?
            .get_receipt()
            .await?;
        ensure!(receipt.status(), "mockSendMessageFromL2 reverted");
        Ok(())
    }

    /// Sends `data` to `hub` and returns what it cost.
    async fn relay(&self, hub: Address, data: Vec<u8>, app: Address) -> Result<Cost> {
        let tx = alloy::rpc::types::TransactionRequest::default()
            .to(hub)
            .input(Bytes::from(data).into());
        let receipt = self.l1.send_transaction(tx).await?.get_receipt().await?;
        ensure!(
            receipt.status(),
            "relay {} reverted",
            receipt.transaction_hash
        );
        let trace: Value = self
            .l1
            .raw_request(
                "debug_traceTransaction".into(),
                (receipt.transaction_hash, json!({ "tracer": "callTracer" })),
            )
            .await
            .wrap_err("debug_traceTransaction")?;
        // Each receipt is (id, src << 224 | index << 192 | gas << 128 | fee): gas is bits 128..191.
        let mut metered = 0;
        for event in receipt
            .inner
            .logs()
            .iter()
            .filter_map(|l| l.log_decode::<Hub::RelaysMetered>().ok())
        {
            for pair in event.inner.data.receipts.chunks(2) {
                metered += u64::from_be_bytes(pair[1].0[8..16].try_into()?);
            }
        }
        Ok(Cost {
            total: receipt.gas_used,
            app: app_gas(&trace, app)?,
            metered,
        })
    }
}

impl Chain {
    /// Sends the Starknet domain's commitment to `hub`'s tank (`Hub.settle`, as a settler does:
    /// `xroute_tests::tank::settle`); the transaction's gas and what it claimed.
    async fn settle(&self, hub: Address) -> Result<(u64, u64)> {
        let fee = U256::from(1_000_000_000_000u64);
        let receipt =
            xroute_tests::tank::settle(&self.l1, hub, STARKNET_DOMAIN, fee, Bytes::new()).await?;
        let sent = receipt
            .inner
            .logs()
            .iter()
            .find_map(|l| l.log_decode::<Hub::MessageSent>().ok())
            .ok_or_else(|| eyre::eyre!("Hub.settle sent no message"))?;
        // The payload's sixth word is the claim ([1, from, to, head, settler, claimedGas, …]).
        let claimed = u64::try_from(sent.inner.data.words[4 + 5])?;
        Ok((receipt.gas_used, claimed))
    }

    /// Relays the `size` messages from nonce `next` on (made consumable first) in one batch to
    /// `hub`, metered or not; moves `next` past them.
    async fn batch(
        &self,
        hub: Address,
        app: Address,
        next: &mut u64,
        size: u64,
        metered: bool,
    ) -> Result<Cost> {
        let mut members = Vec::new();
        for nonce in *next..*next + size {
            let words = Chain::words(nonce, app);
            self.post(hub, &words).await?;
            members.push(Hub::Member {
                call: relay_data(words).into(),
                fee: U256::ZERO,
            });
        }
        *next += size;
        let data = if metered {
            Hub::relayBatchMeteredCall { members }.abi_encode()
        } else {
            Hub::relayBatchCall { members }.abi_encode()
        };
        self.relay(hub, data, app).await
    }
}

/// The gas of every call frame into `app` in a callTracer trace.
fn app_gas(frame: &Value, app: Address) -> Result<u64> {
    let to: Option<Address> = frame["to"].as_str().and_then(|s| s.parse().ok());
    if to == Some(app) {
        let hex = frame["gasUsed"].as_str().unwrap_or("0x0");
        return Ok(u64::from_str_radix(hex.trim_start_matches("0x"), 16)?);
    }
    let mut sum = 0;
    for call in frame["calls"].as_array().into_iter().flatten() {
        sum += app_gas(call, app)?;
    }
    Ok(sum)
}

fn relay_data(words: Vec<U256>) -> Vec<u8> {
    Hub::relayFromStarknetCall {
        srcDomain: STARKNET_DOMAIN,
        endpoint: U256::from(ENDPOINT),
        words,
        entry: Bytes::new(),
    }
    .abi_encode()
}

fn mean(costs: &[Cost], per: u64, f: impl Fn(&Cost) -> u64) -> f64 {
    costs.iter().map(f).sum::<u64>() as f64 / (costs.len() as u64 * per) as f64
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    if args.messages == 0 || args.batches.contains(&0) {
        bail!("--messages and every --batches size must be at least 1");
    }
    eprintln!("starting anvil and a starknet-devnet (its messaging contract)…");
    let net = LocalNet::start(1).await?;
    let chain = Chain {
        l1: net.l1.provider(L1_KIT_ACCOUNT)?,
        messaging: net.starknets[0].messaging,
    };
    let selector = felt_to_u256(get_selector_from_name("receive_message")?);

    // The three Hubs, each with its app, registered for the same source, each warmed up.
    let old = BaselineHub::deploy(&chain.l1, L1_DOMAIN, selector).await?;
    let single = Hub::deploy(&chain.l1, L1_DOMAIN, selector).await?;
    let batched = Hub::deploy(&chain.l1, L1_DOMAIN, selector).await?;
    let hubs = [*old.address(), *single.address(), *batched.address()];
    let mut apps = Vec::new();
    for hub in hubs {
        let register = Hub::registerStarknetDomainCall {
            domain: STARKNET_DOMAIN,
            messaging: chain.messaging,
            endpoint: U256::from(ENDPOINT),
        }
        .abi_encode();
        let tx = alloy::rpc::types::TransactionRequest::default()
            .to(hub)
            .input(Bytes::from(register).into());
        let receipt = chain.l1.send_transaction(tx).await?.get_receipt().await?;
        ensure!(receipt.status(), "registerStarknetDomain reverted on {hub}");
        let app = *SampleApp::deploy(&chain.l1, hub).await?.address();
        let words = Chain::words(0, app);
        chain.post(hub, &words).await?;
        chain.relay(hub, relay_data(words), app).await?;
        apps.push(app);
    }

    // Single relays, the same messages on the Hub before and on today's.
    let mut alone = [Vec::new(), Vec::new()];
    for nonce in 1..=args.messages {
        for (i, costs) in alone.iter_mut().enumerate() {
            let words = Chain::words(nonce, apps[i]);
            chain.post(hubs[i], &words).await?;
            costs.push(chain.relay(hubs[i], relay_data(words), apps[i]).await?);
        }
    }

    // Batches on today's Hub, the same messages (then the following nonces); then the same sizes
    // metered (`relayBatchMetered`), after one metered relay (the domain's first receipt creates
    // its commitment slot, once).
    let mut next = 1;
    let mut batches = Vec::new();
    for &size in &args.batches {
        batches.push((
            size,
            chain
                .batch(hubs[2], apps[2], &mut next, size, false)
                .await?,
        ));
    }
    chain.batch(hubs[2], apps[2], &mut next, 1, true).await?;
    let mut metered = Vec::new();
    for &size in &args.batches {
        metered.push((
            size,
            chain.batch(hubs[2], apps[2], &mut next, size, true).await?,
        ));
    }

    // Settlements: the receipts of a metered batch of n sent to the domain's tank, alone.
    let register = Hub::registerTankCall {
        domain: STARKNET_DOMAIN,
        tank: B256::with_last_byte(0x7a),
    }
    .abi_encode();
    let tx = alloy::rpc::types::TransactionRequest::default()
        .to(hubs[2])
        .input(Bytes::from(register).into());
    ensure!(
        chain
            .l1
            .send_transaction(tx)
            .await?
            .get_receipt()
            .await?
            .status(),
        "registerTank reverted"
    );
    // What is pending so far goes first, so that each measured settlement carries its batch.
    chain.settle(hubs[2]).await?;
    let mut settlements = Vec::new();
    for size in [1u64, 8, 32] {
        chain.batch(hubs[2], apps[2], &mut next, size, true).await?;
        settlements.push((size, chain.settle(hubs[2]).await?));
    }

    let base_total = mean(&alone[0], 1, |c| c.total);
    let base_hub = mean(&alone[0], 1, |c| c.total - c.app);
    println!(
        "Starknet → L1 relays to the sample app, two-word payloads; gas per message (means of {} single relays per Hub)",
        args.messages
    );
    println!();
    println!(
        "| relay | messages per tx | whole relay | Hub's own work (minus the app) | app | whole vs before | Hub's own vs before |"
    );
    println!("|---|---|---|---|---|---|---|");
    let row = |name: &str, per: u64, total: f64, app: f64| {
        let hub = total - app;
        println!(
            "| {name} | {per} | {total:.0} | {hub:.0} | {app:.0} | {:.2}× | {:.2}× |",
            total / base_total,
            hub / base_hub
        );
    };
    row(
        "`relayFromStarknet`, Hub before batches",
        1,
        base_total,
        mean(&alone[0], 1, |c| c.app),
    );
    row(
        "`relayFromStarknet`, today's Hub",
        1,
        mean(&alone[1], 1, |c| c.total),
        mean(&alone[1], 1, |c| c.app),
    );
    for (size, cost) in &batches {
        row(
            "`relayBatch`, today's Hub",
            *size,
            cost.total as f64 / *size as f64,
            cost.app as f64 / *size as f64,
        );
    }

    println!();
    println!(
        "Metering (`relayBatchMetered`): the gas of a transaction's `RelaysMetered` receipts against its `gasUsed` (error = metered − used, in % of used), and what metering costs per message against `relayBatch` of the same size"
    );
    println!();
    println!(
        "| messages per tx | gasUsed | metered | error | gas per message, metered | unmetered (`relayBatch`) | metering's cost per message |"
    );
    println!("|---|---|---|---|---|---|---|");
    for ((size, cost), (_, plain)) in metered.iter().zip(&batches) {
        let per = cost.total as f64 / *size as f64;
        let plain_per = plain.total as f64 / *size as f64;
        let app_diff = (cost.app as f64 - plain.app as f64) / *size as f64;
        println!(
            "| {size} | {} | {} | {:+.2} % | {per:.0} | {plain_per:.0} | {:.0} |",
            cost.total,
            cost.metered,
            cost.error(),
            per - plain_per - app_diff
        );
    }

    println!();
    let single = mean(&alone[1], 1, |c| c.total);
    println!(
        "Settlement: `Hub.settle` of a metered batch's n receipts (their commitment sent to the rollup's tank, the transaction's L1 gas), against a single relay (`relayFromStarknet`, {single:.0}); the settlement's claimed gas against its `gasUsed`"
    );
    println!();
    println!(
        "| receipts | L1 gas | per receipt | per receipt vs a single relay | claimed | claimed − used |"
    );
    println!("|---|---|---|---|---|---|");
    for (n, (gas, claimed)) in &settlements {
        let per = *gas as f64 / *n as f64;
        println!(
            "| {n} | {gas} | {per:.0} | {:.1} % | {claimed} | {} |",
            per * 100.0 / single,
            *claimed as i64 - *gas as i64
        );
    }
    Ok(())
}
