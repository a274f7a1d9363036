// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.30;

import {GasTank} from "./GasTank.sol";
import {IXrouteReceiver} from "./IXrouteReceiver.sol";
import {Metering, MeteredReceipt} from "./Metering.sol";

/// @title ArbitrumTank
/// @notice The gas tank on an Arbitrum-family rollup (native ETH): its users pay here for the L1
/// relays of the messages they send (`pay`, or `ArbitrumEndpoint.sendPaid` in the same call), and
/// the relays are settled here by proof. The Hub meters every relay on L1 into a commitment per
/// source domain and sends it here (`Hub.settle`) as an xroute message, which this rollup's own
/// messaging proves; anyone then presents the receipts it covers (`settle`), which must hash to
/// it. Each paid receipt is charged within its terms and credited to its relayer (the L1 address,
/// the same address here), a share of the settlement's own cost to whoever sent the commitment,
/// the rest returned to the payer. Relayers withdraw like any account.
contract ArbitrumTank is GasTank, IXrouteReceiver {
    /// @notice This rollup's xroute domain id.
    uint32 public immutable localDomain;
    /// @notice L1's xroute domain id (where the Hub is).
    uint32 public immutable hubDomain;
    /// @notice The xroute endpoint on this rollup (the only caller of `onMessage` and `payFor`).
    address public immutable endpoint;
    /// @notice The Hub on L1, the only sender of commitments.
    address public immutable hub;
    address public owner;
    /// @notice Destination domains this tank takes payments for.
    mapping(uint32 => bool) public routes;

    /// @notice A commitment the Hub sent over this rollup's receipts `from` (its key) to `to`.
    struct Commitment {
        uint64 to;
        uint192 head;
        address settler;
        uint64 gas;
        uint256 gasPrice;
        uint256 value;
    }

    /// @notice Commitments received and not yet settled, by the place of their first receipt.
    mapping(uint64 => Commitment) public commitments;
    /// @notice The commitment over every receipt settled here (head << 64 | count): where the
    /// next settlement starts.
    uint256 public settledMeter;

    event OwnershipTransferred(address indexed previousOwner, address indexed newOwner);
    event RouteSet(uint32 indexed dstDomain, bool open);
    event CommitmentReceived(uint64 indexed from, uint64 to, uint256 head, address settler);
    /// @notice Receipts `from` to `to` (exclusive) were settled; `paid` of them had a payment.
    event ReceiptsSettled(uint64 indexed from, uint64 to, uint256 paid);

    error NotOwner(address caller);
    error NotEndpoint(address caller);
    error NotFromHub(uint32 srcDomain, bytes32 sender);
    error BadCommitment(uint256 length);
    error NoCommitment(uint64 from);
    error WrongReceiptCount(uint64 from, uint256 expected, uint256 given);
    error SettlementMismatch(uint64 from, uint256 committed, uint256 computed);

    constructor(uint32 localDomain_, uint32 hubDomain_, address endpoint_, address hub_, uint32[] memory routes_) {
        localDomain = localDomain_;
        hubDomain = hubDomain_;
        endpoint = endpoint_;
        hub = hub_;
        owner = msg.sender;
        emit OwnershipTransferred(address(0), msg.sender);
        for (uint256 i = 0; i < routes_.length; i++) {
            _setRoute(routes_[i], true);
        }
    }

    function transferOwnership(address newOwner) external {
        if (msg.sender != owner) revert NotOwner(msg.sender);
        emit OwnershipTransferred(owner, newOwner);
        owner = newOwner;
    }

    /// @notice Opens (or closes) payments for messages toward `dstDomain`.
    function setRoute(uint32 dstDomain, bool open) external {
        if (msg.sender != owner) revert NotOwner(msg.sender);
        _setRoute(dstDomain, open);
    }

    /// @notice What `ArbitrumEndpoint.sendPaid` calls: msg.value is deposited for `payer`, who
    /// then pays for message `id` (toward `dstDomain`) on `terms`.
    function payFor(bytes32 id, address payer, uint32 dstDomain, Terms calldata terms) external payable {
        if (msg.sender != endpoint) revert NotEndpoint(msg.sender);
        if (!_route(localDomain, dstDomain)) revert UnknownRoute(localDomain, dstDomain);
        address current = payments[id].payer;
        if (current != address(0)) revert AlreadyPaid(id, current);
        balances[payer] += msg.value;
        emit Deposited(payer, msg.value);
        _reserve(id, payer, terms, 0);
    }

    /// @notice A commitment from the Hub (`Hub.settle`), delivered by this rollup's endpoint.
    function onMessage(uint32 srcDomain, bytes32 sender, uint256[] calldata payload) external {
        if (msg.sender != endpoint) revert NotEndpoint(msg.sender);
        if (srcDomain != hubDomain || sender != bytes32(uint256(uint160(hub)))) revert NotFromHub(srcDomain, sender);
        if (payload.length != 8 || payload[0] != 1) revert BadCommitment(payload.length);
        uint64 from = uint64(payload[1]);
        Commitment memory c = Commitment({
            to: uint64(payload[2]),
            head: uint192(payload[3]),
            settler: address(uint160(payload[4])),
            gas: uint64(payload[5]),
            gasPrice: payload[6],
            value: payload[7]
        });
        commitments[from] = c;
        emit CommitmentReceived(from, c.to, c.head, c.settler);
    }

    /// @notice Settles the receipts of the next commitment (from `settledMeter` on), as the Hub's
    /// `RelaysMetered` events recorded them, in order. Anyone may call it.
    function settle(MeteredReceipt[] calldata receipts) external {
        uint256 meter = settledMeter;
        uint64 from = uint64(meter);
        Commitment memory c = commitments[from];
        if (c.to == 0) revert NoCommitment(from);
        uint256 n = c.to - from;
        if (receipts.length != n) revert WrongReceiptCount(from, n, receipts.length);
        uint256 committed = (uint256(c.head) << 64) | c.to;
        uint256 computed = Metering.foldAll(meter, localDomain, receipts);
        if (computed != committed) revert SettlementMismatch(from, committed, computed);
        settledMeter = committed;
        delete commitments[from];
        uint256 share = (uint256(c.gas) * c.gasPrice + c.value) / n;
        uint256 paid;
        for (uint256 i = 0; i < n; i++) {
            MeteredReceipt calldata r = receipts[i];
            Payment storage p = payments[r.id];
            if (!_payable(p, r.time)) continue;
            _settle(r.id, p, r.relayer, r.gas, r.gasPrice, r.fee, c.settler, share);
            paid++;
        }
        emit ReceiptsSettled(from, c.to, paid);
    }

    function _setRoute(uint32 dstDomain, bool open) internal {
        routes[dstDomain] = open;
        emit RouteSet(dstDomain, open);
    }

    function _route(uint32 src, uint32 dst) internal view override returns (bool) {
        return src == localDomain && routes[dst];
    }
}
