// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.30;

import {Hub} from "../src/Hub.sol";
import {GasTank} from "../src/GasTank.sol";
import {IStarknetMessaging} from "../src/IStarknetMessaging.sol";
import {Cheats} from "./Cheats.sol";
import {MockStarknetMessaging} from "./StarknetMessaging.sol";

/// Someone other than the payer, for the refusals.
contract Stranger {
    function topUp(Hub hub, bytes32 id, GasTank.Terms calldata terms) external {
        hub.topUp(id, terms);
    }

    function release(Hub hub, bytes32 id) external {
        hub.release(id);
    }
}

/// The L1 gas tank's payments, their terms changed and released: every move of a reservation is
/// the worst case of the terms, to the wei, and only the payer moves it.
contract HubTankTest is Cheats {
    Hub internal hub;
    bytes32 internal constant ID = keccak256("a message");

    constructor() {
        hub = new Hub(1, 0x42);
        hub.registerStarknetDomain(2, IStarknetMessaging(address(new MockStarknetMessaging())), 0xE002);
    }

    receive() external payable {}

    function _terms(uint64 gasLimit, uint32 deadline, uint128 cap) internal pure returns (GasTank.Terms memory) {
        return GasTank.Terms({gasLimit: gasLimit, deadline: deadline, maxBaseFee: cap, maxPriorityFee: 0, legBudget: 7});
    }

    function _reserved() internal view returns (uint128 r) {
        (,,,,,, r) = hub.payments(ID);
    }

    function test_aPaymentIsToppedUpAndReleasedOnlyByItsPayer() external {
        vm.warp(1000);
        hub.deposit{value: 1 ether}(address(this));
        GasTank.Terms memory first = _terms(100_000, 2000, 10 gwei);
        hub.pay(ID, 2, 1, first);
        uint256 worst = hub.worstCase(first);
        require(worst == 100_000 * 10 gwei + 7, "the worst case is not gas x cap + budget");
        require(_reserved() == worst && hub.balances(address(this)) == 1 ether - worst, "reserved");

        // A later deadline and a higher cap: the difference is reserved.
        GasTank.Terms memory second = _terms(150_000, 5000, 20 gwei);
        hub.topUp(ID, second);
        uint256 worst2 = hub.worstCase(second);
        require(_reserved() == worst2 && hub.balances(address(this)) == 1 ether - worst2, "topped up");
        // Lower terms give the difference back.
        hub.topUp(ID, first);
        require(_reserved() == worst && hub.balances(address(this)) == 1 ether - worst, "lowered");

        Stranger stranger = new Stranger();
        (bool ok, bytes memory err) =
            address(stranger).call(abi.encodeCall(Stranger.topUp, (hub, ID, second)));
        require(!ok && bytes4(err) == GasTank.NotThePayer.selector, "a stranger changed the terms");
        (ok, err) = address(this).call(abi.encodeCall(this.releaseNow, ()));
        require(!ok && bytes4(err) == GasTank.NotReleasable.selector, "released before its deadline and grace");

        vm.warp(2000 + hub.SETTLE_GRACE() + 1);
        (ok, err) = address(stranger).call(abi.encodeCall(Stranger.release, (hub, ID)));
        require(!ok && bytes4(err) == GasTank.NotThePayer.selector, "a stranger released it");
        hub.release(ID);
        require(_reserved() == 0 && hub.balances(address(this)) == 1 ether, "the reservation came back whole");
        (ok, err) = address(this).call(abi.encodeCall(this.releaseNow, ()));
        require(!ok && bytes4(err) == GasTank.NotPaid.selector, "released twice");

        uint256 before = address(this).balance;
        hub.withdraw(1 ether, address(this));
        require(address(this).balance == before + 1 ether && address(hub).balance == 0, "withdrawn");
    }

    function releaseNow() external {
        hub.release(ID);
    }
}
