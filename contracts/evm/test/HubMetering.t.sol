// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.30;

import {Hub} from "../src/Hub.sol";
import {Envelope} from "../src/Envelope.sol";
import {IStarknetMessaging} from "../src/IStarknetMessaging.sol";
import {Cheats, Vm} from "./Cheats.sol";
import {MockStarknetMessaging} from "./StarknetMessaging.sol";

/// An L1 app that, delivered a message, relays another one in a metered batch of its own.
contract ReentrantRelayer {
    Hub internal immutable hub;
    Hub.Member[] internal inner;

    constructor(Hub hub_) {
        hub = hub_;
    }

    function arm(bytes calldata call) external {
        inner.push(Hub.Member({call: call, fee: 0}));
    }

    function onMessage(uint32, bytes32, uint256[] calldata) external {
        if (inner.length == 0) return;
        Hub.Member[] memory members = inner;
        delete inner;
        hub.relayBatchMetered(members);
    }
}

/// An L1 app that takes anything.
contract Sink {
    function onMessage(uint32, bytes32, uint256[] calldata) external {}
}

/// What the metering tests share: a Hub with Starknet domain `SN` behind the messaging double,
/// and messages from it made consumable.
abstract contract MeteringBase is Cheats {
    uint32 internal constant L1 = 1;
    uint32 internal constant SN = 2;
    uint256 internal constant ENDPOINT = 0xE002;
    MockStarknetMessaging internal messaging;
    Hub internal hub;

    function _deploy() internal {
        messaging = new MockStarknetMessaging();
        hub = new Hub(L1, 0x42);
        hub.registerStarknetDomain(SN, IStarknetMessaging(address(messaging)), ENDPOINT);
    }

    /// Message `n` from `SN` to `to`, posted by the rollup: its relay call and its id.
    function _post(uint64 n, address to) internal returns (bytes memory call, bytes32 id) {
        uint256[] memory payload = new uint256[](1);
        payload[0] = n;
        uint256[] memory words = Envelope.encode(
            Envelope.Header({
                srcDomain: SN,
                nonce: n,
                sender: bytes32(uint256(7)),
                dstDomain: L1,
                recipient: bytes32(uint256(uint160(to)))
            }),
            payload
        );
        messaging.post(ENDPOINT, address(hub), words);
        return (abi.encodeCall(Hub.relayFromStarknet, (SN, ENDPOINT, words, "")), keccak256(abi.encodePacked(words)));
    }
}

/// A metered batch started from inside a member of another: each relay is metered once, under
/// its own message id, and the outer batch stays metered after the inner one.
contract HubMeteringTest is MeteringBase {
    function test_aNestedMeteredBatchMetersEachRelayOnceUnderItsOwnId() external {
        _deploy();
        ReentrantRelayer reentrant = new ReentrantRelayer(hub);
        Sink sink = new Sink();
        address[3] memory to = [address(reentrant), address(sink), address(sink)];
        bytes[3] memory calls;
        bytes32[3] memory ids;
        for (uint64 n = 0; n < 3; n++) {
            (calls[n], ids[n]) = _post(n, to[n]);
        }
        // Message 0's app relays message 1 itself; the outer batch relays 0 and 2.
        reentrant.arm(calls[1]);
        Hub.Member[] memory outer = new Hub.Member[](2);
        outer[0] = Hub.Member({call: calls[0], fee: 0});
        outer[1] = Hub.Member({call: calls[2], fee: 0});
        vm.recordLogs();
        hub.relayBatchMetered(outer);
        Vm.Log[] memory logs = vm.getRecordedLogs();
        bytes32 metered = keccak256("RelaysMetered(address,uint256,bytes32[])");
        bytes32[] memory seen = new bytes32[](3);
        uint256 count;
        for (uint256 i = 0; i < logs.length; i++) {
            if (logs[i].topics[0] != metered) continue;
            (, bytes32[] memory receipts) = abi.decode(logs[i].data, (uint256, bytes32[]));
            for (uint256 j = 0; j < receipts.length; j += 2) {
                require(count < 3, "more receipts than relays");
                for (uint256 k = 0; k < count; k++) {
                    require(seen[k] != receipts[j], "a message was metered twice");
                }
                seen[count++] = receipts[j];
            }
        }
        require(count == 3, "a relay went unmetered");
        for (uint256 n = 0; n < 3; n++) {
            bool found;
            for (uint256 k = 0; k < 3; k++) {
                if (seen[k] == ids[n]) found = true;
            }
            require(found, "a receipt names another message");
        }
        require(uint64(hub.meters(SN)) == 3, "the commitment does not count three receipts");
    }
}

/// A metered relay's receipts, sent to the source rollup's tank: accepted only as the exact
/// chain `meters[src]` committed to since the last settlement, once.
contract HubSettlementTest is MeteringBase {
    bytes32 internal constant TANK = bytes32(uint256(0x7A4C));

    function test_receiptsGoToTheTankOnlyAsCommitted() external {
        _deploy();
        Sink sink = new Sink();
        Hub.Member[] memory members = new Hub.Member[](3);
        for (uint64 n = 0; n < 3; n++) {
            (bytes memory call,) = _post(n, address(sink));
            members[n] = Hub.Member({call: call, fee: 0});
        }
        vm.txGasPrice(3 gwei);
        vm.recordLogs();
        hub.relayBatchMetered(members);
        Vm.Log[] memory logs = vm.getRecordedLogs();
        Hub.MeteredReceipt[] memory receipts = new Hub.MeteredReceipt[](3);
        for (uint256 i = 0; i < logs.length; i++) {
            if (logs[i].topics[0] != keccak256("RelaysMetered(address,uint256,bytes32[])")) continue;
            (uint256 price, bytes32[] memory packed) = abi.decode(logs[i].data, (uint256, bytes32[]));
            address relayer = address(uint160(uint256(logs[i].topics[1])));
            for (uint256 j = 0; j < 3; j++) {
                uint256 w = uint256(packed[2 * j + 1]);
                receipts[j] = Hub.MeteredReceipt({
                    id: packed[2 * j],
                    relayer: relayer,
                    gas: uint64(w >> 128),
                    gasPrice: price,
                    fee: uint128(w)
                });
            }
        }
        (bool ok, bytes memory err) = address(hub).call(abi.encodeCall(Hub.sendReceipts, (SN, receipts)));
        require(!ok && bytes4(err) == Hub.NoTank.selector, "receipts went to no tank");
        hub.registerTank(SN, TANK);

        // A receipt with another gas: refused.
        Hub.MeteredReceipt[] memory forged = new Hub.MeteredReceipt[](3);
        for (uint256 j = 0; j < 3; j++) {
            Hub.MeteredReceipt memory r = receipts[j];
            forged[j] = Hub.MeteredReceipt(r.id, r.relayer, j == 1 ? r.gas + 1 : r.gas, r.gasPrice, r.fee);
        }
        (ok, err) = address(hub).call(abi.encodeCall(Hub.sendReceipts, (SN, forged)));
        require(!ok && bytes4(err) == Hub.SettlementMismatch.selector, "a forged receipt was sent");
        require(hub.settledMeters(SN) == 0, "a refused settlement moved the mark");

        bytes32 id = hub.sendReceipts{value: 1000}(SN, receipts);
        require(hub.settledMeters(SN) == hub.meters(SN), "the mark is not the commitment");
        require(hub.outbound(id) == 1001, "the settlement does not wait for its forward with its fee");
        // The same receipts again: refused (they are settled).
        (ok, err) = address(hub).call(abi.encodeCall(Hub.sendReceipts, (SN, receipts)));
        require(!ok && bytes4(err) == Hub.SettlementMismatch.selector, "receipts were settled twice");
    }
}
