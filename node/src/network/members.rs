//! The configured router set: each router's attestation address and peer id, the threshold, the
//! EIP-712 domain signatures are made for, and this router's own key.

use std::collections::HashMap;

use alloy::{dyn_abi::Eip712Domain, signers::local::PrivateKeySigner};
use alloy_primitives::Address;
use libp2p::PeerId;
use xroute_proofs::attestation::RouterSet;

/// Most routers in a set (a [`crate::network::wire::Want`] marks the attestations it holds with one bit
/// per router).
pub const MAX_ROUTERS: usize = 64;

/// The router set as this router knows it.
#[derive(Debug)]
pub struct Members {
    me: Address,
    signer: PrivateKeySigner,
    domain: Eip712Domain,
    set: RouterSet,
    by_peer: HashMap<PeerId, Address>,
    /// Each router's bit in a `Want`: its position in address order.
    bit: HashMap<Address, u32>,
    list: Vec<(Address, PeerId)>,
}

impl Members {
    /// The set `list` with threshold `threshold`, for this router signing with `signer` and
    /// running as peer `peer`; every error says what in `p2p.routers` is wrong.
    pub fn new(
        signer: PrivateKeySigner,
        list: Vec<(Address, PeerId)>,
        threshold: usize,
        domain: Eip712Domain,
        peer: PeerId,
    ) -> Result<Self, String> {
        let addresses: Vec<Address> = list.iter().map(|(a, _)| *a).collect();
        let set = RouterSet::new(addresses.clone(), threshold).map_err(|e| e.to_string())?;
        let me = signer.address();
        if !set.contains(&me) {
            return Err(format!(
                "this router's attestation address {me} is not in p2p.routers"
            ));
        }
        if let Some((_, listed)) = list.iter().find(|(a, _)| *a == me)
            && *listed != peer
        {
            return Err(format!(
                "p2p.routers lists peer id {listed} for this router ({me}), but its key file is \
                 peer {peer}"
            ));
        }
        if list.len() > MAX_ROUTERS {
            return Err(format!(
                "p2p.routers lists {} routers; a set has at most {MAX_ROUTERS}",
                list.len()
            ));
        }
        let mut sorted = addresses;
        sorted.sort();
        Ok(Self {
            bit: sorted
                .iter()
                .enumerate()
                .map(|(i, a)| (*a, i as u32))
                .collect(),
            by_peer: list.iter().map(|(a, p)| (*p, *a)).collect(),
            list,
            me,
            signer,
            domain,
            set,
        })
    }

    /// This router's attestation address.
    pub fn me(&self) -> Address {
        self.me
    }

    /// This router's attestation key.
    pub fn signer(&self) -> &PrivateKeySigner {
        &self.signer
    }

    /// The EIP-712 domain of the set's signatures.
    pub fn domain(&self) -> &Eip712Domain {
        &self.domain
    }

    /// Quorum threshold.
    pub fn threshold(&self) -> usize {
        self.set.threshold()
    }

    /// Whether `address` is a router of the set.
    pub fn contains(&self, address: &Address) -> bool {
        self.set.contains(address)
    }

    /// The router publishing as `peer`, if it is one of the set.
    pub fn of_peer(&self, peer: &PeerId) -> Option<Address> {
        self.by_peer.get(peer).copied()
    }

    /// `router`'s bit in a `Want` mask.
    pub fn bit(&self, router: &Address) -> Option<u32> {
        self.bit.get(router).copied()
    }

    /// The mask of the routers in `routers`.
    pub fn mask(&self, routers: &[Address]) -> u64 {
        routers
            .iter()
            .filter_map(|r| self.bit(r))
            .fold(0u64, |mask, b| mask | 1 << b)
    }

    /// Every router, as configured: (attestation address, peer id).
    pub fn list(&self) -> &[(Address, PeerId)] {
        &self.list
    }

    /// Every router's attestation address, as configured.
    pub fn addresses(&self) -> Vec<Address> {
        self.list.iter().map(|(a, _)| *a).collect()
    }
}
