// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC4626} from "@openzeppelin/contracts/token/ERC20/extensions/ERC4626.sol";
import {PoolManager} from "../src/PoolManager.sol";
import {PoolVault} from "../src/PoolVault.sol";
import {XToken} from "../src/XToken.sol";

/// OpenZeppelin's ERC-4626 as a third-party vault may ship it: no decimals offset.
contract PlainVault is ERC4626 {
    constructor(IERC20 asset_) ERC20("plain", "PLN") ERC4626(asset_) {}
}

/// The PoolManager against real OpenZeppelin vaults, this contract playing the TokenLedger (it is
/// the token's router: it mints an epoch's deposits to the manager, and burns the answer the
/// manager sends back with `transferCall`).
contract PoolManagerFuzz {
    uint32 internal constant SN = 2;
    bytes32 internal constant POOL = bytes32(uint256(0x9001));

    XToken internal token;
    uint256 internal answered;
    uint256[] internal answer;

    constructor() {
        token = new XToken("xroute Token", "XRT");
        token.setRouter(address(this));
    }

    /// The manager's answer, as the ledger takes it from L1.
    function transferCall(uint32, bytes32, uint256 amount, uint256[] calldata data) external payable returns (uint256) {
        token.burn(msg.sender, amount);
        answered = amount;
        answer = data;
        return 0;
    }

    function _manager(ERC4626 vault) internal returns (PoolManager m) {
        m = new PoolManager(address(this), address(vault));
        m.registerPool(SN, POOL);
    }

    function _epoch(PoolManager m, uint256 e, uint256 d, uint256 w) internal {
        token.mint(address(m), d);
        uint256[] memory data = new uint256[](3);
        data[0] = e;
        data[1] = w;
        m.onTokens(SN, POOL, d, 0, data);
    }

    function _isRefusal(bytes memory err) internal pure returns (bool) {
        // Error(string) "VaultRefused: …"
        if (err.length < 4 + 32 + 32 + 13 || bytes4(err) != 0x08c379a0) return false;
        bytes memory prefix = bytes("VaultRefused:");
        for (uint256 i = 0; i < prefix.length; i++) {
            if (err[4 + 64 + i] != prefix[i]) return false;
        }
        return true;
    }

    /// Someone deposits `seed` into the vault and donates `donation` before an epoch of `d`: the
    /// epoch is refused whole, or its shares are worth at least 99% of `d`. On a plain vault
    /// (the floor alone) and on the PoolVault (the floor and the decimals offset).
    function testFuzz_aDonationNeverTakesAnEpochsDeposit(uint96 seed, uint96 donation, uint96 d, bool plain) external {
        d = uint96(bound(d, 1e6, type(uint96).max));
        ERC4626 vault = plain ? ERC4626(new PlainVault(token)) : ERC4626(new PoolVault(token, "v", "V"));
        PoolManager m = _manager(vault);
        if (seed != 0) {
            token.mint(address(this), seed);
            token.approve(address(vault), seed);
            vault.deposit(seed, address(this));
        }
        token.mint(address(vault), donation);
        try this.epoch(m, 1, d, 0) {
            uint256 worth = vault.previewRedeem(answer[1]);
            require(worth * 100 >= uint256(d) * 99, "the epoch's shares are worth under 99% of it");
            require(m.shares(SN) == answer[1], "the manager's count is not the epoch's shares");
        } catch (bytes memory err) {
            require(_isRefusal(err), "refused without VaultRefused");
        }
    }

    function epoch(PoolManager m, uint256 e, uint256 d, uint256 w) external {
        _epoch(m, e, d, w);
    }

    /// An epoch of withdrawals only burns exactly its W shares and leaves no share to depositors
    /// (there are none), whatever the price.
    function testFuzz_aWithdrawalOnlyEpochLeavesNoShares(uint96 d, uint96 w, uint96 yield_) external {
        d = uint96(bound(d, 1e6, type(uint96).max));
        PoolVault vault = new PoolVault(token, "v", "V");
        PoolManager m = _manager(vault);
        _epoch(m, 1, d, 0);
        uint256 held = m.shares(SN);
        token.mint(address(vault), yield_);
        w = uint96(bound(w, 1, held));
        uint256 worth = vault.previewRedeem(w);
        _epoch(m, 2, 0, w);
        require(answer[1] == 0, "shares left to depositors who do not exist");
        require(answer[2] == worth && answered == worth, "the withdrawals got another amount than W's worth");
        require(m.shares(SN) == held - w, "the manager's count did not fall by W");
        require(vault.balanceOf(address(m)) == held - w, "the vault's count did not fall by W");
    }

    function bound(uint256 x, uint256 lo, uint256 hi) internal pure returns (uint256) {
        return lo + x % (hi - lo + 1);
    }
}
