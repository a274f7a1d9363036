//! Uniswap V2 on the L1 anvil (issue 31): the factory, pair, Router02 and WETH9 bytecode of
//! Uniswap's own npm packages (`@uniswap/v2-core` 1.0.1, `@uniswap/v2-periphery` 1.1.0-beta.0),
//! which the bootstrap installs into the tool cache (GPL-3.0: never committed). Nothing of it is
//! rebuilt or changed: Router02 finds pairs by the init code hash it was compiled with, which is
//! the hash of this pair bytecode.

use std::path::PathBuf;

use alloy::{
    primitives::{Address, U256},
    providers::DynProvider,
    sol,
    sol_types::SolValue,
};
use eyre::{Result, WrapErr, ensure, eyre};
use serde_json::Value;

use crate::anvil::Anvil;

sol! {
    #[sol(rpc)]
    interface IUniswapV2Router02 {
        function factory() external view returns (address);
        function WETH() external view returns (address);
        function addLiquidityETH(address token, uint256 amountTokenDesired, uint256 amountTokenMin, uint256 amountETHMin, address to, uint256 deadline) external payable returns (uint256 amountToken, uint256 amountETH, uint256 liquidity);
        function swapExactTokensForTokens(uint256 amountIn, uint256 amountOutMin, address[] calldata path, address to, uint256 deadline) external returns (uint256[] memory amounts);
        function getAmountOut(uint256 amountIn, uint256 reserveIn, uint256 reserveOut) external pure returns (uint256 amountOut);
        function getAmountsOut(uint256 amountIn, address[] calldata path) external view returns (uint256[] memory amounts);
    }

    #[sol(rpc)]
    interface IUniswapV2Factory {
        function getPair(address tokenA, address tokenB) external view returns (address pair);
    }

    #[sol(rpc)]
    interface IUniswapV2Pair {
        function token0() external view returns (address);
        function token1() external view returns (address);
        function getReserves() external view returns (uint112 reserve0, uint112 reserve1, uint32 blockTimestampLast);
    }

    #[sol(rpc)]
    interface IWETH9 {
        function deposit() external payable;
        function balanceOf(address) external view returns (uint256);
        function approve(address, uint256) external returns (bool);
    }

    #[sol(rpc)]
    interface IERC20Approve {
        function approve(address spender, uint256 amount) external returns (bool);
        function balanceOf(address) external view returns (uint256);
    }
}

/// The installed versions (what `scripts/bootstrap` pins).
const CORE_VERSION: &str = "1.0.1";
const PERIPHERY_VERSION: &str = "1.1.0-beta.0";

/// Where the `@uniswap` packages are: `$XROUTE_UNISWAP`, else the tool cache.
pub fn uniswap_dir() -> Result<PathBuf> {
    let dir = std::env::var_os("XROUTE_UNISWAP")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::tools::cache_dir().join("uniswap/node_modules/@uniswap"));
    for (package, version) in [
        ("v2-core", CORE_VERSION),
        ("v2-periphery", PERIPHERY_VERSION),
    ] {
        let path = dir.join(package).join("package.json");
        let text = std::fs::read_to_string(&path).wrap_err_with(|| {
            format!(
                "@uniswap/{package} not found at {} (set XROUTE_UNISWAP, or run scripts/bootstrap \
                 to install it)",
                path.display()
            )
        })?;
        let found = serde_json::from_str::<Value>(&text)?["version"].clone();
        ensure!(
            found == version,
            "{} is @uniswap/{package} {found}, not {version} (run scripts/bootstrap)",
            path.display()
        );
    }
    Ok(dir)
}

/// The creation bytecode of `package`'s `build/NAME.json`.
fn bytecode(package: &str, name: &str) -> Result<Vec<u8>> {
    let path = uniswap_dir()?
        .join(package)
        .join("build")
        .join(format!("{name}.json"));
    let text =
        std::fs::read_to_string(&path).wrap_err_with(|| format!("reading {}", path.display()))?;
    let artifact: Value = serde_json::from_str(&text)?;
    let code = artifact["bytecode"]
        .as_str()
        .or_else(|| artifact["evm"]["bytecode"]["object"].as_str())
        .ok_or_else(|| eyre!("{} has no bytecode", path.display()))?;
    Ok(alloy::hex::decode(code.trim_start_matches("0x"))?)
}

/// Uniswap V2 deployed on an L1.
#[derive(Debug, Clone, Copy)]
pub struct Uniswap {
    /// WETH9.
    pub weth: Address,
    /// UniswapV2Factory.
    pub factory: Address,
    /// UniswapV2Router02.
    pub router: Address,
}

impl Uniswap {
    /// Deploys WETH9, the factory (fees off: `feeToSetter` is the deployer) and Router02 from
    /// account `account` of `l1`.
    pub async fn deploy(l1: &Anvil, account: usize) -> Result<Self> {
        let provider = l1.provider(account)?;
        let weth =
            crate::arbitrum::deploy(&provider, bytecode("v2-periphery", "WETH9")?, "WETH9").await?;
        let mut code = bytecode("v2-core", "UniswapV2Factory")?;
        code.extend(l1.address(account)?.abi_encode());
        let factory = crate::arbitrum::deploy(&provider, code, "UniswapV2Factory").await?;
        let mut code = bytecode("v2-periphery", "UniswapV2Router02")?;
        code.extend((factory, weth).abi_encode_params());
        let router = crate::arbitrum::deploy(&provider, code, "UniswapV2Router02").await?;
        Ok(Self {
            weth,
            factory,
            router,
        })
    }

    /// Router02's bindings.
    pub fn router(
        &self,
        provider: &DynProvider,
    ) -> IUniswapV2Router02::IUniswapV2Router02Instance<DynProvider> {
        IUniswapV2Router02::new(self.router, provider.clone())
    }

    /// The pair of `a` and `b` (the zero address if there is none).
    pub async fn pair(&self, provider: &DynProvider, a: Address, b: Address) -> Result<Address> {
        Ok(IUniswapV2Factory::new(self.factory, provider)
            .getPair(a, b)
            .call()
            .await?)
    }

    /// Makes the pair of `token` and WETH (if missing) and adds `amount` of `token` and `eth`
    /// wei from `account` (which holds the tokens); returns the pair.
    pub async fn add_liquidity_eth(
        &self,
        l1: &Anvil,
        account: usize,
        token: Address,
        amount: U256,
        eth: U256,
    ) -> Result<Address> {
        let provider = l1.provider(account)?;
        let approved = IERC20Approve::new(token, &provider)
            .approve(self.router, amount)
            .send()
            .await?
            .get_receipt()
            .await?;
        ensure!(approved.status(), "approve of the router reverted");
        let added = self
            .router(&provider)
            .addLiquidityETH(
                token,
                amount,
                amount,
                eth,
                l1.address(account)?,
                U256::from(u64::MAX),
            )
            .value(eth)
            .send()
            .await?
            .get_receipt()
            .await?;
        ensure!(added.status(), "addLiquidityETH reverted");
        self.pair(&provider, token, self.weth).await
    }

    /// The pair's reserves of `token_in` and of the other token, in that order.
    pub async fn reserves(
        &self,
        provider: &DynProvider,
        pair: Address,
        token_in: Address,
    ) -> Result<(U256, U256)> {
        let pair = IUniswapV2Pair::new(pair, provider);
        let r = pair.getReserves().call().await?;
        let (r0, r1) = (U256::from(r.reserve0), U256::from(r.reserve1));
        Ok(if pair.token0().call().await? == token_in {
            (r0, r1)
        } else {
            (r1, r0)
        })
    }
}
