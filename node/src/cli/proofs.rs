//! `xroute proofs <kind>`: protocol hashes and proof checks for scripts. The result goes alone on
//! stdout as 0x-hex (`--json` prints an object); errors go to stderr as one line.

use std::{path::PathBuf, process::ExitCode};

use alloy_primitives::{Address, B256, Bytes, U256};
use clap::{Args, Subcommand};
use serde_json::{Value, json};
use xroute_proofs::{
    arbitrum::{L2ToL1Send, RetryableTicket, outbox_root_from_proof},
    envelope::Envelope,
    starknet::{
        Felt, felt_to_u256, l1_handler_tx_hash, l1_to_l2_message_hash, l2_to_l1_message_hash,
    },
    storage::AccountProof,
};

use super::{
    EXIT_FAILED, EXIT_USAGE,
    parse::{self, List},
};

#[derive(Args)]
pub(crate) struct ProofsArgs {
    /// Print a JSON object instead of the bare result.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    kind: Kind,
}

/// The fields of an L1 → L2 message, as flags.
#[derive(Args)]
struct L1ToL2Args {
    /// L1 sender address.
    #[arg(long, value_parser = parse::address)]
    from: Address,
    /// L2 recipient contract (felt).
    #[arg(long, value_parser = parse::felt)]
    to: Felt,
    /// L1-handler selector (felt).
    #[arg(long, value_parser = parse::felt)]
    selector: Felt,
    /// Message nonce (felt).
    #[arg(long, value_parser = parse::felt)]
    nonce: Felt,
    /// Payload felts, comma-separated (empty for none).
    #[arg(long, value_parser = parse::felts, default_value = "")]
    payload: List<Felt>,
}

/// The fields of an ArbSys L2 → L1 send, as flags.
#[derive(Args)]
struct SendArgs {
    /// L2 caller.
    #[arg(long, value_parser = parse::address)]
    caller: Address,
    /// L1 destination.
    #[arg(long, value_parser = parse::address)]
    destination: Address,
    /// L2 block number.
    #[arg(long, value_parser = parse::number)]
    arb_block_num: U256,
    /// L1 block number.
    #[arg(long, value_parser = parse::number)]
    eth_block_num: U256,
    /// L2 timestamp.
    #[arg(long, value_parser = parse::number)]
    timestamp: U256,
    /// Call value.
    #[arg(long, value_parser = parse::number)]
    value: U256,
    /// Calldata, 0x-hex.
    #[arg(long, value_parser = parse::hex_bytes)]
    data: Bytes,
}

impl From<SendArgs> for L2ToL1Send {
    fn from(a: SendArgs) -> Self {
        Self {
            caller: a.caller,
            destination: a.destination,
            arb_block_num: a.arb_block_num,
            eth_block_num: a.eth_block_num,
            timestamp: a.timestamp,
            value: a.value,
            data: a.data,
        }
    }
}

/// The fields of a retryable ticket, as flags.
#[derive(Args)]
struct RetryableArgs {
    /// L2 chain id.
    #[arg(long, value_parser = parse::u64_number)]
    chain_id: u64,
    /// Inbox message number.
    #[arg(long, value_parser = parse::number)]
    message_number: U256,
    /// The aliased L1 sender.
    #[arg(long, value_parser = parse::address)]
    sender: Address,
    /// L1 base fee.
    #[arg(long, value_parser = parse::number)]
    l1_base_fee: U256,
    /// Deposit.
    #[arg(long, value_parser = parse::number)]
    deposit: U256,
    /// Max fee per L2 gas.
    #[arg(long, value_parser = parse::number)]
    max_fee_per_gas: U256,
    /// L2 gas limit.
    #[arg(long, value_parser = parse::u64_number)]
    gas_limit: u64,
    /// Destination (0x0000…0000 for contract creation).
    #[arg(long, value_parser = parse::address)]
    to: Address,
    /// L2 call value.
    #[arg(long, value_parser = parse::number)]
    l2_call_value: U256,
    /// Call value refund address.
    #[arg(long, value_parser = parse::address)]
    call_value_refund_address: Address,
    /// Max submission cost.
    #[arg(long, value_parser = parse::number)]
    max_submission_cost: U256,
    /// Excess fee refund address.
    #[arg(long, value_parser = parse::address)]
    excess_fee_refund_address: Address,
    /// Calldata, 0x-hex.
    #[arg(long, value_parser = parse::hex_bytes)]
    data: Bytes,
}

impl From<RetryableArgs> for RetryableTicket {
    fn from(a: RetryableArgs) -> Self {
        Self {
            chain_id: a.chain_id,
            message_number: a.message_number,
            from: a.sender,
            l1_base_fee: a.l1_base_fee,
            deposit: a.deposit,
            max_fee_per_gas: a.max_fee_per_gas,
            gas_limit: a.gas_limit,
            to: a.to,
            l2_call_value: a.l2_call_value,
            call_value_refund_address: a.call_value_refund_address,
            max_submission_cost: a.max_submission_cost,
            excess_fee_refund_address: a.excess_fee_refund_address,
            data: a.data,
        }
    }
}

#[derive(Subcommand)]
enum Kind {
    /// Starknet L1 → L2 message hash (key of l1ToL2Messages).
    StarknetL1ToL2(L1ToL2Args),
    /// Starknet L2 → L1 message hash (key of l2ToL1Messages).
    StarknetL2ToL1 {
        /// L2 sender contract (felt).
        #[arg(long, value_parser = parse::felt)]
        from: Felt,
        /// L1 recipient address.
        #[arg(long, value_parser = parse::address)]
        to: Address,
        /// Payload felts, comma-separated (empty for none).
        #[arg(long, value_parser = parse::felts, default_value = "")]
        payload: List<Felt>,
    },
    /// Hash of the L1-handler transaction that executes an L1 → L2 message on Starknet.
    L1HandlerTx {
        #[command(flatten)]
        message: L1ToL2Args,
        /// Chain id: a felt, SN_MAIN or SN_SEPOLIA.
        #[arg(long, value_parser = parse::chain_id)]
        chain_id: Felt,
    },
    /// Arbitrum retryable ticket id (the L2 hash of its submission).
    ArbitrumRetryableId(RetryableArgs),
    /// Arbitrum L2 → L1 send hash (as in ArbSys's L2ToL1Tx event).
    ArbitrumSendHash(SendArgs),
    /// The outbox root a send's Merkle proof leads to (Outbox.calculateMerkleRoot).
    ArbitrumOutboxRoot {
        /// The send hash.
        #[arg(long, value_parser = parse::hash)]
        send_hash: B256,
        /// Its index in the send accumulator.
        #[arg(long, value_parser = parse::u64_number)]
        index: u64,
        /// Sibling hashes, comma-separated (empty for a one-send tree).
        #[arg(long, value_parser = parse::hashes, default_value = "")]
        proof: List<B256>,
    },
    /// The id of an xroute envelope v1 (keccak256 of its canonical words).
    EnvelopeId {
        /// Source domain.
        #[arg(long, value_parser = parse::u64_number)]
        src_domain: u64,
        /// Nonce at the source endpoint.
        #[arg(long, value_parser = parse::u64_number)]
        nonce: u64,
        /// Sender, a 32-byte word (decimal or 0x-hex; an L1 address is its number).
        #[arg(long, value_parser = parse::word)]
        sender: B256,
        /// Destination domain.
        #[arg(long, value_parser = parse::u64_number)]
        dst_domain: u64,
        /// Recipient, a 32-byte word.
        #[arg(long, value_parser = parse::word)]
        recipient: B256,
        /// Payload words, comma-separated (empty for none).
        #[arg(long, value_parser = parse::words, default_value = "")]
        payload: List<B256>,
    },
    /// Verify an eth_getProof answer against a state root; prints the proven slot value.
    VerifyStorageProof {
        /// File holding the eth_getProof result (the object, or a whole JSON-RPC response).
        #[arg(long)]
        file: PathBuf,
        /// The block's state root.
        #[arg(long, value_parser = parse::hash)]
        state_root: B256,
        /// The storage slot.
        #[arg(long, value_parser = parse::hash)]
        slot: B256,
    },
}

enum Outcome {
    Done(String, Value),
    Usage(String),
    Failed(String),
}

fn hex(word: impl std::fmt::LowerHex) -> String {
    format!("{word:#x}")
}

fn compute(kind: Kind) -> Outcome {
    match kind {
        Kind::StarknetL1ToL2(m) => {
            let h = l1_to_l2_message_hash(
                m.from,
                m.to,
                m.selector,
                felt_to_u256(m.nonce),
                &m.payload.0,
            );
            Outcome::Done(
                h.to_string(),
                json!({ "kind": "starknet-l1-to-l2", "message_hash": h }),
            )
        }
        Kind::StarknetL2ToL1 { from, to, payload } => {
            let h = l2_to_l1_message_hash(from, to, &payload.0);
            Outcome::Done(
                h.to_string(),
                json!({ "kind": "starknet-l2-to-l1", "message_hash": h }),
            )
        }
        Kind::L1HandlerTx {
            message: m,
            chain_id,
        } => {
            let h = hex(l1_handler_tx_hash(
                m.from,
                m.to,
                m.selector,
                m.nonce,
                &m.payload.0,
                chain_id,
            ));
            Outcome::Done(
                h.clone(),
                json!({ "kind": "l1-handler-tx", "transaction_hash": h, "chain_id": hex(chain_id) }),
            )
        }
        Kind::ArbitrumRetryableId(args) => {
            let id = RetryableTicket::from(args).id();
            Outcome::Done(
                id.to_string(),
                json!({ "kind": "arbitrum-retryable-id", "ticket_id": id }),
            )
        }
        Kind::ArbitrumSendHash(args) => {
            let h = L2ToL1Send::from(args).hash();
            Outcome::Done(
                h.to_string(),
                json!({ "kind": "arbitrum-send-hash", "send_hash": h }),
            )
        }
        Kind::ArbitrumOutboxRoot {
            send_hash,
            index,
            proof,
        } => match outbox_root_from_proof(send_hash, index, &proof.0) {
            Ok(root) => Outcome::Done(
                root.to_string(),
                json!({ "kind": "arbitrum-outbox-root", "root": root }),
            ),
            Err(e) => Outcome::Usage(format!("error: --index: {e}")),
        },
        Kind::EnvelopeId {
            src_domain,
            nonce,
            sender,
            dst_domain,
            recipient,
            payload,
        } => {
            let (Ok(src_domain), Ok(dst_domain)) =
                (u32::try_from(src_domain), u32::try_from(dst_domain))
            else {
                return Outcome::Usage(
                    "error: --src-domain / --dst-domain: domains are 32-bit numbers".into(),
                );
            };
            let envelope = Envelope {
                src_domain,
                nonce,
                sender,
                dst_domain,
                recipient,
                payload: payload.0,
            };
            let id = envelope.id();
            Outcome::Done(
                id.to_string(),
                json!({ "kind": "envelope-id", "id": id.0, "words": envelope.to_words() }),
            )
        }
        Kind::VerifyStorageProof {
            file,
            state_root,
            slot,
        } => verify_storage_proof(&file, state_root, slot),
    }
}

fn verify_storage_proof(file: &PathBuf, state_root: B256, slot: B256) -> Outcome {
    let text = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(e) => {
            return Outcome::Usage(format!(
                "error: --file: cannot read {}: {e}",
                file.display()
            ));
        }
    };
    let value: Value = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(e) => {
            return Outcome::Usage(format!(
                "error: --file: {} is not JSON: {e}",
                file.display()
            ));
        }
    };
    // Accept the bare result or a whole JSON-RPC response.
    let result = value.get("result").cloned().unwrap_or(value);
    let proof: AccountProof = match serde_json::from_value(result) {
        Ok(p) => p,
        Err(e) => {
            return Outcome::Usage(format!(
                "error: --file: {} is not an eth_getProof result: {e}",
                file.display()
            ));
        }
    };
    match proof.verify_slot(state_root, slot) {
        Ok(v) => Outcome::Done(
            hex(v),
            json!({ "kind": "verify-storage-proof", "address": proof.address, "slot": slot, "value": hex(v), "state_root": state_root }),
        ),
        Err(e) => Outcome::Failed(format!("error: {e}")),
    }
}

/// Runs one `xroute proofs` command.
pub(crate) fn run(args: ProofsArgs) -> ExitCode {
    match compute(args.kind) {
        Outcome::Done(plain, object) => {
            if args.json {
                println!("{object}");
            } else {
                println!("{plain}");
            }
            ExitCode::SUCCESS
        }
        Outcome::Usage(line) => {
            eprintln!("{line}");
            ExitCode::from(EXIT_USAGE)
        }
        Outcome::Failed(line) => {
            eprintln!("{line}");
            ExitCode::from(EXIT_FAILED)
        }
    }
}
