//! Pool: many users of a Starknet-family chain reach one L1 vault with one L1 action per epoch
//! (ADR 0009). Users `deposit` the canonical token and `request_withdrawal` of their pool shares;
//! both are recorded for the current epoch. Anyone may `close_epoch` once it is older than
//! `period` seconds or holds at least `size` in deposits: the epoch's deposits D cross to the L1
//! PoolManager as one transfer-and-call (burned here, minted on L1) with data
//! `[epoch, W, entries_hash]`, W being the shares asked back, `entries_hash` a Poseidon chain over
//! the epoch's entries. The manager nets them against the vault on L1 and answers with one
//! transfer-and-call of the withdrawals' assets A_W and `[epoch, S_D, A_W, D, W, totalAssets,
//! totalSupply]` (PoolManager.sol). Then each user `claim`s: a deposit of `amount` gets
//! `amount × S_D / D` shares, a withdrawal of `shares` gets `shares × A_W / W` tokens, both
//! floored: what rounding leaves (less than one unit per entry) stays in the pool and is counted
//! (`epoch_claimed`). If the vault refused, the ledger returns D with the epoch's data (why 1):
//! each user claims back their deposit and their withdrawn shares.
//!
//! One pool share is one vault share the manager holds for this pool on L1.

use starknet::ContractAddress;

#[starknet::interface]
trait IToken<TContractState> {
    fn transfer(ref self: TContractState, recipient: ContractAddress, amount: u256) -> bool;
    fn transfer_from(
        ref self: TContractState, sender: ContractAddress, recipient: ContractAddress, amount: u256
    ) -> bool;
    fn transfer_remote_call(
        ref self: TContractState, dst_domain: u32, recipient: felt252, amount: u256, data: Array<felt252>
    ) -> u256;
}

#[starknet::interface]
trait IPool<TContractState> {
    /// Takes `amount` of the caller's tokens (approved to the pool) into the current epoch.
    fn deposit(ref self: TContractState, amount: u256);
    /// Takes `shares` of the caller's pool shares into the current epoch's withdrawals.
    fn request_withdrawal(ref self: TContractState, shares: u256);
    /// Closes the current epoch and sends it to L1; returns the message id.
    fn close_epoch(ref self: TContractState) -> u256;
    /// Called by the token router with the L1 answer (why 0) or a refund of the epoch (why 1, 2).
    fn on_tokens(
        ref self: TContractState,
        src_domain: u32,
        from: felt252,
        amount: u256,
        why: felt252,
        data: Array<felt252>
    );
    /// Credits the caller's entries of a settled or refunded `epoch`; returns (shares, tokens).
    fn claim(ref self: TContractState, epoch: u64) -> (u256, u256);
    fn current_epoch(self: @TContractState) -> u64;
    /// 0 open, 1 sent to L1, 2 settled, 3 refunded.
    fn epoch_state(self: @TContractState, epoch: u64) -> u8;
    /// (deposits D in tokens, withdrawals W in shares).
    fn epoch_totals(self: @TContractState, epoch: u64) -> (u256, u256);
    /// (S_D: shares the deposits bought, A_W: tokens the withdrawals got), once settled.
    fn epoch_result(self: @TContractState, epoch: u64) -> (u256, u256);
    /// The vault's (totalAssets, totalSupply) right after the epoch settled on L1.
    fn epoch_price(self: @TContractState, epoch: u64) -> (u256, u256);
    /// (shares, tokens) claimed so far from the epoch.
    fn epoch_claimed(self: @TContractState, epoch: u64) -> (u256, u256);
    /// (entries, entries hash, opened at).
    fn epoch_entries(self: @TContractState, epoch: u64) -> (u32, felt252, u64);
    /// (deposited tokens, withdrawal shares) of `account` in `epoch`.
    fn entry(self: @TContractState, epoch: u64, account: ContractAddress) -> (u256, u256);
    fn claimed(self: @TContractState, epoch: u64, account: ContractAddress) -> bool;
    fn shares_of(self: @TContractState, account: ContractAddress) -> u256;
    /// The pool shares users hold (claimed, not asked back).
    fn total_shares(self: @TContractState) -> u256;
    /// (token, manager on L1, L1 domain).
    fn config(self: @TContractState) -> (ContractAddress, felt252, u32);
    /// When an epoch may close: (period in seconds, size in tokens).
    fn rules(self: @TContractState) -> (u64, u256);
}

#[starknet::contract]
mod Pool {
    use array::{ArrayTrait, SpanTrait};
    use option::OptionTrait;
    use poseidon::poseidon_hash_span;
    use starknet::{ContractAddress, get_block_timestamp, get_caller_address, get_contract_address};
    use traits::{Into, TryInto};
    use zeroable::Zeroable;
    use super::{ITokenDispatcher, ITokenDispatcherTrait};

    const OPEN: u8 = 0;
    const SENT: u8 = 1;
    const SETTLED: u8 = 2;
    const REFUNDED: u8 = 3;
    const KIND_DEPOSIT: felt252 = 1;
    const KIND_WITHDRAWAL: felt252 = 2;

    #[storage]
    struct Storage {
        token: ContractAddress,
        manager: felt252,
        l1_domain: u32,
        period: u64,
        size: u256,
        current: u64,
        state: LegacyMap<u64, u8>,
        opened_at: LegacyMap<u64, u64>,
        deposits: LegacyMap<u64, u256>,
        withdrawals: LegacyMap<u64, u256>,
        entries: LegacyMap<u64, u32>,
        hash: LegacyMap<u64, felt252>,
        deposit_shares: LegacyMap<u64, u256>,
        withdrawal_assets: LegacyMap<u64, u256>,
        total_assets: LegacyMap<u64, u256>,
        total_supply: LegacyMap<u64, u256>,
        claimed_shares: LegacyMap<u64, u256>,
        claimed_assets: LegacyMap<u64, u256>,
        deposited: LegacyMap<(u64, ContractAddress), u256>,
        withdrawing: LegacyMap<(u64, ContractAddress), u256>,
        claimed: LegacyMap<(u64, ContractAddress), bool>,
        shares: LegacyMap<ContractAddress, u256>,
        total_shares: u256,
    }

    #[event]
    #[derive(Drop, starknet::Event)]
    enum Event {
        Deposited: Deposited,
        WithdrawalRequested: WithdrawalRequested,
        EpochClosed: EpochClosed,
        EpochSettled: EpochSettled,
        EpochRefunded: EpochRefunded,
        Claimed: Claimed,
    }

    #[derive(Drop, starknet::Event)]
    struct Deposited {
        epoch: u64,
        account: ContractAddress,
        amount: u256,
    }

    #[derive(Drop, starknet::Event)]
    struct WithdrawalRequested {
        epoch: u64,
        account: ContractAddress,
        shares: u256,
    }

    #[derive(Drop, starknet::Event)]
    struct EpochClosed {
        epoch: u64,
        deposits: u256,
        withdrawals: u256,
        entries: u32,
        entries_hash: felt252,
    }

    #[derive(Drop, starknet::Event)]
    struct EpochSettled {
        epoch: u64,
        deposit_shares: u256,
        withdrawal_assets: u256,
    }

    #[derive(Drop, starknet::Event)]
    struct EpochRefunded {
        epoch: u64,
        amount: u256,
    }

    #[derive(Drop, starknet::Event)]
    struct Claimed {
        epoch: u64,
        account: ContractAddress,
        shares: u256,
        amount: u256,
    }

    /// `token`: the canonical token's router on this chain; `manager`: the L1 PoolManager.
    #[constructor]
    fn constructor(
        ref self: ContractState,
        token: ContractAddress,
        manager: felt252,
        l1_domain: u32,
        period: u64,
        size: u256
    ) {
        self.token.write(token);
        self.manager.write(manager);
        self.l1_domain.write(l1_domain);
        self.period.write(period);
        self.size.write(size);
        self.current.write(1);
        self.opened_at.write(1, get_block_timestamp());
    }

    fn add_entry(ref self: ContractState, epoch: u64, account: ContractAddress, kind: felt252, amount: u256) {
        assert(amount != 0, 'ZERO_AMOUNT');
        assert(amount.high == 0, 'AMOUNT_TOO_LARGE');
        let mut words: Array<felt252> = ArrayTrait::new();
        words.append(self.hash.read(epoch));
        words.append(account.into());
        words.append(kind);
        words.append(amount.low.into());
        self.hash.write(epoch, poseidon_hash_span(words.span()));
        self.entries.write(epoch, self.entries.read(epoch) + 1);
    }

    fn word_u256(word: felt252) -> u256 {
        word.into()
    }

    #[external(v0)]
    impl PoolImpl of super::IPool<ContractState> {
        fn deposit(ref self: ContractState, amount: u256) {
            let epoch = self.current.read();
            let account = get_caller_address();
            add_entry(ref self, epoch, account, KIND_DEPOSIT, amount);
            // The ledger moves less than 2^128: a fuller epoch could never close.
            let total = self.deposits.read(epoch) + amount;
            assert(total.high == 0, 'EPOCH_FULL');
            self.deposited.write((epoch, account), self.deposited.read((epoch, account)) + amount);
            self.deposits.write(epoch, total);
            self.emit(Event::Deposited(Deposited { epoch, account, amount }));
            ITokenDispatcher { contract_address: self.token.read() }
                .transfer_from(account, get_contract_address(), amount);
        }

        fn request_withdrawal(ref self: ContractState, shares: u256) {
            let epoch = self.current.read();
            let account = get_caller_address();
            let have = self.shares.read(account);
            assert(shares <= have, 'INSUFFICIENT_SHARES');
            add_entry(ref self, epoch, account, KIND_WITHDRAWAL, shares);
            let total = self.withdrawals.read(epoch) + shares;
            assert(total.high == 0, 'EPOCH_FULL');
            self.shares.write(account, have - shares);
            self.total_shares.write(self.total_shares.read() - shares);
            self.withdrawing.write((epoch, account), self.withdrawing.read((epoch, account)) + shares);
            self.withdrawals.write(epoch, total);
            self.emit(Event::WithdrawalRequested(WithdrawalRequested { epoch, account, shares }));
        }

        fn close_epoch(ref self: ContractState) -> u256 {
            let epoch = self.current.read();
            let deposits = self.deposits.read(epoch);
            let withdrawals = self.withdrawals.read(epoch);
            assert(deposits != 0 || withdrawals != 0, 'EPOCH_EMPTY');
            assert(withdrawals.high == 0, 'AMOUNT_TOO_LARGE');
            let now = get_block_timestamp();
            let age = now - self.opened_at.read(epoch);
            assert(age >= self.period.read() || deposits >= self.size.read(), 'EPOCH_NOT_DUE');
            self.state.write(epoch, SENT);
            self.current.write(epoch + 1);
            self.opened_at.write(epoch + 1, now);
            let entries_hash = self.hash.read(epoch);
            self
                .emit(
                    Event::EpochClosed(
                        EpochClosed {
                            epoch, deposits, withdrawals, entries: self.entries.read(epoch), entries_hash
                        }
                    )
                );
            let mut data: Array<felt252> = ArrayTrait::new();
            data.append(epoch.into());
            data.append(withdrawals.low.into());
            data.append(entries_hash);
            ITokenDispatcher { contract_address: self.token.read() }
                .transfer_remote_call(self.l1_domain.read(), self.manager.read(), deposits, data)
        }

        fn on_tokens(
            ref self: ContractState,
            src_domain: u32,
            from: felt252,
            amount: u256,
            why: felt252,
            data: Array<felt252>
        ) {
            assert(get_caller_address() == self.token.read(), 'ONLY_TOKEN');
            assert(src_domain == self.l1_domain.read(), 'NOT_FROM_L1');
            let items = data.span();
            assert(items.len() >= 3, 'BAD_ANSWER');
            let epoch: u64 = (*items.at(0)).try_into().expect('BAD_ANSWER');
            assert(self.state.read(epoch) == SENT, 'EPOCH_NOT_SENT');
            if why == 0 {
                // The manager's answer: [epoch, S_D, A_W, D, W, totalAssets, totalSupply].
                assert(from == self.manager.read(), 'NOT_FROM_MANAGER');
                assert(items.len() == 7, 'BAD_ANSWER');
                let deposit_shares = word_u256(*items.at(1));
                let withdrawal_assets = word_u256(*items.at(2));
                assert(amount == withdrawal_assets, 'BAD_ANSWER');
                assert(word_u256(*items.at(3)) == self.deposits.read(epoch), 'BAD_ANSWER');
                assert(word_u256(*items.at(4)) == self.withdrawals.read(epoch), 'BAD_ANSWER');
                self.deposit_shares.write(epoch, deposit_shares);
                self.withdrawal_assets.write(epoch, withdrawal_assets);
                self.total_assets.write(epoch, word_u256(*items.at(5)));
                self.total_supply.write(epoch, word_u256(*items.at(6)));
                self.state.write(epoch, SETTLED);
                self
                    .emit(
                        Event::EpochSettled(EpochSettled { epoch, deposit_shares, withdrawal_assets })
                    );
            } else {
                // The epoch's own transfer, sent back by the ledger (refused on L1, or cancelled).
                let me: felt252 = get_contract_address().into();
                assert(from == me, 'NOT_OUR_EPOCH');
                assert(items.len() == 3, 'BAD_ANSWER');
                assert(amount == self.deposits.read(epoch), 'BAD_ANSWER');
                self.state.write(epoch, REFUNDED);
                self.emit(Event::EpochRefunded(EpochRefunded { epoch, amount }));
            }
        }

        fn claim(ref self: ContractState, epoch: u64) -> (u256, u256) {
            let account = get_caller_address();
            let state = self.state.read(epoch);
            assert(state == SETTLED || state == REFUNDED, 'EPOCH_NOT_SETTLED');
            assert(!self.claimed.read((epoch, account)), 'ALREADY_CLAIMED');
            let deposited = self.deposited.read((epoch, account));
            let withdrawing = self.withdrawing.read((epoch, account));
            assert(deposited != 0 || withdrawing != 0, 'NOTHING_TO_CLAIM');
            self.claimed.write((epoch, account), true);
            let (shares, amount) = if state == SETTLED {
                let d = self.deposits.read(epoch);
                let w = self.withdrawals.read(epoch);
                let shares = if deposited == 0 {
                    0
                } else {
                    deposited * self.deposit_shares.read(epoch) / d
                };
                let amount = if withdrawing == 0 {
                    0
                } else {
                    withdrawing * self.withdrawal_assets.read(epoch) / w
                };
                self.claimed_shares.write(epoch, self.claimed_shares.read(epoch) + shares);
                self.claimed_assets.write(epoch, self.claimed_assets.read(epoch) + amount);
                (shares, amount)
            } else {
                (withdrawing, deposited)
            };
            self.shares.write(account, self.shares.read(account) + shares);
            self.total_shares.write(self.total_shares.read() + shares);
            self.emit(Event::Claimed(Claimed { epoch, account, shares, amount }));
            if amount != 0 {
                ITokenDispatcher { contract_address: self.token.read() }.transfer(account, amount);
            }
            (shares, amount)
        }

        fn current_epoch(self: @ContractState) -> u64 {
            self.current.read()
        }

        fn epoch_state(self: @ContractState, epoch: u64) -> u8 {
            self.state.read(epoch)
        }

        fn epoch_totals(self: @ContractState, epoch: u64) -> (u256, u256) {
            (self.deposits.read(epoch), self.withdrawals.read(epoch))
        }

        fn epoch_result(self: @ContractState, epoch: u64) -> (u256, u256) {
            (self.deposit_shares.read(epoch), self.withdrawal_assets.read(epoch))
        }

        fn epoch_price(self: @ContractState, epoch: u64) -> (u256, u256) {
            (self.total_assets.read(epoch), self.total_supply.read(epoch))
        }

        fn epoch_claimed(self: @ContractState, epoch: u64) -> (u256, u256) {
            (self.claimed_shares.read(epoch), self.claimed_assets.read(epoch))
        }

        fn epoch_entries(self: @ContractState, epoch: u64) -> (u32, felt252, u64) {
            (self.entries.read(epoch), self.hash.read(epoch), self.opened_at.read(epoch))
        }

        fn entry(self: @ContractState, epoch: u64, account: ContractAddress) -> (u256, u256) {
            (self.deposited.read((epoch, account)), self.withdrawing.read((epoch, account)))
        }

        fn claimed(self: @ContractState, epoch: u64, account: ContractAddress) -> bool {
            self.claimed.read((epoch, account))
        }

        fn shares_of(self: @ContractState, account: ContractAddress) -> u256 {
            self.shares.read(account)
        }

        fn total_shares(self: @ContractState) -> u256 {
            self.total_shares.read()
        }

        fn config(self: @ContractState) -> (ContractAddress, felt252, u32) {
            (self.token.read(), self.manager.read(), self.l1_domain.read())
        }

        fn rules(self: @ContractState) -> (u64, u256) {
            (self.period.read(), self.size.read())
        }
    }
}
