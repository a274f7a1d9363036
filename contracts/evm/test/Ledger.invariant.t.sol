// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.30;

import {Hub} from "../src/Hub.sol";
import {Envelope} from "../src/Envelope.sol";
import {IStarknetMessaging} from "../src/IStarknetMessaging.sol";
import {TokenLedger} from "../src/TokenLedger.sol";
import {XToken} from "../src/XToken.sol";
import {Cheats} from "./Cheats.sol";
import {MockStarknetMessaging} from "./StarknetMessaging.sol";

uint32 constant L1 = 1;
uint256 constant INITIAL = 1_000_000 ether;
// Transfers are 1 to 10 steps; limits 0 (none), 5, 10 or 15 steps: a transfer fits, waits for
// room, or is above a route's whole capacity.
uint256 constant STEP = 100 ether;
// Every rollup transfer's sender on its chain (the one whose CANCEL the ledger accepts).
bytes32 constant ROLLUP_SENDER = bytes32(uint256(0x77));

/// What the fuzzer calls: the real Hub and TokenLedger on L1, two Starknet-family rollups behind
/// the messaging double (the test posts what their token routers send). Transfers from L1 and
/// from the rollups (amounts up to more than a chain holds), cancels from both sides, completes,
/// pauses, limit changes and time passing, in random order.
contract LedgerHandler is Cheats {
    Hub public hub;
    MockStarknetMessaging public messaging;
    XToken public token;
    TokenLedger public ledger;
    uint32[3] public domains = [L1, 2, 3];
    mapping(uint32 => uint64) internal nextNonce;
    /// Queue ids the handler saw created.
    uint256[] public ids;
    /// Accepted rollup transfers that moved more than the ledger counted on their source chain.
    uint256 public overdrafts;
    /// Queued transfers completed (or sent back) while their destination was paused.
    uint256 public pausedCompletions;

    constructor() {
        messaging = new MockStarknetMessaging();
        hub = new Hub(L1, 0x42);
        token = new XToken("xroute Token", "XRT");
        ledger = new TokenLedger(address(hub), address(token));
        token.setRouter(address(ledger));
        ledger.initialize(address(this), INITIAL);
        for (uint256 i = 1; i < 3; i++) {
            hub.registerStarknetDomain(domains[i], IStarknetMessaging(address(messaging)), _endpoint(domains[i]));
            ledger.registerChain(domains[i], TokenLedger.Kind.Starknet, _router(domains[i]));
        }
    }

    function _endpoint(uint32 d) internal pure returns (uint256) {
        return 0xE000 + d;
    }

    function _router(uint32 d) internal pure returns (bytes32) {
        return bytes32(uint256(0xA000 + d));
    }

    function _amount(uint256 seed) internal pure returns (uint256) {
        return (1 + seed % 10) * STEP;
    }

    function _rollup(uint256 seed) internal view returns (uint32) {
        return domains[1 + seed % 2];
    }

    function idCount() external view returns (uint256) {
        return ids.length;
    }

    /// The rollup `src`'s token router sends `payload` to the ledger, and it is relayed.
    function _fromRollup(uint32 src, uint256[] memory payload) internal returns (bool ok) {
        uint256[] memory words = Envelope.encode(
            Envelope.Header({
                srcDomain: src,
                nonce: nextNonce[src]++,
                sender: _router(src),
                dstDomain: L1,
                recipient: bytes32(uint256(uint160(address(ledger))))
            }),
            payload
        );
        messaging.post(_endpoint(src), address(hub), words);
        try hub.relayFromStarknet(src, _endpoint(src), words, "") {
            ok = true;
        } catch {}
    }

    function _noteQueued(uint256 before) internal {
        uint256 last = ledger.lastQueueId();
        if (last != before) ids.push(last);
    }

    function l1Transfer(uint256 d, uint96 amount) external {
        uint256 before = ledger.lastQueueId();
        try ledger.transfer(_rollup(d), bytes32(uint256(0x5555)), _amount(amount)) {} catch {}
        _noteQueued(before);
    }

    function rollupTransfer(uint256 s, uint256 d, uint96 amount) external {
        uint32 src = _rollup(s);
        uint32 dst = domains[d % 3];
        uint256[] memory payload = new uint256[](5);
        payload[0] = 1;
        payload[1] = dst;
        payload[2] = dst == L1 ? uint256(uint160(address(this))) : 0x5555;
        // Up to twice the largest L1 transfer: sometimes more than the rollup holds.
        payload[3] = 2 * _amount(amount) - amount % 2;
        payload[4] = uint256(ROLLUP_SENDER);
        uint256 held = ledger.supply(src);
        uint256 before = ledger.lastQueueId();
        if (_fromRollup(src, payload) && payload[3] > held) overdrafts += 1;
        _noteQueued(before);
    }

    function rollupCancel(uint256 i) external {
        if (ids.length == 0) return;
        uint256 id = ids[i % ids.length];
        (uint32 src,,,,,,,) = ledger.queued(id);
        if (src == L1) return;
        uint256[] memory payload = new uint256[](3);
        payload[0] = 2;
        payload[1] = id;
        payload[2] = uint256(ROLLUP_SENDER);
        _fromRollup(src, payload);
    }

    function l1Cancel(uint256 i) external {
        if (ids.length == 0) return;
        try ledger.cancel(ids[i % ids.length]) {} catch {}
    }

    function complete(uint256 i) external {
        if (ids.length == 0) return;
        uint256 id = ids[i % ids.length];
        (, uint32 dst,,,,,,) = ledger.queued(id);
        (,, bool paused) = ledger.chains(dst);
        try ledger.complete(id) {
            if (paused) pausedCompletions += 1;
        } catch {}
    }

    function pause(uint256 d, bool paused) external {
        ledger.setPaused(_rollup(d), paused);
    }

    function limits(uint256 d, uint96 out, uint96 into) external {
        uint32 domain = domains[d % 3];
        ledger.setLimits(domain, uint128((out % 4) * STEP * 5), uint128((into % 4) * STEP * 5));
    }

    function wait(uint32 seconds_) external {
        vm.warp(block.timestamp + seconds_ % 2 days);
    }
}

/// The ledger's books under random sequences of transfers, queues, completes, cancels, pauses and
/// limit changes.
contract LedgerInvariants {
    LedgerHandler internal handler;

    constructor() {
        handler = new LedgerHandler();
    }

    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    /// Σ supply + queued == the initial supply, and the L1 token's supply is the ledger's L1 count.
    function invariant_theSupplyAddsUp() external view {
        TokenLedger ledger = handler.ledger();
        uint256 sum = ledger.queuedTotal();
        for (uint256 i = 0; i < 3; i++) {
            sum += ledger.supply(handler.domains(i));
        }
        require(sum == INITIAL, "sum(supply) + queued != the initial supply");
        require(handler.token().totalSupply() == ledger.supply(L1), "the L1 token's supply is not the ledger's");
    }

    /// No chain sends more than the ledger counts on it.
    function invariant_noChainSendsMoreThanItHolds() external view {
        require(handler.overdrafts() == 0, "a rollup moved more than it holds");
    }

    /// Nothing queued moves while its destination is paused.
    function invariant_nothingCompletesIntoAPausedChain() external view {
        require(handler.pausedCompletions() == 0, "a queued transfer completed into a paused chain");
    }

    /// queuedTotal is the sum of the open queued transfers.
    function invariant_theQueueAddsUp() external view {
        TokenLedger ledger = handler.ledger();
        uint256 open;
        uint256 n = handler.idCount();
        for (uint256 i = 0; i < n; i++) {
            (,, bool isOpen,, uint128 amount,,,) = ledger.queued(handler.ids(i));
            if (isOpen) open += amount;
        }
        require(open == ledger.queuedTotal(), "queuedTotal is not the sum of the open transfers");
    }
}

/// The ledger returning an L1 sender's fee to an account that refuses ETH (this contract has no
/// `receive`): the fee is kept for it, and it withdraws it to an address that takes it.
contract LedgerFees {
    /// The Hub with a Starknet domain 2 behind the messaging double, the token and its ledger
    /// (the initial supply to this contract), domain 2's router registered.
    function _deploy() internal returns (MockStarknetMessaging messaging, Hub hub, XToken token, TokenLedger ledger) {
        messaging = new MockStarknetMessaging();
        hub = new Hub(L1, 0x42);
        hub.registerStarknetDomain(2, IStarknetMessaging(address(messaging)), 0xE002);
        token = new XToken("xroute Token", "XRT");
        ledger = new TokenLedger(address(hub), address(token));
        token.setRouter(address(ledger));
        ledger.initialize(address(this), INITIAL);
        ledger.registerChain(2, TokenLedger.Kind.Starknet, bytes32(uint256(0xA002)));
    }

    function test_aFeeThatCannotBeReturnedIsOwedThenWithdrawn() external {
        (,,, TokenLedger ledger) = _deploy();
        ledger.setLimits(2, 0, uint128(10 * STEP));
        ledger.transfer(2, bytes32(uint256(0x5555)), 10 * STEP);
        uint256 fee = 1 gwei;
        uint256 id = ledger.transfer{value: fee}(2, bytes32(uint256(0x5555)), STEP);
        require(id != 0, "the second transfer was not queued");
        require(address(ledger).balance == fee, "the ledger does not hold the fee");
        ledger.cancel(id);
        require(ledger.owed(address(this)) == fee, "the fee is not owed to the sender");
        address payee = address(0xBEEF);
        ledger.withdrawOwed(payee);
        require(payee.balance == fee, "the payee did not get the fee");
        require(ledger.owed(address(this)) == 0 && address(ledger).balance == 0, "the fee stayed");
        (bool again,) = address(ledger).call(abi.encodeCall(TokenLedger.withdrawOwed, (payee)));
        require(!again, "a second withdrawal paid");
    }

    /// A transfer-and-call from a rollup to an L1 address without code: there is nothing to call,
    /// so the transfer goes back to its sender (nothing minted on L1).
    function test_aCallToAnAddressWithoutCodeIsSentBack() external {
        (MockStarknetMessaging messaging, Hub hub, XToken token, TokenLedger ledger) = _deploy();
        bytes32 router = bytes32(uint256(0xA002));
        ledger.transfer(2, bytes32(uint256(0x5555)), STEP);
        address nobody = address(0xBEEF);
        uint256[] memory payload = new uint256[](6);
        (payload[0], payload[1], payload[2], payload[3], payload[4], payload[5]) =
            (3, L1, uint256(uint160(nobody)), STEP, 0x77, 9);
        uint256[] memory words = Envelope.encode(
            Envelope.Header({
                srcDomain: 2,
                nonce: 0,
                sender: router,
                dstDomain: L1,
                recipient: bytes32(uint256(uint160(address(ledger))))
            }),
            payload
        );
        messaging.post(0xE002, address(hub), words);
        hub.relayFromStarknet(2, 0xE002, words, "");
        require(token.balanceOf(nobody) == 0, "minted to an address without code");
        require(ledger.supply(2) == STEP, "not counted back on the source");
        require(ledger.supply(L1) == token.totalSupply(), "L1's count is not the L1 supply");
    }
}
