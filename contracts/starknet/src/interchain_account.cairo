//! InterchainAccount (issue 31): the account on a Starknet-family chain of one owner on another
//! chain, deployed by its AccountRouter on first use. It runs the calls its router hands it, in
//! order; a call that fails reverts the whole transaction (a Starknet call's failure cannot be
//! caught), so the list runs all or none.

#[starknet::interface]
trait IInterchainAccount<TContractState> {
    /// Runs `calls`, each `[target, selector, n, calldata × n]`, one after the other; only the
    /// router. Returns each call's return data as `[len, data × len]`, in order.
    fn execute(ref self: TContractState, calls: Array<felt252>) -> Array<felt252>;
    /// The router this account answers to.
    fn router(self: @TContractState) -> felt252;
}

#[starknet::contract]
mod InterchainAccount {
    use array::{ArrayTrait, SpanTrait};
    use option::OptionTrait;
    use starknet::{ContractAddress, get_caller_address};
    use starknet::syscalls::call_contract_syscall;
    use traits::{Into, TryInto};

    #[storage]
    struct Storage {
        router: felt252,
    }

    #[constructor]
    fn constructor(ref self: ContractState, router: felt252) {
        self.router.write(router);
    }

    #[external(v0)]
    impl InterchainAccountImpl of super::IInterchainAccount<ContractState> {
        fn execute(ref self: ContractState, calls: Array<felt252>) -> Array<felt252> {
            let caller: felt252 = get_caller_address().into();
            assert(caller == self.router.read(), 'ONLY_ROUTER');
            let words = calls.span();
            let mut out: Array<felt252> = ArrayTrait::new();
            let mut at: u32 = 0;
            loop {
                if at == words.len() {
                    break;
                }
                assert(at + 3 <= words.len(), 'TRUNCATED_CALL');
                let target: ContractAddress = (*words.at(at)).try_into().unwrap();
                let selector = *words.at(at + 1);
                let n: u32 = (*words.at(at + 2)).try_into().unwrap();
                assert(at + 3 + n <= words.len(), 'TRUNCATED_CALLDATA');
                let ret: Span<felt252> = call_contract_syscall(
                    target, selector, words.slice(at + 3, n)
                )
                    .unwrap_syscall();
                out.append(ret.len().into());
                let mut i: u32 = 0;
                loop {
                    if i == ret.len() {
                        break;
                    }
                    out.append(*ret.at(i));
                    i += 1;
                };
                at = at + 3 + n;
            };
            out
        }

        fn router(self: @ContractState) -> felt252 {
            self.router.read()
        }
    }
}
