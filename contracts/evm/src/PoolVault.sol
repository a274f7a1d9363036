// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.30;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ERC4626} from "@openzeppelin/contracts/token/ERC20/extensions/ERC4626.sol";

/// @title PoolVault
/// @notice The L1 DeFi protocol the pools invest in, on the local network: OpenZeppelin's ERC-4626
/// vault over the canonical token, unchanged but for an owner's pause. Paused, its max* limits are
/// 0, so OpenZeppelin's own checks refuse every deposit, mint, withdraw and redeem
/// (`ERC4626ExceededMax…`). Yield is whatever is transferred into it: more assets for the same
/// shares. Its shares have `DECIMALS_OFFSET` more decimals than the asset (OpenZeppelin's
/// virtual shares): moving the price of an empty vault by donating to it costs a million times
/// what it would without, so a first deposit cannot be rounded down to nothing.
contract PoolVault is ERC4626 {
    uint8 public constant DECIMALS_OFFSET = 6;

    address public owner;
    bool public paused;

    event Paused(bool paused);
    event OwnershipTransferred(address indexed previousOwner, address indexed newOwner);

    error OnlyOwner(address caller);

    constructor(IERC20 asset_, string memory name_, string memory symbol_) ERC20(name_, symbol_) ERC4626(asset_) {
        owner = msg.sender;
        emit OwnershipTransferred(address(0), msg.sender);
    }

    /// @notice Hands the right to pause to `newOwner`.
    function transferOwnership(address newOwner) external {
        if (msg.sender != owner) revert OnlyOwner(msg.sender);
        emit OwnershipTransferred(owner, newOwner);
        owner = newOwner;
    }

    function setPaused(bool paused_) external {
        if (msg.sender != owner) revert OnlyOwner(msg.sender);
        paused = paused_;
        emit Paused(paused_);
    }

    function _decimalsOffset() internal pure override returns (uint8) {
        return DECIMALS_OFFSET;
    }

    function maxDeposit(address receiver) public view override returns (uint256) {
        return paused ? 0 : super.maxDeposit(receiver);
    }

    function maxMint(address receiver) public view override returns (uint256) {
        return paused ? 0 : super.maxMint(receiver);
    }

    function maxWithdraw(address holder) public view override returns (uint256) {
        return paused ? 0 : super.maxWithdraw(holder);
    }

    function maxRedeem(address holder) public view override returns (uint256) {
        return paused ? 0 : super.maxRedeem(holder);
    }
}
