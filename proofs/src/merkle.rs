//! A binary keccak256 Merkle tree over 32-byte leaves where an empty subtree hashes to the zero
//! word, as Arbitrum's send accumulator defines it (nitro `merkleAccumulator.Root`): a tree of `n`
//! leaves has depth ⌈log2 n⌉ and, level by level, a node without a right sibling is hashed with
//! 32 zero bytes. Proof element `i` is the sibling at level `i`; bit `i` of the index says whether
//! the running hash is the left (0) or the right (1) input.
//!
//! Used for Arbitrum outbox proofs and for xroute's batch attestations.

use alloy_primitives::{B256, keccak256};

use crate::{Error, Result};

fn hash_pair(left: &B256, right: &B256) -> B256 {
    let mut buf = [0u8; 64];
    buf[..32].copy_from_slice(left.as_slice());
    buf[32..].copy_from_slice(right.as_slice());
    keccak256(buf)
}

/// Depth of a tree of `size` leaves: ⌈log2 size⌉ (0 for one leaf).
pub fn depth(size: u64) -> usize {
    if size <= 1 {
        0
    } else {
        (64 - (size - 1).leading_zeros()) as usize
    }
}

/// The level above `level`: pairs hashed, a last node without a sibling hashed with zero.
fn parent_level(level: &[B256]) -> Vec<B256> {
    level
        .chunks(2)
        .map(|pair| hash_pair(&pair[0], pair.get(1).unwrap_or(&B256::ZERO)))
        .collect()
}

/// All levels of the tree, leaves first, root last.
fn levels(leaves: &[B256]) -> Vec<Vec<B256>> {
    let mut levels = vec![leaves.to_vec()];
    while let Some(top) = levels.last().filter(|l| l.len() > 1) {
        let above = parent_level(top);
        levels.push(above);
    }
    levels
}

/// The root of `leaves` (the zero word for no leaves).
pub fn root(leaves: &[B256]) -> B256 {
    if leaves.len() <= 1 {
        return leaves.first().copied().unwrap_or(B256::ZERO);
    }
    let mut level = parent_level(leaves);
    while level.len() > 1 {
        level = parent_level(&level);
    }
    level[0]
}

fn siblings(levels: &[Vec<B256>], index: usize) -> Vec<B256> {
    let height = levels.len().saturating_sub(1);
    (0..height)
        .map(|level| {
            levels[level]
                .get((index >> level) ^ 1)
                .copied()
                .unwrap_or(B256::ZERO)
        })
        .collect()
}

/// The inclusion proof of leaf `index`.
pub fn proof(leaves: &[B256], index: u64) -> Result<Vec<B256>> {
    let size = leaves.len() as u64;
    if index >= size {
        return Err(Error::IndexOutOfRange {
            what: "merkle tree",
            index,
            size,
        });
    }
    Ok(siblings(&levels(leaves), index as usize))
}

/// Inclusion proofs of every leaf, building the tree once.
pub fn proofs(leaves: &[B256]) -> Vec<Vec<B256>> {
    let levels = levels(leaves);
    (0..leaves.len())
        .map(|index| siblings(&levels, index))
        .collect()
}

/// The root that `proof` leads to from `leaf` at `index`.
pub fn root_from_proof(leaf: B256, index: u64, proof: &[B256]) -> Result<B256> {
    if proof.len() < 64 && index >> proof.len() != 0 {
        return Err(Error::IndexOutOfRange {
            what: "merkle proof",
            index,
            size: 1u64 << proof.len(),
        });
    }
    let mut hash = leaf;
    for (level, sibling) in proof.iter().enumerate() {
        hash = if (index >> level) & 1 == 0 {
            hash_pair(&hash, sibling)
        } else {
            hash_pair(sibling, &hash)
        };
    }
    Ok(hash)
}

/// Checks that `proof` leads from `leaf` at `index` to `expected`.
pub fn verify(
    what: &'static str,
    leaf: B256,
    index: u64,
    proof: &[B256],
    expected: B256,
) -> Result<()> {
    let computed = root_from_proof(leaf, index, proof)?;
    if computed == expected {
        Ok(())
    } else {
        Err(Error::RootMismatch {
            what,
            computed,
            expected,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn leaf(i: u64) -> B256 {
        keccak256(i.to_be_bytes())
    }

    /// nitro's accumulator, transcribed as a reference: append into partials, then `Root()`.
    fn accumulator_root(leaves: &[B256]) -> B256 {
        let mut partials: Vec<B256> = Vec::new();
        for item in leaves {
            let mut so_far = *item;
            let mut level = 0;
            loop {
                if level == partials.len() {
                    partials.push(so_far);
                    break;
                }
                if partials[level] == B256::ZERO {
                    partials[level] = so_far;
                    break;
                }
                so_far = hash_pair(&partials[level], &so_far);
                partials[level] = B256::ZERO;
                level += 1;
            }
        }
        let mut so_far: Option<B256> = None;
        let mut capacity_in_hash = 0u64;
        let mut capacity = 1u64;
        for partial in &partials {
            if *partial != B256::ZERO {
                match so_far {
                    None => {
                        so_far = Some(*partial);
                        capacity_in_hash = capacity;
                    }
                    Some(mut h) => {
                        while capacity_in_hash < capacity {
                            h = hash_pair(&h, &B256::ZERO);
                            capacity_in_hash *= 2;
                        }
                        so_far = Some(hash_pair(partial, &h));
                        capacity_in_hash = 2 * capacity;
                    }
                }
            }
            capacity *= 2;
        }
        so_far.unwrap_or_default()
    }

    #[test]
    fn small_trees_by_hand() {
        let l: Vec<B256> = (0..5).map(leaf).collect();
        assert_eq!(root(&l[..1]), l[0]);
        assert_eq!(root(&l[..2]), hash_pair(&l[0], &l[1]));
        let ab = hash_pair(&l[0], &l[1]);
        assert_eq!(
            root(&l[..3]),
            hash_pair(&ab, &hash_pair(&l[2], &B256::ZERO))
        );
        let abcd = hash_pair(&ab, &hash_pair(&l[2], &l[3]));
        let e00 = hash_pair(&hash_pair(&l[4], &B256::ZERO), &B256::ZERO);
        assert_eq!(root(&l), hash_pair(&abcd, &e00));
        assert_eq!(depth(5), 3);
        assert_eq!(depth(4), 2);
        assert_eq!(depth(1), 0);
    }

    proptest! {
        #[test]
        fn root_equals_nitro_accumulator_and_every_proof_verifies(n in 1u64..70) {
            let leaves: Vec<B256> = (0..n).map(leaf).collect();
            let r = root(&leaves);
            prop_assert_eq!(r, accumulator_root(&leaves));
            for (i, p) in proofs(&leaves).iter().enumerate() {
                prop_assert_eq!(p.len(), depth(n));
                prop_assert_eq!(root_from_proof(leaves[i], i as u64, p).unwrap(), r);
            }
        }

        #[test]
        fn a_tampered_proof_fails(n in 2u64..40, pick in any::<u64>(), byte in 0usize..32) {
            let leaves: Vec<B256> = (0..n).map(leaf).collect();
            let i = pick % n;
            let mut p = proof(&leaves, i).unwrap();
            let r = root(&leaves);
            let level = (pick as usize / 7) % p.len();
            p[level].0[byte] ^= 0x01;
            let tampered = matches!(verify("t", leaves[i as usize], i, &p, r), Err(Error::RootMismatch { .. }));
            prop_assert!(tampered, "a tampered proof verified");
            prop_assert!(verify("t", leaves[i as usize], (i + 1) % n, &proof(&leaves, i).unwrap(), r).is_err());
        }
    }
}
