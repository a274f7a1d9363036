//! `xroute init` and `xroute keys`: the router's keys in encrypted keystores (Web3 Secret
//! Storage, scrypt), and a commented config for a network. Keys are never printed: only what
//! identifies them (an address, a public key, a peer id).

use std::{
    io::IsTerminal,
    path::{Path, PathBuf},
    process::ExitCode,
};

use alloy::signers::local::PrivateKeySigner;
use starknet_rust::{core::types::Felt, signers::SigningKey};
use xroute_adapters::keys::{self, KeyFormat};
use xroute_config::{Config, SignerKind};
use zeroize::Zeroizing;

use super::EXIT_FAILED;

/// What a key is for; it decides how its 32 secret bytes are read and what identifies it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum KeyKind {
    /// An EVM account (the relayer on L1 and on EVM rollups): secp256k1.
    Evm,
    /// A Starknet-family account's signing key (a felt).
    Starknet,
    /// The key a router signs attestations with: secp256k1.
    Attestation,
    /// The libp2p node key: ed25519.
    P2p,
}

impl KeyKind {
    pub(super) fn name(self) -> &'static str {
        match self {
            Self::Evm => "evm",
            Self::Starknet => "starknet",
            Self::Attestation => "attestation",
            Self::P2p => "p2p",
        }
    }

    /// A fresh random secret of this kind.
    fn random(self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(match self {
            Self::Evm | Self::Attestation => PrivateKeySigner::random().to_bytes().0,
            Self::Starknet => SigningKey::from_random().secret_scalar().to_bytes_be(),
            Self::P2p => {
                let mut bytes = [0u8; 32];
                bytes.copy_from_slice(
                    libp2p::identity::ed25519::Keypair::generate()
                        .secret()
                        .as_ref(),
                );
                bytes
            }
        })
    }

    /// The secret of this kind held in `path` (a keystore or a plain file; for p2p also the
    /// libp2p protobuf encoding).
    fn load(self, field: &str, path: &Path) -> Result<Zeroizing<[u8; 32]>, String> {
        let text = |e: xroute_adapters::AdapterError| e.to_string();
        Ok(match self {
            Self::Evm | Self::Attestation => {
                Zeroizing::new(keys::secp256k1(field, path).map_err(text)?.to_bytes().0)
            }
            Self::Starknet => Zeroizing::new(keys::felt(field, path).map_err(text)?.to_bytes_be()),
            Self::P2p => {
                let key = xroute::p2p::load_key(path).map_err(|e| format!("{field}: {e}"))?;
                let ed = key
                    .try_into_ed25519()
                    .map_err(|_| format!("{field}: {} is not an ed25519 key", path.display()))?;
                let mut bytes = [0u8; 32];
                bytes.copy_from_slice(ed.secret().as_ref());
                Zeroizing::new(bytes)
            }
        })
    }

    /// What identifies the key with secret `secret`: an address, a public key or a peer id.
    fn identity(self, secret: &[u8; 32]) -> Result<String, String> {
        Ok(match self {
            Self::Evm | Self::Attestation => PrivateKeySigner::from_slice(secret)
                .map_err(|_| "not a valid secp256k1 key".to_string())?
                .address()
                .to_string(),
            Self::Starknet => format!(
                "public key {:#066x}",
                SigningKey::from_secret_scalar(Felt::from_bytes_be(secret))
                    .verifying_key()
                    .scalar()
            ),
            Self::P2p => {
                let mut copy = *secret;
                let key = libp2p::identity::Keypair::ed25519_from_bytes(&mut copy)
                    .map_err(|e| format!("not an ed25519 key: {e}"))?;
                format!("peer id {}", key.public().to_peer_id())
            }
        })
    }
}

/// `xroute keys`.
#[derive(clap::Args)]
pub(crate) struct KeysArgs {
    #[command(subcommand)]
    command: KeysCommand,
}

#[derive(clap::Subcommand)]
enum KeysCommand {
    /// Every key a config names: its field, file, format and what identifies it.
    List {
        /// The router's config file.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
    /// Create a new random key in a new encrypted keystore; prints what identifies it.
    New {
        #[arg(long, value_enum)]
        kind: KeyKind,
        /// The keystore to create (never overwritten).
        #[arg(long, value_name = "FILE")]
        file: PathBuf,
    },
    /// Encrypt a plain key file (0x-hex; for p2p also libp2p's protobuf file) into a new keystore.
    Import {
        #[arg(long, value_enum)]
        kind: KeyKind,
        /// The plain key file to read.
        #[arg(long, value_name = "FILE")]
        from: PathBuf,
        /// The keystore to create (never overwritten).
        #[arg(long, value_name = "FILE")]
        file: PathBuf,
    },
    /// Print what identifies the key in FILE (an address, a Starknet public key, a peer id).
    Address {
        #[arg(long, value_enum)]
        kind: KeyKind,
        /// A keystore or plain key file.
        #[arg(long, value_name = "FILE")]
        file: PathBuf,
    },
}

/// The passphrase for keystores about to be created: the one given (flag or environment), else
/// asked twice on a terminal. Never empty.
pub(super) fn creation_passphrase() -> Result<Zeroizing<String>, String> {
    let given = std::env::var_os(keys::PASSWORD_FILE_ENV).is_some()
        || std::env::var_os(keys::PASSWORD_ENV).is_some()
        || keys::passphrase_is_set();
    let passphrase = if given || !std::io::stdin().is_terminal() {
        keys::passphrase("--password-file", Path::new("the new keystores"))
            .map_err(|e| e.to_string())?
    } else {
        let first = Zeroizing::new(
            rpassword::prompt_password("passphrase for the new keystores: ")
                .map_err(|e| format!("cannot read the passphrase: {e}"))?,
        );
        let second = Zeroizing::new(
            rpassword::prompt_password("the same passphrase again: ")
                .map_err(|e| format!("cannot read the passphrase: {e}"))?,
        );
        if first != second {
            return Err("the two passphrases differ; nothing was written".into());
        }
        keys::set_passphrase(first.clone());
        first
    };
    if passphrase.is_empty() {
        return Err("the passphrase is empty; keystores need one".into());
    }
    Ok(passphrase)
}

fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(EXIT_FAILED)
}

pub(crate) fn run(args: KeysArgs) -> ExitCode {
    match args.command {
        KeysCommand::List { config } => list(&config),
        KeysCommand::New { kind, file } => {
            let result = creation_passphrase().and_then(|pw| create(kind, &file, &pw));
            match result {
                Ok(identity) => {
                    println!("{identity}");
                    ExitCode::SUCCESS
                }
                Err(e) => fail(e),
            }
        }
        KeysCommand::Import { kind, from, file } => {
            let secret = match kind.load("--from", &from) {
                Ok(s) => s,
                Err(e) => return fail(e),
            };
            let result = creation_passphrase().and_then(|pw| {
                keys::write_keystore(&file, &secret, &pw).map_err(|e| e.to_string())?;
                kind.identity(&secret)
            });
            match result {
                Ok(identity) => {
                    println!("{identity}");
                    eprintln!(
                        "wrote {}; the plain file {} is unchanged: delete it once the keystore is in use",
                        file.display(),
                        from.display()
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => fail(e),
            }
        }
        KeysCommand::Address { kind, file } => {
            match kind.load("--file", &file).and_then(|s| kind.identity(&s)) {
                Ok(identity) => {
                    println!("{identity}");
                    ExitCode::SUCCESS
                }
                Err(e) => fail(e),
            }
        }
    }
}

/// Writes a new random key of `kind` to the keystore `file`; returns what identifies it.
pub(super) fn create(kind: KeyKind, file: &Path, passphrase: &str) -> Result<String, String> {
    let secret = kind.random();
    keys::write_keystore(file, &secret, passphrase).map_err(|e| e.to_string())?;
    kind.identity(&secret)
}

/// The keys `config` names: (field, kind, file).
fn config_keys(config: &Config) -> Vec<(String, KeyKind, PathBuf)> {
    let mut out = Vec::new();
    for chain in &config.chains {
        let signer = chain.signer();
        let kind = match signer.kind {
            SignerKind::Evm => KeyKind::Evm,
            SignerKind::Starknet => KeyKind::Starknet,
        };
        out.push((
            format!("chains.{}.{}", chain.name(), signer.field),
            kind,
            signer.path.to_path_buf(),
        ));
    }
    if let Some(p2p) = &config.p2p {
        out.push((
            "p2p.attestation_key_file".into(),
            KeyKind::Attestation,
            p2p.attestation_key_file.clone(),
        ));
        if p2p.key_file.exists() {
            out.push(("p2p.key_file".into(), KeyKind::P2p, p2p.key_file.clone()));
        }
    }
    out
}

fn list(path: &Path) -> ExitCode {
    let config = match super::load_config(path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let mut bad = false;
    for (field, kind, file) in config_keys(&config) {
        // The line names the field once.
        let reason = |e: String| {
            e.strip_prefix(&format!("{field}: "))
                .map(str::to_string)
                .unwrap_or(e)
        };
        let format = match keys::format_of(&field, &file) {
            Ok(KeyFormat::Plain) if kind == KeyKind::P2p => "plain (libp2p protobuf)",
            Ok(f) => f.as_str(),
            Err(e) => {
                bad = true;
                println!("{field}  FAIL  {}", reason(e.to_string()));
                continue;
            }
        };
        match kind.load(&field, &file).and_then(|s| kind.identity(&s)) {
            Ok(identity) => println!(
                "{field}  {}  {format}  {}  {identity}",
                kind.name(),
                file.display()
            ),
            Err(e) => {
                bad = true;
                println!("{field}  FAIL  {}", reason(e));
            }
        }
    }
    if bad {
        ExitCode::from(EXIT_FAILED)
    } else {
        ExitCode::SUCCESS
    }
}

/// `xroute init`.
#[derive(clap::Args)]
pub(crate) struct InitArgs {
    /// Which network the config is for.
    #[arg(long, value_enum, default_value = "local")]
    network: Network,
    /// The folder to write `xroute.toml` and `keys/` into (created; an existing config in it is
    /// never overwritten).
    #[arg(long, value_name = "DIR", default_value = "xroute")]
    dir: PathBuf,
    /// Write the config of a deployment from its record (`deployments/NAME.json`, written by
    /// `xroute deploy`): every chain and contract address filled in.
    #[arg(long, value_name = "RECORD")]
    deployment: Option<PathBuf>,
    /// With --deployment: sign with the keys and accounts of this deployment file (one operator
    /// deploys and relays) instead of new keystores.
    #[arg(long, value_name = "DEPLOY_TOML", requires = "deployment")]
    keys_of: Option<PathBuf>,
    /// With --deployment: the address the router's API listens on.
    #[arg(
        long,
        value_name = "ADDR",
        default_value = "127.0.0.1:7300",
        requires = "deployment"
    )]
    api: std::net::SocketAddr,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum Network {
    /// The local network of `scripts/demo` (anvil, starknet-devnet, the local Arbitrum).
    Local,
    /// Ethereum Sepolia, Starknet Sepolia, Arbitrum Sepolia.
    Sepolia,
    /// Ethereum, Starknet, Arbitrum One.
    Mainnet,
}

/// The keystores `xroute init` creates, in `keys/`: file name and kind.
const INIT_KEYS: [(&str, KeyKind); 4] = [
    ("ethereum.json", KeyKind::Evm),
    ("starknet.json", KeyKind::Starknet),
    ("attestation.json", KeyKind::Attestation),
    ("p2p.json", KeyKind::P2p),
];

/// The config `xroute init` writes for `network`.
fn template(network: Network) -> Result<String, String> {
    Ok(match network {
        Network::Sepolia => include_str!("../../../config/examples/sepolia.toml").to_string(),
        Network::Mainnet => include_str!("../../../config/examples/mainnet.toml").to_string(),
        Network::Local => {
            let mut text = include_str!("../../../config/examples/local.toml").to_string();
            for (from, to) in [
                (
                    "store = \"../../target/xroute-local/router-1\"",
                    "store = \"store\"",
                ),
                ("local-keys/l1.key", "keys/ethereum.json"),
                ("local-keys/starknet.key", "keys/starknet.json"),
                ("local-keys/appchain.key", "keys/starknet.json"),
            ] {
                if !text.contains(from) {
                    return Err(format!("the local template no longer has {from:?}"));
                }
                text = text.replace(from, to);
            }
            format!(
                "# Written by `xroute init --network local`: fund the relayer address \
                 (`xroute keys list --config xroute.toml`)\n# on the local chains and put the \
                 addresses `xroute-localnet` prints in place of the placeholders.\n{text}"
            )
        }
    })
}

impl InitArgs {
    /// With `--deployment`: the folder, the record, `--keys-of` and the API address.
    pub(crate) fn deployment(&self) -> Option<(&Path, &Path, Option<&Path>, std::net::SocketAddr)> {
        let record = self.deployment.as_deref()?;
        Some((&self.dir, record, self.keys_of.as_deref(), self.api))
    }
}

pub(crate) fn init(args: InitArgs) -> ExitCode {
    let config_path = args.dir.join("xroute.toml");
    if config_path.exists() {
        return fail(format!(
            "{} exists; init never overwrites a config (choose another --dir)",
            config_path.display()
        ));
    }
    let keys_dir = args.dir.join("keys");
    for (name, _) in INIT_KEYS {
        if keys_dir.join(name).exists() {
            return fail(format!(
                "{} exists; init never overwrites a key (choose another --dir)",
                keys_dir.join(name).display()
            ));
        }
    }
    let text = match template(args.network) {
        Ok(t) => t,
        Err(e) => return fail(e),
    };
    let passphrase = match creation_passphrase() {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    let mut made = Vec::new();
    for (name, kind) in INIT_KEYS {
        let file = keys_dir.join(name);
        match create(kind, &file, &passphrase) {
            Ok(identity) => made.push((kind, file, identity)),
            Err(e) => return fail(e),
        }
    }
    if let Err(e) = std::fs::write(&config_path, text) {
        return fail(format!("cannot write {}: {e}", config_path.display()));
    }
    println!("wrote {}", config_path.display());
    for (kind, file, identity) in made {
        println!("{}  {}  {identity}", kind.name(), file.display());
    }
    println!(
        "next: replace the REQUIRED placeholders, fund the evm address, then \
         `xroute check --config {}`",
        config_path.display()
    );
    ExitCode::SUCCESS
}
