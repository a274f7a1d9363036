// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.30;

import {Strings} from "@openzeppelin/contracts/utils/Strings.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC4626} from "@openzeppelin/contracts/interfaces/IERC4626.sol";
import {IXrouteTokenReceiver} from "./IXrouteTokenReceiver.sol";

interface ILedgerForPools {
    function transferCall(uint32 dstDomain, bytes32 recipient, uint256 amount, uint256[] calldata data)
        external
        payable
        returns (uint256);
}

/// @title PoolManager
/// @notice The L1 side of the DeFi pools (ADR 0009): each registered pool on a rollup crosses to
/// L1 once per epoch, as one transfer-and-call through the TokenLedger carrying the epoch's
/// deposits `D` (the tokens) and `[epoch, W, entriesHash]` (W: the pool shares its users asked to
/// withdraw). One pool share is one share of `vault` held here for that pool.
///
/// The manager nets the two on L1, where the price is known: the withdrawals are worth
/// `A_W = vault.previewRedeem(W)`; if `D ≥ A_W` it deposits `D − A_W` (the depositors get the
/// withdrawers' W shares plus what that deposit mints), else it withdraws `A_W − D` (the
/// depositors get W less the shares that burned); with no deposits it redeems exactly W (no share
/// is left for depositors who do not exist). One vault call, or none when they cancel out.
/// It answers with one transfer-and-call of `A_W` tokens back to the pool, data
/// `[epoch, S_D, A_W, D, W, totalAssets, totalSupply]` (S_D: the shares the deposits bought).
///
/// A vault that refuses makes `onTokens` revert ("VaultRefused: …"): the ledger undoes the
/// delivery and returns `D` to the pool with the epoch's data, so nothing stays on L1. So does a
/// deposit whose shares would be worth less than `MAX_LOSS_BPS` under what it put in (a price
/// someone moved just before the relay, e.g. by donating to an almost empty vault, so that the
/// deposit rounds down to few or no shares): the epoch returns whole instead.
contract PoolManager is IXrouteTokenReceiver {
    /// @notice The most a deposit may lose to the vault's rounding, in basis points of it.
    uint256 public constant MAX_LOSS_BPS = 100;

    ILedgerForPools public immutable ledger;
    IERC20 public immutable token;
    IERC4626 public immutable vault;
    address public owner;

    /// @notice The pool registered on each chain (its address as a word).
    mapping(uint32 => bytes32) public pools;
    /// @notice Vault shares held for each chain's pool: the sum of that pool's shares on L2.
    mapping(uint32 => uint256) public shares;
    /// @notice Epochs settled, per chain.
    mapping(uint32 => mapping(uint256 => bool)) public settled;

    event PoolRegistered(uint32 indexed domain, bytes32 pool);
    event OwnershipTransferred(address indexed previousOwner, address indexed newOwner);
    event EpochSettled(
        uint32 indexed domain,
        uint256 indexed epoch,
        uint256 deposits,
        uint256 withdrawalShares,
        uint256 depositShares,
        uint256 withdrawalAssets,
        uint256 totalAssets,
        uint256 totalSupply
    );

    error OnlyOwner(address caller);
    error OnlyLedger(address caller);

    constructor(address ledger_, address vault_) {
        ledger = ILedgerForPools(ledger_);
        vault = IERC4626(vault_);
        token = IERC20(IERC4626(vault_).asset());
        owner = msg.sender;
        emit OwnershipTransferred(address(0), msg.sender);
    }

    /// @notice Hands the right to register pools to `newOwner`.
    function transferOwnership(address newOwner) external {
        if (msg.sender != owner) revert OnlyOwner(msg.sender);
        emit OwnershipTransferred(owner, newOwner);
        owner = newOwner;
    }

    function registerPool(uint32 domain, bytes32 pool) external {
        if (msg.sender != owner) revert OnlyOwner(msg.sender);
        pools[domain] = pool;
        emit PoolRegistered(domain, pool);
    }

    /// @notice An epoch from a pool, delivered by the ledger with its deposits minted here.
    function onTokens(uint32 srcDomain, bytes32 from, uint256 amount, uint256 why, uint256[] calldata data)
        external
    {
        if (msg.sender != address(ledger)) revert OnlyLedger(msg.sender);
        if (from == bytes32(0) || pools[srcDomain] != from) {
            revert(
                string.concat(
                    "UnknownPool: ",
                    Strings.toHexString(uint256(from), 32),
                    " is not the pool of domain ",
                    Strings.toString(srcDomain)
                )
            );
        }
        if (why != 0 || data.length != 3) {
            revert(
                string.concat(
                    "BadEpoch: why ", Strings.toString(why), " with ", Strings.toString(data.length), " words"
                )
            );
        }
        uint256 epoch = data[0];
        uint256 w = data[1];
        if (settled[srcDomain][epoch]) revert(string.concat("EpochSettled: epoch ", Strings.toString(epoch)));
        if (w > shares[srcDomain]) {
            revert(
                string.concat(
                    "TooManyShares: the epoch withdraws ",
                    Strings.toString(w),
                    " shares, the pool holds ",
                    Strings.toString(shares[srcDomain])
                )
            );
        }
        settled[srcDomain][epoch] = true;
        uint256 assetsOut = w == 0 ? 0 : vault.previewRedeem(w);
        uint256 depositShares;
        if (amount == 0) {
            // Withdrawals only: redeem exactly W, so that no share is left to depositors who do
            // not exist (a withdraw of A_W would round the shares it burns).
            assetsOut = _redeem(w);
            shares[srcDomain] -= w;
        } else if (amount >= assetsOut) {
            uint256 minted = amount == assetsOut ? 0 : _deposit(amount - assetsOut);
            depositShares = w + minted;
            shares[srcDomain] += minted;
        } else {
            uint256 burned = _withdraw(assetsOut - amount);
            depositShares = w - burned;
            shares[srcDomain] -= burned;
        }
        uint256[] memory answer = new uint256[](7);
        answer[0] = epoch;
        answer[1] = depositShares;
        answer[2] = assetsOut;
        answer[3] = amount;
        answer[4] = w;
        answer[5] = vault.totalAssets();
        answer[6] = vault.totalSupply();
        emit EpochSettled(srcDomain, epoch, amount, w, depositShares, assetsOut, answer[5], answer[6]);
        ledger.transferCall(srcDomain, from, assetsOut, answer);
    }

    function _deposit(uint256 assets) internal returns (uint256 minted) {
        token.approve(address(vault), assets);
        try vault.deposit(assets, address(this)) returns (uint256 got) {
            minted = got;
        } catch (bytes memory raw) {
            revert(_refused("deposit", assets, raw));
        }
        uint256 worth = minted == 0 ? 0 : vault.previewRedeem(minted);
        if (worth * 10_000 < assets * (10_000 - MAX_LOSS_BPS)) {
            revert(
                string.concat(
                    "VaultRefused: deposit of ",
                    Strings.toString(assets),
                    " bought ",
                    Strings.toString(minted),
                    " shares worth ",
                    Strings.toString(worth)
                )
            );
        }
    }

    function _redeem(uint256 w) internal returns (uint256) {
        try vault.redeem(w, address(this), address(this)) returns (uint256 assets) {
            return assets;
        } catch (bytes memory raw) {
            revert(_refused("redeem", w, raw));
        }
    }

    function _withdraw(uint256 assets) internal returns (uint256) {
        try vault.withdraw(assets, address(this), address(this)) returns (uint256 burned) {
            return burned;
        } catch (bytes memory raw) {
            revert(_refused("withdraw", assets, raw));
        }
    }

    function _refused(string memory what, uint256 assets, bytes memory raw) internal pure returns (string memory) {
        return string.concat(
            "VaultRefused: ",
            what,
            " of ",
            Strings.toString(assets),
            raw.length >= 4 ? string.concat(": error ", Strings.toHexString(uint32(bytes4(raw)), 4)) : ""
        );
    }
}
