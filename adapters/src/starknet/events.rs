//! Event queries of a Starknet-family chain within a provider's limits (issue 28): windows of
//! `transport.max_log_range` blocks, paged by continuation token, a window the node refuses as too
//! large halved until it answers.

use starknet_rust::{
    core::types::{AddressFilter, BlockId, EmittedEvent, EventFilter, Felt},
    providers::Provider,
};

use super::{EVENTS_PAGE, StarknetAdapter};
use crate::{ChainAdapter, Result, transport};

impl StarknetAdapter {
    /// The events `address` emitted with first key `key` in blocks `from..=to` (`None`: up to
    /// the latest block), queried in windows of at most `transport.max_log_range` blocks, page by
    /// page; a window the node refuses as too large is halved until it answers.
    pub(crate) async fn events(
        &self,
        address: Felt,
        key: Felt,
        from: u64,
        to: Option<u64>,
    ) -> Result<Vec<EmittedEvent>> {
        let to = match to {
            Some(to) => to,
            None => self.head().await?.number,
        };
        let mut window = self.max_log_range;
        let mut start = from;
        let mut out = Vec::new();
        'windows: while start <= to {
            let end = to.min(start.saturating_add(window - 1));
            let filter = EventFilter {
                from_block: Some(BlockId::Number(start)),
                to_block: Some(BlockId::Number(end)),
                address: Some(AddressFilter::Single(address)),
                keys: Some(vec![vec![key]]),
            };
            let mut found = Vec::new();
            let mut token = None;
            loop {
                match self
                    .provider
                    .get_events(filter.clone(), token, EVENTS_PAGE)
                    .await
                {
                    Ok(page) => {
                        found.extend(page.events);
                        match page.continuation_token {
                            Some(next) => token = Some(next),
                            None => break,
                        }
                    }
                    Err(e) if window > 1 && transport::too_large(&e.to_string()) => {
                        window /= 2;
                        tracing::debug!(chain = %self.info.name, window, error = %e, "event range refused; halving it");
                        continue 'windows;
                    }
                    Err(e) => return Err(self.rpc_error("starknet_getEvents", e)),
                }
            }
            out.extend(found);
            start = end + 1;
        }
        Ok(out)
    }
}
