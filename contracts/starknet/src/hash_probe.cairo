//! HashProbe: computes in Cairo the hashes xroute computes in Rust and Solidity, so a test on
//! devnet can prove all three agree: the xroute envelope id (keccak256 over big-endian words) and
//! Piltover's Poseidon message hashes. The Starknet Endpoint computes ids the same way.

#[starknet::interface]
trait IHashProbe<TContractState> {
    /// keccak256 of the envelope's canonical words (each < 2^251), as Solidity's
    /// keccak256(abi.encodePacked(uint256[] words)).
    fn envelope_id(self: @TContractState, words: Array<felt252>) -> u256;
    /// Piltover Starknet -> appchain message hash.
    fn sn_to_appchain_hash(
        self: @TContractState,
        from_address: felt252,
        to_address: felt252,
        nonce: felt252,
        selector: felt252,
        payload: Array<felt252>
    ) -> felt252;
    /// Piltover appchain -> Starknet message hash.
    fn appchain_to_sn_hash(
        self: @TContractState, from_address: felt252, to_address: felt252, payload: Array<felt252>
    ) -> felt252;
}

#[starknet::contract]
mod HashProbe {
    use array::{ArrayTrait, SpanTrait};
    use integer::u128_byte_reverse;
    use keccak::keccak_u256s_be_inputs;
    use poseidon::poseidon_hash_span;
    use traits::Into;

    #[storage]
    struct Storage {}

    fn append_all(ref data: Array<felt252>, payload: @Array<felt252>) {
        let mut i: u32 = 0;
        loop {
            if i == payload.len() {
                break;
            }
            data.append(*payload.at(i));
            i += 1;
        };
    }

    #[external(v0)]
    impl HashProbeImpl of super::IHashProbe<ContractState> {
        fn envelope_id(self: @ContractState, words: Array<felt252>) -> u256 {
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
            // keccak_u256s_be_inputs returns the digest as a little-endian u256.
            let le = keccak_u256s_be_inputs(input.span());
            u256 { low: u128_byte_reverse(le.high), high: u128_byte_reverse(le.low) }
        }

        fn sn_to_appchain_hash(
            self: @ContractState,
            from_address: felt252,
            to_address: felt252,
            nonce: felt252,
            selector: felt252,
            payload: Array<felt252>
        ) -> felt252 {
            let mut data: Array<felt252> = ArrayTrait::new();
            data.append(from_address);
            data.append(to_address);
            data.append(nonce);
            data.append(selector);
            data.append(payload.len().into());
            append_all(ref data, @payload);
            poseidon_hash_span(data.span())
        }

        fn appchain_to_sn_hash(
            self: @ContractState, from_address: felt252, to_address: felt252, payload: Array<felt252>
        ) -> felt252 {
            let mut data: Array<felt252> = ArrayTrait::new();
            data.append(from_address);
            data.append(to_address);
            data.append(payload.len().into());
            append_all(ref data, @payload);
            poseidon_hash_span(data.span())
        }
    }
}
