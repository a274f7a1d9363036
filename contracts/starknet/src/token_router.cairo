//! TokenRouter: the canonical xroute token on a Starknet-family chain, and its router. An ERC-20
//! with Starknet's interface (snake_case and camelCase entry points, u256 amounts, 18 decimals)
//! that only this contract mints and burns: `transfer_remote` burns the caller's tokens and sends
//! one message to the L1 TokenLedger through the xroute Endpoint; a MINT message from the ledger
//! (delivered by the Endpoint) mints to its recipient. Message formats: TokenLedger.sol.
//!
//! `transfer_remote_call` is a transfer-and-call: the recipient (a contract) gets
//! `on_tokens(src_domain, from, amount, why, data)` after the mint (IXrouteTokenReceiver.sol on
//! L1). Its caller must be a contract with `on_tokens` too: a refund comes back to it as a call
//! (why = 1) with the same data. A MINT_CALL from the ledger mints, then calls `on_tokens`.

#[starknet::interface]
trait ITokenReceiver<TContractState> {
    fn on_tokens(
        ref self: TContractState,
        src_domain: u32,
        from: felt252,
        amount: u256,
        why: felt252,
        data: Array<felt252>
    );
}

#[starknet::interface]
trait IEndpoint<TContractState> {
    fn send_message(
        ref self: TContractState, dst_domain: u32, recipient: felt252, payload: Array<felt252>
    ) -> u256;
}

#[starknet::interface]
trait ITokenRouter<TContractState> {
    // ERC-20.
    fn name(self: @TContractState) -> felt252;
    fn symbol(self: @TContractState) -> felt252;
    fn decimals(self: @TContractState) -> u8;
    fn total_supply(self: @TContractState) -> u256;
    fn totalSupply(self: @TContractState) -> u256;
    fn balance_of(self: @TContractState, account: starknet::ContractAddress) -> u256;
    fn balanceOf(self: @TContractState, account: starknet::ContractAddress) -> u256;
    fn allowance(
        self: @TContractState, owner: starknet::ContractAddress, spender: starknet::ContractAddress
    ) -> u256;
    fn transfer(ref self: TContractState, recipient: starknet::ContractAddress, amount: u256) -> bool;
    fn transfer_from(
        ref self: TContractState,
        sender: starknet::ContractAddress,
        recipient: starknet::ContractAddress,
        amount: u256
    ) -> bool;
    fn transferFrom(
        ref self: TContractState,
        sender: starknet::ContractAddress,
        recipient: starknet::ContractAddress,
        amount: u256
    ) -> bool;
    fn approve(ref self: TContractState, spender: starknet::ContractAddress, amount: u256) -> bool;
    // The router.
    /// Burns `amount` of the caller's tokens and sends them to `recipient` on `dst_domain`;
    /// returns the message id.
    fn transfer_remote(ref self: TContractState, dst_domain: u32, recipient: felt252, amount: u256) -> u256;
    /// Like `transfer_remote`, and the recipient's `on_tokens` gets `data`; `amount` may be 0.
    fn transfer_remote_call(
        ref self: TContractState, dst_domain: u32, recipient: felt252, amount: u256, data: Array<felt252>
    ) -> u256;
    /// Asks the ledger to cancel queued transfer `queue_id` the caller sent.
    fn cancel_queued(ref self: TContractState, queue_id: felt252) -> u256;
    /// Called by the Endpoint for a delivered message.
    fn on_message(ref self: TContractState, src_domain: u32, sender: felt252, payload: Array<felt252>);
    fn set_ledger(ref self: TContractState, ledger: felt252);
    /// Allows `domain` as a destination; `kind` 1: EVM addresses, 2: Starknet addresses, 0: none.
    fn set_destination(ref self: TContractState, domain: u32, kind: u8);
    fn ledger(self: @TContractState) -> felt252;
    fn destination(self: @TContractState, domain: u32) -> u8;
}

#[starknet::contract]
mod TokenRouter {
    use array::{ArrayTrait, SpanTrait};
    use option::OptionTrait;
    use starknet::{ContractAddress, get_caller_address};
    use traits::{Into, TryInto};
    use zeroable::Zeroable;
    use super::{
        IEndpointDispatcher, IEndpointDispatcherTrait, ITokenReceiverDispatcher,
        ITokenReceiverDispatcherTrait
    };

    const KIND_EVM: u8 = 1;
    const KIND_STARKNET: u8 = 2;
    const OP_TRANSFER: felt252 = 1;
    const OP_CANCEL: felt252 = 2;
    const OP_TRANSFER_CALL: felt252 = 3;
    const OP_MINT: felt252 = 1;
    const OP_MINT_CALL: felt252 = 3;
    // 2^160 and 2^251 as u256 halves.
    const EVM_BOUND_HIGH: u128 = 0x100000000;
    const STARKNET_BOUND_HIGH: u128 = 0x8000000000000000000000000000000;

    #[storage]
    struct Storage {
        name: felt252,
        symbol: felt252,
        supply: u256,
        balances: LegacyMap<ContractAddress, u256>,
        allowances: LegacyMap<(ContractAddress, ContractAddress), u256>,
        endpoint: felt252,
        l1_domain: u32,
        ledger: felt252,
        owner: ContractAddress,
        destinations: LegacyMap<u32, u8>,
    }

    #[event]
    #[derive(Drop, starknet::Event)]
    enum Event {
        Transfer: Transfer,
        Approval: Approval,
        SentRemote: SentRemote,
        ReceivedRemote: ReceivedRemote,
    }

    #[derive(Drop, starknet::Event)]
    struct Transfer {
        from: ContractAddress,
        to: ContractAddress,
        value: u256,
    }

    #[derive(Drop, starknet::Event)]
    struct Approval {
        owner: ContractAddress,
        spender: ContractAddress,
        value: u256,
    }

    #[derive(Drop, starknet::Event)]
    struct SentRemote {
        dst_domain: u32,
        recipient: felt252,
        from: ContractAddress,
        amount: u256,
    }

    #[derive(Drop, starknet::Event)]
    struct ReceivedRemote {
        src_domain: felt252,
        from: felt252,
        to: ContractAddress,
        amount: u256,
        why: felt252,
    }

    /// `owner` sets the ledger and the destinations (the deployer's account: through the UDC the
    /// constructor's caller is the UDC).
    #[constructor]
    fn constructor(
        ref self: ContractState,
        name: felt252,
        symbol: felt252,
        endpoint: felt252,
        l1_domain: u32,
        owner: ContractAddress
    ) {
        self.name.write(name);
        self.symbol.write(symbol);
        self.endpoint.write(endpoint);
        self.l1_domain.write(l1_domain);
        self.owner.write(owner);
    }

    fn move_tokens(ref self: ContractState, from: ContractAddress, to: ContractAddress, amount: u256) {
        assert(!to.is_zero(), 'TRANSFER_TO_ZERO');
        let have = self.balances.read(from);
        assert(have >= amount, 'INSUFFICIENT_BALANCE');
        self.balances.write(from, have - amount);
        self.balances.write(to, self.balances.read(to) + amount);
        self.emit(Event::Transfer(Transfer { from, to, value: amount }));
    }

    fn spend_allowance(ref self: ContractState, owner: ContractAddress, spender: ContractAddress, amount: u256) {
        let allowed = self.allowances.read((owner, spender));
        assert(allowed >= amount, 'INSUFFICIENT_ALLOWANCE');
        self.allowances.write((owner, spender), allowed - amount);
    }

    fn only_owner(self: @ContractState) {
        assert(get_caller_address() == self.owner.read(), 'ONLY_OWNER');
    }

    /// Checks a transfer, burns the caller's `amount` and returns the message's first words
    /// `[op, dst, recipient, amount, from]`.
    fn burn_for_remote(
        ref self: ContractState, op: felt252, dst_domain: u32, recipient: felt252, amount: u256
    ) -> Array<felt252> {
        assert(amount.high == 0, 'AMOUNT_TOO_LARGE');
        let kind = self.destinations.read(dst_domain);
        assert(kind != 0, 'UNKNOWN_DESTINATION');
        let word: u256 = recipient.into();
        assert(word != 0, 'BAD_RECIPIENT');
        let bound_high = if kind == KIND_EVM {
            EVM_BOUND_HIGH
        } else {
            STARKNET_BOUND_HIGH
        };
        assert(word.high < bound_high, 'BAD_RECIPIENT');
        let from = get_caller_address();
        let have = self.balances.read(from);
        assert(have >= amount, 'INSUFFICIENT_BALANCE');
        self.balances.write(from, have - amount);
        self.supply.write(self.supply.read() - amount);
        self.emit(Event::Transfer(Transfer { from, to: Zeroable::zero(), value: amount }));
        // Emitted before the send: the message id is in the Endpoint's MessageSent of the same
        // transaction. (After the call, Cairo 2.1's Sierra for this event does not compile to
        // CASM: an unknown ap change.)
        self.emit(Event::SentRemote(SentRemote { dst_domain, recipient, from, amount }));
        let amount_felt: felt252 = amount.low.into();
        let mut payload: Array<felt252> = ArrayTrait::new();
        payload.append(op);
        payload.append(dst_domain.into());
        payload.append(recipient);
        payload.append(amount_felt);
        payload.append(from.into());
        payload
    }

    fn send_to_ledger(ref self: ContractState, payload: Array<felt252>) -> u256 {
        let endpoint: ContractAddress = self.endpoint.read().try_into().unwrap();
        IEndpointDispatcher { contract_address: endpoint }
            .send_message(self.l1_domain.read(), self.ledger.read(), payload)
    }

    #[external(v0)]
    impl TokenRouterImpl of super::ITokenRouter<ContractState> {
        fn name(self: @ContractState) -> felt252 {
            self.name.read()
        }

        fn symbol(self: @ContractState) -> felt252 {
            self.symbol.read()
        }

        fn decimals(self: @ContractState) -> u8 {
            18
        }

        fn total_supply(self: @ContractState) -> u256 {
            self.supply.read()
        }

        fn totalSupply(self: @ContractState) -> u256 {
            self.supply.read()
        }

        fn balance_of(self: @ContractState, account: ContractAddress) -> u256 {
            self.balances.read(account)
        }

        fn balanceOf(self: @ContractState, account: ContractAddress) -> u256 {
            self.balances.read(account)
        }

        fn allowance(self: @ContractState, owner: ContractAddress, spender: ContractAddress) -> u256 {
            self.allowances.read((owner, spender))
        }

        fn transfer(ref self: ContractState, recipient: ContractAddress, amount: u256) -> bool {
            move_tokens(ref self, get_caller_address(), recipient, amount);
            true
        }

        fn transfer_from(
            ref self: ContractState, sender: ContractAddress, recipient: ContractAddress, amount: u256
        ) -> bool {
            spend_allowance(ref self, sender, get_caller_address(), amount);
            move_tokens(ref self, sender, recipient, amount);
            true
        }

        fn transferFrom(
            ref self: ContractState, sender: ContractAddress, recipient: ContractAddress, amount: u256
        ) -> bool {
            spend_allowance(ref self, sender, get_caller_address(), amount);
            move_tokens(ref self, sender, recipient, amount);
            true
        }

        fn approve(ref self: ContractState, spender: ContractAddress, amount: u256) -> bool {
            let owner = get_caller_address();
            self.allowances.write((owner, spender), amount);
            self.emit(Event::Approval(Approval { owner, spender, value: amount }));
            true
        }

        fn transfer_remote(ref self: ContractState, dst_domain: u32, recipient: felt252, amount: u256) -> u256 {
            assert(amount != 0, 'ZERO_AMOUNT');
            let mut payload = burn_for_remote(ref self, OP_TRANSFER, dst_domain, recipient, amount);
            send_to_ledger(ref self, payload)
        }

        fn transfer_remote_call(
            ref self: ContractState, dst_domain: u32, recipient: felt252, amount: u256, data: Array<felt252>
        ) -> u256 {
            let mut payload = burn_for_remote(ref self, OP_TRANSFER_CALL, dst_domain, recipient, amount);
            let mut items = data.span();
            loop {
                match items.pop_front() {
                    Option::Some(word) => payload.append(*word),
                    Option::None => { break; },
                };
            };
            send_to_ledger(ref self, payload)
        }

        fn cancel_queued(ref self: ContractState, queue_id: felt252) -> u256 {
            let from: felt252 = get_caller_address().into();
            let mut payload: Array<felt252> = ArrayTrait::new();
            payload.append(OP_CANCEL);
            payload.append(queue_id);
            payload.append(from);
            send_to_ledger(ref self, payload)
        }

        fn on_message(ref self: ContractState, src_domain: u32, sender: felt252, payload: Array<felt252>) {
            let caller: felt252 = get_caller_address().into();
            assert(caller == self.endpoint.read(), 'ONLY_ENDPOINT');
            assert(src_domain == self.l1_domain.read(), 'NOT_FROM_LEDGER');
            assert(sender == self.ledger.read(), 'NOT_FROM_LEDGER');
            let mut items = payload.span();
            let call = items.len() >= 6 && *items.at(0) == OP_MINT_CALL;
            assert(call || (items.len() == 6 && *items.at(0) == OP_MINT), 'BAD_PAYLOAD');
            let to: ContractAddress = (*items.at(1)).try_into().unwrap();
            assert(!to.is_zero(), 'BAD_PAYLOAD');
            let amount: u256 = (*items.at(2)).into();
            let origin = *items.at(3);
            let from = *items.at(4);
            let why = *items.at(5);
            self.balances.write(to, self.balances.read(to) + amount);
            self.supply.write(self.supply.read() + amount);
            self.emit(Event::Transfer(Transfer { from: Zeroable::zero(), to, value: amount }));
            self.emit(Event::ReceivedRemote(ReceivedRemote { src_domain: origin, from, to, amount, why }));
            if call {
                let src_domain: u32 = origin.try_into().expect('BAD_PAYLOAD');
                let mut data: Array<felt252> = ArrayTrait::new();
                let mut i = 6;
                loop {
                    if i == items.len() {
                        break;
                    }
                    data.append(*items.at(i));
                    i += 1;
                };
                ITokenReceiverDispatcher { contract_address: to }
                    .on_tokens(src_domain, from, amount, why, data);
            }
        }

        fn set_ledger(ref self: ContractState, ledger: felt252) {
            only_owner(@self);
            self.ledger.write(ledger);
        }

        fn set_destination(ref self: ContractState, domain: u32, kind: u8) {
            only_owner(@self);
            assert(kind <= KIND_STARKNET, 'BAD_KIND');
            self.destinations.write(domain, kind);
        }

        fn ledger(self: @ContractState) -> felt252 {
            self.ledger.read()
        }

        fn destination(self: @ContractState, domain: u32) -> u8 {
            self.destinations.read(domain)
        }
    }
}
