//! RFC 6962 roots and proofs computed from stored hashes of perfect subtrees, so the Merkle log reads
//! a few dozen hashes per append or proof instead of every leaf.
//!
//! A perfect subtree is addressed by [`Node`]: the `2^level` leaves starting at `index * 2^level`;
//! level 0 is a leaf. Every subtree the RFC 6962 recursion visits is either perfect or the right edge
//! of a tree, and a right edge splits into perfect subtrees, so these addresses are all a computation
//! needs. The traversals mirror [`super::merkle`] step for step (the tests hold them to it), and
//! depend only on indexes and sizes, never on hash values: [`nodes_read_by`] runs one with dummy
//! hashes to learn which stored hashes to fetch before running it for real.

use std::collections::{BTreeMap, BTreeSet};

use super::merkle::{Hash, ProofError, node_hash};

/// A perfect subtree: `2^level` leaves from `index * 2^level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Node {
    pub level: u32,
    pub index: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubtreeError {
    #[error("the hash of subtree {}/{} is not stored", .0.level, .0.index)]
    Missing(Node),
    #[error(transparent)]
    Proof(#[from] ProofError),
    #[error("a tree of {0} leaves is larger than this log can address")]
    TooLarge(u64),
}

/// Where stored subtree hashes come from.
pub type Lookup<'a> = &'a mut dyn FnMut(Node) -> Option<Hash>;

/// The largest power of two smaller than `n` (`n >= 2`).
fn split(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1 << (63 - (n - 1).leading_zeros())
}

fn get(lookup: Lookup<'_>, node: Node) -> Result<Hash, SubtreeError> {
    lookup(node).ok_or(SubtreeError::Missing(node))
}

/// The root of the `len` leaves from `start`, where `start` is a multiple of the largest power of
/// two not above `len` (true of every subtree the RFC recursion visits).
fn subtree_root(start: u64, len: u64, lookup: Lookup<'_>) -> Result<Hash, SubtreeError> {
    if len.is_power_of_two() {
        let level = len.trailing_zeros();
        debug_assert_eq!(start % len, 0);
        return get(
            lookup,
            Node {
                level,
                index: start >> level,
            },
        );
    }
    let k = split(len);
    let left = subtree_root(start, k, lookup)?;
    let right = subtree_root(start + k, len - k, lookup)?;
    Ok(node_hash(&left, &right))
}

fn check_size(size: u64) -> Result<(), SubtreeError> {
    // Indexes go into signed 64-bit database columns.
    if size > i64::MAX as u64 {
        return Err(SubtreeError::TooLarge(size));
    }
    Ok(())
}

fn as_usize(value: u64) -> usize {
    usize::try_from(value).unwrap_or(usize::MAX)
}

/// The root of the tree of `size >= 1` leaves.
pub fn root(size: u64, lookup: Lookup<'_>) -> Result<Hash, SubtreeError> {
    check_size(size)?;
    if size == 0 {
        return Err(ProofError::OutOfRange { index: 0, size: 0 }.into());
    }
    subtree_root(0, size, lookup)
}

/// The audit path of leaf `index` in the tree of `size` leaves (as [`super::merkle::inclusion_proof`]).
pub fn inclusion_proof(
    index: u64,
    size: u64,
    lookup: Lookup<'_>,
) -> Result<Vec<Hash>, SubtreeError> {
    check_size(size)?;
    if index >= size {
        return Err(ProofError::OutOfRange {
            index: as_usize(index),
            size: as_usize(size),
        }
        .into());
    }
    let mut proof = Vec::new();
    path(index, 0, size, lookup, &mut proof)?;
    Ok(proof)
}

fn path(
    index: u64,
    start: u64,
    len: u64,
    lookup: Lookup<'_>,
    proof: &mut Vec<Hash>,
) -> Result<(), SubtreeError> {
    if len <= 1 {
        return Ok(());
    }
    let k = split(len);
    if index < k {
        path(index, start, k, lookup, proof)?;
        proof.push(subtree_root(start + k, len - k, lookup)?);
    } else {
        path(index - k, start + k, len - k, lookup, proof)?;
        proof.push(subtree_root(start, k, lookup)?);
    }
    Ok(())
}

/// The proof that the tree of `first` leaves is a prefix of the tree of `second` (as
/// [`super::merkle::consistency_proof`]).
pub fn consistency_proof(
    first: u64,
    second: u64,
    lookup: Lookup<'_>,
) -> Result<Vec<Hash>, SubtreeError> {
    check_size(second)?;
    if first == 0 || first > second {
        return Err(ProofError::NotAPrefix {
            first: as_usize(first),
            second: as_usize(second),
        }
        .into());
    }
    let mut proof = Vec::new();
    subproof(first, 0, second, true, lookup, &mut proof)?;
    Ok(proof)
}

fn subproof(
    first: u64,
    start: u64,
    len: u64,
    whole: bool,
    lookup: Lookup<'_>,
    proof: &mut Vec<Hash>,
) -> Result<(), SubtreeError> {
    if first == len {
        if !whole {
            proof.push(subtree_root(start, len, lookup)?);
        }
        return Ok(());
    }
    let k = split(len);
    if first <= k {
        subproof(first, start, k, whole, lookup, proof)?;
        proof.push(subtree_root(start + k, len - k, lookup)?);
    } else {
        subproof(first - k, start + k, len - k, false, lookup, proof)?;
        proof.push(subtree_root(start, k, lookup)?);
    }
    Ok(())
}

/// The perfect subtrees that leaf `index` completes, bottom up, with their hashes: appending a
/// leaf that is a right child closes its parent, and so on while the node stays a right child.
/// Reads the left siblings, which are the peaks of the tree of `index` leaves.
pub fn nodes_completed_by(
    index: u64,
    leaf: Hash,
    lookup: Lookup<'_>,
) -> Result<Vec<(Node, Hash)>, SubtreeError> {
    check_size(index.saturating_add(1))?;
    let mut completed = Vec::new();
    let (mut level, mut running) = (0u32, leaf);
    while (index >> level) & 1 == 1 {
        let sibling = get(
            lookup,
            Node {
                level,
                index: (index >> level) - 1,
            },
        )?;
        running = node_hash(&sibling, &running);
        level += 1;
        completed.push((
            Node {
                level,
                index: index >> level,
            },
            running,
        ));
    }
    Ok(completed)
}

/// Runs `computation` with a lookup that answers every request with a dummy hash and returns the
/// nodes it asked for: the hashes to fetch before running it for real.
pub fn nodes_read_by<T>(
    computation: impl FnOnce(Lookup<'_>) -> Result<T, SubtreeError>,
) -> Result<BTreeSet<Node>, SubtreeError> {
    let mut asked = BTreeSet::new();
    let mut recorder = |node: Node| {
        asked.insert(node);
        Some([0u8; 32])
    };
    computation(&mut recorder)?;
    Ok(asked)
}

/// A lookup over fetched hashes.
pub fn from_map(map: &BTreeMap<Node, Hash>) -> impl FnMut(Node) -> Option<Hash> + '_ {
    |node| map.get(&node).copied()
}

#[cfg(test)]
mod tests {
    use super::super::merkle;
    use super::*;
    use proptest::prelude::*;

    /// Every perfect subtree's hash of a tree built leaf by leaf, as the log stores them.
    fn grow(size: u64) -> (Vec<Hash>, BTreeMap<Node, Hash>) {
        let mut leaves = Vec::new();
        let mut stored = BTreeMap::new();
        for index in 0..size {
            let leaf = merkle::leaf_hash(format!("leaf {index}").as_bytes());
            let completed = nodes_completed_by(index, leaf, &mut from_map(&stored)).unwrap();
            stored.insert(Node { level: 0, index }, leaf);
            stored.extend(completed);
            leaves.push(leaf);
        }
        (leaves, stored)
    }

    #[test]
    fn completed_nodes_are_the_perfect_subtrees_ending_at_the_leaf() {
        let (leaves, stored) = grow(8);
        assert_eq!(stored.len(), 8 + 4 + 2 + 1);
        assert_eq!(stored[&Node { level: 3, index: 0 }], merkle::root(&leaves));
        assert_eq!(
            stored[&Node { level: 1, index: 3 }],
            merkle::root(&leaves[6..8])
        );
        // The seventh leaf (index 6) is a left child: it completes nothing.
        let (_, seven) = grow(7);
        assert!(!seven.contains_key(&Node { level: 1, index: 3 }));
    }

    #[test]
    fn a_missing_hash_is_an_error_not_a_wrong_root() {
        let (_, mut stored) = grow(5);
        stored.remove(&Node { level: 0, index: 4 });
        assert_eq!(
            root(5, &mut from_map(&stored)),
            Err(SubtreeError::Missing(Node { level: 0, index: 4 }))
        );
        assert!(root(0, &mut from_map(&stored)).is_err());
    }

    #[test]
    fn the_nodes_read_are_few() {
        let size = 1_000_000u64;
        let read = nodes_read_by(|lookup| inclusion_proof(123_457, size, lookup)).unwrap();
        assert!(read.len() <= 2 * 20, "{}", read.len());
        let read = nodes_read_by(|lookup| root(size, lookup)).unwrap();
        assert_eq!(read.len(), size.count_ones() as usize);
    }

    proptest! {
        #[test]
        fn stored_subtrees_give_the_same_roots_and_proofs_as_all_leaves(
            size in 1u64..90, pick in 0u64..90, other in 1u64..90,
        ) {
            let (leaves, stored) = grow(size);
            let index = pick % size;
            let first = 1 + (other - 1) % size;
            let mut lookup = from_map(&stored);
            prop_assert_eq!(root(size, &mut lookup).unwrap(), merkle::root(&leaves));
            prop_assert_eq!(
                inclusion_proof(index, size, &mut lookup).unwrap(),
                merkle::inclusion_proof(as_usize(index), &leaves).unwrap()
            );
            prop_assert_eq!(
                consistency_proof(first, size, &mut lookup).unwrap(),
                merkle::consistency_proof(as_usize(first), &leaves).unwrap()
            );
            // A computation reads exactly what the recorder said it would.
            let needed = nodes_read_by(|lookup| consistency_proof(first, size, lookup)).unwrap();
            let only: BTreeMap<Node, Hash> =
                needed.iter().map(|node| (*node, stored[node])).collect();
            prop_assert!(consistency_proof(first, size, &mut from_map(&only)).is_ok());
        }
    }
}
