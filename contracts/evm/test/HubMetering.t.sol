// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.30;

import {Hub} from "../src/Hub.sol";
import {ArbitrumTank} from "../src/ArbitrumTank.sol";
import {GasTank} from "../src/GasTank.sol";
import {MeteredReceipt} from "../src/Metering.sol";
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
        bytes32 metered = keccak256("RelaysMetered(address,uint256,uint256,bytes32[])");
        bytes32[] memory seen = new bytes32[](3);
        uint256 count;
        for (uint256 i = 0; i < logs.length; i++) {
            if (logs[i].topics[0] != metered) continue;
            (,, bytes32[] memory receipts) = abi.decode(logs[i].data, (uint256, uint256, bytes32[]));
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

/// Settlement by proof: a metered batch's receipts, committed by the Hub and sent to the source
/// rollup's tank (`ArbitrumTank`, with this test as its endpoint), settle each paid message
/// within its terms to the wei, once, and nothing else.
contract HubSettlementTest is MeteringBase {
    address internal constant RELAYER = address(0xBEEF);
    address internal constant SETTLER = address(0x5E77);
    address internal constant PAYER = address(0xFA7E);
    ArbitrumTank internal tank;
    MeteredReceipt[] internal receipts;
    uint256[] internal commitment;

    receive() external payable {}

    /// Three messages from SN relayed in one metered batch at 3 gwei; the first paid with a
    /// cap above that price, the second with a cap below it, the third unpaid.
    function _relayThree() internal returns (bytes32[3] memory ids, GasTank.Terms[2] memory terms) {
        _deploy();
        uint32[] memory routes = new uint32[](1);
        routes[0] = L1;
        tank = new ArbitrumTank(SN, L1, address(this), address(hub), routes);
        Sink sink = new Sink();
        Hub.Member[] memory members = new Hub.Member[](3);
        for (uint64 n = 0; n < 3; n++) {
            bytes memory call;
            (call, ids[n]) = _post(n, address(sink));
            members[n] = Hub.Member({call: call, fee: 0});
        }
        vm.warp(1000);
        terms[0] = GasTank.Terms({gasLimit: 200_000, deadline: 2000, maxBaseFee: 4 gwei, maxPriorityFee: 0, legBudget: 0});
        terms[1] = GasTank.Terms({gasLimit: 200_000, deadline: 2000, maxBaseFee: 1 gwei, maxPriorityFee: 1, legBudget: 5});
        vm.deal(PAYER, 1 ether);
        vm.prank(PAYER);
        tank.deposit{value: 1 ether}(PAYER);
        for (uint256 k = 0; k < 2; k++) {
            vm.prank(PAYER);
            tank.pay(ids[k], SN, L1, terms[k]);
        }
        vm.txGasPrice(3 gwei);
        vm.recordLogs();
        vm.prank(RELAYER);
        hub.relayBatchMetered(members);
        Vm.Log[] memory logs = vm.getRecordedLogs();
        for (uint256 i = 0; i < logs.length; i++) {
            if (logs[i].topics[0] != keccak256("RelaysMetered(address,uint256,uint256,bytes32[])")) continue;
            (uint256 price, uint256 time, bytes32[] memory packed) =
                abi.decode(logs[i].data, (uint256, uint256, bytes32[]));
            address relayer = address(uint160(uint256(logs[i].topics[1])));
            for (uint256 j = 0; j < packed.length; j += 2) {
                uint256 w = uint256(packed[j + 1]);
                receipts.push(
                    MeteredReceipt({
                        id: packed[j],
                        relayer: relayer,
                        gas: uint64(w >> 128),
                        gasPrice: price,
                        fee: uint128(w),
                        time: uint32(time)
                    })
                );
            }
        }
        require(receipts.length == 3, "three relays, three receipts");
    }

    /// Sends the commitment as SETTLER, claiming what an `eth_call` says it measures (less the
    /// calldata bytes a smaller claim saves), and returns its payload as the tank receives it.
    function _commit() internal {
        vm.deal(SETTLER, 1 ether);
        vm.prank(SETTLER);
        (bool ok, bytes memory err) =
            address(hub).call{value: 1000}(abi.encodeCall(Hub.settle, (SN, type(uint64).max, "")));
        require(!ok && bytes4(err) == Hub.SettleGasAboveCost.selector, "a claim above the cost was taken");
        (, uint256 measured) = abi.decode(_args(err), (uint256, uint256));
        vm.recordLogs();
        vm.prank(SETTLER);
        hub.settle{value: 1000}(SN, uint64(measured - 100), "");
        Vm.Log[] memory logs = vm.getRecordedLogs();
        for (uint256 i = 0; i < logs.length; i++) {
            if (logs[i].topics[0] != keccak256("MessageSent(bytes32,uint32,address,uint64,bytes32,uint256[])")) continue;
            (,, uint256[] memory words) = abi.decode(logs[i].data, (uint64, bytes32, uint256[]));
            for (uint256 k = Envelope.HEADER_WORDS; k < words.length; k++) {
                commitment.push(words[k]);
            }
        }
        require(commitment.length == 8, "the commitment is eight words");
    }

    function _args(bytes memory err) internal pure returns (bytes memory out) {
        out = new bytes(err.length - 4);
        for (uint256 i = 0; i < out.length; i++) {
            out[i] = err[i + 4];
        }
    }

    function test_aCommitmentGoesToTheTankOnlyWithNewReceipts() external {
        _relayThree();
        (bool ok, bytes memory err) = address(hub).call(abi.encodeCall(Hub.settle, (SN, 0, "")));
        require(!ok && bytes4(err) == Hub.NoTank.selector, "a commitment went to no tank");
        hub.registerTank(SN, bytes32(uint256(uint160(address(tank)))));
        _commit();
        require(hub.settledMeters(SN) == hub.meters(SN), "the mark is not the commitment");
        require(commitment[1] == 0 && commitment[2] == 3, "the commitment does not cover receipts 0 to 3");
        require(commitment[3] == hub.meters(SN) >> 64, "the commitment's head is not the meter's");
        require(address(uint160(commitment[4])) == SETTLER && commitment[7] == 1000, "the settler and its fee");
        (ok, err) = address(hub).call(abi.encodeCall(Hub.settle, (SN, 0, "")));
        require(!ok && bytes4(err) == Hub.NothingToSettle.selector, "an empty commitment was sent");
    }

    /// What receipt `r` paid on `t` costs its payer: the relay's charge, and the part of the
    /// settlement's `share` left in the reservation after it.
    function _expected(MeteredReceipt memory r, GasTank.Terms memory t, uint256 share)
        internal
        view
        returns (uint256 charge, uint256 taken)
    {
        uint256 cap = uint256(t.maxBaseFee) + t.maxPriorityFee;
        uint256 price = r.gasPrice < cap ? r.gasPrice : cap;
        uint256 gas = r.gas < t.gasLimit ? r.gas : t.gasLimit;
        uint256 fee = r.fee < t.legBudget ? r.fee : t.legBudget;
        charge = gas * price + fee;
        uint256 rest = tank.worstCase(t) - charge;
        taken = share < rest ? share : rest;
    }

    /// Paying in another's name (`payFor`) is the tank's endpoint's alone.
    function test_onlyTheEndpointPaysInAnothersName() external {
        _relayThree();
        vm.prank(SETTLER);
        (bool ok, bytes memory err) = address(tank).call(
            abi.encodeCall(tank.payFor, (bytes32(uint256(1)), PAYER, L1, GasTank.Terms(1, 2000, 1, 0, 0)))
        );
        require(!ok && bytes4(err) == ArbitrumTank.NotEndpoint.selector, "payFor not from the endpoint");
        (address payer,,,,,,) = tank.payments(bytes32(uint256(1)));
        require(payer == address(0), "a refused payFor reserved something");
    }

    function test_theTankSettlesEachPaidReceiptWithinItsTermsToTheWei() external {
        (bytes32[3] memory ids, GasTank.Terms[2] memory terms) = _relayThree();
        hub.registerTank(SN, bytes32(uint256(uint160(address(tank)))));
        _commit();

        // Only the endpoint, and only the Hub's messages.
        (bool ok, bytes memory err) = address(tank).call(abi.encodeCall(tank.settle, (receipts)));
        require(!ok && bytes4(err) == ArbitrumTank.NoCommitment.selector, "settled before the commitment came");
        vm.prank(SETTLER);
        (ok, err) = address(tank).call(abi.encodeCall(tank.onMessage, (L1, bytes32(uint256(uint160(address(hub)))), commitment)));
        require(!ok && bytes4(err) == ArbitrumTank.NotEndpoint.selector, "a commitment not from the endpoint");
        (ok, err) = address(tank).call(abi.encodeCall(tank.onMessage, (L1, bytes32(uint256(0xBAD)), commitment)));
        require(!ok && bytes4(err) == ArbitrumTank.NotFromHub.selector, "a commitment not from the Hub");
        tank.onMessage(L1, bytes32(uint256(uint160(address(hub)))), commitment);

        // Forged receipts: another gas, one missing, one replayed.
        MeteredReceipt[] memory forged = receipts;
        forged[1].gas += 1;
        (ok, err) = address(tank).call(abi.encodeCall(tank.settle, (forged)));
        require(!ok && bytes4(err) == ArbitrumTank.SettlementMismatch.selector, "a forged receipt was settled");
        forged = receipts;
        forged[2] = forged[0];
        (ok, err) = address(tank).call(abi.encodeCall(tank.settle, (forged)));
        require(!ok && bytes4(err) == ArbitrumTank.SettlementMismatch.selector, "a replayed receipt was settled");
        MeteredReceipt[] memory short_ = new MeteredReceipt[](2);
        (short_[0], short_[1]) = (receipts[0], receipts[1]);
        (ok, err) = address(tank).call(abi.encodeCall(tank.settle, (short_)));
        require(!ok && bytes4(err) == ArbitrumTank.WrongReceiptCount.selector, "a part of a commitment was settled");
        require(tank.balances(RELAYER) == 0 && tank.settledMeter() == 0, "a refused settlement moved something");

        tank.settle(receipts);
        // Recomputed here: each paid receipt's charge and its share of the settlement's cost.
        uint256 share = (commitment[5] * commitment[6] + commitment[7]) / 3;
        uint256 charges;
        uint256 shares;
        for (uint256 k = 0; k < 2; k++) {
            require(receipts[k].id == ids[k], "the receipts are in relay order");
            (uint256 charge, uint256 taken) = _expected(receipts[k], terms[k], share);
            charges += charge;
            shares += taken;
            (,,,,,, uint128 reserved) = tank.payments(ids[k]);
            require(reserved == 0, "a settled payment is still reserved");
        }
        require(receipts[1].gasPrice > uint256(terms[1].maxBaseFee) + terms[1].maxPriorityFee, "the cap bit");
        require(tank.balances(RELAYER) == charges, "the relayer is not credited the charges");
        require(tank.balances(SETTLER) == shares, "the settler is not credited its shares");
        require(tank.balances(PAYER) + charges + shares == 1 ether, "the payer's deposit is not balance + costs");
        require(tank.settledMeter() == hub.meters(SN), "the tank's mark is not the Hub's");
        (ok, err) = address(tank).call(abi.encodeCall(tank.settle, (receipts)));
        require(!ok && bytes4(err) == ArbitrumTank.NoCommitment.selector, "receipts were settled twice");

        uint256 before = RELAYER.balance;
        vm.prank(RELAYER);
        tank.withdraw(charges, RELAYER);
        require(RELAYER.balance == before + charges && tank.balances(RELAYER) == 0, "the relayer withdrew");
    }
}
