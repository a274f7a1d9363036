//! `xroute init --deployment deployments/NAME.json`: a router config for a deployment, every chain
//! and contract address taken from its record, so the next command is `xroute check`. The router
//! signs with new keystores (its Starknet accounts are then the operator's to fill in), or, with
//! `--keys-of deploy.toml`, with the deployment file's own keys and accounts.

use std::{
    fmt::Write as _,
    path::{Path, PathBuf},
    process::ExitCode,
};

use xroute_adapters::deploy::Record;
use xroute_config::DeployFile;

use super::keys::{KeyKind, create, creation_passphrase};

fn fail(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {msg}");
    ExitCode::from(super::EXIT_FAILED)
}

/// How the config's chains sign.
pub(crate) struct Signers {
    /// The L1 key file.
    pub(crate) l1: PathBuf,
    /// Per Starknet chain name: account (0x-hex, or a REQUIRED placeholder) and key file.
    pub(crate) starknet: Vec<(String, String, PathBuf)>,
    /// Per Arbitrum chain name: the key file.
    pub(crate) arbitrum: Vec<(String, PathBuf)>,
}

fn absolute(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

fn quoted(p: &Path) -> String {
    format!("{:?}", p.display().to_string())
}

/// The config text for `record`, signed as `signers` says.
fn config_text(
    record: &Record,
    signers: &Signers,
    api: std::net::SocketAddr,
) -> Result<String, String> {
    let l1 = record.l1.as_ref().ok_or("the record has no L1 part")?;
    let hub = l1
        .hub
        .as_ref()
        .ok_or("the record has no Hub: run `xroute deploy` first")?;
    let mut t = String::new();
    let _ = writeln!(
        t,
        "# Written by `xroute init --deployment` from the record of deployment {:?}.\n\
         # Next: `xroute check --config xroute.toml`.\n",
        record.name
    );
    let _ = writeln!(
        t,
        "[node]\nstore = \"store\"\napi = \"{api}\"\n\n[relay]\npoll_interval_ms = 1000\n"
    );
    let _ = writeln!(
        t,
        "[[chains]]\nfamily = \"ethereum\"\nname = {:?}\ndomain = {}\nrpc = {:?}\nchain_id = {}\n\
         hub = \"{}\"\nsigner_key_file = {}\n",
        l1.name,
        l1.domain,
        l1.rpc,
        l1.chain_id,
        hub.address,
        quoted(&signers.l1)
    );
    t.push_str(&chain_blocks(record, signers, None)?);
    // The token's ledger: the API then decodes token transfers.
    if let Some(ledger) = record.token.as_ref().and_then(|t| t.ledger.as_ref()) {
        let _ = writeln!(t, "[token]\nledger = \"{}\"", ledger.address);
    }
    Ok(t)
}

/// The `[[chains]]` blocks of the record's rollups (only the one named `only`, when given).
pub(crate) fn chain_blocks(
    record: &Record,
    signers: &Signers,
    only: Option<&str>,
) -> Result<String, String> {
    let mut t = String::new();
    for (name, s) in record
        .starknet
        .iter()
        .filter(|(n, _)| only.is_none_or(|o| o == n.as_str()))
    {
        let endpoint = s
            .endpoint
            .as_ref()
            .ok_or_else(|| format!("starknet.{name}: no Endpoint recorded: run `xroute deploy`"))?;
        let (_, account, key) = signers
            .starknet
            .iter()
            .find(|(n, _, _)| n == name)
            .ok_or_else(|| format!("starknet.{name}: no account for it"))?;
        let _ = writeln!(
            t,
            "[[chains]]\nfamily = \"starknet\"\nname = {name:?}\ndomain = {}\nrpc = {:?}\n\
             endpoint = \"{}\"\nl1_messaging = \"{}\"\nmessaging_layout = \"current\"\n\
             account = {account:?}\naccount_key_file = {}\n",
            s.domain,
            s.rpc,
            endpoint.address,
            s.l1_messaging,
            quoted(key)
        );
    }
    for (name, a) in record
        .arbitrum
        .iter()
        .filter(|(n, _)| only.is_none_or(|o| o == n.as_str()))
    {
        let endpoint = a
            .endpoint
            .as_ref()
            .ok_or_else(|| format!("arbitrum.{name}: no endpoint recorded: run `xroute deploy`"))?;
        let (_, key) = signers
            .arbitrum
            .iter()
            .find(|(n, _)| n == name)
            .ok_or_else(|| format!("arbitrum.{name}: no key for it"))?;
        let _ = writeln!(
            t,
            "[[chains]]\nfamily = \"arbitrum\"\nname = {name:?}\ndomain = {}\nrpc = {:?}\n\
             chain_id = {}\nsigner_key_file = {}\ninbox = \"{}\"\nbridge = \"{}\"\noutbox = \"{}\"\n\
             endpoint = \"{}\"\n",
            a.domain,
            a.rpc,
            a.chain_id,
            quoted(key),
            a.inbox,
            a.bridge,
            a.outbox,
            endpoint.address
        );
    }
    Ok(t)
}

pub(crate) fn init(
    dir: &Path,
    record_path: &Path,
    keys_of: Option<&Path>,
    api: std::net::SocketAddr,
) -> ExitCode {
    let config_path = dir.join("xroute.toml");
    if config_path.exists() {
        return fail(format!(
            "{} exists; init never overwrites a config (choose another --dir)",
            config_path.display()
        ));
    }
    let record = match Record::load(record_path) {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    let mut made = Vec::new();
    let signers = match keys_of {
        Some(file) => match DeployFile::load(file) {
            Ok(f) => signers_of(&f),
            Err(e) => return fail(e),
        },
        None => {
            let keys_dir = dir.join("keys");
            for name in ["ethereum.json", "starknet.json"] {
                if keys_dir.join(name).exists() {
                    return fail(format!(
                        "{} exists; init never overwrites a key (choose another --dir)",
                        keys_dir.join(name).display()
                    ));
                }
            }
            let passphrase = match creation_passphrase() {
                Ok(p) => p,
                Err(e) => return fail(e),
            };
            for (name, kind) in [
                ("ethereum.json", KeyKind::Evm),
                ("starknet.json", KeyKind::Starknet),
            ] {
                let file = keys_dir.join(name);
                match create(kind, &file, &passphrase) {
                    Ok(identity) => made.push((kind, file, identity)),
                    Err(e) => return fail(e),
                }
            }
            Signers {
                l1: PathBuf::from("keys/ethereum.json"),
                starknet: record
                    .starknet
                    .keys()
                    .map(|n| {
                        (
                            n.clone(),
                            "REQUIRED: the router's account on this chain (its key is keys/starknet.json)"
                                .to_string(),
                            PathBuf::from("keys/starknet.json"),
                        )
                    })
                    .collect(),
                arbitrum: record
                    .arbitrum
                    .keys()
                    .map(|n| (n.clone(), PathBuf::from("keys/ethereum.json")))
                    .collect(),
            }
        }
    };
    let text = match config_text(&record, &signers, api) {
        Ok(t) => t,
        Err(e) => return fail(format!("{}: {e}", record_path.display())),
    };
    if let Err(e) = std::fs::create_dir_all(dir).and_then(|()| std::fs::write(&config_path, text)) {
        return fail(format!("cannot write {}: {e}", config_path.display()));
    }
    println!("wrote {}", config_path.display());
    for (kind, file, identity) in made {
        println!("{}  {}  {identity}", kind.name(), file.display());
    }
    println!("next: `xroute check --config {}`", config_path.display());
    ExitCode::SUCCESS
}

/// The deployment file's own keys and accounts, as a router's signers.
pub(crate) fn signers_of(file: &DeployFile) -> Signers {
    Signers {
        l1: absolute(&file.l1.deployer_key_file),
        starknet: file
            .starknet
            .iter()
            .map(|s| {
                (
                    s.name.clone(),
                    format!("{:#x}", s.account.0),
                    absolute(&s.account_key_file),
                )
            })
            .collect(),
        arbitrum: file
            .arbitrum
            .iter()
            .map(|a| (a.name.clone(), absolute(&a.deployer_key_file)))
            .collect(),
    }
}
