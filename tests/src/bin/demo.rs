//! `xroute-demo`: the local network, one `xroute` router, and messages over every route in a live
//! table (what `scripts/demo` runs). `--json` runs it headless and prints a JSON summary; the exit
//! code is 1 unless every message was delivered, 2 for bad arguments.

use std::{path::PathBuf, process::ExitCode, time::Duration};

use clap::Parser;
use xroute_tests::demo::{DemoOptions, run};

/// The local network (anvil as Ethereum L1, starknet-devnet as Starknet, a second devnet as an
/// appchain, the local Arbitrum), the xroute contracts, one `xroute` router, and messages
/// crossing every route, then the canonical token and one DeFi pool epoch.
#[derive(Parser)]
#[command(name = "xroute-demo", version)]
struct Args {
    /// Messages to send, round-robin over the eight routes (Starknet → Ethereum, Ethereum →
    /// Starknet, Starknet → appchain, Arbitrum → Ethereum, Ethereum → Arbitrum, Starknet →
    /// Arbitrum, Arbitrum → Starknet, Arbitrum → appchain).
    #[arg(long, default_value_t = 6, value_parser = clap::value_parser!(u32).range(1..=5000))]
    messages: u32,
    /// Headless: wait for delivery, print a JSON summary, exit non-zero unless all delivered.
    #[arg(long)]
    json: bool,
    /// Give up waiting for delivery after this many seconds.
    #[arg(long, default_value_t = 600)]
    timeout_secs: u64,
    /// Keep the router's config and store here (default: a temporary folder).
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// The `xroute` binary (default: `$XROUTE_BIN`, else the one next to this binary).
    #[arg(long, value_name = "FILE", env = "XROUTE_BIN")]
    xroute: Option<PathBuf>,
}

fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(a) => a,
        Err(e)
            if e.kind() == clap::error::ErrorKind::DisplayHelp
                || e.kind() == clap::error::ErrorKind::DisplayVersion =>
        {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            let rendered = e.render().to_string();
            let first = rendered
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("error: invalid arguments");
            eprintln!("{}", first.trim_end());
            return ExitCode::from(2);
        }
    };
    if let Some(dir) = &args.dir
        && dir.exists()
        && !dir.is_dir()
    {
        eprintln!("error: --dir: {} is not a folder", dir.display());
        return ExitCode::from(2);
    }
    let xroute = match args.xroute.clone().or_else(sibling) {
        Some(p) if p.is_file() => p,
        Some(p) => {
            eprintln!(
                "error: --xroute: {} is not a file (build it with `cargo build -p xroute`)",
                p.display()
            );
            return ExitCode::from(2);
        }
        None => {
            eprintln!("error: --xroute: no xroute binary found; pass --xroute FILE");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let options = DemoOptions {
        messages: args.messages,
        json: args.json,
        timeout: Duration::from_secs(args.timeout_secs),
        dir: args.dir,
        xroute,
    };
    match runtime.block_on(run(options)) {
        Ok((delivered, summary)) => {
            if args.json {
                println!("{summary}");
            }
            if delivered {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// `xroute` next to this binary (both live in the same cargo target folder).
fn sibling() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    Some(exe.parent()?.join("xroute"))
}
