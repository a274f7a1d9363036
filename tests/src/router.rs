//! Runs the `xroute` binary as a process against a [`LocalNet`] + [`XrouteStack`]: writes its
//! config and key files, starts it, waits for its API, kills and restarts it, and reads its API.

use std::{
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use alloy::{
    consensus::Transaction as _,
    eips::BlockNumberOrTag,
    network::TransactionResponse,
    primitives::{Address, B256, U256},
    providers::Provider,
};
use eyre::{Result, WrapErr, bail};
use serde_json::Value;

use xroute_config::{
    ArbitrumChain, ArbitrumContracts, ChainConfig, Config, EvmChain, Felt, HubChain,
    MessagingLayout, NodeConfig, P2pConfig, RelayConfig, RouterMember, RpcUrl, StarknetChain,
    TransportConfig,
};
use xroute_proofs::starknet::felt_to_u256;

use crate::{LocalNet, XrouteStack, process::ManagedProcess, stack::STARKNET_DOMAIN};

/// How the kit configures a router.
#[derive(Debug, Clone)]
pub struct RouterOptions {
    /// The anvil dev account the router relays from (not the kit's 0, not the postmen's 9, 8…).
    pub l1_account: usize,
    /// L1 confirmations.
    pub l1_confirmations: u64,
    /// `[relay]` values.
    pub poll_interval_ms: u64,
    /// `[relay] max_attempts`.
    pub max_attempts: u32,
    /// `[relay] backoff_initial_ms`.
    pub backoff_initial_ms: u64,
    /// The L1 RPC the router uses instead of the anvil's own (a proxy in front of it).
    pub l1_rpc: Option<String>,
    /// `[chains.transport]` of every chain (the defaults when `None`).
    pub transport: Option<TransportConfig>,
    /// `[p2p]`, for a router of a network.
    pub network: Option<NetworkPlan>,
    /// An API token (written to `api.token`, `node.api_token_file`) the write routes require.
    pub api_token: Option<String>,
    /// Write every key as an encrypted keystore (`*.json`) with this passphrase, which goes to
    /// `keystore.pass` (start the router with `--password-file DIR/keystore.pass`); plain 0x-hex
    /// key files when `None`.
    pub keystore_passphrase: Option<String>,
}

/// Writes a router's key files into its folder: plain 0x-hex, or encrypted keystores.
struct KeyWriter<'a> {
    dir: &'a Path,
    passphrase: Option<&'a str>,
}

impl KeyWriter<'_> {
    /// Writes the 32-byte key `secret` as `stem.key` or `stem.json`; returns the file name.
    fn write(&self, stem: &str, secret: [u8; 32]) -> Result<PathBuf> {
        let Some(passphrase) = self.passphrase else {
            let name = format!("{stem}.key");
            std::fs::write(self.dir.join(&name), format!("0x{}\n", hex::encode(secret)))?;
            return Ok(name.into());
        };
        let name = format!("{stem}.json");
        let path = self.dir.join(&name);
        if path.exists() {
            std::fs::remove_file(&path)?;
        }
        xroute_adapters::keys::write_keystore(&path, &secret, passphrase)?;
        std::fs::write(self.dir.join("keystore.pass"), format!("{passphrase}\n"))?;
        Ok(name.into())
    }
}

/// One router of a planned network.
#[derive(Debug, Clone)]
pub struct NetworkMember {
    /// Attestation address.
    pub address: Address,
    /// Attestation key (0x-hex).
    pub attestation_key: String,
    /// libp2p peer id.
    pub peer_id: String,
    /// libp2p TCP port on 127.0.0.1.
    pub p2p_port: u16,
    /// The folder holding its config, keys and store.
    pub dir: PathBuf,
}

/// A router's `[p2p]` section: the whole set, and which member it is.
#[derive(Debug, Clone)]
pub struct NetworkPlan {
    /// Every member.
    pub members: Vec<NetworkMember>,
    /// This router's index in `members`.
    pub me: usize,
    /// t of n.
    pub threshold: usize,
    /// Failover window.
    pub relay_window_ms: u64,
    /// `p2p.batch_attestations`.
    pub batch_attestations: bool,
    /// `p2p.checkpoints`.
    pub checkpoints: bool,
}

impl NetworkPlan {
    /// Plans `n` routers under `base`: a folder each, a libp2p key made by `xroute p2p-key`
    /// (`binary`), a fresh attestation key, a free port.
    pub fn members(binary: &Path, base: &Path, n: usize) -> Result<Vec<NetworkMember>> {
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            let dir = base.join(format!("router-{i}"));
            std::fs::create_dir_all(&dir)?;
            let key = dir.join("p2p.key");
            let output = std::process::Command::new(binary)
                .args(["p2p-key", "--file"])
                .arg(&key)
                .output()
                .wrap_err("running xroute p2p-key")?;
            if !output.status.success() {
                bail!(
                    "xroute p2p-key: {}",
                    String::from_utf8_lossy(&output.stderr)
                );
            }
            let signer = alloy::signers::local::PrivateKeySigner::random();
            out.push(NetworkMember {
                address: signer.address(),
                attestation_key: format!("{:#x}", signer.to_bytes()),
                peer_id: String::from_utf8_lossy(&output.stdout).trim().to_string(),
                p2p_port: crate::process::free_port()?,
                dir,
            });
        }
        Ok(out)
    }

    /// The `[p2p]` section of member `me`; writes its attestation key file with `keys`.
    fn section(&self, keys: &KeyWriter<'_>) -> Result<P2pConfig> {
        let me = &self.members[self.me];
        let secret: [u8; 32] = hex::decode(me.attestation_key.trim_start_matches("0x"))?
            .try_into()
            .map_err(|_| eyre::eyre!("an attestation key is not 32 bytes"))?;
        let attestation_key_file = keys.write("attest", secret)?;
        let bootnodes = self
            .members
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != self.me)
            .map(|(_, m)| format!("/ip4/127.0.0.1/tcp/{}/p2p/{}", m.p2p_port, m.peer_id))
            .collect();
        Ok(P2pConfig {
            listen: format!("/ip4/127.0.0.1/tcp/{}", me.p2p_port),
            key_file: "p2p.key".into(),
            attestation_key_file,
            bootnodes,
            threshold: self.threshold,
            relay_window_ms: self.relay_window_ms,
            claim_settle_ms: P2pConfig::DEFAULT_CLAIM_SETTLE_MS,
            heartbeat_ms: 500,
            batch_attestations: self.batch_attestations,
            checkpoints: self.checkpoints,
            routers: self
                .members
                .iter()
                .map(|m| RouterMember {
                    address: m.address,
                    peer_id: m.peer_id.clone(),
                })
                .collect(),
        })
    }
}

impl Default for RouterOptions {
    fn default() -> Self {
        Self {
            l1_account: 1,
            l1_confirmations: 1,
            poll_interval_ms: 200,
            max_attempts: 6,
            backoff_initial_ms: 200,
            l1_rpc: None,
            transport: None,
            network: None,
            api_token: None,
            keystore_passphrase: None,
        }
    }
}

/// The config of a router over `net` and `stack`, with its store in `dir/store` and its API on
/// `api_port`; writes its key files into `dir` (the config's paths are relative to `dir`).
pub fn router_config(
    dir: &Path,
    net: &LocalNet,
    stack: &XrouteStack,
    api_port: u16,
    options: &RouterOptions,
) -> Result<Config> {
    std::fs::create_dir_all(dir).wrap_err_with(|| format!("creating {}", dir.display()))?;
    let keys = KeyWriter {
        dir,
        passphrase: options.keystore_passphrase.as_deref(),
    };
    let l1_key_file = keys.write("l1", net.l1.signer(options.l1_account)?.to_bytes().0)?;
    let url = |u: String| RpcUrl::new(u).map_err(|e| eyre::eyre!(e));
    let transport = options.transport.unwrap_or_default();
    let mut chains = vec![ChainConfig::Ethereum(HubChain {
        chain: EvmChain {
            name: "ethereum".into(),
            domain: 1,
            rpc: url(options
                .l1_rpc
                .clone()
                .unwrap_or_else(|| net.l1.endpoint().to_string()))?,
            confirmations: options.l1_confirmations,
            // As `xroute init` writes it: a node that answers another id is not signed for.
            chain_id: Some(net.l1.chain_id()),
            signer_key_file: l1_key_file,
            transport,
        },
        hub: stack.hub,
    })];
    for (i, (chain, deployed)) in net.starknets.iter().zip(&stack.starknets).enumerate() {
        let name = if i == 0 {
            "starknet".to_string()
        } else {
            format!("appchain{i}")
        };
        let account = chain.devnet.predeployed_accounts()[0].clone();
        let key_file = keys.write(&name, account.private_key.to_bytes_be())?;
        debug_assert_eq!(deployed.domain, STARKNET_DOMAIN + i as u32);
        chains.push(ChainConfig::Starknet(StarknetChain {
            name,
            domain: deployed.domain,
            rpc: url(chain.devnet.rpc_url().to_string())?,
            confirmations: 0,
            chain_id: Some(format!("{:#x}", chain.devnet.chain_id())),
            endpoint: Felt(felt_to_u256(deployed.endpoint)),
            l1_messaging: chain.messaging,
            messaging_layout: MessagingLayout::Current,
            account: Felt(felt_to_u256(account.address)),
            account_key_file: key_file,
            transport,
            tank: None,
        }));
    }
    if let (Some(arb), Some(deployed)) = (&net.arbitrum, &stack.arbitrum) {
        let arbitrum_key_file =
            keys.write("arbitrum", arb.l2.signer(options.l1_account)?.to_bytes().0)?;
        chains.push(ChainConfig::Arbitrum(ArbitrumChain {
            chain: EvmChain {
                name: "arbitrum".into(),
                domain: deployed.domain,
                rpc: url(arb.l2.endpoint().to_string())?,
                confirmations: 0,
                chain_id: Some(arb.l2.chain_id()),
                signer_key_file: arbitrum_key_file,
                transport,
            },
            contracts: ArbitrumContracts {
                inbox: arb.bridge.inbox,
                bridge: arb.bridge.bridge,
                outbox: arb.bridge.outbox,
                endpoint: deployed.endpoint,
                tank: None,
            },
        }));
    }
    let p2p = options
        .network
        .as_ref()
        .map(|plan| plan.section(&keys))
        .transpose()?;
    Ok(Config {
        node: NodeConfig {
            store: "store".into(),
            store_cache_mb: xroute_config::DEFAULT_STORE_CACHE_MB,
            keep_delivered_s: xroute_config::DEFAULT_KEEP_DELIVERED_S,
            api: std::net::SocketAddr::from(([127, 0, 0, 1], api_port)),
            api_token_file: match &options.api_token {
                Some(token) => {
                    std::fs::write(dir.join("api.token"), format!("{token}\n"))?;
                    Some("api.token".into())
                }
                None => None,
            },
        },
        relay: RelayConfig {
            max_attempts: options.max_attempts,
            backoff_initial_ms: options.backoff_initial_ms,
            backoff_max_ms: 5000,
            poll_interval_ms: options.poll_interval_ms,
            bump_after_ms: 30_000,
            ..RelayConfig::default()
        },
        chains,
        p2p,
        token: None,
        payments: Default::default(),
    })
}

/// Sets `[payments]` of the router config at `path` to `payments`, and the gas tank of each
/// chain named in `tanks` (domain → the tank's address as a word).
pub fn set_payments(
    path: &Path,
    payments: xroute_config::PaymentsConfig,
    tanks: &[(u32, alloy::primitives::B256)],
) -> Result<()> {
    edit_config(path, |config| {
        config.payments = payments;
        for chain in &mut config.chains {
            let Some((_, tank)) = tanks.iter().find(|(d, _)| *d == chain.domain()) else {
                continue;
            };
            match chain {
                ChainConfig::Starknet(c) => {
                    c.tank = Some(Felt(alloy::primitives::U256::from_be_bytes(tank.0)))
                }
                ChainConfig::Arbitrum(c) => {
                    c.contracts.tank = Some(alloy::primitives::Address::from_word(*tank))
                }
                ChainConfig::Ethereum(_) => {}
            }
        }
    })
}

/// Adds `[token] ledger = LEDGER` to the router config at `path` (the router reads it at its
/// next start).
pub fn set_token_ledger(path: &Path, ledger: Address) -> Result<()> {
    edit_config(path, |config| {
        config.token = Some(xroute_config::TokenConfig { ledger })
    })
}

/// Points each chain of the router config at `path` at `rpc(name, its RPC URL)` (a proxy in
/// front of its node) with `transport`'s timeouts and retries; the router reads it at its next
/// start.
pub fn set_rpcs(
    path: &Path,
    rpc: impl Fn(&str, &str) -> String,
    transport: TransportConfig,
) -> Result<()> {
    let text = std::fs::read_to_string(path)?;
    let config = Config::parse(path, &text).map_err(|e| eyre::eyre!("{e}"))?;
    let mut urls = Vec::new();
    for chain in &config.chains {
        let url = rpc(chain.name(), chain.rpc().expose());
        urls.push(RpcUrl::new(url).map_err(|e| eyre::eyre!(e))?);
    }
    edit_config(path, |config| {
        for (chain, url) in config.chains.iter_mut().zip(urls) {
            match chain {
                ChainConfig::Ethereum(c) => (c.chain.rpc, c.chain.transport) = (url, transport),
                ChainConfig::Arbitrum(c) => (c.chain.rpc, c.chain.transport) = (url, transport),
                ChainConfig::Starknet(c) => (c.rpc, c.transport) = (url, transport),
            }
        }
    })
}

/// Reads the router config at `path`, changes it with `change`, writes it back.
pub fn edit_config(path: &Path, change: impl FnOnce(&mut Config)) -> Result<()> {
    let text = std::fs::read_to_string(path)?;
    let mut config = Config::parse(path, &text).map_err(|e| eyre::eyre!("{e}"))?;
    change(&mut config);
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| eyre::eyre!("{} has no file name", path.display()))?;
    write_config_file(dir, name, &config)?;
    Ok(())
}

/// Writes `dir/router.toml` (+ key files) for a router over `net` and `stack` (see
/// [`router_config`]); returns the config path.
pub fn write_config(
    dir: &Path,
    net: &LocalNet,
    stack: &XrouteStack,
    api_port: u16,
    options: &RouterOptions,
) -> Result<PathBuf> {
    let config = router_config(dir, net, stack, api_port, options)?;
    write_config_file(dir, "router.toml", &config)
}

/// Writes `config` as TOML to `dir/name` (paths in it are relative to `dir`); returns the path.
pub fn write_config_file(dir: &Path, name: &str, config: &Config) -> Result<PathBuf> {
    let text = toml::to_string(config).wrap_err("writing the router config as TOML")?;
    let path = dir.join(name);
    std::fs::write(
        &path,
        format!("# Written by the xroute test kit for a local network.\n{text}"),
    )?;
    Ok(path)
}

/// A running `xroute run`.
#[derive(Debug)]
pub struct RouterProcess {
    process: ManagedProcess,
    binary: PathBuf,
    config: PathBuf,
    /// Arguments after `run --config FILE` (kept for restarts).
    extra: Vec<String>,
    /// The API's base URL.
    pub api: String,
}

impl RouterProcess {
    /// Starts `binary run --config config` and waits until `GET /health` answers.
    pub async fn start(binary: &Path, config: &Path, api_port: u16) -> Result<Self> {
        Self::start_with_args(binary, config, api_port, &[]).await
    }

    /// Starts `binary run --config config <extra…>` and waits until `GET /health` answers.
    pub async fn start_with_args(
        binary: &Path,
        config: &Path,
        api_port: u16,
        extra: &[&str],
    ) -> Result<Self> {
        let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        let process = Self::spawn(binary, config, &extra).await?;
        let mut router = Self {
            process,
            binary: binary.into(),
            config: config.into(),
            extra,
            api: format!("http://127.0.0.1:{api_port}"),
        };
        router.wait_ready().await?;
        Ok(router)
    }

    async fn spawn(binary: &Path, config: &Path, extra: &[String]) -> Result<ManagedProcess> {
        let mut args = vec![
            "run".to_string(),
            "--config".to_string(),
            config.display().to_string(),
        ];
        args.extend(extra.iter().cloned());
        ManagedProcess::spawn("xroute", binary, &args)
    }

    async fn wait_ready(&mut self) -> Result<()> {
        let url = format!("{}/health", self.api);
        self.process
            .wait_ready(Duration::from_secs(60), || {
                let url = url.clone();
                async move {
                    reqwest::get(&url)
                        .await
                        .is_ok_and(|r| r.status().is_success())
                }
            })
            .await
    }

    /// SIGKILL, then a fresh process on the same config and store.
    pub async fn kill_and_restart(&mut self) -> Result<()> {
        self.process.kill()?;
        self.process = Self::spawn(&self.binary, &self.config, &self.extra).await?;
        self.wait_ready().await
    }

    /// The router's process id.
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// The router's resident memory (KiB, `VmRSS` of `/proc/PID/status`).
    pub fn rss_kib(&self) -> Result<u64> {
        self.status_kib("VmRSS")
    }

    /// A memory field of the router's `/proc/PID/status`, in KiB: `VmRSS` (all resident pages),
    /// `RssAnon` (its private memory: heap and anonymous mappings) or `RssFile` (pages of mapped
    /// files, its own executable's code first, shared and reclaimable).
    pub fn status_kib(&self, field: &str) -> Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.process.pid()))?;
        status
            .lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .ok_or_else(|| eyre::eyre!("no {field} for the router"))
    }

    /// SIGINT; returns the exit code.
    pub async fn interrupt(&mut self) -> Result<Option<i32>> {
        self.process.interrupt(Duration::from_secs(30)).await
    }

    /// Sends `signal` (e.g. `libc::SIGSTOP`, `libc::SIGCONT`) to the router.
    pub fn signal(&self, signal: i32) -> Result<()> {
        self.process.signal(signal)
    }

    /// SIGKILL, then a fresh process on the same config and store with `env` added (e.g. an armed
    /// fail point), not waited for: it may exit before it answers.
    pub fn kill_and_spawn_with_env(&mut self, env: &[(&str, &str)]) -> Result<()> {
        self.process.kill()?;
        let mut args = vec![
            "run".to_string(),
            "--config".to_string(),
            self.config.display().to_string(),
        ];
        args.extend(self.extra.iter().cloned());
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.process = ManagedProcess::spawn_with_env("xroute", &self.binary, &args, &env)?;
        Ok(())
    }

    /// Waits until the router exits on its own (at most `timeout`); its status.
    pub async fn wait_exit(&mut self, timeout: Duration) -> Result<std::process::ExitStatus> {
        self.process.wait_exit(timeout).await
    }

    /// A fresh process on the same config and store, waited for until it answers (after it
    /// exited on its own).
    pub async fn restart(&mut self) -> Result<()> {
        self.process = Self::spawn(&self.binary, &self.config, &self.extra).await?;
        self.wait_ready().await
    }

    /// SIGKILL, without a restart.
    pub fn kill(&mut self) -> Result<()> {
        self.process.kill()
    }

    /// Fails if the router exited.
    pub fn check_running(&mut self) -> Result<()> {
        self.process.check_running()
    }

    /// The router's config file.
    pub fn config(&self) -> &Path {
        &self.config
    }

    /// The router's log so far (the tail).
    pub fn log_tail(&self) -> String {
        self.process.log_tail()
    }

    /// `GET path` on the API, as JSON.
    pub async fn get(&self, path: &str) -> Result<Value> {
        let resp = reqwest::get(format!("{}{path}", self.api)).await?;
        Ok(resp.json().await?)
    }

    /// Messages per stage (`GET /stats`).
    pub async fn stats(&self) -> Result<Value> {
        self.get("/stats").await
    }
}

/// Plays state updates of every devnet in a loop (what a real network's provers and sequencers
/// do on their own), until dropped.
#[derive(Debug)]
pub struct Flusher {
    stop: Arc<AtomicBool>,
    rounds: Arc<std::sync::atomic::AtomicU64>,
    task: Option<tokio::task::JoinHandle<Result<()>>>,
}

impl Flusher {
    /// Flushes every devnet of `net` every `every`.
    pub fn start(net: Arc<LocalNet>, every: Duration) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let rounds = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let (flag, done) = (stop.clone(), rounds.clone());
        let task = tokio::spawn(async move {
            while !flag.load(Ordering::Relaxed) {
                for i in 0..net.starknets.len() {
                    net.flush(i)
                        .await
                        .wrap_err_with(|| format!("flushing devnet {i}"))?;
                }
                net.step_arbitrum()
                    .await
                    .wrap_err("stepping the local Arbitrum")?;
                done.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(every).await;
            }
            Ok(())
        });
        Self {
            stop,
            rounds,
            task: Some(task),
        }
    }

    /// Waits until `n` more rounds (every devnet flushed) have run from now: what was sent before
    /// the call has crossed.
    pub async fn rounds(&mut self, n: u64) -> Result<()> {
        let target = self.rounds.load(Ordering::SeqCst) + n + 1;
        while self.rounds.load(Ordering::SeqCst) < target {
            self.check().await?;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(())
    }

    /// A flusher that flushes nothing (what stands in while a test holds the postman back).
    pub fn idle() -> Self {
        Self {
            stop: Arc::new(AtomicBool::new(true)),
            rounds: Arc::new(std::sync::atomic::AtomicU64::new(0)),
            task: None,
        }
    }

    /// Stops the loop and reports whether every flush succeeded.
    pub async fn stop(mut self) -> Result<()> {
        self.stop.store(true, Ordering::Relaxed);
        match self.task.take() {
            Some(task) => task.await?,
            None => Ok(()),
        }
    }

    /// Fails, with the flush's error, if the loop already stopped.
    pub async fn check(&mut self) -> Result<()> {
        if let Some(task) = self.task.take_if(|t| t.is_finished()) {
            task.await??;
            bail!("the flush loop stopped early");
        }
        Ok(())
    }
}

impl Drop for Flusher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// A transaction a relayer sent to the Hub, as L1 has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayTx {
    /// Its hash.
    pub hash: B256,
    /// Its sender.
    pub from: Address,
    /// Whether it succeeded.
    pub ok: bool,
    /// The hops it made: the ids of the Hub's `MessageDelivered` and `MessageForwarded` events in
    /// its receipt (one per message it delivered or forwarded; several for a batch).
    pub hops: Vec<B256>,
    /// Members of a batch the Hub skipped (`BatchMemberFailed`): index and revert data.
    pub failed_members: Vec<(U256, alloy::primitives::Bytes)>,
    /// Gas used.
    pub gas_used: u64,
}

/// Every transaction any of `relayers` sent on L1, with the hops each made, read from the chain's
/// blocks and receipts (not from any router's logs). Fails if one went anywhere but `hub`.
pub async fn relay_transactions(
    net: &LocalNet,
    relayers: &[Address],
    hub: Address,
) -> Result<Vec<RelayTx>> {
    use crate::artifacts::evm::Hub;
    let l1 = net.l1.provider(crate::localnet::L1_KIT_ACCOUNT)?;
    let head = l1.get_block_number().await?;
    let mut out = Vec::new();
    for n in 0..=head {
        let block = l1
            .get_block_by_number(BlockNumberOrTag::Number(n))
            .full()
            .await?
            .ok_or_else(|| eyre::eyre!("no block {n}"))?;
        for tx in block.transactions.txns() {
            if relayers.contains(&tx.from()) {
                let receipt = l1
                    .get_transaction_receipt(tx.tx_hash())
                    .await?
                    .ok_or_else(|| eyre::eyre!("no receipt for {}", tx.tx_hash()))?;
                if tx.to() != Some(hub) {
                    bail!(
                        "relayer {} sent {} to {:?}, not the Hub",
                        tx.from(),
                        tx.tx_hash(),
                        tx.to()
                    );
                }
                let mut hops = Vec::new();
                let mut failed_members = Vec::new();
                for log in receipt.inner.logs().iter().filter(|l| l.address() == hub) {
                    if let Ok(e) = log.log_decode::<Hub::MessageDelivered>() {
                        hops.push(e.inner.data.id);
                    } else if let Ok(e) = log.log_decode::<Hub::MessageForwarded>() {
                        hops.push(e.inner.data.id);
                    } else if let Ok(e) = log.log_decode::<Hub::BatchMemberFailed>() {
                        failed_members.push((e.inner.data.index, e.inner.data.reason.clone()));
                    }
                }
                out.push(RelayTx {
                    hash: tx.tx_hash(),
                    from: tx.from(),
                    ok: receipt.status(),
                    hops,
                    failed_members,
                    gas_used: receipt.gas_used,
                });
            }
        }
    }
    Ok(out)
}

/// Checks from `txs` that `hops` hops were made, each exactly once, by successful transactions,
/// with no reverted transaction and no batch member skipped (what a duplicate would cost).
pub fn check_each_hop_once(txs: &[RelayTx], hops: usize) -> Result<()> {
    let reverted: Vec<_> = txs.iter().filter(|t| !t.ok).collect();
    if !reverted.is_empty() {
        bail!("reverted relay transactions: {reverted:?}");
    }
    let skipped: usize = txs.iter().map(|t| t.failed_members.len()).sum();
    if skipped != 0 {
        bail!("{skipped} batch member(s) skipped by the Hub: {txs:?}");
    }
    let (counts, total) = hop_counts(txs);
    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n != 1).collect();
    if !twice.is_empty() {
        bail!("hops made more than once: {twice:?}");
    }
    if total != hops {
        bail!(
            "{total} hops made, {hops} expected ({} transactions)",
            txs.len()
        );
    }
    Ok(())
}

/// How often each message's hop was made by `txs`, and the total: a test of exactly-once relaying
/// asserts every count is 1 and the total is the number of hops needed.
pub fn hop_counts(txs: &[RelayTx]) -> (std::collections::HashMap<B256, usize>, usize) {
    let mut counts = std::collections::HashMap::new();
    let mut total = 0;
    for tx in txs.iter().filter(|t| t.ok) {
        for id in &tx.hops {
            *counts.entry(*id).or_default() += 1;
            total += 1;
        }
    }
    (counts, total)
}
