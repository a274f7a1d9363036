//! xroute Endpoint for Starknet-family chains (Starknet and appchains settling on it).
//!
//! `send_message` wraps an app's message in an xroute envelope v1 (docs/envelope.md), assigns the
//! nonce, emits `MessageSent` and sends the envelope words to the L1 Hub through Starknet's native
//! L2 -> L1 messaging. `receive_message` is the L1 handler the Hub calls through the L1 messaging
//! contract: it accepts only the Hub as sender, rejects an envelope id it has seen, and calls the
//! recipient's `on_message`. The envelope's words map onto the handler's arguments (header,
//! sender, recipient, payload as an Array whose length is word 3), so the Hub sends them as is.

#[starknet::interface]
trait IXrouteReceiver<TContractState> {
    fn on_message(ref self: TContractState, src_domain: u32, sender: felt252, payload: Array<felt252>);
}

/// A payment's terms, as the gas tank takes them (`gas_tank.cairo`).
#[derive(Copy, Drop, Serde)]
struct Terms {
    gas_limit: u64,
    deadline: u64,
    max_base_fee: u128,
    max_priority_fee: u128,
    leg_budget: u128,
}

#[starknet::interface]
trait IGasTankPayFor<TContractState> {
    fn pay_for(
        ref self: TContractState, id: u256, payer: starknet::ContractAddress, dst_domain: u32, terms: Terms
    );
}

#[starknet::interface]
trait IEndpoint<TContractState> {
    /// Sends `payload` to `recipient` on `dst_domain`; returns the envelope id.
    fn send_message(
        ref self: TContractState, dst_domain: u32, recipient: felt252, payload: Array<felt252>
    ) -> u256;
    /// `send_message`, and pays for the message's relay on `terms` from the caller's balance in
    /// the gas `tank` (which accepts this only from its own endpoint), in the same call.
    fn send_message_paid(
        ref self: TContractState,
        dst_domain: u32,
        recipient: felt252,
        payload: Array<felt252>,
        tank: starknet::ContractAddress,
        terms: Terms
    ) -> u256;
    /// The L1 Hub this endpoint trusts.
    fn hub(self: @TContractState) -> felt252;
    /// This chain's xroute domain id.
    fn local_domain(self: @TContractState) -> u32;
    /// The nonce the next sent message gets.
    fn next_nonce(self: @TContractState) -> u64;
    /// Whether the envelope `id` was delivered here.
    fn is_delivered(self: @TContractState, id: u256) -> bool;
}

#[starknet::contract]
mod Endpoint {
    use array::{ArrayTrait, SpanTrait};
    use integer::u128_byte_reverse;
    use keccak::keccak_u256s_be_inputs;
    use option::OptionTrait;
    use starknet::{ContractAddress, get_caller_address};
    use starknet::syscalls::send_message_to_l1_syscall;
    use traits::{Into, TryInto};
    use super::{
        IGasTankPayForDispatcher, IGasTankPayForDispatcherTrait, IXrouteReceiverDispatcher,
        IXrouteReceiverDispatcherTrait, Terms
    };

    const ENVELOPE_VERSION: felt252 = 1;
    const TWO_POW_64: u128 = 0x10000000000000000;
    const TWO_POW_96: u128 = 0x1000000000000000000000000;
    const MASK_32: u128 = 0xffffffff;
    const MASK_64: u128 = 0xffffffffffffffff;

    #[storage]
    struct Storage {
        hub: felt252,
        local_domain: u32,
        nonce: u64,
        delivered: LegacyMap<u256, bool>,
    }

    #[event]
    #[derive(Drop, starknet::Event)]
    enum Event {
        MessageSent: MessageSent,
        MessageDelivered: MessageDelivered,
    }

    #[derive(Drop, starknet::Event)]
    struct MessageSent {
        id: u256,
        dst_domain: u32,
        nonce: u64,
        sender: felt252,
        recipient: felt252,
        words: Array<felt252>,
    }

    #[derive(Drop, starknet::Event)]
    struct MessageDelivered {
        id: u256,
        src_domain: u32,
        nonce: u64,
        sender: felt252,
        recipient: felt252,
    }

    #[constructor]
    fn constructor(ref self: ContractState, hub: felt252, local_domain: u32) {
        self.hub.write(hub);
        self.local_domain.write(local_domain);
    }

    /// keccak256 of the words as 32-byte big-endian values (Solidity's abi.encodePacked).
    fn envelope_id(words: @Array<felt252>) -> u256 {
        let mut input: Array<u256> = ArrayTrait::new();
        let mut i: u32 = 0;
        loop {
            if i == words.len() {
                break;
            }
            let word: u256 = (*words.at(i)).into();
            input.append(word);
            i += 1;
        };
        let le = keccak_u256s_be_inputs(input.span());
        u256 { low: u128_byte_reverse(le.high), high: u128_byte_reverse(le.low) }
    }

    #[l1_handler]
    fn receive_message(
        ref self: ContractState,
        from_address: felt252,
        header: felt252,
        sender: felt252,
        recipient: felt252,
        payload: Array<felt252>
    ) {
        assert(from_address == self.hub.read(), 'ONLY_HUB');
        let h: u256 = header.into();
        assert(h.high == ENVELOPE_VERSION.try_into().unwrap(), 'BAD_ENVELOPE_VERSION');
        let nonce: u64 = (h.low & MASK_64).try_into().unwrap();
        let dst_domain: u32 = ((h.low / TWO_POW_64) & MASK_32).try_into().unwrap();
        let src_domain: u32 = (h.low / TWO_POW_96).try_into().unwrap();
        assert(dst_domain == self.local_domain.read(), 'WRONG_DESTINATION');

        let mut words: Array<felt252> = ArrayTrait::new();
        words.append(header);
        words.append(sender);
        words.append(recipient);
        let items = payload.span();
        words.append(items.len().into());
        let mut i: u32 = 0;
        loop {
            if i == items.len() {
                break;
            }
            words.append(*items.at(i));
            i += 1;
        };
        let id = envelope_id(@words);
        assert(!self.delivered.read(id), 'ALREADY_DELIVERED');
        self.delivered.write(id, true);

        let to: ContractAddress = recipient.try_into().unwrap();
        IXrouteReceiverDispatcher { contract_address: to }.on_message(src_domain, sender, payload);
        self.emit(Event::MessageDelivered(MessageDelivered { id, src_domain, nonce, sender, recipient }));
    }

    /// Wraps `payload` in an envelope from the caller, sends it to the Hub; returns its id.
    fn send(
        ref self: ContractState, dst_domain: u32, recipient: felt252, payload: Array<felt252>
    ) -> u256 {
        let nonce = self.nonce.read();
        self.nonce.write(nonce + 1);
        let src: felt252 = self.local_domain.read().into();
        let dst: felt252 = dst_domain.into();
        let n: felt252 = nonce.into();
        // version << 128 | src << 96 | dst << 64 | nonce: 136 bits, always a felt.
        let header = ENVELOPE_VERSION * 0x100000000000000000000000000000000
            + src * 0x1000000000000000000000000
            + dst * 0x10000000000000000
            + n;
        let sender: felt252 = get_caller_address().into();
        let mut words: Array<felt252> = ArrayTrait::new();
        words.append(header);
        words.append(sender);
        words.append(recipient);
        let items = payload.span();
        words.append(items.len().into());
        let mut i: u32 = 0;
        loop {
            if i == items.len() {
                break;
            }
            words.append(*items.at(i));
            i += 1;
        };
        let id = envelope_id(@words);
        send_message_to_l1_syscall(self.hub.read(), words.span()).unwrap_syscall();
        self.emit(Event::MessageSent(MessageSent { id, dst_domain, nonce, sender, recipient, words }));
        id
    }

    #[external(v0)]
    impl EndpointImpl of super::IEndpoint<ContractState> {
        fn send_message(
            ref self: ContractState, dst_domain: u32, recipient: felt252, payload: Array<felt252>
        ) -> u256 {
            send(ref self, dst_domain, recipient, payload)
        }

        fn send_message_paid(
            ref self: ContractState,
            dst_domain: u32,
            recipient: felt252,
            payload: Array<felt252>,
            tank: ContractAddress,
            terms: Terms
        ) -> u256 {
            let id = send(ref self, dst_domain, recipient, payload);
            IGasTankPayForDispatcher { contract_address: tank }
                .pay_for(id, get_caller_address(), dst_domain, terms);
            id
        }

        fn hub(self: @ContractState) -> felt252 {
            self.hub.read()
        }

        fn local_domain(self: @ContractState) -> u32 {
            self.local_domain.read()
        }

        fn next_nonce(self: @ContractState) -> u64 {
            self.nonce.read()
        }

        fn is_delivered(self: @ContractState, id: u256) -> bool {
            self.delivered.read(id)
        }
    }
}
