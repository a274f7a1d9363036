//! xroute: the router node and its command line.
//!
//! Today the binary answers `--version` and `--help`; the router (`xroute run`), its status
//! commands and the proofs CLI land with the issues that build them (see README).

use clap::Parser;

/// xroute: a cross-rollup messaging router with Ethereum as the hub.
#[derive(Parser)]
#[command(name = "xroute", version, about)]
struct Cli {}

fn main() -> eyre::Result<()> {
    let _cli = Cli::parse();
    Ok(())
}
