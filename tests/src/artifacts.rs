//! The committed contract artifacts (`contracts/*/out/`), found in this checkout.
//!
//! EVM contracts come as typed alloy bindings generated from the artifact JSON (ABI + bytecode);
//! Starknet contracts as [`StarknetArtifact`]s (Sierra JSON + the class hashes recorded by
//! `contracts/build`).

use std::path::{Path, PathBuf};

use eyre::{Result, WrapErr, eyre};
use serde::Deserialize;
use starknet_rust::core::types::{Felt, FlattenedSierraClass, contract::SierraClass};

/// Typed bindings for the Solidity contracts in `contracts/evm/out/`.
pub mod evm {
    #![allow(missing_docs, unreachable_pub, clippy::too_many_arguments)]
    // Rebuild the kit when an artifact changes: the `sol!` calls below read them, untracked, and
    // a kit built before `contracts/build` would deploy the old bytecode.
    const _: &[u8] = include_bytes!("../../contracts/evm/out/ArbitrumEndpoint.json");
    const _: &[u8] = include_bytes!("../../contracts/evm/out/ArbitrumTank.json");
    const _: &[u8] = include_bytes!("../../contracts/evm/out/HungryReceiver.json");
    const _: &[u8] = include_bytes!("../../contracts/evm/out/RevertBomb.json");
    const _: &[u8] = include_bytes!("../../contracts/evm/out/AttestationVerifier.json");
    const _: &[u8] = include_bytes!("../../contracts/evm/out/EnvelopeCodec.json");
    const _: &[u8] = include_bytes!("../../contracts/evm/out/Hub.json");
    const _: &[u8] = include_bytes!("../../contracts/evm/out/LocalAliasForwarder.json");
    const _: &[u8] = include_bytes!("../../contracts/evm/out/LocalArbRetryableTx.json");
    const _: &[u8] = include_bytes!("../../contracts/evm/out/LocalArbSys.json");
    const _: &[u8] = include_bytes!("../../contracts/evm/out/LocalNodeInterface.json");
    const _: &[u8] = include_bytes!("../../contracts/evm/out/LocalStateUpdate.json");
    const _: &[u8] = include_bytes!("../../contracts/evm/out/MessagingProbe.json");
    const _: &[u8] = include_bytes!("../../contracts/evm/out/Pool.json");
    const _: &[u8] = include_bytes!("../../contracts/evm/out/PoolManager.json");
    const _: &[u8] = include_bytes!("../../contracts/evm/out/PoolVault.json");
    const _: &[u8] = include_bytes!("../../contracts/evm/out/SampleApp.json");
    const _: &[u8] = include_bytes!("../../contracts/evm/out/TokenLedger.json");
    const _: &[u8] = include_bytes!("../../contracts/evm/out/TokenRouter.json");
    const _: &[u8] = include_bytes!("../../contracts/evm/out/XToken.json");
    const _: &[u8] = include_bytes!("../../contracts/evm/out/AccountRouter.json");
    const _: &[u8] = include_bytes!("../../contracts/evm/out/InterchainAccount.json");
    const _: &[u8] = include_bytes!("../../contracts/evm/out/L1Reader.json");
    alloy::sol!(
        #[sol(rpc)]
        MessagingProbe,
        "../contracts/evm/out/MessagingProbe.json"
    );

    alloy::sol!(
        #[sol(rpc, all_derives)]
        Hub,
        "../contracts/evm/out/Hub.json"
    );

    alloy::sol!(
        #[sol(rpc)]
        RevertBomb,
        "../contracts/evm/out/RevertBomb.json"
    );

    alloy::sol!(
        #[sol(rpc)]
        HungryReceiver,
        "../contracts/evm/out/HungryReceiver.json"
    );

    alloy::sol!(
        #[sol(rpc)]
        SampleApp,
        "../contracts/evm/out/SampleApp.json"
    );

    // The Arbitrum endpoint and tank each name the gas tank's `Terms` (a `GasTank` module, as
    // the Hub's bindings do): each binding in its own module.
    /// The Arbitrum endpoint, with its own `GasTank::Terms` (for `sendPaid`).
    pub mod arbitrum_endpoint {
        #![allow(missing_docs)]
        alloy::sol!(
            #[sol(rpc, all_derives)]
            ArbitrumEndpoint,
            "../contracts/evm/out/ArbitrumEndpoint.json"
        );
    }
    pub use arbitrum_endpoint::ArbitrumEndpoint;

    /// The gas tank on an Arbitrum-family rollup, with its own `GasTank::Terms` and
    /// `MeteredReceipt` types.
    pub mod arbitrum_tank {
        #![allow(missing_docs)]
        alloy::sol!(
            #[sol(rpc, all_derives)]
            ArbitrumTank,
            "../contracts/evm/out/ArbitrumTank.json"
        );
    }
    pub use arbitrum_tank::ArbitrumTank;

    alloy::sol!(
        #[sol(rpc)]
        XToken,
        "../contracts/evm/out/XToken.json"
    );

    alloy::sol!(
        #[sol(rpc)]
        AccountRouter,
        "../contracts/evm/out/AccountRouter.json"
    );

    alloy::sol!(
        #[sol(rpc)]
        InterchainAccount,
        "../contracts/evm/out/InterchainAccount.json"
    );

    alloy::sol!(
        #[sol(rpc)]
        L1Reader,
        "../contracts/evm/out/L1Reader.json"
    );

    alloy::sol!(
        #[sol(rpc, all_derives)]
        TokenLedger,
        "../contracts/evm/out/TokenLedger.json"
    );

    alloy::sol!(
        #[sol(rpc)]
        TokenRouter,
        "../contracts/evm/out/TokenRouter.json"
    );

    alloy::sol!(
        #[sol(rpc, all_derives)]
        Pool,
        "../contracts/evm/out/Pool.json"
    );

    alloy::sol!(
        #[sol(rpc)]
        PoolVault,
        "../contracts/evm/out/PoolVault.json"
    );

    alloy::sol!(
        #[sol(rpc, all_derives)]
        PoolManager,
        "../contracts/evm/out/PoolManager.json"
    );

    alloy::sol!(
        #[sol(rpc)]
        LocalArbSys,
        "../contracts/evm/out/LocalArbSys.json"
    );

    alloy::sol!(
        #[sol(rpc)]
        LocalNodeInterface,
        "../contracts/evm/out/LocalNodeInterface.json"
    );

    alloy::sol!(
        #[sol(rpc)]
        LocalStateUpdate,
        "../contracts/evm/out/LocalStateUpdate.json"
    );

    alloy::sol!(
        #[sol(rpc)]
        LocalArbRetryableTx,
        "../contracts/evm/out/LocalArbRetryableTx.json"
    );

    alloy::sol!(
        #[sol(rpc)]
        LocalAliasForwarder,
        "../contracts/evm/out/LocalAliasForwarder.json"
    );

    alloy::sol!(
        #[sol(rpc)]
        EnvelopeCodec,
        "../contracts/evm/out/EnvelopeCodec.json"
    );

    alloy::sol!(
        #[sol(rpc)]
        AttestationVerifier,
        "../contracts/evm/out/AttestationVerifier.json"
    );

    alloy::sol! {
        /// The messaging contract's L1 interface (Starknet core's `StarknetMessaging`, or devnet's
        /// `MockStarknetMessaging`, which adds `mockSendMessageFromL2`).
        #[sol(rpc)]
        interface IStarknetMessaging {
            event LogMessageToL1(uint256 indexed fromAddress, address indexed toAddress, uint256[] payload);
            event LogMessageToL2(address indexed fromAddress, uint256 indexed toAddress, uint256 indexed selector, uint256[] payload, uint256 nonce, uint256 fee);
            event ConsumedMessageToL1(uint256 indexed fromAddress, address indexed toAddress, uint256[] payload);
            function sendMessageToL2(uint256 toAddress, uint256 selector, uint256[] calldata payload) external payable returns (bytes32, uint256);
            function consumeMessageFromL2(uint256 fromAddress, uint256[] calldata payload) external returns (bytes32);
            function l1ToL2Messages(bytes32 msgHash) external view returns (uint256);
            function l2ToL1Messages(bytes32 msgHash) external view returns (uint256);
            function l1ToL2MessageNonce() external view returns (uint256);
        }
    }
}

/// The `contracts/` folder: `$XROUTE_CONTRACTS`, else the one of this checkout.
pub fn contracts_dir() -> PathBuf {
    std::env::var_os("XROUTE_CONTRACTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../contracts"))
}

/// A Cairo contract as `contracts/build` left it in `contracts/starknet/out/`. Read at run time
/// (not embedded) so that `contracts/build` can build the kit before the first artifact exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StarknetArtifact {
    name: &'static str,
}

/// `<name>.class.json`: what `contracts/build` recorded next to the Sierra.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClassMeta {
    /// The contract module.
    pub contract: String,
    /// Its source, relative to `contracts/starknet/`.
    pub source: String,
    /// sha256 of the source.
    pub source_sha256: String,
    /// The Cairo compiler that produced the Sierra.
    pub compiler: String,
    /// sha256 of the Sierra JSON.
    pub sierra_sha256: String,
    /// The Sierra class hash.
    pub class_hash: Felt,
    /// The CASM hash (HashVersion::V2) devnet checks on declare.
    pub compiled_class_hash: Felt,
}

/// `contracts/starknet/src/messaging_probe.cairo`.
pub const MESSAGING_PROBE: StarknetArtifact = StarknetArtifact {
    name: "messaging_probe",
};

/// `contracts/starknet/src/endpoint.cairo`: the xroute Endpoint of Starknet-family chains.
pub const ENDPOINT: StarknetArtifact = StarknetArtifact { name: "endpoint" };

/// `contracts/starknet/src/sample_app.cairo`.
pub const SAMPLE_APP: StarknetArtifact = StarknetArtifact { name: "sample_app" };

/// `contracts/starknet/src/account_router.cairo`: interchain accounts on a Starknet-family chain.
pub const ACCOUNT_ROUTER: StarknetArtifact = StarknetArtifact {
    name: "account_router",
};

/// `contracts/starknet/src/interchain_account.cairo`: the accounts an `ACCOUNT_ROUTER` deploys.
pub const INTERCHAIN_ACCOUNT: StarknetArtifact = StarknetArtifact {
    name: "interchain_account",
};

/// `contracts/starknet/src/hash_probe.cairo`.
pub const HASH_PROBE: StarknetArtifact = StarknetArtifact { name: "hash_probe" };

/// The canonical token and its router on a Starknet-family chain.
pub const TOKEN_ROUTER: StarknetArtifact = StarknetArtifact {
    name: "token_router",
};

/// The DeFi pool of a Starknet-family chain (`contracts/starknet/src/pool.cairo`).
pub const POOL: StarknetArtifact = StarknetArtifact { name: "pool" };

/// The gas tank of a Starknet-family chain (`contracts/starknet/src/gas_tank.cairo`).
pub const GAS_TANK: StarknetArtifact = StarknetArtifact { name: "gas_tank" };

/// Every Starknet artifact the kit knows.
pub const STARKNET_ARTIFACTS: &[StarknetArtifact] = &[
    ACCOUNT_ROUTER,
    ENDPOINT,
    GAS_TANK,
    HASH_PROBE,
    INTERCHAIN_ACCOUNT,
    MESSAGING_PROBE,
    POOL,
    SAMPLE_APP,
    TOKEN_ROUTER,
];

impl StarknetArtifact {
    /// The artifact's name (the source file's stem).
    pub fn name(&self) -> &'static str {
        self.name
    }

    fn read(&self, suffix: &str) -> Result<String> {
        let path = contracts_dir().join(format!("starknet/out/{}{suffix}", self.name));
        std::fs::read_to_string(&path)
            .wrap_err_with(|| format!("reading {} (run contracts/build)", path.display()))
    }

    /// The Sierra JSON, as the compiler wrote it.
    pub fn sierra_json(&self) -> Result<String> {
        self.read(".sierra.json")
    }

    /// The recorded metadata.
    pub fn meta(&self) -> Result<ClassMeta> {
        serde_json::from_str(&self.read(".class.json")?)
            .wrap_err_with(|| format!("{}.class.json does not parse", self.name))
    }

    /// The class in the flattened form a declare transaction carries.
    pub fn flattened(&self) -> Result<FlattenedSierraClass> {
        let class: SierraClass = serde_json::from_str(&self.sierra_json()?)
            .wrap_err_with(|| format!("{}.sierra.json is not a Sierra class", self.name))?;
        class
            .flatten()
            .map_err(|e| eyre!("flattening {}.sierra.json: {e}", self.name))
    }

    /// The class hash, computed from the Sierra.
    pub fn class_hash(&self) -> Result<Felt> {
        Ok(self.flattened()?.class_hash())
    }

    /// The compiled class hash recorded by `contracts/build`.
    pub fn compiled_class_hash(&self) -> Result<Felt> {
        Ok(self.meta()?.compiled_class_hash)
    }
}
