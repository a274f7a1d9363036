//! AccountRouter on a Starknet-family chain (issue 31): one InterchainAccount per (source
//! domain, owner), deployed on first use by this router at the address `account_of` gives
//! beforehand (salt = pedersen(domain, owner), constructor calldata = [this router]). Only
//! messages the Endpoint delivers command an account, and only the owner's own account: the
//! account is chosen by the message's proven (source domain, sender).
//!
//! Request: [1, tag, k, (domain, recipient) × k, outputs, n, (target, selector, m, calldata × m) × n]
//! Result:  [2, tag, srcDomain, owner, 1, 0, j, (len, data × len) × j], the return data of each
//!          call whose bit is set in `outputs`. A failing call reverts the message's delivery
//!          (Starknet cannot catch it): nothing runs, no result is kept, and the router parks the
//!          message with the revert reason.
//!
//! The result is not sent from the L1 handler: it is kept (its hash under an id, the words in
//! `ResultKept`) and anyone sends it to the request's replies with `send_result`, paying those
//! messages. An L1 handler that sends an L2 -> L1 message is not estimable on starknet-devnet
//! 0.10.1 ("resources don't cover ... the minimal transaction fee"), and this keeps the handler's
//! cost, which the sender pays on L1, small and fixed.

#[starknet::interface]
trait IEndpoint<TContractState> {
    fn send_message(
        ref self: TContractState, dst_domain: u32, recipient: felt252, payload: Array<felt252>
    ) -> u256;
}

#[starknet::interface]
trait IInterchainAccount<TContractState> {
    fn execute(ref self: TContractState, calls: Array<felt252>) -> Array<felt252>;
}

#[starknet::interface]
trait IAccountRouter<TContractState> {
    /// Called by the Endpoint for a delivered message: runs the sender's calls in its account.
    fn on_message(ref self: TContractState, src_domain: u32, sender: felt252, payload: Array<felt252>);
    /// Sends kept result `id` (its replies as (domain, recipient) pairs, and its words, as
    /// `ResultKept` logged them) to each reply, once.
    fn send_result(ref self: TContractState, id: felt252, replies: Array<felt252>, result: Array<felt252>);
    /// The hash of kept result `id` not sent yet (0: none, or sent).
    fn kept_result(self: @TContractState, id: felt252) -> felt252;
    /// The account of (domain, owner), made or not yet.
    fn account_of(self: @TContractState, domain: u32, owner: felt252) -> felt252;
    /// Whether that account is made.
    fn is_made(self: @TContractState, domain: u32, owner: felt252) -> bool;
    /// The accounts' class.
    fn account_class(self: @TContractState) -> felt252;
    /// The Endpoint this router trusts.
    fn endpoint(self: @TContractState) -> felt252;
}

#[starknet::contract]
mod AccountRouter {
    use array::{ArrayTrait, SpanTrait};
    use option::OptionTrait;
    use hash::pedersen;
    use poseidon::poseidon_hash_span;
    use clone::Clone;
    use starknet::{ClassHash, ContractAddress, get_caller_address, get_contract_address};
    use starknet::class_hash::Felt252TryIntoClassHash;
    use starknet::syscalls::deploy_syscall;
    use traits::{Into, TryInto};
    use super::{
        IEndpointDispatcher, IEndpointDispatcherTrait, IInterchainAccountDispatcher,
        IInterchainAccountDispatcherTrait
    };

    const OP_CALLS: felt252 = 1;
    const OP_RESULT: felt252 = 2;
    const MAX_REPLIES: u32 = 4;
    const MAX_CALLS: u32 = 16;
    /// 'STARKNET_CONTRACT_ADDRESS', the prefix of a contract address's hash.
    const CONTRACT_ADDRESS_PREFIX: felt252 = 'STARKNET_CONTRACT_ADDRESS';
    /// 2^251 - 256: addresses are below it.
    const ADDRESS_BOUND: u256 =
        0x7ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff00;

    #[storage]
    struct Storage {
        endpoint: felt252,
        account_class: felt252,
        made: LegacyMap<felt252, bool>,
        results: LegacyMap<felt252, felt252>,
        result_count: felt252,
    }

    #[event]
    #[derive(Drop, starknet::Event)]
    enum Event {
        Executed: Executed,
        ResultKept: ResultKept,
        ResultSent: ResultSent,
    }

    #[derive(Drop, starknet::Event)]
    struct ResultKept {
        id: felt252,
        replies: Array<felt252>,
        result: Array<felt252>,
    }

    #[derive(Drop, starknet::Event)]
    struct ResultSent {
        id: felt252,
    }

    #[derive(Drop, starknet::Event)]
    struct Executed {
        src_domain: u32,
        owner: felt252,
        account: felt252,
        tag: felt252,
        calls: u32,
    }

    #[constructor]
    fn constructor(ref self: ContractState, endpoint: felt252, account_class: felt252) {
        self.endpoint.write(endpoint);
        self.account_class.write(account_class);
    }

    /// pedersen(...pedersen(pedersen(0, e0), e1)..., n): Starknet's hash of a list.
    fn hash_on_elements(items: Span<felt252>) -> felt252 {
        let mut h: felt252 = 0;
        let mut i: u32 = 0;
        loop {
            if i == items.len() {
                break;
            }
            h = pedersen(h, *items.at(i));
            i += 1;
        };
        pedersen(h, items.len().into())
    }

    fn salt_of(domain: u32, owner: felt252) -> felt252 {
        pedersen(domain.into(), owner)
    }

    /// The address `deploy_syscall` gives the account of `salt` deployed by this router.
    fn address_of(self: @ContractState, salt: felt252) -> felt252 {
        let this: felt252 = get_contract_address().into();
        let mut calldata: Array<felt252> = ArrayTrait::new();
        calldata.append(this);
        let mut items: Array<felt252> = ArrayTrait::new();
        items.append(CONTRACT_ADDRESS_PREFIX);
        items.append(this);
        items.append(salt);
        items.append(self.account_class.read());
        items.append(hash_on_elements(calldata.span()));
        let h: u256 = hash_on_elements(items.span()).into();
        let bounded = if h >= ADDRESS_BOUND {
            h - ADDRESS_BOUND
        } else {
            h
        };
        bounded.try_into().unwrap()
    }

    /// poseidon(replies.len, replies…, result…): what a kept result is checked against.
    fn result_hash(replies: Span<felt252>, result: Span<felt252>) -> felt252 {
        let mut all: Array<felt252> = ArrayTrait::new();
        all.append(replies.len().into());
        let mut i: u32 = 0;
        loop {
            if i == replies.len() {
                break;
            }
            all.append(*replies.at(i));
            i += 1;
        };
        let mut j: u32 = 0;
        loop {
            if j == result.len() {
                break;
            }
            all.append(*result.at(j));
            j += 1;
        };
        poseidon_hash_span(all.span())
    }

    fn small(word: felt252, max: u32, what: felt252) -> u32 {
        let n: u32 = match word.try_into() {
            Option::Some(n) => n,
            Option::None => {
                panic_with_felt252(what);
                0
            },
        };
        assert(n <= max, what);
        n
    }

    #[external(v0)]
    impl AccountRouterImpl of super::IAccountRouter<ContractState> {
        fn on_message(ref self: ContractState, src_domain: u32, sender: felt252, payload: Array<felt252>) {
            let caller: felt252 = get_caller_address().into();
            assert(caller == self.endpoint.read(), 'ONLY_ENDPOINT');
            let words = payload.span();
            assert(words.len() >= 5, 'NOT_A_CALLS_REQUEST');
            assert(*words.at(0) == OP_CALLS, 'NOT_A_CALLS_REQUEST');
            let tag = *words.at(1);
            let k = small(*words.at(2), MAX_REPLIES, 'MORE_THAN_4_REPLIES');
            assert(words.len() >= 5 + 2 * k, 'TRUNCATED_REQUEST');
            let outputs: u128 = match (*words.at(3 + 2 * k)).try_into() {
                Option::Some(m) => m,
                Option::None => {
                    panic_with_felt252('BAD_OUTPUTS');
                    0
                },
            };
            let n = small(*words.at(4 + 2 * k), MAX_CALLS, 'MORE_THAN_16_CALLS');
            assert(n > 0, 'NO_CALLS');
            // The calls' words, checked to hold exactly n calls.
            let start = 5 + 2 * k;
            let mut at = start;
            let mut count: u32 = 0;
            loop {
                if at == words.len() {
                    break;
                }
                assert(at + 3 <= words.len(), 'TRUNCATED_CALL');
                let m: u32 = match (*words.at(at + 2)).try_into() {
                    Option::Some(m) => m,
                    Option::None => {
                        panic_with_felt252('BAD_CALLDATA_LENGTH');
                        0
                    },
                };
                assert(at + 3 + m <= words.len(), 'TRUNCATED_CALLDATA');
                at = at + 3 + m;
                count += 1;
            };
            assert(count == n, 'CALL_COUNT_MISMATCH');
            let mut calls: Array<felt252> = ArrayTrait::new();
            let mut i = start;
            loop {
                if i == words.len() {
                    break;
                }
                calls.append(*words.at(i));
                i += 1;
            };

            let salt = salt_of(src_domain, sender);
            let account = if self.made.read(salt) {
                address_of(@self, salt)
            } else {
                let class: ClassHash = self.account_class.read().try_into().unwrap();
                let mut calldata: Array<felt252> = ArrayTrait::new();
                calldata.append(get_contract_address().into());
                let (address, _) = deploy_syscall(class, salt, calldata.span(), false)
                    .unwrap_syscall();
                self.made.write(salt, true);
                address.into()
            };
            let to: ContractAddress = account.try_into().unwrap();
            let returned = IInterchainAccountDispatcher { contract_address: to }.execute(calls);
            self.emit(Event::Executed(Executed { src_domain, owner: sender, account, tag, calls: n }));

            // The result: the outputs asked for, in call order.
            let back = returned.span();
            let mut picked: Array<felt252> = ArrayTrait::new();
            let mut j: u32 = 0;
            let mut r: u32 = 0;
            let mut bit: u128 = 1;
            let mut c: u32 = 0;
            loop {
                if c == n {
                    break;
                }
                let len: u32 = (*back.at(r)).try_into().unwrap();
                if outputs & bit != 0 {
                    let mut x: u32 = r;
                    loop {
                        if x == r + 1 + len {
                            break;
                        }
                        picked.append(*back.at(x));
                        x += 1;
                    };
                    j += 1;
                }
                r = r + 1 + len;
                bit = bit * 2;
                c += 1;
            };
            let mut result: Array<felt252> = ArrayTrait::new();
            result.append(OP_RESULT);
            result.append(tag);
            result.append(src_domain.into());
            result.append(sender);
            result.append(1);
            result.append(0);
            result.append(j.into());
            let p = picked.span();
            let mut y: u32 = 0;
            loop {
                if y == p.len() {
                    break;
                }
                result.append(*p.at(y));
                y += 1;
            };
            if k > 0 {
                let mut replies: Array<felt252> = ArrayTrait::new();
                let mut q: u32 = 0;
                loop {
                    if q == 2 * k {
                        break;
                    }
                    replies.append(*words.at(3 + q));
                    q += 1;
                };
                let id = self.result_count.read() + 1;
                self.result_count.write(id);
                self.results.write(id, result_hash(replies.span(), result.span()));
                self.emit(Event::ResultKept(ResultKept { id, replies, result }));
            }
        }

        fn send_result(ref self: ContractState, id: felt252, replies: Array<felt252>, result: Array<felt252>) {
            let kept = self.results.read(id);
            assert(kept != 0, 'UNKNOWN_RESULT');
            assert(kept == result_hash(replies.span(), result.span()), 'UNKNOWN_RESULT');
            self.results.write(id, 0);
            let endpoint: ContractAddress = self.endpoint.read().try_into().unwrap();
            let pairs = replies.span();
            let mut q: u32 = 0;
            loop {
                if q == pairs.len() {
                    break;
                }
                let domain: u32 = (*pairs.at(q)).try_into().unwrap();
                IEndpointDispatcher { contract_address: endpoint }
                    .send_message(domain, *pairs.at(q + 1), result.clone());
                q += 2;
            };
            self.emit(Event::ResultSent(ResultSent { id }));
        }

        fn kept_result(self: @ContractState, id: felt252) -> felt252 {
            self.results.read(id)
        }

        fn account_of(self: @ContractState, domain: u32, owner: felt252) -> felt252 {
            address_of(self, salt_of(domain, owner))
        }

        fn is_made(self: @ContractState, domain: u32, owner: felt252) -> bool {
            self.made.read(salt_of(domain, owner))
        }

        fn account_class(self: @ContractState) -> felt252 {
            self.account_class.read()
        }

        fn endpoint(self: @ContractState) -> felt252 {
            self.endpoint.read()
        }
    }
}
