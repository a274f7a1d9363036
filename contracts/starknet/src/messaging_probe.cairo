//! MessagingProbe: the smallest contract that exercises Starknet's native L1 <-> L2 messaging.
//! Its L1 handler stores what it receives (so a test can read it back from L2 storage), and
//! `send_to_l1` emits an L2 -> L1 message through the syscall. Used by the test kit's round trip.

#[starknet::interface]
trait IMessagingProbe<TContractState> {
    /// Sends `payload` to the L1 address `to_address` through Starknet's L2 -> L1 messaging.
    fn send_to_l1(ref self: TContractState, to_address: felt252, payload: Array<felt252>);
    /// How many L1 -> L2 messages the L1 handler has executed.
    fn received_count(self: @TContractState) -> u64;
    /// The sender and payload of the last L1 -> L2 message.
    fn last_received(self: @TContractState) -> (felt252, Array<felt252>);
}

#[starknet::contract]
mod MessagingProbe {
    use array::{ArrayTrait, SpanTrait};
    use starknet::syscalls::send_message_to_l1_syscall;

    #[storage]
    struct Storage {
        received_count: u64,
        last_from: felt252,
        last_len: u32,
        last_payload: LegacyMap<u32, felt252>,
    }

    #[event]
    #[derive(Drop, starknet::Event)]
    enum Event {
        ReceivedFromL1: ReceivedFromL1,
        SentToL1: SentToL1,
    }

    #[derive(Drop, starknet::Event)]
    struct ReceivedFromL1 {
        from_address: felt252,
        len: u32,
    }

    #[derive(Drop, starknet::Event)]
    struct SentToL1 {
        to_address: felt252,
        len: u32,
    }

    #[l1_handler]
    fn receive_from_l1(ref self: ContractState, from_address: felt252, payload: Array<felt252>) {
        let len = payload.len();
        let mut i: u32 = 0;
        loop {
            if i == len {
                break;
            }
            self.last_payload.write(i, *payload.at(i));
            i += 1;
        };
        self.last_len.write(len);
        self.last_from.write(from_address);
        self.received_count.write(self.received_count.read() + 1);
        self.emit(Event::ReceivedFromL1(ReceivedFromL1 { from_address, len }));
    }

    #[external(v0)]
    impl MessagingProbeImpl of super::IMessagingProbe<ContractState> {
        fn send_to_l1(ref self: ContractState, to_address: felt252, payload: Array<felt252>) {
            let len = payload.len();
            send_message_to_l1_syscall(to_address, payload.span()).unwrap_syscall();
            self.emit(Event::SentToL1(SentToL1 { to_address, len }));
        }

        fn received_count(self: @ContractState) -> u64 {
            self.received_count.read()
        }

        fn last_received(self: @ContractState) -> (felt252, Array<felt252>) {
            let len = self.last_len.read();
            let mut payload = ArrayTrait::new();
            let mut i: u32 = 0;
            loop {
                if i == len {
                    break;
                }
                payload.append(self.last_payload.read(i));
                i += 1;
            };
            (self.last_from.read(), payload)
        }
    }
}
