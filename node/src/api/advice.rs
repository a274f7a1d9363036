//! What the sender or the operator can do about a message that waits or is parked, read from its
//! stage and reason (what `xroute status` and the explorer show under the reason).

use crate::{
    model::{MessageRecord, Stage},
    pipeline::ORPHANED,
};

/// The advice for `record`, when there is something to say.
pub(crate) fn what_to_do(record: &MessageRecord) -> Option<String> {
    let id = record.id;
    let reason = record.reason.as_deref()?;
    let retry = format!("`xroute retry {id}`");
    let text = match record.stage {
        Stage::Dropped => return None,
        Stage::Parked if reason.starts_with(ORPHANED) => format!(
            "Nothing to relay: the sending transaction is not on the chain any more. If the app \
             sends the same message again it is relayed in this one's place; otherwise `xroute \
             drop {id} --reason ...`."
        ),
        Stage::Parked
            if reason.contains("is not deployed on")
                || reason.contains("is not a contract on L1") =>
        {
            format!("Deploy the recipient contract on the destination, then {retry}.")
        }
        Stage::Parked if reason.contains("unknown destination domain") => format!(
            "The destination is not registered on the Hub: register it (`xroute appchain add`), \
             then {retry}; or drop it."
        ),
        Stage::Parked if reason.contains("revert") || reason.contains("refuses") => format!(
            "The destination refuses the message (the reason above). Once the recipient accepts \
             it (fixed, unpaused, funded), {retry}; the hop is never made twice. Or drop it."
        ),
        Stage::Parked if reason.starts_with("gave up after") => format!(
            "Find out why each attempt failed (the reason above, the router's log), fix it, then \
             {retry}."
        ),
        Stage::Parked => format!("Fix what the reason says, then {retry}; or drop it."),
        _ if reason.starts_with("waiting for ") && reason.contains("'s node") => {
            "Nothing: the router tries again on its own, without spending the message's \
             attempts. The operator's node for that chain is failing."
                .to_string()
        }
        _ if reason.starts_with("held:") => {
            "Nothing: it is relayed once the L1 base fee is under the payer's cap.".to_string()
        }
        _ if reason.starts_with("unpaid:") || reason.starts_with("underpaid:") => {
            "The sender pays for it in the gas tank (`xroute tank pay`), or a relayer that relays \
             unpaid messages takes it."
                .to_string()
        }
        _ => return None,
    };
    Some(text)
}

#[cfg(test)]
mod tests {
    use alloy_primitives::B256;
    use xroute_proofs::envelope::Envelope;

    use super::*;
    use crate::model::SourceRef;

    fn with(stage: Stage, reason: &str) -> MessageRecord {
        let mut r = MessageRecord::new(
            Envelope {
                src_domain: 1,
                nonce: 1,
                sender: B256::ZERO,
                dst_domain: 2,
                recipient: B256::ZERO,
                payload: vec![],
            },
            SourceRef {
                domain: 1,
                block_number: 1,
                block_hash: B256::ZERO,
                tx_hash: B256::ZERO,
            },
            0,
        );
        r.stage = stage;
        r.reason = Some(reason.into());
        r
    }

    #[test]
    fn each_kind_of_reason_gets_its_advice() {
        let orphaned = format!("{ORPHANED}: transaction 0x1");
        for (stage, reason, says) in [
            (
                Stage::Parked,
                orphaned.as_str(),
                "sends the same message again",
            ),
            (
                Stage::Parked,
                "recipient 0x12 is not deployed on starknet",
                "Deploy the recipient",
            ),
            (
                Stage::Parked,
                "gave up after 6 attempts: starknet: starknet_estimateMessageFee failed (revert): x",
                "The destination refuses the message",
            ),
            (
                Stage::Proven,
                "waiting for arbitrum's node (timeout)",
                "tries again on its own",
            ),
        ] {
            let advice = what_to_do(&with(stage, reason)).unwrap_or_default();
            assert!(advice.contains(says), "{reason}: {advice}");
        }
        assert_eq!(
            what_to_do(&with(Stage::Dropped, "dropped by operator: x")),
            None
        );
    }
}
