// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.30;

import {Hub} from "../src/Hub.sol";
import {GasTank} from "../src/GasTank.sol";
import {Envelope} from "../src/Envelope.sol";
import {IStarknetMessaging} from "../src/IStarknetMessaging.sol";
import {Cheats} from "./Cheats.sol";
import {Strings} from "@openzeppelin/contracts/utils/Strings.sol";
import {MockStarknetMessaging} from "./StarknetMessaging.sol";

uint32 constant L1 = 1;
uint32 constant STARKNET = 2;
uint256 constant ENDPOINT = 0x1234;
// Nonces are drawn from this few, so that relays of the same message collide often.
uint64 constant NONCES = 32;

/// An L1 app that counts what it is delivered, by the nonce its sender put in payload[0].
contract CountingApp {
    mapping(uint256 => uint256) public delivered;

    function onMessage(uint32, bytes32, uint256[] calldata payload) external {
        delivered[payload[0]] += 1;
    }
}

/// What the fuzzer calls: Starknet → L1 relays (alone, again, in batches with random fees) and
/// L1 → Starknet sends with random escrows, forwarded with random top-ups. It keeps the books the
/// invariants compare with the hub's.
contract HubHandler is Cheats {
    Hub public hub;
    MockStarknetMessaging public messaging;
    CountingApp public app;
    /// Wei the hub holds for L1 sends not yet forwarded, by the handler's count.
    uint256 public escrowed;
    /// Wei forwarded to Starknet, by the handler's count.
    uint256 public forwarded;
    /// Wei the handler paid into relayBatch and did not get back, beyond what was forwarded.
    uint256 public batchLeak;
    bytes32[] internal pendingIds;
    mapping(bytes32 => uint256[]) internal pendingWords;
    mapping(bytes32 => uint256) internal escrowOf;

    constructor() payable {
        messaging = new MockStarknetMessaging();
        hub = new Hub(L1, 0x42);
        hub.registerStarknetDomain(STARKNET, IStarknetMessaging(address(messaging)), ENDPOINT);
        app = new CountingApp();
    }

    receive() external payable {}

    function words(uint64 nonce) public view returns (uint256[] memory) {
        uint256[] memory payload = new uint256[](1);
        payload[0] = nonce;
        return Envelope.encode(
            Envelope.Header({
                srcDomain: STARKNET,
                nonce: nonce,
                sender: bytes32(uint256(7)),
                dstDomain: L1,
                recipient: bytes32(uint256(uint160(address(app))))
            }),
            payload
        );
    }

    /// The rollup makes message `nonce` consumable (again, possibly).
    function post(uint64 seed) external {
        messaging.post(ENDPOINT, address(hub), words(seed % NONCES));
    }

    /// A relay of message `nonce`, alone.
    function relay(uint64 seed) external {
        try hub.relayFromStarknet(STARKNET, ENDPOINT, words(seed % NONCES), "") {} catch {}
    }

    /// Two relays in one batch, each with a fee (a Starknet → L1 relay takes none: a member with
    /// a fee fails and its fee comes back).
    function batch(uint64 a, uint64 b, uint64 feeA, uint64 feeB) external {
        Hub.Member[] memory members = new Hub.Member[](2);
        members[0] = Hub.Member({
            call: abi.encodeCall(Hub.relayFromStarknet, (STARKNET, ENDPOINT, words(a % NONCES), "")),
            fee: feeA % 3
        });
        members[1] = Hub.Member({
            call: abi.encodeCall(Hub.relayFromStarknet, (STARKNET, ENDPOINT, words(b % NONCES), "")),
            fee: feeB % 3
        });
        uint256 value = members[0].fee + members[1].fee;
        uint256 before = address(this).balance;
        try hub.relayBatch{value: value}(members) {} catch {}
        batchLeak += before - address(this).balance;
    }

    /// Receipts the metered batches should have folded into `meters[STARKNET]`: their landed
    /// members.
    uint256 public meteredLanded;

    /// Two relays in one metered batch (no fees) at a gas price of up to 60 gwei: each landed
    /// member is one receipt, and settles its payment if it has one.
    function meteredBatch(uint64 a, uint64 b, uint64 gasPrice) external {
        vm.txGasPrice(gasPrice % 60 gwei);
        Hub.Member[] memory members = new Hub.Member[](2);
        members[0] = Hub.Member({
            call: abi.encodeCall(Hub.relayFromStarknet, (STARKNET, ENDPOINT, words(a % NONCES), "")),
            fee: 0
        });
        members[1] = Hub.Member({
            call: abi.encodeCall(Hub.relayFromStarknet, (STARKNET, ENDPOINT, words(b % NONCES), "")),
            fee: 0
        });
        try hub.relayBatchMetered(members) returns (Hub.MemberResult[] memory results) {
            for (uint256 i = 0; i < 2; i++) {
                if (results[i].ok) meteredLanded += 1;
            }
        } catch {}
    }

    /// The handler fills its tank in the Hub.
    function depositTank(uint64 amount) external {
        uint256 value = amount % 1 ether;
        hub.deposit{value: value}(address(this));
        tankIn += value;
    }

    /// The handler takes part of its tank's free balance back.
    function withdrawTank(uint64 amount) external {
        uint256 free = hub.balances(address(this));
        if (free == 0) return;
        uint256 value = amount % (free + 1);
        hub.withdraw(value, address(this));
        tankIn -= value;
    }

    /// The handler pays for relaying message `seed` (the metered batches then settle it).
    function payFor(uint64 seed, uint32 gasLimit, uint32 price) external {
        GasTank.Terms memory terms = GasTank.Terms({
            gasLimit: 1 + gasLimit % 300_000,
            deadline: uint32(block.timestamp + 1000),
            maxBaseFee: price % 100 gwei,
            maxPriorityFee: 1 gwei,
            legBudget: 0
        });
        try hub.pay(keccak256(abi.encodePacked(words(seed % NONCES))), STARKNET, L1, terms) {} catch {}
    }

    /// Wei the handler put in its tank and did not take back.
    uint256 public tankIn;

    /// An L1 app's send toward Starknet, escrowing `fee`.
    function sendToStarknet(uint64 fee, uint64 seed) external {
        uint256[] memory payload = new uint256[](1);
        payload[0] = seed;
        uint256 value = fee % 1e15;
        bytes32 id = hub.send{value: value}(STARKNET, bytes32(uint256(0x99)), payload);
        uint64 n = hub.nonce() - 1;
        pendingWords[id] = Envelope.encode(
            Envelope.Header({
                srcDomain: L1,
                nonce: n,
                sender: bytes32(uint256(uint160(address(this)))),
                dstDomain: STARKNET,
                recipient: bytes32(uint256(0x99))
            }),
            payload
        );
        pendingIds.push(id);
        escrowOf[id] = value;
        escrowed += value;
    }

    /// A router's forward of pending send `i`, topping up `extra` (a second forward must fail).
    function forward(uint256 i, uint64 extra) external {
        if (pendingIds.length == 0) return;
        bytes32 id = pendingIds[i % pendingIds.length];
        uint256 value = extra % 1e12;
        try hub.relayFromL1{value: value}(pendingWords[id], "") {
            forwarded += escrowOf[id] + value;
            escrowed -= escrowOf[id];
            escrowOf[id] = 0;
        } catch {}
    }

    /// The sender takes pending send `i` back (a second reclaim, or a forward after, must fail).
    function reclaim(uint256 i) external {
        if (pendingIds.length == 0) return;
        bytes32 id = pendingIds[i % pendingIds.length];
        uint256 before = address(this).balance;
        try hub.reclaim(pendingWords[id]) returns (uint256 amount) {
            require(amount == escrowOf[id], "reclaimed another amount than the escrow");
            require(address(this).balance - before == amount, "the escrow was not paid back");
            escrowed -= escrowOf[id];
            escrowOf[id] = 0;
        } catch {}
    }

    function processed(uint64 nonce) external view returns (bool) {
        return hub.isProcessed(STARKNET, nonce);
    }
}

/// The hub's books under random sequences of relays, batches, sends and forwards.
contract HubInvariants is Cheats {
    HubHandler internal handler;

    constructor() {
        vm.deal(address(this), 1000 ether);
        handler = new HubHandler{value: 100 ether}();
    }

    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    /// One outside account calls the handler: with a gas price set, forge moves wei for gas to
    /// and from the calling account, which the fuzzer would otherwise pick among the contracts
    /// under test.
    function targetSenders() public pure returns (address[] memory senders) {
        senders = new address[](1);
        senders[0] = address(0xCA11E4);
    }

    /// The hub processes a (source, nonce) at most once, and an L1 app is delivered exactly the
    /// messages the hub marked processed, once each, however often the rollup posted them.
    function invariant_eachMessageIsDeliveredAtMostOnce() external view {
        CountingApp app = handler.app();
        for (uint64 n = 0; n < NONCES; n++) {
            uint256 times = app.delivered(n);
            require(times <= 1, "a message was delivered twice");
            require((times == 1) == handler.processed(n), "delivered and processed disagree");
        }
    }

    /// What the hub forwarded is what it received for the L1 sends; a batch keeps nothing of what
    /// it was paid (the hub's wei as a whole: `invariant_theTankAddsUp`).
    function invariant_theHubKeepsNoWeiButPendingEscrows() external view {
        require(handler.messaging().sentValue() == handler.forwarded(), "forwarded value differs");
        require(handler.batchLeak() == 0, "a batch kept part of what it was paid");
    }

    /// The Hub holds exactly the escrows, the tank's free balances and the payments' reservations;
    /// settlements move wei between them and never create any.
    function invariant_theTankAddsUp() external view {
        Hub hub = handler.hub();
        uint256 reserved;
        for (uint64 n = 0; n < NONCES; n++) {
            (,,,,,, uint128 r) = hub.payments(keccak256(abi.encodePacked(handler.words(n))));
            reserved += r;
        }
        require(
            address(hub).balance == handler.escrowed() + hub.balances(address(handler)) + reserved,
            string.concat(
                "the Hub's wei is not escrows + balances + reservations: ",
                Strings.toString(address(hub).balance),
                " ",
                Strings.toString(handler.escrowed()),
                " ",
                Strings.toString(hub.balances(address(handler))),
                " ",
                Strings.toString(reserved)
            )
        );
        require(hub.balances(address(handler)) + reserved == handler.tankIn(), "the tank's books moved");
    }

    /// The source domain's commitment counts exactly the landed members of metered batches.
    function invariant_theMeterCountsEachMeteredRelayOnce() external view {
        require(
            uint64(handler.hub().meters(STARKNET)) == handler.meteredLanded(),
            "meters[src] does not count the metered relays"
        );
    }
}
