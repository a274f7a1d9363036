// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.30;

import {Hub} from "../src/Hub.sol";
import {ArbitrumTank} from "../src/ArbitrumTank.sol";
import {MeteredReceipt} from "../src/Metering.sol";
import {IStarknetMessaging} from "../src/IStarknetMessaging.sol";
import {TokenLedger} from "../src/TokenLedger.sol";
import {XToken} from "../src/XToken.sol";
import {Envelope} from "../src/Envelope.sol";
import {MockStarknetMessaging} from "./StarknetMessaging.sol";

/// Every entry point that takes user bytes, under arbitrary input: it either works or refuses with
/// a reason (a custom error or an `Error(string)`), never a panic (an arithmetic or index fault)
/// and never an empty revert; and a refusal moves no wei and no token.
contract EntryPointsFuzz {
    uint32 internal constant L1 = 1;
    uint32 internal constant SN = 2;
    uint256 internal constant ENDPOINT = 0xE002;
    bytes32 internal constant ROUTER = bytes32(uint256(0xA002));
    bytes4 internal constant PANIC = 0x4e487b71;

    Hub internal hub;
    MockStarknetMessaging internal messaging;
    TokenLedger internal ledger;
    XToken internal token;
    uint64 internal nonce;
    ArbitrumTank internal tank;

    constructor() payable {
        messaging = new MockStarknetMessaging();
        hub = new Hub(L1, 0x42);
        hub.registerStarknetDomain(SN, IStarknetMessaging(address(messaging)), ENDPOINT);
        token = new XToken("xroute Token", "XRT");
        ledger = new TokenLedger(address(hub), address(token));
        token.setRouter(address(ledger));
        ledger.initialize(address(this), 1_000_000 ether);
        ledger.registerChain(SN, TokenLedger.Kind.Starknet, ROUTER);
    }

    receive() external payable {}

    function _refusedByName(bytes memory err) internal pure {
        require(err.length >= 4, "refused without a reason");
        require(bytes4(err) != PANIC, "refused with a panic");
    }

    function _supplySum() internal view returns (uint256) {
        return ledger.supply(L1) + ledger.supply(SN) + ledger.queuedTotal();
    }

    function testFuzz_hubRelaysOfArbitraryWords(uint256[] calldata words, bytes calldata entry) external {
        uint256 before = address(hub).balance;
        try hub.relayFromL1(words, entry) {
            revert("arbitrary words were forwarded");
        } catch (bytes memory err) {
            _refusedByName(err);
        }
        try hub.relayFromStarknet(SN, ENDPOINT, words, entry) {
            revert("arbitrary words were consumed without a proof");
        } catch (bytes memory err) {
            _refusedByName(err);
        }
        try hub.reclaim(words) {
            revert("arbitrary words were reclaimed");
        } catch (bytes memory err) {
            _refusedByName(err);
        }
        try hub.receiveFromArbitrum(words) {
            revert("a call not from a Bridge was received");
        } catch (bytes memory err) {
            _refusedByName(err);
        }
        require(address(hub).balance == before, "a refusal moved wei");
    }

    /// Receipts nobody metered never settle: a tank holding a commitment refuses any receipts
    /// that do not hash to it, by name, and pays nobody.
    function testFuzz_arbitraryReceiptsAreRefused(MeteredReceipt[] calldata receipts) external {
        if (address(tank) == address(0)) {
            tank = new ArbitrumTank(SN, L1, address(this), address(hub), new uint32[](0));
            uint256[] memory c = new uint256[](8);
            (c[0], c[2], c[3]) = (1, 3, uint256(keccak256("a commitment")) >> 64);
            tank.onMessage(L1, bytes32(uint256(uint160(address(hub)))), c);
        }
        try tank.settle(receipts) {
            revert("receipts nobody metered were settled");
        } catch (bytes memory err) {
            _refusedByName(err);
        }
        require(tank.settledMeter() == 0, "a refused settlement moved the mark");
    }

    function testFuzz_hubBatchOfArbitraryCalls(bytes calldata call, uint8 fee) external {
        Hub.Member[] memory members = new Hub.Member[](1);
        members[0] = Hub.Member({call: call, fee: fee});
        uint256 before = address(this).balance;
        try hub.relayBatch{value: fee}(members) returns (Hub.MemberResult[] memory results) {
            require(!results[0].ok, "an arbitrary call was relayed");
            _refusedByName(results[0].data);
        } catch (bytes memory err) {
            _refusedByName(err);
        }
        require(address(this).balance == before, "the batch kept wei");
    }

    /// A proven message from the rollup's token router with an arbitrary payload: delivered or
    /// refused by name, and the ledger's books add up either way.
    function testFuzz_ledgerMessagesOfArbitraryPayloads(uint256[] calldata payload) external {
        uint256[] memory words = Envelope.encode(
            Envelope.Header({
                srcDomain: SN,
                nonce: nonce++,
                sender: ROUTER,
                dstDomain: L1,
                recipient: bytes32(uint256(uint160(address(ledger))))
            }),
            payload
        );
        messaging.post(ENDPOINT, address(hub), words);
        uint256 sum = _supplySum();
        try hub.relayFromStarknet(SN, ENDPOINT, words, "") {}
        catch (bytes memory err) {
            _refusedByName(err);
        }
        require(_supplySum() == sum, "the ledger's books changed total");
    }

    function testFuzz_ledgerTransferCallOfArbitraryData(bytes32 recipient, uint96 amount, uint256[] calldata data)
        external
    {
        uint256 held = token.balanceOf(address(this));
        uint256 sum = _supplySum();
        try ledger.transferCall(SN, recipient, amount, data) {
            require(token.balanceOf(address(this)) == held - amount, "burned another amount");
        } catch (bytes memory err) {
            _refusedByName(err);
            require(token.balanceOf(address(this)) == held, "a refusal burned tokens");
        }
        require(_supplySum() == sum, "the ledger's books changed total");
    }
}
