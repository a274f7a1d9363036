//! SampleApp: the Starknet-side sample app of the tests and the demo. It sends through the xroute
//! Endpoint and, as an xroute receiver, keeps a count and the last payload per (source domain,
//! sender) of what the Endpoint delivers to it.

#[starknet::interface]
trait IEndpoint<TContractState> {
    fn send_message(
        ref self: TContractState, dst_domain: u32, recipient: felt252, payload: Array<felt252>
    ) -> u256;
}

#[starknet::interface]
trait ISampleApp<TContractState> {
    /// Called by the Endpoint for a delivered message.
    fn on_message(ref self: TContractState, src_domain: u32, sender: felt252, payload: Array<felt252>);
    /// Sends `payload` to `recipient` on `dst_domain` through the Endpoint; returns the envelope id.
    fn send(ref self: TContractState, dst_domain: u32, recipient: felt252, payload: Array<felt252>) -> u256;
    /// Messages received from (src_domain, sender).
    fn received_from(self: @TContractState, src_domain: u32, sender: felt252) -> u64;
    /// Messages received in all.
    fn total_received(self: @TContractState) -> u64;
    /// The last payload received from (src_domain, sender).
    fn last_payload(self: @TContractState, src_domain: u32, sender: felt252) -> Array<felt252>;
    /// The Endpoint this app trusts.
    fn endpoint(self: @TContractState) -> felt252;
}

#[starknet::contract]
mod SampleApp {
    use array::{ArrayTrait, SpanTrait};
    use option::OptionTrait;
    use starknet::{ContractAddress, get_caller_address};
    use traits::{Into, TryInto};
    use super::{IEndpointDispatcher, IEndpointDispatcherTrait};

    #[storage]
    struct Storage {
        endpoint: felt252,
        total: u64,
        count: LegacyMap<(u32, felt252), u64>,
        last_len: LegacyMap<(u32, felt252), u32>,
        last_word: LegacyMap<(u32, felt252, u32), felt252>,
    }

    #[event]
    #[derive(Drop, starknet::Event)]
    enum Event {
        Received: Received,
    }

    #[derive(Drop, starknet::Event)]
    struct Received {
        src_domain: u32,
        sender: felt252,
        count: u64,
        payload: Array<felt252>,
    }

    #[constructor]
    fn constructor(ref self: ContractState, endpoint: felt252) {
        self.endpoint.write(endpoint);
    }

    #[external(v0)]
    impl SampleAppImpl of super::ISampleApp<ContractState> {
        fn on_message(ref self: ContractState, src_domain: u32, sender: felt252, payload: Array<felt252>) {
            let caller: felt252 = get_caller_address().into();
            assert(caller == self.endpoint.read(), 'ONLY_ENDPOINT');
            let key = (src_domain, sender);
            let count = self.count.read(key) + 1;
            self.count.write(key, count);
            self.total.write(self.total.read() + 1);
            let items = payload.span();
            let mut i: u32 = 0;
            loop {
                if i == items.len() {
                    break;
                }
                self.last_word.write((src_domain, sender, i), *items.at(i));
                i += 1;
            };
            self.last_len.write(key, items.len());
            self.emit(Event::Received(Received { src_domain, sender, count, payload }));
        }

        fn send(ref self: ContractState, dst_domain: u32, recipient: felt252, payload: Array<felt252>) -> u256 {
            let endpoint: ContractAddress = self.endpoint.read().try_into().unwrap();
            IEndpointDispatcher { contract_address: endpoint }.send_message(dst_domain, recipient, payload)
        }

        fn received_from(self: @ContractState, src_domain: u32, sender: felt252) -> u64 {
            self.count.read((src_domain, sender))
        }

        fn total_received(self: @ContractState) -> u64 {
            self.total.read()
        }

        fn last_payload(self: @ContractState, src_domain: u32, sender: felt252) -> Array<felt252> {
            let len = self.last_len.read((src_domain, sender));
            let mut out: Array<felt252> = ArrayTrait::new();
            let mut i: u32 = 0;
            loop {
                if i == len {
                    break;
                }
                out.append(self.last_word.read((src_domain, sender, i)));
                i += 1;
            };
            out
        }

        fn endpoint(self: @ContractState) -> felt252 {
            self.endpoint.read()
        }
    }
}
