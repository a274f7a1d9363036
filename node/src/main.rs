//! xroute: the router node and its command line.
//!
//! `xroute run --config FILE` runs the router (see `xroute --help` for the rest: `status`,
//! `messages`, `retry`, `drop`, `peers`, `p2p-key`, `proofs`). The library half of this crate
//! (`xroute::…`) holds what the commands run.

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::main()
}
