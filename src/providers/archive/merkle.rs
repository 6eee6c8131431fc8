//! Merkle tree hashing, inclusion and consistency proofs in the layout of RFC 6962 section 2.1 (as
//! restated in RFC 9162 section 2.1): the append-only log behind the `BLOCKCHAIN` archive provider
//! until a real chain adapter is configured.
//!
//! Leaves are hashed as `SHA-256(0x00 || data)` and interior nodes as `SHA-256(0x01 || left || right)`,
//! so a leaf can never pass for a node. Functions here take the leaf hashes in order; the store keeps
//! those and nothing else.

use sha2::{Digest, Sha256};

pub type Hash = [u8; 32];

/// `SHA-256(0x00 || data)`.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0x00]);
    hasher.update(data);
    hasher.finalize().into()
}

/// `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0x01]);
    hasher.update(left);
    hasher.update(right);
    hasher.finalize().into()
}

/// The largest power of two smaller than `n` (`n >= 2`).
fn split(n: usize) -> usize {
    debug_assert!(n >= 2);
    let mut k = 1;
    while k << 1 < n {
        k <<= 1;
    }
    k
}

/// The root hash of the tree over `leaves` (the Merkle Tree Hash; SHA-256 of nothing when empty).
pub fn root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => Sha256::digest([]).into(),
        1 => leaves[0],
        n => {
            let k = split(n);
            node_hash(&root(&leaves[..k]), &root(&leaves[k..]))
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("leaf {index} is outside a tree of {size}")]
    OutOfRange { index: usize, size: usize },
    #[error("a tree of {first} leaves cannot be a prefix of one of {second}")]
    NotAPrefix { first: usize, second: usize },
}

/// The audit path proving that leaf `index` is in the tree over `leaves`.
pub fn inclusion_proof(index: usize, leaves: &[Hash]) -> Result<Vec<Hash>, ProofError> {
    if index >= leaves.len() {
        return Err(ProofError::OutOfRange {
            index,
            size: leaves.len(),
        });
    }
    let mut proof = Vec::new();
    path(index, leaves, &mut proof);
    Ok(proof)
}

fn path(index: usize, leaves: &[Hash], proof: &mut Vec<Hash>) {
    if leaves.len() <= 1 {
        return;
    }
    let k = split(leaves.len());
    if index < k {
        path(index, &leaves[..k], proof);
        proof.push(root(&leaves[k..]));
    } else {
        path(index - k, &leaves[k..], proof);
        proof.push(root(&leaves[..k]));
    }
}

/// The proof that the tree over the first `first` leaves is a prefix of the tree over `leaves`.
pub fn consistency_proof(first: usize, leaves: &[Hash]) -> Result<Vec<Hash>, ProofError> {
    if first == 0 || first > leaves.len() {
        return Err(ProofError::NotAPrefix {
            first,
            second: leaves.len(),
        });
    }
    let mut proof = Vec::new();
    subproof(first, leaves, true, &mut proof);
    Ok(proof)
}

fn subproof(first: usize, leaves: &[Hash], whole: bool, proof: &mut Vec<Hash>) {
    let n = leaves.len();
    if first == n {
        if !whole {
            proof.push(root(leaves));
        }
        return;
    }
    let k = split(n);
    if first <= k {
        subproof(first, &leaves[..k], whole, proof);
        proof.push(root(&leaves[k..]));
    } else {
        subproof(first - k, &leaves[k..], false, proof);
        proof.push(root(&leaves[..k]));
    }
}

/// Checks an audit path: `leaf` at `index` in a tree of `size` leaves with root `expected_root`.
pub fn verify_inclusion(
    leaf: &Hash,
    index: usize,
    size: usize,
    proof: &[Hash],
    expected_root: &Hash,
) -> bool {
    if index >= size {
        return false;
    }
    let (mut f, mut s) = (index, size - 1);
    let mut running = *leaf;
    for sibling in proof {
        if s == 0 {
            return false;
        }
        if f & 1 == 1 || f == s {
            running = node_hash(sibling, &running);
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            running = node_hash(&running, sibling);
        }
        f >>= 1;
        s >>= 1;
    }
    s == 0 && running == *expected_root
}

/// Checks a consistency proof between a tree of `first` leaves with root `first_root` and a tree of
/// `second` leaves with root `second_root`.
pub fn verify_consistency(
    first: usize,
    second: usize,
    proof: &[Hash],
    first_root: &Hash,
    second_root: &Hash,
) -> bool {
    if first == 0 || first > second {
        return false;
    }
    if first == second {
        return proof.is_empty() && first_root == second_root;
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if first.is_power_of_two() {
        path.push(*first_root);
    }
    path.extend_from_slice(proof);
    let Some((start, rest)) = path.split_first() else {
        return false;
    };
    let (mut f, mut s) = (first - 1, second - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let (mut first_running, mut second_running) = (*start, *start);
    for node in rest {
        if s == 0 {
            return false;
        }
        if f & 1 == 1 || f == s {
            first_running = node_hash(node, &first_running);
            second_running = node_hash(node, &second_running);
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            second_running = node_hash(&second_running, node);
        }
        f >>= 1;
        s >>= 1;
    }
    s == 0 && first_running == *first_root && second_running == *second_root
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n)
            .map(|i| leaf_hash(format!("leaf {i}").as_bytes()))
            .collect()
    }

    #[test]
    fn hashes_follow_the_rfc_6962_layout() {
        // The empty tree and a one-leaf tree, from the definition.
        assert_eq!(
            hex::encode(root(&[])),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let one = leaf_hash(b"");
        assert_eq!(
            hex::encode(one),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
        );
        assert_eq!(root(&[one]), one);
        // Three leaves: MTH = H(1 || H(1 || l0 || l1) || l2).
        let three = leaves(3);
        assert_eq!(
            root(&three),
            node_hash(&node_hash(&three[0], &three[1]), &three[2])
        );
    }

    #[test]
    fn a_seven_leaf_tree_has_the_rfc_example_proof_shapes() {
        // RFC 6962 section 2.1.3's example tree of seven leaves a..g.
        let d = leaves(7);
        let (a, b, c, dd, e, f, g) = (d[0], d[1], d[2], d[3], d[4], d[5], d[6]);
        let (k, l) = (node_hash(&c, &dd), node_hash(&e, &f));
        // The audit path for d0 is [b, h(c,d), h(h(e,f), g)].
        assert_eq!(
            inclusion_proof(0, &d).unwrap(),
            vec![b, k, node_hash(&l, &g)]
        );
        // The consistency proof between the 3-leaf and the 7-leaf tree, per the RFC:
        // [c, d, h(a,b), h(h(e,f),g)].
        assert_eq!(
            consistency_proof(3, &d).unwrap(),
            vec![c, dd, node_hash(&a, &b), node_hash(&l, &g)]
        );
        // Between 4 and 7: [h(h(e,f),g)].
        assert_eq!(consistency_proof(4, &d).unwrap(), vec![node_hash(&l, &g)]);
    }

    #[test]
    fn out_of_range_requests_are_errors() {
        let d = leaves(4);
        assert!(inclusion_proof(4, &d).is_err());
        assert!(consistency_proof(0, &d).is_err());
        assert!(consistency_proof(5, &d).is_err());
        assert!(!verify_inclusion(&d[0], 4, 4, &[], &root(&d)));
        assert!(!verify_consistency(5, 4, &[], &root(&d), &root(&d)));
    }

    proptest! {
        #[test]
        fn every_leaf_proves_its_inclusion_and_nothing_else_does(size in 1usize..70, pick in 0usize..70) {
            let d = leaves(size);
            let index = pick % size;
            let tree_root = root(&d);
            let proof = inclusion_proof(index, &d).unwrap();
            prop_assert!(verify_inclusion(&d[index], index, size, &proof, &tree_root));
            // Another leaf, another index or a changed proof fail. (The size is not what the path
            // proves; the signed tree head binds it to the root.)
            let stranger = leaf_hash(b"not in the tree");
            prop_assert!(!verify_inclusion(&stranger, index, size, &proof, &tree_root));
            if size > 1 {
                prop_assert!(!verify_inclusion(&d[index], (index + 1) % size, size, &proof, &tree_root));
            }
            if let Some(first) = proof.first() {
                let mut bent = proof.clone();
                bent[0] = node_hash(first, first);
                prop_assert!(!verify_inclusion(&d[index], index, size, &bent, &tree_root));
            }
        }

        #[test]
        fn every_prefix_is_consistent_with_the_grown_tree(second in 1usize..70, pick in 1usize..70) {
            let d = leaves(second);
            let first = 1 + (pick - 1) % second;
            let (first_root, second_root) = (root(&d[..first]), root(&d));
            let proof = consistency_proof(first, &d).unwrap();
            prop_assert!(verify_consistency(first, second, &proof, &first_root, &second_root));
            // A rewritten history is caught: the old tree with one leaf changed.
            let mut forged = d[..first].to_vec();
            forged[first - 1] = leaf_hash(b"rewritten");
            if first < second {
                prop_assert!(!verify_consistency(first, second, &proof, &root(&forged), &second_root));
            }
            let mut grown_differently = d.clone();
            grown_differently[second - 1] = leaf_hash(b"other");
            if first < second {
                prop_assert!(!verify_consistency(first, second, &proof, &first_root, &root(&grown_differently)));
            }
        }
    }
}
