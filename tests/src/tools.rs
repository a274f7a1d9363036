//! Where the external tools are: the paths `scripts/bootstrap --print` reports, overridable one by
//! one with the same environment variables.

use std::path::PathBuf;

use eyre::{Result, bail};

/// The tool cache: `$XROUTE_TOOLS`, else `~/.cache/xroute/tools`.
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("XROUTE_TOOLS") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    home.join(".cache/xroute/tools")
}

fn tool(env: &str, relative: &str, name: &str) -> Result<PathBuf> {
    let path = std::env::var_os(env)
        .map(PathBuf::from)
        .unwrap_or_else(|| cache_dir().join(relative));
    if !path.is_file() {
        bail!(
            "{name} not found at {} (set {env}, or run scripts/bootstrap to install it)",
            path.display()
        );
    }
    Ok(path)
}

/// The anvil binary (Foundry 1.7.1).
pub fn anvil() -> Result<PathBuf> {
    tool(
        "XROUTE_ANVIL",
        "npm/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil",
        "anvil",
    )
}

/// The starknet-devnet binary (0.10.1).
pub fn devnet() -> Result<PathBuf> {
    tool(
        "XROUTE_DEVNET",
        "devnet/bin/starknet-devnet",
        "starknet-devnet",
    )
}
