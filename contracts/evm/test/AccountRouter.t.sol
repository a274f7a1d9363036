// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.30;

import {WordCodec} from "../src/WordCodec.sol";
import {AccountRouter, InterchainAccount, Replier} from "../src/AccountRouter.sol";
import {Cheats} from "./Cheats.sol";

/// The word codec as a contract, so that its calldata decoder can be called.
contract Codec {
    function encode(bytes calldata data) external pure returns (uint256[] memory) {
        return WordCodec.encode(data);
    }

    function decode(uint256[] calldata words, uint256 at) external pure returns (bytes memory, uint256) {
        return WordCodec.decode(words, at);
    }
}

/// Counts what the account router sends, as the Hub would take it.
contract Messenger {
    uint256 public sent;

    function send(uint32, bytes32, uint256[] calldata) external returns (bytes32) {
        sent += 1;
        return bytes32(sent);
    }
}

/// The word codec and the account router's request parsing under arbitrary input: bytes encode
/// to words below 2^248 that decode back to the same bytes; any words either decode or are
/// refused with the codec's own errors; any request either runs (its result sent) or is refused
/// with `BadRequest` or a codec error, never a panic; and only the messenger commands accounts.
contract AccountRouterFuzz is Cheats {
    Codec internal codec = new Codec();
    Messenger internal messenger = new Messenger();
    AccountRouter internal router = new AccountRouter(address(messenger), address(0), address(0));

    function testFuzz_bytesRoundTripThroughWords(bytes calldata data, uint8 pad) external view {
        uint256[] memory words = codec.encode(data);
        require(words[0] == data.length, "the length first");
        require(words.length == 1 + (data.length + 30) / 31, "31 bytes a word");
        for (uint256 i = 1; i < words.length; i++) {
            require(words[i] >> 248 == 0, "a word above 2^248");
        }
        uint256[] memory framed = new uint256[](words.length + pad % 4);
        for (uint256 i = 0; i < words.length; i++) {
            framed[i] = words[i];
        }
        (bytes memory back, uint256 next) = codec.decode(framed, 0);
        require(keccak256(back) == keccak256(data), "decoded bytes differ");
        require(next == words.length, "the index after the string");
    }

    function testFuzz_anyWordsDecodeOrAreRefusedByName(uint256[] calldata words, uint8 at) external view {
        try codec.decode(words, at) returns (bytes memory data, uint256 next) {
            require(next <= words.length, "read past the words");
            uint256[] memory again = codec.encode(data);
            for (uint256 i = 1; i < again.length; i++) {
                require(again[i] >> 248 == 0, "re-encoded word above 2^248");
            }
        } catch (bytes memory err) {
            bytes4 sel = err.length >= 4 ? bytes4(err) : bytes4(0);
            require(
                sel == WordCodec.Truncated.selector || sel == WordCodec.NotAChunk.selector,
                "refused without one of the codec's errors"
            );
        }
    }

    function testFuzz_anyRequestRunsOrIsRefusedByName(uint32 domain, bytes32 owner, uint256[] calldata payload)
        external
    {
        uint256 before = messenger.sent();
        vm.prank(address(messenger));
        try router.onMessage(domain, owner, payload) {
            require(payload.length >= 4 && payload[0] == 1, "ran something that is not a calls request");
            require(router.accountOf(domain, owner).code.length != 0, "ran without making the account");
            require(messenger.sent() - before == payload[2], "one result per reply");
        } catch (bytes memory err) {
            bytes4 sel = err.length >= 4 ? bytes4(err) : bytes4(0);
            require(
                sel == Replier.BadRequest.selector || sel == WordCodec.Truncated.selector
                    || sel == WordCodec.NotAChunk.selector,
                "refused without a named error"
            );
        }
    }

    function testFuzz_onlyTheMessengerCommands(address caller, uint32 domain, bytes32 owner) external {
        if (caller == address(messenger)) return;
        uint256[] memory request = new uint256[](7);
        request[0] = 1; // calls
        request[3] = 0; // outputs
        request[2] = 0; // no reply
        request[4] = 1; // one call
        request[5] = uint256(uint160(address(this)));
        request[6] = 0; // value
        uint256[] memory withData = new uint256[](8);
        for (uint256 i = 0; i < 7; i++) {
            withData[i] = request[i];
        }
        vm.prank(caller);
        try router.onMessage(domain, owner, withData) {
            revert("a stranger commanded an account");
        } catch (bytes memory err) {
            require(bytes4(err) == Replier.OnlyMessenger.selector, "refused without OnlyMessenger");
        }
        vm.prank(caller);
        try InterchainAccount(payable(router.implementation())).execute(new InterchainAccount.Call[](0)) {
            revert("a stranger ran the implementation");
        } catch (bytes memory err) {
            require(bytes4(err) == InterchainAccount.OnlyRouter.selector, "refused without OnlyRouter");
        }
    }
}
