// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.30;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {Pool} from "../src/Pool.sol";
import {Cheats} from "./Cheats.sol";

uint32 constant L1 = 1;
bytes32 constant MANAGER = bytes32(uint256(0x3333));
uint256 constant USERS = 4;

/// The rollup's token router as the pool sees it: an ERC-20 whose `transferRemoteCall` burns what
/// the pool sends to L1 (the L1 answer is minted back by the handler, as the router would on
/// delivery).
contract RouterToken is ERC20 {
    constructor() ERC20("xroute Token", "XRT") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function transferRemoteCall(uint32, bytes32, uint256 amount, uint256[] calldata) external returns (bytes32) {
        _burn(msg.sender, amount);
        return bytes32(0);
    }
}

/// What the fuzzer calls: users deposit and ask shares back, epochs close, and L1 answers each sent
/// epoch with a settlement (any S_D and A_W) or a refund; users claim.
contract PoolHandler is Cheats {
    Pool public pool;
    RouterToken public token;
    address[USERS] public users;
    /// Refunded epochs' deposits that users claimed back.
    mapping(uint64 => uint256) public refundClaimed;

    constructor() {
        token = new RouterToken();
        pool = new Pool(address(token), MANAGER, L1, 1 hours, 1000 ether);
        for (uint256 i = 0; i < USERS; i++) {
            users[i] = address(uint160(0x1000 + i));
            token.mint(users[i], 1_000_000 ether);
            vm.prank(users[i]);
            token.approve(address(pool), type(uint256).max);
        }
    }

    function _state(uint64 epoch) internal view returns (Pool.State state, uint256 deposits, uint256 withdrawals) {
        (state,,,, deposits, withdrawals,,,,,,) = pool.epochs(epoch);
    }

    function deposit(uint256 u, uint96 amount) external {
        vm.prank(users[u % USERS]);
        try pool.deposit(1 + amount % 500 ether) {} catch {}
    }

    function requestWithdrawal(uint256 u, uint96 shares) external {
        address user = users[u % USERS];
        uint256 held = pool.sharesOf(user);
        if (held == 0) return;
        vm.prank(user);
        try pool.requestWithdrawal(1 + shares % held) {} catch {}
    }

    function closeEpoch(uint32 wait) external {
        vm.warp(block.timestamp + wait % 2 hours);
        try pool.closeEpoch() {} catch {}
    }

    /// L1's answer to a sent epoch: S_D shares for its deposits, A_W tokens for its withdrawals.
    function settle(uint64 e, uint96 sd, uint96 aw) external {
        uint64 epoch = 1 + e % pool.currentEpoch();
        (Pool.State state, uint256 d, uint256 w) = _state(epoch);
        if (state != Pool.State.Sent) return;
        uint256[] memory answer = new uint256[](7);
        answer[0] = epoch;
        answer[1] = d == 0 ? 0 : sd;
        answer[2] = w == 0 ? 0 : aw;
        answer[3] = d;
        answer[4] = w;
        answer[5] = 1;
        answer[6] = 1;
        token.mint(address(pool), answer[2]);
        vm.prank(address(token));
        pool.onTokens(L1, MANAGER, answer[2], 0, answer);
    }

    /// L1 sent a sent epoch back whole (the vault refused).
    function refund(uint64 e) external {
        uint64 epoch = 1 + e % pool.currentEpoch();
        (Pool.State state, uint256 d, uint256 w) = _state(epoch);
        if (state != Pool.State.Sent) return;
        uint256[] memory data = new uint256[](3);
        data[0] = epoch;
        data[1] = w;
        token.mint(address(pool), d);
        vm.prank(address(token));
        pool.onTokens(L1, bytes32(uint256(uint160(address(pool)))), d, 1, data);
    }

    function claim(uint256 u, uint64 e) external {
        uint64 epoch = 1 + e % pool.currentEpoch();
        address user = users[u % USERS];
        (Pool.State state,,) = _state(epoch);
        vm.prank(user);
        try pool.claim(epoch) returns (uint256, uint256 amount) {
            if (state == Pool.State.Refunded) refundClaimed[epoch] += amount;
        } catch {}
    }
}

/// The pool's books under random deposits, withdrawal requests, closes, answers and claims.
contract PoolInvariants {
    PoolHandler internal handler;

    constructor() {
        handler = new PoolHandler();
    }

    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    /// No epoch's claims exceed what it received: shares ≤ S_D, tokens ≤ A_W.
    function invariant_claimsNeverExceedTheEpoch() external view {
        Pool pool = handler.pool();
        for (uint64 e = 1; e <= pool.currentEpoch(); e++) {
            (Pool.State state,,,,,, uint256 sd, uint256 aw,,, uint256 cs, uint256 ca) = pool.epochs(e);
            if (state == Pool.State.Settled) {
                require(cs <= sd, "claimed more shares than the epoch bought");
                require(ca <= aw, "claimed more tokens than the withdrawals got");
            }
        }
    }

    /// The pool holds at least what it owes: the open epoch's deposits, each settled epoch's
    /// unclaimed withdrawal tokens, each refunded epoch's unclaimed deposits.
    function invariant_thePoolHoldsWhatItOwes() external view {
        Pool pool = handler.pool();
        uint256 owed;
        for (uint64 e = 1; e <= pool.currentEpoch(); e++) {
            (Pool.State state,,,, uint256 d,,, uint256 aw,,,, uint256 ca) = pool.epochs(e);
            if (state == Pool.State.Open) owed += d;
            if (state == Pool.State.Settled) owed += aw - ca;
            if (state == Pool.State.Refunded) owed += d - handler.refundClaimed(e);
        }
        require(handler.token().balanceOf(address(pool)) >= owed, "the pool holds less than it owes");
    }

    /// The users' shares add up to the pool's count.
    function invariant_sharesAddUp() external view {
        Pool pool = handler.pool();
        uint256 sum;
        for (uint256 i = 0; i < USERS; i++) {
            sum += pool.sharesOf(handler.users(i));
        }
        require(sum == pool.totalShares(), "the users' shares do not add up to totalShares");
    }
}

/// An epoch that reaches 2^128 could never close (the ledger moves less): the entry that would
/// bring it there is refused, and the epoch below it still closes.
contract PoolBounds is Cheats {
    function test_anEntryThatWouldFillTheEpochIsRefused() external {
        RouterToken token = new RouterToken();
        Pool pool = new Pool(address(token), MANAGER, L1, 1 hours, 1);
        uint256 half = uint256(1) << 127;
        address[2] memory who = [address(0xA1), address(0xA2)];
        for (uint256 i = 0; i < 2; i++) {
            token.mint(who[i], half);
            vm.prank(who[i]);
            token.approve(address(pool), type(uint256).max);
        }
        vm.prank(who[0]);
        pool.deposit(half);
        vm.prank(who[1]);
        (bool ok, bytes memory err) = address(pool).call(abi.encodeCall(Pool.deposit, (half)));
        require(!ok && bytes4(err) == Pool.EpochFull.selector, "the deposit that fills the epoch was taken");
        require(token.balanceOf(who[1]) == half, "the refused deposit took tokens");
        pool.closeEpoch();
        require(token.balanceOf(address(pool)) == 0, "the epoch did not cross");
    }
}
