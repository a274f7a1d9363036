//! xroute-class-hash: writes the `<name>.class.json` that `contracts/build` commits next to a
//! Sierra artifact: source and Sierra digests, the Sierra class hash, and the compiled class hash
//! (CASM hashed with Blake2s, HashVersion::V2) that starknet-devnet 0.10.1 checks on declare.

use std::path::PathBuf;

use clap::Parser;
use eyre::{Result, WrapErr, eyre};
use serde_json::json;
use sha2::{Digest, Sha256};
use starknet_rust::core::types::contract::{CompiledClass, SierraClass};

#[derive(Parser)]
#[command(about = "Computes the class metadata contracts/build commits for a Cairo artifact")]
struct Args {
    /// The Cairo source (its path relative to contracts/starknet/ is recorded).
    #[arg(long)]
    source: PathBuf,
    /// The Sierra JSON from starknet-compile.
    #[arg(long)]
    sierra: PathBuf,
    /// The CASM JSON from universal-sierra-compiler.
    #[arg(long)]
    casm: PathBuf,
    /// The compiler's version line.
    #[arg(long)]
    compiler: String,
}

fn read(path: &PathBuf) -> Result<Vec<u8>> {
    std::fs::read(path).wrap_err_with(|| format!("reading {}", path.display()))
}

fn main() -> Result<()> {
    let args = Args::parse();
    let source = read(&args.source)?;
    let sierra = read(&args.sierra)?;
    let casm = read(&args.casm)?;
    let class: SierraClass = serde_json::from_slice(&sierra)
        .wrap_err_with(|| format!("{} is not a Sierra class", args.sierra.display()))?;
    let class_hash = class
        .flatten()
        .map_err(|e| eyre!("flattening: {e}"))?
        .class_hash();
    let compiled: CompiledClass = serde_json::from_slice(&casm)
        .wrap_err_with(|| format!("{} is not a CASM class", args.casm.display()))?;
    let compiled_class_hash = compiled
        .class_hash()
        .map_err(|e| eyre!("hashing {}: {e}", args.casm.display()))?;
    let name = args
        .source
        .file_stem()
        .and_then(|s| s.to_str())
        .ok_or_else(|| eyre!("{} has no file name", args.source.display()))?;
    let meta = json!({
        "contract": name,
        "source": format!("src/{name}.cairo"),
        "sourceSha256": hex::encode(Sha256::digest(&source)),
        "compiler": args.compiler.trim(),
        "sierraSha256": hex::encode(Sha256::digest(&sierra)),
        "classHash": format!("{class_hash:#x}"),
        "compiledClassHash": format!("{compiled_class_hash:#x}"),
    });
    println!("{}", serde_json::to_string_pretty(&meta)?);
    Ok(())
}
