//! GasTank: the gas tank on a Starknet-family chain (issue 27), paying in the chain's ETH fee
//! token. Users deposit (the token, approved to the tank), pay for the L1 relay of a message they
//! (or anyone) sent on terms: an L1 gas limit, a cap on the L1 base fee and on the priority fee,
//! a budget for the next leg's entry fee and a deadline (L1 unix time); the terms' worst case,
//! gas_limit × (max_base_fee + max_priority_fee) + leg_budget, is reserved from the payer's
//! balance. The payer changes the terms with `top_up` and, after the deadline and a day's grace,
//! takes an unsettled payment back with `release`.
//!
//! Settlement by proof: the L1 Hub meters every relay into a commitment per source domain (a
//! 192-bit keccak hash chain over the receipts and their count, `Metering.sol`) and sends it here
//! (`Hub.settle`) as an xroute message, which this chain's own L1 messaging proves and the
//! endpoint delivers (`on_message`, only from the Hub). Anyone then presents the receipts it
//! covers (`settle`); they must hash to it. Each paid receipt relayed by its deadline is charged
//! min(gas, gas_limit) × min(gas_price, cap) + min(fee, leg_budget), credited to its relayer (an
//! L1 address), a share of the settlement's own cost (its claimed L1 gas at its gas price plus
//! its L1 → L2 fee, split equally among its receipts) to whoever sent it, within what the payment
//! has left, and the rest goes back to the payer. An L1 address names where its credits go on
//! this chain by sending an L1 → L2 message to `bind_payout` itself; `claim` pays them there.

use starknet::ContractAddress;

#[derive(Copy, Drop, Serde)]
struct Terms {
    gas_limit: u64,
    deadline: u64,
    max_base_fee: u128,
    max_priority_fee: u128,
    leg_budget: u128,
}

/// One relay receipt, as the Hub's `RelaysMetered` event recorded it (`time` is the L1 block's).
#[derive(Copy, Drop, Serde)]
struct Receipt {
    id: u256,
    relayer: felt252,
    gas: u64,
    gas_price: u128,
    fee: u128,
    time: u64,
}

/// A commitment the Hub sent over this chain's receipts from `from` (its key) to `to`.
#[derive(Copy, Drop, Serde)]
struct Commitment {
    to: u64,
    head: u256,
    settler: felt252,
    gas: u64,
    gas_price: u128,
    value: u256,
}

/// What the tank is bound to.
#[derive(Copy, Drop, Serde)]
struct Config {
    local_domain: u32,
    hub_domain: u32,
    endpoint: ContractAddress,
    hub: felt252,
    fee_token: ContractAddress,
}

#[starknet::interface]
trait IFeeToken<TContractState> {
    fn transfer(ref self: TContractState, recipient: ContractAddress, amount: u256) -> bool;
    fn transfer_from(
        ref self: TContractState, sender: ContractAddress, recipient: ContractAddress, amount: u256
    ) -> bool;
}

#[starknet::interface]
trait IGasTank<TContractState> {
    /// Takes `amount` of the caller's fee token (approved to the tank) into `account`'s balance.
    fn deposit(ref self: TContractState, account: ContractAddress, amount: u256);
    /// Sends `amount` of the caller's balance (not reserved) to `to`.
    fn withdraw(ref self: TContractState, amount: u256, to: ContractAddress);
    /// The caller pays for relaying message `id` (from `src_domain` to `dst_domain`) on `terms`.
    fn pay(ref self: TContractState, id: u256, src_domain: u32, dst_domain: u32, terms: Terms);
    /// What the endpoint's `send_message_paid` calls: `payer` (its caller) pays for message `id`
    /// on `terms` from its balance. Only the endpoint.
    fn pay_for(
        ref self: TContractState, id: u256, payer: ContractAddress, dst_domain: u32, terms: Terms
    );
    /// The payer of `id` replaces its terms, reserving the difference (or getting it back).
    fn top_up(ref self: TContractState, id: u256, terms: Terms);
    /// After the deadline and the grace, the payer takes an unsettled payment back.
    fn release(ref self: TContractState, id: u256);
    /// Settles the receipts of the next commitment, in order; anyone may call it.
    fn settle(ref self: TContractState, receipts: Array<Receipt>);
    /// Pays L1 address `relayer`'s credits to the address it bound.
    fn claim(ref self: TContractState, relayer: felt252) -> u256;
    /// Where a next leg's overpayment for the caller's messages goes (an address of the
    /// destination, e.g. an Arbitrum address for a retryable's excess; 0: none chosen).
    fn set_refund_address(ref self: TContractState, to: felt252);
    fn refund_address_of(self: @TContractState, payer: ContractAddress) -> felt252;
    fn set_route(ref self: TContractState, dst_domain: u32, open: bool);
    /// A commitment from the Hub, delivered by the endpoint.
    fn on_message(ref self: TContractState, src_domain: u32, sender: felt252, payload: Array<felt252>);
    fn worst_case(self: @TContractState, terms: Terms) -> u256;
    fn balance_of(self: @TContractState, account: ContractAddress) -> u256;
    /// Credits of L1 address `relayer` not yet claimed.
    fn claimable(self: @TContractState, relayer: felt252) -> u256;
    fn payout_of(self: @TContractState, relayer: felt252) -> ContractAddress;
    /// (payer, terms, reserved): reserved is 0 once settled or released.
    fn payment(self: @TContractState, id: u256) -> (ContractAddress, Terms, u256);
    /// head << 64 | count of the receipts settled here.
    fn settled_meter(self: @TContractState) -> u256;
    /// The commitment from receipt `from` not yet settled (`to` is 0 if none).
    fn commitment(self: @TContractState, from: u64) -> Commitment;
    fn route(self: @TContractState, dst_domain: u32) -> bool;
    fn config(self: @TContractState) -> Config;
}

#[starknet::contract]
mod GasTank {
    use array::{ArrayTrait, SpanTrait};
    use integer::u128_byte_reverse;
    use keccak::keccak_u256s_be_inputs;
    use option::OptionTrait;
    use starknet::{ContractAddress, get_block_timestamp, get_caller_address, get_contract_address};
    use traits::{Into, TryInto};
    use zeroable::Zeroable;
    use super::{Commitment, Config, IFeeTokenDispatcher, IFeeTokenDispatcherTrait, Receipt, Terms};

    const SETTLE_GRACE: u64 = 86400;
    const TWO_POW_64: u256 = 0x10000000000000000;

    #[storage]
    struct Storage {
        local_domain: u32,
        hub_domain: u32,
        endpoint: ContractAddress,
        hub: felt252,
        fee_token: ContractAddress,
        owner: ContractAddress,
        routes: LegacyMap<u32, bool>,
        balances: LegacyMap<ContractAddress, u256>,
        claimable: LegacyMap<felt252, u256>,
        payouts: LegacyMap<felt252, ContractAddress>,
        refund_addresses: LegacyMap<ContractAddress, felt252>,
        payer: LegacyMap<u256, ContractAddress>,
        gas_limit: LegacyMap<u256, u64>,
        deadline: LegacyMap<u256, u64>,
        max_base_fee: LegacyMap<u256, u128>,
        max_priority_fee: LegacyMap<u256, u128>,
        leg_budget: LegacyMap<u256, u128>,
        reserved: LegacyMap<u256, u256>,
        c_to: LegacyMap<u64, u64>,
        c_head: LegacyMap<u64, u256>,
        c_settler: LegacyMap<u64, felt252>,
        c_gas: LegacyMap<u64, u64>,
        c_gas_price: LegacyMap<u64, u128>,
        c_value: LegacyMap<u64, u256>,
        settled_meter: u256,
    }

    #[event]
    #[derive(Drop, starknet::Event)]
    enum Event {
        Deposited: Deposited,
        Withdrawn: Withdrawn,
        Paid: Paid,
        Settled: Settled,
        Released: Released,
        CommitmentReceived: CommitmentReceived,
        ReceiptsSettled: ReceiptsSettled,
        PayoutBound: PayoutBound,
        Claimed: Claimed,
        RouteSet: RouteSet,
        RefundAddressSet: RefundAddressSet,
    }

    #[derive(Drop, starknet::Event)]
    struct RefundAddressSet {
        payer: ContractAddress,
        to: felt252,
    }

    #[derive(Drop, starknet::Event)]
    struct Deposited {
        account: ContractAddress,
        amount: u256,
    }

    #[derive(Drop, starknet::Event)]
    struct Withdrawn {
        account: ContractAddress,
        to: ContractAddress,
        amount: u256,
    }

    /// `payer` reserved `reserved` (the worst case of `terms`) for message `id`, or changed its
    /// terms.
    #[derive(Drop, starknet::Event)]
    struct Paid {
        id: u256,
        payer: ContractAddress,
        terms: Terms,
        reserved: u256,
    }

    /// A settlement charged the payment for `id`: `charge` to `relayer`, `share` to `settler`,
    /// `refund` back to the payer (together what was reserved).
    #[derive(Drop, starknet::Event)]
    struct Settled {
        id: u256,
        relayer: felt252,
        charge: u256,
        settler: felt252,
        share: u256,
        refund: u256,
    }

    #[derive(Drop, starknet::Event)]
    struct Released {
        id: u256,
        payer: ContractAddress,
        amount: u256,
    }

    #[derive(Drop, starknet::Event)]
    struct CommitmentReceived {
        from: u64,
        to: u64,
        head: u256,
        settler: felt252,
    }

    #[derive(Drop, starknet::Event)]
    struct ReceiptsSettled {
        from: u64,
        to: u64,
        paid: u32,
    }

    #[derive(Drop, starknet::Event)]
    struct PayoutBound {
        relayer: felt252,
        payout: ContractAddress,
    }

    #[derive(Drop, starknet::Event)]
    struct Claimed {
        relayer: felt252,
        payout: ContractAddress,
        amount: u256,
    }

    #[derive(Drop, starknet::Event)]
    struct RouteSet {
        dst_domain: u32,
        open: bool,
    }

    #[constructor]
    fn constructor(
        ref self: ContractState,
        local_domain: u32,
        hub_domain: u32,
        endpoint: ContractAddress,
        hub: felt252,
        fee_token: ContractAddress,
        owner: ContractAddress,
        routes: Array<u32>
    ) {
        self.local_domain.write(local_domain);
        self.hub_domain.write(hub_domain);
        self.endpoint.write(endpoint);
        self.hub.write(hub);
        self.fee_token.write(fee_token);
        self.owner.write(owner);
        let mut i: u32 = 0;
        loop {
            if i == routes.len() {
                break;
            }
            set_route_(ref self, *routes.at(i), true);
            i += 1;
        };
    }

    fn set_route_(ref self: ContractState, dst_domain: u32, open: bool) {
        self.routes.write(dst_domain, open);
        self.emit(Event::RouteSet(RouteSet { dst_domain, open }));
    }

    fn worst(terms: Terms) -> u256 {
        let cap: u256 = terms.max_base_fee.into() + terms.max_priority_fee.into();
        let gas: u256 = terms.gas_limit.into();
        gas * cap + terms.leg_budget.into()
    }

    /// Sets `payer`'s payment for `id` to `terms`, of whose worst case `held` is reserved already.
    fn reserve(ref self: ContractState, id: u256, payer: ContractAddress, terms: Terms, held: u256) {
        assert(terms.gas_limit != 0, 'ZERO_GAS_LIMIT');
        assert(terms.deadline > get_block_timestamp(), 'DEADLINE_PASSED');
        let w = worst(terms);
        let balance = self.balances.read(payer) + held;
        assert(w <= balance, 'INSUFFICIENT_BALANCE');
        self.balances.write(payer, balance - w);
        self.payer.write(id, payer);
        self.gas_limit.write(id, terms.gas_limit);
        self.deadline.write(id, terms.deadline);
        self.max_base_fee.write(id, terms.max_base_fee);
        self.max_priority_fee.write(id, terms.max_priority_fee);
        self.leg_budget.write(id, terms.leg_budget);
        self.reserved.write(id, w);
        self.emit(Event::Paid(Paid { id, payer, terms, reserved: w }));
    }

    /// keccak256 of the words as 32-byte big-endian values (Solidity's abi.encode of uint256s).
    fn keccak_words(words: Span<u256>) -> u256 {
        let le = keccak_u256s_be_inputs(words);
        u256 { low: u128_byte_reverse(le.high), high: u128_byte_reverse(le.low) }
    }

    /// `meter` with receipt `r` (of source domain `src`) folded in (`Metering.sol`).
    fn fold(meter: u256, src: u32, r: @Receipt) -> u256 {
        let mut fields: Array<u256> = ArrayTrait::new();
        fields.append(*r.id);
        fields.append(src.into());
        fields.append((*r.relayer).into());
        fields.append((*r.gas).into());
        fields.append((*r.gas_price).into());
        fields.append((*r.fee).into());
        fields.append((*r.time).into());
        let receipt = keccak_words(fields.span());
        let mut pair: Array<u256> = ArrayTrait::new();
        pair.append(meter / TWO_POW_64);
        pair.append(receipt);
        let head = keccak_words(pair.span()) / TWO_POW_64;
        let count = meter % TWO_POW_64;
        head * TWO_POW_64 + count + 1
    }

    fn min(a: u256, b: u256) -> u256 {
        if a < b {
            a
        } else {
            b
        }
    }

    /// Settles open payment `id` for receipt `r`, `settler` taking up to `share` of what is left.
    fn charge(ref self: ContractState, r: @Receipt, settler: felt252, share: u256) {
        let id = *r.id;
        let cap: u256 = self.max_base_fee.read(id).into() + self.max_priority_fee.read(id).into();
        let price = min((*r.gas_price).into(), cap);
        let gas = min((*r.gas).into(), self.gas_limit.read(id).into());
        let fee = min((*r.fee).into(), self.leg_budget.read(id).into());
        let charge = gas * price + fee;
        let reserved = self.reserved.read(id);
        let rest = reserved - charge;
        let share = min(share, rest);
        self.reserved.write(id, 0);
        let relayer = *r.relayer;
        self.claimable.write(relayer, self.claimable.read(relayer) + charge);
        if share != 0 {
            self.claimable.write(settler, self.claimable.read(settler) + share);
        }
        let payer = self.payer.read(id);
        self.balances.write(payer, self.balances.read(payer) + rest - share);
        self.emit(Event::Settled(Settled { id, relayer, charge, settler, share, refund: rest - share }));
    }

    /// An L1 address (the message's sender on L1) names where its credits go on this chain.
    #[l1_handler]
    fn bind_payout(ref self: ContractState, from_address: felt252, payout: ContractAddress) {
        assert(!payout.is_zero(), 'ZERO_PAYOUT');
        self.payouts.write(from_address, payout);
        self.emit(Event::PayoutBound(PayoutBound { relayer: from_address, payout }));
    }

    #[external(v0)]
    impl GasTankImpl of super::IGasTank<ContractState> {
        fn deposit(ref self: ContractState, account: ContractAddress, amount: u256) {
            self.balances.write(account, self.balances.read(account) + amount);
            self.emit(Event::Deposited(Deposited { account, amount }));
            IFeeTokenDispatcher { contract_address: self.fee_token.read() }
                .transfer_from(get_caller_address(), get_contract_address(), amount);
        }

        fn withdraw(ref self: ContractState, amount: u256, to: ContractAddress) {
            let account = get_caller_address();
            let balance = self.balances.read(account);
            assert(amount <= balance, 'INSUFFICIENT_BALANCE');
            self.balances.write(account, balance - amount);
            self.emit(Event::Withdrawn(Withdrawn { account, to, amount }));
            IFeeTokenDispatcher { contract_address: self.fee_token.read() }.transfer(to, amount);
        }

        fn pay(ref self: ContractState, id: u256, src_domain: u32, dst_domain: u32, terms: Terms) {
            assert(
                src_domain == self.local_domain.read() && self.routes.read(dst_domain), 'UNKNOWN_ROUTE'
            );
            assert(self.payer.read(id).is_zero(), 'ALREADY_PAID');
            reserve(ref self, id, get_caller_address(), terms, 0);
        }

        fn pay_for(
            ref self: ContractState, id: u256, payer: ContractAddress, dst_domain: u32, terms: Terms
        ) {
            assert(get_caller_address() == self.endpoint.read(), 'NOT_ENDPOINT');
            assert(self.routes.read(dst_domain), 'UNKNOWN_ROUTE');
            assert(self.payer.read(id).is_zero(), 'ALREADY_PAID');
            reserve(ref self, id, payer, terms, 0);
        }

        fn top_up(ref self: ContractState, id: u256, terms: Terms) {
            let held = self.reserved.read(id);
            assert(held != 0, 'NOT_PAID');
            let payer = get_caller_address();
            assert(self.payer.read(id) == payer, 'NOT_THE_PAYER');
            reserve(ref self, id, payer, terms, held);
        }

        fn release(ref self: ContractState, id: u256) {
            let amount = self.reserved.read(id);
            assert(amount != 0, 'NOT_PAID');
            let payer = get_caller_address();
            assert(self.payer.read(id) == payer, 'NOT_THE_PAYER');
            assert(get_block_timestamp() > self.deadline.read(id) + SETTLE_GRACE, 'NOT_RELEASABLE');
            self.reserved.write(id, 0);
            self.balances.write(payer, self.balances.read(payer) + amount);
            self.emit(Event::Released(Released { id, payer, amount }));
        }

        fn settle(ref self: ContractState, receipts: Array<Receipt>) {
            let meter = self.settled_meter.read();
            let from: u64 = (meter % TWO_POW_64).try_into().unwrap();
            let to = self.c_to.read(from);
            assert(to != 0, 'NO_COMMITMENT');
            let n: u32 = (to - from).try_into().unwrap();
            let rs = receipts.span();
            assert(rs.len() == n, 'WRONG_RECEIPT_COUNT');
            let src = self.local_domain.read();
            let mut computed = meter;
            let mut i: u32 = 0;
            loop {
                if i == n {
                    break;
                }
                computed = fold(computed, src, rs.at(i));
                i += 1;
            };
            let committed = self.c_head.read(from) * TWO_POW_64 + to.into();
            assert(computed == committed, 'SETTLEMENT_MISMATCH');
            self.settled_meter.write(committed);
            let settler = self.c_settler.read(from);
            let cost: u256 = self.c_gas.read(from).into() * self.c_gas_price.read(from).into()
                + self.c_value.read(from);
            let share = cost / n.into();
            self.c_to.write(from, 0);
            let mut paid: u32 = 0;
            let mut i: u32 = 0;
            loop {
                if i == n {
                    break;
                }
                let r = rs.at(i);
                let id = *r.id;
                if self.reserved.read(id) != 0 && *r.time <= self.deadline.read(id) {
                    charge(ref self, r, settler, share);
                    paid += 1;
                }
                i += 1;
            };
            self.emit(Event::ReceiptsSettled(ReceiptsSettled { from, to, paid }));
        }

        fn claim(ref self: ContractState, relayer: felt252) -> u256 {
            let payout = self.payouts.read(relayer);
            assert(!payout.is_zero(), 'NO_PAYOUT');
            let amount = self.claimable.read(relayer);
            self.claimable.write(relayer, 0);
            self.emit(Event::Claimed(Claimed { relayer, payout, amount }));
            IFeeTokenDispatcher { contract_address: self.fee_token.read() }.transfer(payout, amount);
            amount
        }

        fn set_refund_address(ref self: ContractState, to: felt252) {
            let payer = get_caller_address();
            self.refund_addresses.write(payer, to);
            self.emit(Event::RefundAddressSet(RefundAddressSet { payer, to }));
        }

        fn refund_address_of(self: @ContractState, payer: ContractAddress) -> felt252 {
            self.refund_addresses.read(payer)
        }

        fn set_route(ref self: ContractState, dst_domain: u32, open: bool) {
            assert(get_caller_address() == self.owner.read(), 'NOT_OWNER');
            set_route_(ref self, dst_domain, open);
        }

        fn on_message(ref self: ContractState, src_domain: u32, sender: felt252, payload: Array<felt252>) {
            assert(get_caller_address() == self.endpoint.read(), 'NOT_ENDPOINT');
            assert(src_domain == self.hub_domain.read() && sender == self.hub.read(), 'NOT_FROM_HUB');
            assert(payload.len() == 8 && *payload.at(0) == 1, 'BAD_COMMITMENT');
            let from: u64 = (*payload.at(1)).try_into().unwrap();
            let to: u64 = (*payload.at(2)).try_into().unwrap();
            let head: u256 = (*payload.at(3)).into();
            let settler = *payload.at(4);
            self.c_to.write(from, to);
            self.c_head.write(from, head);
            self.c_settler.write(from, settler);
            self.c_gas.write(from, (*payload.at(5)).try_into().unwrap());
            self.c_gas_price.write(from, (*payload.at(6)).try_into().unwrap());
            self.c_value.write(from, (*payload.at(7)).into());
            self.emit(Event::CommitmentReceived(CommitmentReceived { from, to, head, settler }));
        }

        fn worst_case(self: @ContractState, terms: Terms) -> u256 {
            worst(terms)
        }

        fn balance_of(self: @ContractState, account: ContractAddress) -> u256 {
            self.balances.read(account)
        }

        fn claimable(self: @ContractState, relayer: felt252) -> u256 {
            self.claimable.read(relayer)
        }

        fn payout_of(self: @ContractState, relayer: felt252) -> ContractAddress {
            self.payouts.read(relayer)
        }

        fn payment(self: @ContractState, id: u256) -> (ContractAddress, Terms, u256) {
            let terms = Terms {
                gas_limit: self.gas_limit.read(id),
                deadline: self.deadline.read(id),
                max_base_fee: self.max_base_fee.read(id),
                max_priority_fee: self.max_priority_fee.read(id),
                leg_budget: self.leg_budget.read(id),
            };
            (self.payer.read(id), terms, self.reserved.read(id))
        }

        fn settled_meter(self: @ContractState) -> u256 {
            self.settled_meter.read()
        }

        fn commitment(self: @ContractState, from: u64) -> Commitment {
            Commitment {
                to: self.c_to.read(from),
                head: self.c_head.read(from),
                settler: self.c_settler.read(from),
                gas: self.c_gas.read(from),
                gas_price: self.c_gas_price.read(from),
                value: self.c_value.read(from),
            }
        }

        fn route(self: @ContractState, dst_domain: u32) -> bool {
            self.routes.read(dst_domain)
        }

        fn config(self: @ContractState) -> Config {
            Config {
                local_domain: self.local_domain.read(),
                hub_domain: self.hub_domain.read(),
                endpoint: self.endpoint.read(),
                hub: self.hub.read(),
                fee_token: self.fee_token.read(),
            }
        }
    }
}
