//! xroute: the router node and its command line.
//!
//! Today: `xroute proofs <kind>`, the protocol hash and proof calculator scripts call (see
//! `xroute proofs --help`). The router itself (`xroute run`) and its status commands land with
//! the issues that build them (see README).

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::main()
}
