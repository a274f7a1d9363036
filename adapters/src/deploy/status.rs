//! `xroute deploy status`: each item of the record against its chain, one line each.

use super::token::TokenLedger;
#[allow(clippy::wildcard_imports)]
use super::*;

impl Deployer {
    /// Every item of `record` against its chain, one line each (an item the chain does not show
    /// as recorded is a line that is not ok, never an error).
    pub async fn status(&self, record: &Record) -> Vec<StatusLine> {
        let mut lines = Vec::new();
        let line = StatusLine::of;
        let hub = record.l1.as_ref().and_then(|l| l.hub.clone());
        match &hub {
            Some(h) => lines.push(line(
                "l1.hub".into(),
                self.check_hub(h)
                    .await
                    .map(|()| format!("{} on {}, code as deployed", h.address, self.l1.name)),
            )),
            None => lines.push(line("l1.hub".into(), Err(absent("l1.hub", "not deployed")))),
        }
        let hub_address = hub.map(|h| h.address).unwrap_or_default();
        if let (Some(owner), Some(l)) = (self.file.l1.owner, &record.l1) {
            let now = Hub::new(hub_address, &self.l1.provider)
                .owner()
                .call()
                .await;
            lines.push(line(
                "l1.owner".into(),
                match now {
                    Ok(now) if now == owner && l.owner_set.is_some() => Ok(format!("{owner}")),
                    Ok(now) => Err(DeployError::Drift {
                        entry: "l1.owner".into(),
                        reason: format!("the Hub's owner is {now}, the file says {owner}"),
                    }),
                    Err(e) => Err(chain_err(&self.l1.name, "Hub.owner", e)),
                },
            ));
        }
        let class = endpoint_class().map(|(_, hash, _)| hash);
        for (cfg, side) in self.file.starknet.iter().zip(&self.starknet) {
            let entry = |what: &str| format!("starknet.{}.{what}", cfg.name);
            let rec = record.starknet.get(&cfg.name);
            let endpoint = rec.and_then(|r| r.endpoint.clone());
            let checked = match (&endpoint, &class) {
                (Some(e), Ok(class)) => self
                    .check_starknet_endpoint(side, cfg, e, *class, hub_address)
                    .await
                    .map(|()| {
                        format!(
                            "{:#x} on {}, class {class:#x}, hub and domain as deployed",
                            b256_felt(e.address),
                            cfg.name
                        )
                    }),
                (None, _) => Err(absent(entry("endpoint"), "not deployed")),
                (_, Err(e)) => Err(DeployError::Config {
                    field: "endpoint class".into(),
                    reason: e.to_string(),
                }),
            };
            lines.push(line(entry("endpoint"), checked));
            let registered = self
                .registration_status(
                    hub_address,
                    &entry("registered"),
                    (cfg.domain, 1, cfg.l1_messaging),
                    endpoint.as_ref().map(|e| U256::from_be_bytes(e.address.0)),
                    rec.is_some_and(|r| r.registered.is_some()),
                )
                .await;
            lines.push(line(entry("registered"), registered));
        }
        for (cfg, side) in self.file.arbitrum.iter().zip(&self.arbitrum) {
            let entry = |what: &str| format!("arbitrum.{}.{what}", cfg.name);
            let rec = record.arbitrum.get(&cfg.name);
            let endpoint = rec.and_then(|r| r.endpoint.clone());
            let checked = match &endpoint {
                Some(e) => self
                    .check_arbitrum_endpoint(side, cfg.domain, e, hub_address, &entry("endpoint"))
                    .await
                    .map(|()| {
                        format!(
                            "{} on {}, code as deployed, hub and domain as deployed",
                            e.address, cfg.name
                        )
                    }),
                None => Err(absent(entry("endpoint"), "not deployed")),
            };
            lines.push(line(entry("endpoint"), checked));
            let registered = self
                .registration_status(
                    hub_address,
                    &entry("registered"),
                    (cfg.domain, 2, cfg.inbox),
                    endpoint
                        .as_ref()
                        .map(|e| U256::from_be_slice(e.address.as_slice())),
                    rec.is_some_and(|r| r.registered.is_some()),
                )
                .await;
            lines.push(line(entry("registered"), registered));
        }
        lines.extend(self.status_token(record).await);
        lines.extend(self.status_pool(record).await);
        lines
    }

    /// A status line's check of a registration: `(domain, family, L1 contract)` as the Hub
    /// should hold it for `endpoint`, when the record has both.
    pub(super) async fn registration_status(
        &self,
        hub: Address,
        entry: &str,
        (domain, family, l1_contract): (u32, u8, Address),
        endpoint: Option<U256>,
        recorded: bool,
    ) -> Result<String, DeployError> {
        match endpoint {
            Some(endpoint) if recorded => {
                self.check_registration(hub, domain, family, l1_contract, endpoint, entry)
                    .await?;
                Ok(format!(
                    "domain {domain} on the Hub: L1 contract {l1_contract}, this endpoint"
                ))
            }
            _ => Err(absent(entry, "not registered")),
        }
    }

    /// The status line of an L1 contract of the record: its code as deployed, or not deployed.
    pub(super) async fn l1_contract_line(
        &self,
        entry: &str,
        c: Option<&EvmContract>,
    ) -> StatusLine {
        let checked = match c {
            Some(c) => self
                .check_evm_code(&self.l1, c, entry)
                .await
                .map(|()| format!("{} on {}, code as deployed", c.address, self.l1.name)),
            None => Err(absent(entry, "not deployed")),
        };
        StatusLine::of(entry.into(), checked)
    }

    /// The token's status lines (none without `[token]`).
    pub(super) async fn status_token(&self, record: &Record) -> Vec<super::StatusLine> {
        let mut lines = Vec::new();
        if self.file.token.is_none() {
            return lines;
        }
        let line = StatusLine::of;
        let rec = record.token.clone().unwrap_or_default();
        for (entry, c) in [
            ("token.l1.token", &rec.token),
            ("token.l1.ledger", &rec.ledger),
        ] {
            lines.push(self.l1_contract_line(entry, c.as_ref()).await);
        }
        let ledger = rec.ledger.as_ref().map(|l| l.address);
        for (family, name, domain) in self.rollups() {
            let entry = |what: &str| format!("token.{family}.{name}.{what}");
            let Some(router) = rec.routers.get(name) else {
                lines.push(line(
                    entry("router"),
                    Err(absent(entry("router"), "not deployed")),
                ));
                continue;
            };
            lines.push(line(
                entry("router"),
                self.check_rollup_contract(
                    entry("router"),
                    (family, name),
                    router.address,
                    router.code_hash,
                )
                .await
                .map(|()| format!("{} on {name}, as deployed", router.address)),
            ));
            let registered = match (ledger, &router.registered) {
                (Some(ledger), Some(_)) => TokenLedger::new(ledger, &self.l1.provider)
                    .chains(domain)
                    .call()
                    .await
                    .map_err(|e| chain_err(&self.l1.name, "TokenLedger.chains", e))
                    .and_then(|c| {
                        if c.router == router.address {
                            Ok(format!("domain {domain} on the TokenLedger, this router"))
                        } else {
                            Err(DeployError::Drift {
                                entry: entry("registered"),
                                reason: format!(
                                    "the TokenLedger names router {} for domain {domain}",
                                    c.router
                                ),
                            })
                        }
                    }),
                _ => Err(absent(entry("registered"), "not registered")),
            };
            lines.push(line(entry("registered"), registered));
            let destinations = self
                .missing_destinations(family, name, domain, router.address)
                .await
                .and_then(|missing| {
                    if missing.is_empty() {
                        Ok("every other chain of the file".to_string())
                    } else {
                        Err(DeployError::Drift {
                            entry: entry("destinations"),
                            reason: format!("the router does not name domains {missing:?}"),
                        })
                    }
                });
            lines.push(line(entry("destinations"), destinations));
        }
        lines
    }
}
