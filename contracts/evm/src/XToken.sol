// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.30;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title XToken
/// @notice The canonical xroute token on an EVM chain (L1, or an EVM rollup): OpenZeppelin's
/// ERC-20 with 18 decimals, minted and burned only by this chain's token router (on L1 the
/// `TokenLedger`, on a rollup the `TokenRouter`). The router is set once, by the deployer, after
/// both are deployed.
contract XToken is ERC20 {
    address public router;
    address private immutable deployer;

    error OnlyRouter(address caller);
    error RouterAlreadySet(address router);
    error OnlyDeployer(address caller);

    constructor(string memory name_, string memory symbol_) ERC20(name_, symbol_) {
        deployer = msg.sender;
    }

    /// @notice Sets the token router, once.
    function setRouter(address router_) external {
        if (msg.sender != deployer) revert OnlyDeployer(msg.sender);
        if (router != address(0)) revert RouterAlreadySet(router);
        router = router_;
    }

    function mint(address to, uint256 amount) external {
        if (msg.sender != router) revert OnlyRouter(msg.sender);
        _mint(to, amount);
    }

    /// @notice Burns `amount` of `from`'s tokens: the router does it for `from`'s own transfer, so
    /// no allowance is asked (the router burns only what its caller asked to move).
    function burn(address from, uint256 amount) external {
        if (msg.sender != router) revert OnlyRouter(msg.sender);
        _burn(from, amount);
    }
}
