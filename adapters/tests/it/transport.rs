//! A chain's client stays within `[chains.transport] max_connections`: behind a slow node (a
//! proxy that holds each request 200 ms and counts), many reads at once are all answered, and
//! the node never sees more requests in flight than the bound, nor more connections open than
//! twice it (the bound in use, the bound idle); the reads past the bound are counted as waits
//! (`xroute_rpc_connection_waits`). The same reads with a wider bound are seen to go wider, with
//! no wait, so the counts can fail.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::{net::SocketAddr, time::Duration};

use alloy::providers::Provider;
use eyre::Result;
use futures::future::join_all;
use starknet_rust::providers::Provider as _;
use xroute_adapters::{rpc_metrics::RpcMetrics, transport};
use xroute_config::TransportConfig;
use xroute_tests::{StarknetDevnet, anvil::Anvil, proxy::CountingProxy};

const READS: usize = 12;
const DELAY: Duration = Duration::from_millis(200);

fn bounded(max_connections: u32) -> TransportConfig {
    TransportConfig {
        max_connections,
        ..TransportConfig::default()
    }
}

fn addr(url: &str) -> Result<SocketAddr> {
    let url: reqwest::Url = url.parse()?;
    Ok(SocketAddr::new(
        url.host_str().unwrap_or("127.0.0.1").parse()?,
        url.port().unwrap_or(80),
    ))
}

/// `READS` block-number reads at once on `chain` (a name of this test's own, so that its wait
/// count is) through a fresh counting proxy, with `max_connections`: the answers and the proxy.
async fn evm_reads(
    chain: &str,
    node: &str,
    max_connections: u32,
) -> Result<(Vec<u64>, CountingProxy)> {
    let proxy = CountingProxy::start(addr(node)?, DELAY).await?;
    let provider = transport::evm_provider(chain, &proxy.url(), &bounded(max_connections))?;
    let answers = join_all((0..READS).map(|_| provider.get_block_number())).await;
    let answers = answers.into_iter().collect::<Result<Vec<_>, _>>()?;
    Ok((answers, proxy))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_evm_chains_requests_stay_within_max_connections() -> Result<()> {
    let anvil = Anvil::start().await?;
    let head = alloy::providers::ProviderBuilder::new()
        .connect_http(anvil.endpoint().parse()?)
        .get_block_number()
        .await?;

    let waits = |chain: &str| RpcMetrics::global().connection_waits(chain);
    let (answers, proxy) = evm_reads("evm-bound-2", anvil.endpoint(), 2).await?;
    assert_eq!(answers, vec![head; READS], "every read answered");
    assert!(
        proxy.peak_busy() <= 2,
        "{} requests in flight at once, the bound is 2",
        proxy.peak_busy()
    );
    assert!(proxy.peak_busy() >= 1);
    assert!(
        proxy.peak_open() <= 4,
        "{} connections open at once, at most 2 in use and 2 idle",
        proxy.peak_open()
    );
    assert!(
        waits("evm-bound-2") >= (READS - 2) as u64,
        "{} reads waited for a connection, at least {} past the bound had to",
        waits("evm-bound-2"),
        READS - 2
    );

    let (answers, wide) = evm_reads("evm-bound-12", anvil.endpoint(), READS as u32).await?;
    assert_eq!(answers, vec![head; READS]);
    assert_eq!(
        waits("evm-bound-12"),
        0,
        "no read waited under a bound of {READS}"
    );
    assert!(
        wide.peak_busy() > 2,
        "with a bound of {READS}, {} in flight at once: the proxy does not see concurrency",
        wide.peak_busy()
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_starknet_chains_requests_stay_within_max_connections() -> Result<()> {
    let devnet = StarknetDevnet::start().await?;
    let rpc = devnet.rpc_url();
    let direct = transport::starknet_client("starknet", rpc.as_str(), &TransportConfig::default())?;
    let head = direct.block_number().await?;
    for (max_connections, bound) in [(2u32, true), (READS as u32, false)] {
        let proxy = CountingProxy::start(addr(rpc.as_str())?, DELAY).await?;
        let url = format!("{}{}", proxy.url(), rpc.path());
        let chain = format!("starknet-bound-{max_connections}");
        let client = transport::starknet_client(&chain, &url, &bounded(max_connections))?;
        let answers = join_all((0..READS).map(|_| client.block_number())).await;
        let answers = answers.into_iter().collect::<Result<Vec<_>, _>>()?;
        assert_eq!(answers, vec![head; READS], "every read answered");
        if bound {
            assert!(
                (1..=2).contains(&proxy.peak_busy()),
                "{} requests in flight at once, the bound is 2",
                proxy.peak_busy()
            );
            assert!(
                proxy.peak_open() <= 4,
                "{} connections open at once, at most 2 in use and 2 idle",
                proxy.peak_open()
            );
            assert!(RpcMetrics::global().connection_waits(&chain) >= (READS - 2) as u64);
        } else {
            assert_eq!(RpcMetrics::global().connection_waits(&chain), 0);
            assert!(
                proxy.peak_busy() > 2,
                "with a bound of {READS}, {} in flight at once: the proxy does not see concurrency",
                proxy.peak_busy()
            );
        }
    }
    Ok(())
}
