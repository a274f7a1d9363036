//! A chain's client stays within `[chains.transport] max_connections`: behind a slow node (a
//! proxy that holds each request 200 ms and counts), many reads at once are all answered, the
//! node never sees more requests in flight than the bound, and once the burst is over the client
//! keeps no more connections open than the bound (its idle pool); the reads past the bound are
//! counted as waits (`xroute_rpc_connection_waits`). The same reads with a wider bound are seen
//! to go wider and keep more open, with no wait, so the counts can fail.
//!
//! How many connections are open at the burst's peak is not asserted: hyper hands a finished
//! connection back to the pool on a task of its own, so a request that gets its permit first
//! may open a new one (the pool then closes the extra).

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

/// Waits (up to 5 s) until at most `bound` connections are open through `proxy`, the pool having
/// closed what it does not keep; how many are open then.
async fn settled(proxy: &CountingProxy, bound: usize) -> usize {
    for _ in 0..100 {
        if proxy.open() <= bound {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    proxy.open()
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
    let kept = settled(&proxy, 2).await;
    assert!(
        kept <= 2,
        "{kept} connections kept open after the burst, the bound is 2"
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
        wide.open() > 2,
        "{} kept open under a bound of {READS}",
        wide.open()
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
            let kept = settled(&proxy, 2).await;
            assert!(
                kept <= 2,
                "{kept} connections kept open after the burst, the bound is 2"
            );
            assert!(RpcMetrics::global().connection_waits(&chain) >= (READS - 2) as u64);
        } else {
            assert_eq!(RpcMetrics::global().connection_waits(&chain), 0);
            assert!(
                proxy.open() > 2,
                "{} kept open under a bound of {READS}",
                proxy.open()
            );
            assert!(
                proxy.peak_busy() > 2,
                "with a bound of {READS}, {} in flight at once: the proxy does not see concurrency",
                proxy.peak_busy()
            );
        }
    }
    Ok(())
}
