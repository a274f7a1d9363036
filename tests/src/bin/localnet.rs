//! xroute-localnet: starts the local network (anvil as L1, starknet-devnets wired to it by their
//! postmen, with `--arbitrum` the local Arbitrum and its sequencer/validator loop), prints its
//! endpoints and contract addresses, and runs until Ctrl-C. Stopping it stops every node it
//! started.

use clap::Parser;
use eyre::Result;
use serde_json::json;
use xroute_tests::LocalNet;

#[derive(Parser)]
#[command(about = "Runs xroute's local network: anvil (L1) + starknet-devnets, until Ctrl-C")]
struct Args {
    /// How many starknet-devnets: the first is Starknet, the rest are L3 appchains.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u8).range(1..=8))]
    devnets: u8,
    /// Print the endpoints as one JSON object instead of a table.
    #[arg(long)]
    json: bool,
    /// Also start the local Arbitrum (nitro's real L1 bridge on the anvil, a second anvil as the
    /// L2) and step its sequencer/validator every half second.
    #[arg(long)]
    arbitrum: bool,
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    eprintln!("starting anvil and {} starknet-devnet(s)…", args.devnets);
    let arbitrum = args
        .arbitrum
        .then(xroute_tests::arbitrum::ArbitrumOptions::default);
    let net = std::sync::Arc::new(LocalNet::start_with(usize::from(args.devnets), arbitrum).await?);

    let chains: Vec<_> = net
        .starknets
        .iter()
        .enumerate()
        .map(|(i, chain)| {
            let account = chain.devnet.predeployed_accounts().first();
            json!({
                "role": if i == 0 { "starknet" } else { "appchain" },
                "rpc": chain.devnet.rpc_url().as_str(),
                "chain_id": format!("{:#x}", chain.devnet.chain_id()),
                "l1_messaging_contract": format!("{:#x}", chain.messaging),
                "postman_l1_account": format!("{:#x}", net.l1.address(chain.postman_account).unwrap_or_default()),
                "account": account.map(|a| format!("{:#x}", a.address)),
                "account_private_key": account.map(|a| format!("{:#x}", a.private_key)),
            })
        })
        .collect();
    let summary = json!({
        "l1": {
            "rpc": net.l1.endpoint(),
            "chain_id": net.l1.chain_id(),
            "account": format!("{:#x}", net.l1.address(0)?),
            "account_private_key": format!("{:#x}", net.l1.signer(0)?.to_bytes()),
        },
        "starknets": chains,
        "arbitrum": net.arbitrum.as_ref().map(|arb| json!({
            "rpc": arb.l2.endpoint(),
            "chain_id": arb.l2.chain_id(),
            "inbox": format!("{:#x}", arb.bridge.inbox),
            "bridge": format!("{:#x}", arb.bridge.bridge),
            "outbox": format!("{:#x}", arb.bridge.outbox),
            "sequencer_inbox": format!("{:#x}", arb.bridge.sequencer_inbox),
            "account": arb.l2.address(0).map(|a| format!("{a:#x}")).unwrap_or_default(),
            "account_private_key": arb.l2.signer(0).map(|s| format!("{:#x}", s.to_bytes())).unwrap_or_default(),
        })),
    });
    if args.json {
        println!("{summary}");
    } else {
        println!("xroute local network is up (Ctrl-C stops it)");
        println!(
            "  L1 anvil      {}  chain id {}",
            net.l1.endpoint(),
            net.l1.chain_id()
        );
        println!(
            "                dev account {}",
            summary["l1"]["account"].as_str().unwrap_or("")
        );
        for chain in summary["starknets"].as_array().into_iter().flatten() {
            println!(
                "  {:<13} {}  chain id {}",
                chain["role"].as_str().unwrap_or(""),
                chain["rpc"].as_str().unwrap_or(""),
                chain["chain_id"].as_str().unwrap_or("")
            );
            println!(
                "                L1 messaging contract {}",
                chain["l1_messaging_contract"].as_str().unwrap_or("")
            );
            println!(
                "                account {}",
                chain["account"].as_str().unwrap_or("")
            );
        }
    }

    if let Some(arb) = summary["arbitrum"].as_object()
        && !args.json
    {
        println!(
            "  arbitrum      {}  chain id {}",
            arb["rpc"].as_str().unwrap_or(""),
            arb["chain_id"]
        );
        println!(
            "                L1 Inbox {}  Bridge {}  Outbox {}",
            arb["inbox"].as_str().unwrap_or(""),
            arb["bridge"].as_str().unwrap_or(""),
            arb["outbox"].as_str().unwrap_or("")
        );
    }
    // The local Arbitrum's sequencer and validator (a no-op without it); ends only on an error.
    let stepping = net.clone();
    let sequencer = tokio::spawn(async move {
        loop {
            if let Err(e) = stepping.step_arbitrum().await {
                return e;
            }
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
    });
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
        done = sequencer => match done {
            Ok(e) => eprintln!("the local Arbitrum's sequencer stopped: {e:#}"),
            Err(e) => eprintln!("the local Arbitrum's sequencer stopped: {e}"),
        },
    }
    eprintln!("stopping the local network");
    drop(net);
    Ok(())
}
