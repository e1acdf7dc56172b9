//! transparency-dev/merkle test vectors, the RFC 6962 reference 8-leaf tree and the real
//! Argon2020 CT log proofs.

mod common;

use chainseal_tlog::Error;
use chainseal_tlog::merkle::{
    self, Hash, MemoryTree, consistency_proof, inclusion_proof, leaf_hash, node_hash, tree_hash,
    verify_consistency, verify_consistency_bytes, verify_inclusion, verify_inclusion_bytes,
};
use common::*;
use serde_json::Value;

fn proof_of(v: &Value) -> Vec<Vec<u8>> {
    match &v["proof"] {
        Value::Null => vec![],
        Value::Array(a) => a.iter().map(|h| b64(h.as_str().unwrap())).collect(),
        other => panic!("bad proof {other}"),
    }
}

#[test]
fn transparency_dev_inclusion_vectors_verify_or_fail_as_expected() {
    let dir = vectors().join("transparency-dev-merkle/testdata/inclusion");
    let files = json_files(&dir);
    assert!(
        files.len() > 80,
        "found only {} inclusion cases",
        files.len()
    );
    let mut failures = Vec::new();
    for f in &files {
        let v: Value = serde_json::from_slice(&std::fs::read(f).unwrap()).unwrap();
        let res = verify_inclusion_bytes(
            v["leafIdx"].as_u64().unwrap(),
            v["treeSize"].as_u64().unwrap(),
            &b64(v["leafHash"].as_str().unwrap()),
            &proof_of(&v),
            &b64(v["root"].as_str().unwrap()),
        );
        let want_err = v["wantErr"].as_bool().unwrap();
        if res.is_err() != want_err {
            failures.push(format!("{}: wantErr={want_err}, got {res:?}", f.display()));
        }
    }
    assert!(
        failures.is_empty(),
        "failing cases:\n{}",
        failures.join("\n")
    );
}

#[test]
fn transparency_dev_consistency_vectors_verify_or_fail_as_expected() {
    let dir = vectors().join("transparency-dev-merkle/testdata/consistency");
    let files = json_files(&dir);
    assert!(
        files.len() > 80,
        "found only {} consistency cases",
        files.len()
    );
    let mut failures = Vec::new();
    for f in &files {
        let v: Value = serde_json::from_slice(&std::fs::read(f).unwrap()).unwrap();
        let res = verify_consistency_bytes(
            v["size1"].as_u64().unwrap(),
            v["size2"].as_u64().unwrap(),
            &proof_of(&v),
            &b64(v["root1"].as_str().unwrap()),
            &b64(v["root2"].as_str().unwrap()),
        );
        let want_err = v["wantErr"].as_bool().unwrap();
        if res.is_err() != want_err {
            failures.push(format!("{}: wantErr={want_err}, got {res:?}", f.display()));
        }
    }
    assert!(
        failures.is_empty(),
        "failing cases:\n{}",
        failures.join("\n")
    );
}

struct RefTree {
    leaves: Vec<Vec<u8>>,
    levels: Vec<Vec<Hash>>,
    roots: Vec<Hash>,
}

fn reference_tree() -> RefTree {
    let v = json("transparency-dev-merkle/reference-tree-8-leaves.json");
    let hx = |s: &Value| -> Hash {
        hex::decode(s.as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap()
    };
    RefTree {
        leaves: v["leaf_inputs_hex"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| hex::decode(s.as_str().unwrap()).unwrap())
            .collect(),
        levels: v["node_hashes_by_level_hex"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_array().unwrap().iter().map(hx).collect())
            .collect(),
        roots: v["root_hashes_by_tree_size_hex"]
            .as_array()
            .unwrap()
            .iter()
            .map(hx)
            .collect(),
    }
}

#[test]
fn reference_tree_leaf_node_and_root_hashes_match() {
    let r = reference_tree();
    assert_eq!(r.leaves.len(), 8);
    assert_eq!(r.roots[0], merkle::empty_root());
    for (i, leaf) in r.leaves.iter().enumerate() {
        assert_eq!(leaf_hash(leaf), r.levels[0][i], "leaf {i}");
    }
    for level in 1..r.levels.len() {
        for (i, h) in r.levels[level].iter().enumerate() {
            let below = &r.levels[level - 1];
            assert_eq!(
                node_hash(&below[2 * i], &below[2 * i + 1]),
                *h,
                "level {level} node {i}"
            );
        }
    }
    let mut t = MemoryTree::new();
    assert_eq!(tree_hash(0, &t).unwrap(), r.roots[0]);
    for (i, leaf) in r.leaves.iter().enumerate() {
        t.push_entry(leaf);
        assert_eq!(t.root(), r.roots[i + 1], "root of size {}", i + 1);
        assert_eq!(tree_hash(i as u64 + 1, &t).unwrap(), r.roots[i + 1]);
    }
}

#[test]
fn reference_tree_generated_proofs_verify_and_mutations_are_rejected() {
    let r = reference_tree();
    let t = MemoryTree::from_leaf_hashes(r.leaves.iter().map(|l| leaf_hash(l)));
    for size in 1..=8u64 {
        let root = r.roots[size as usize];
        for index in 0..size {
            let leaf = r.levels[0][index as usize];
            let proof = inclusion_proof(index, size, &t).unwrap();
            verify_inclusion(index, size, &leaf, &proof, &root).unwrap();
            let mut bad_root = root;
            flip(&mut bad_root, 0);
            assert!(verify_inclusion(index, size, &leaf, &proof, &bad_root).is_err());
        }
        for size1 in 1..=size {
            let proof = consistency_proof(size1, size, &t).unwrap();
            verify_consistency(size1, size, &proof, &r.roots[size1 as usize], &root).unwrap();
        }
    }
}

#[test]
fn rejects_inclusion_proof_with_index_out_of_range() {
    let r = reference_tree();
    let leaf = r.levels[0][0];
    let e = verify_inclusion(8, 8, &leaf, &[], &r.roots[8]).unwrap_err();
    assert!(
        matches!(e, Error::IndexOutOfRange { index: 8, size: 8 }),
        "{e}"
    );
}

#[test]
fn inclusion_root_mismatch_error_names_both_roots() {
    let r = reference_tree();
    let t = MemoryTree::from_leaf_hashes(r.levels[0].iter().copied());
    let proof = inclusion_proof(3, 8, &t).unwrap();
    let e = verify_inclusion(3, 8, &r.levels[0][3], &proof, &r.roots[7]).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.starts_with("inclusion proof: computed root 5dc9da79"),
        "{msg}"
    );
    assert!(msg.contains("expected root ddb89be4"), "{msg}");
}

#[test]
fn rejects_consistency_from_empty_tree_and_shrinking_trees() {
    let r = reference_tree();
    assert!(verify_consistency(0, 8, &[], &r.roots[0], &r.roots[8]).is_err());
    assert!(verify_consistency(0, 0, &[], &r.roots[0], &r.roots[0]).is_err());
    assert!(verify_consistency(5, 4, &[], &r.roots[5], &r.roots[4]).is_err());
    // equal sizes: empty proof and equal roots only
    verify_consistency(4, 4, &[], &r.roots[4], &r.roots[4]).unwrap();
    assert!(verify_consistency(4, 4, &[], &r.roots[4], &r.roots[5]).is_err());
    assert!(verify_consistency(4, 4, &[r.roots[4]], &r.roots[4], &r.roots[4]).is_err());
}

// --- Argon2020: real CT log responses -------------------------------------------------

fn argon_sth() -> (u64, Hash) {
    let v = json("argon2020-ct-real/get-sth");
    (
        v["tree_size"].as_u64().unwrap(),
        b64_hash(v["sha256_root_hash"].as_str().unwrap()),
    )
}

#[test]
fn argon2020_inclusion_proof_of_real_entry_verifies() {
    let (size, root) = argon_sth();
    let entries = json("argon2020-ct-real/get-entries-start-10000-end-10000");
    let leaf_input = b64(entries["entries"][0]["leaf_input"].as_str().unwrap());
    let leaf = leaf_hash(&leaf_input);
    // the proof was fetched by this hash (URL-encoded in the file name)
    let by_hash = b64_hash("nCs3mfIydh9x4CKyQ+u2xtmpxmFggA5MLymHwNQSlLg=");
    assert_eq!(leaf, by_hash);
    let p = json(
        "argon2020-ct-real/get-proof-by-hash-tree-size-961984011-hash-nCs3mfIydh9x4CKyQ-2Bu2xtmpxmFggA5MLymHwNQSlLg-3D",
    );
    let index = p["leaf_index"].as_u64().unwrap();
    let proof: Vec<Hash> = p["audit_path"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| b64_hash(h.as_str().unwrap()))
        .collect();
    assert_eq!(proof.len(), 30);
    verify_inclusion(index, size, &leaf, &proof, &root).unwrap();
}

#[test]
fn rejects_argon2020_inclusion_proof_with_any_flipped_hash() {
    let (size, root) = argon_sth();
    let p = json(
        "argon2020-ct-real/get-proof-by-hash-tree-size-961984011-hash-nCs3mfIydh9x4CKyQ-2Bu2xtmpxmFggA5MLymHwNQSlLg-3D",
    );
    let leaf = b64_hash("nCs3mfIydh9x4CKyQ+u2xtmpxmFggA5MLymHwNQSlLg=");
    let index = p["leaf_index"].as_u64().unwrap();
    let proof: Vec<Hash> = p["audit_path"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| b64_hash(h.as_str().unwrap()))
        .collect();
    for i in 0..proof.len() {
        let mut bad = proof.clone();
        flip(&mut bad[i], 31);
        assert!(
            verify_inclusion(index, size, &leaf, &bad, &root).is_err(),
            "hash {i}"
        );
    }
    assert!(verify_inclusion(index + 1, size, &leaf, &proof, &root).is_err());
    assert!(verify_inclusion(index, size / 2, &leaf, &proof, &root).is_err());
    assert!(verify_inclusion(index, size, &leaf, &proof[..29], &root).is_err());
}

#[test]
fn argon2020_consistency_proof_verifies_and_mutations_are_rejected() {
    let (size2, root2) = argon_sth();
    let old = json("argon2020-ct-real/extra-old-root.json");
    let size1 = old["tree_size"].as_u64().unwrap();
    let root1 = b64_hash(old["sha256_root_hash"].as_str().unwrap());
    let c = json("argon2020-ct-real/get-sth-consistency-first-3654490-second-961984011");
    let proof: Vec<Hash> = c["consistency"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| b64_hash(h.as_str().unwrap()))
        .collect();
    verify_consistency(size1, size2, &proof, &root1, &root2).unwrap();
    for i in 0..proof.len() {
        let mut bad = proof.clone();
        flip(&mut bad[i], 7);
        assert!(
            verify_consistency(size1, size2, &bad, &root1, &root2).is_err(),
            "hash {i}"
        );
    }
    let mut bad_root1 = root1;
    flip(&mut bad_root1, 0);
    assert!(verify_consistency(size1, size2, &proof, &bad_root1, &root2).is_err());
    let mut bad_root2 = root2;
    flip(&mut bad_root2, 0);
    assert!(verify_consistency(size1, size2, &proof, &root1, &bad_root2).is_err());
    assert!(verify_consistency(size1 + 1, size2, &proof, &root1, &root2).is_err());
}
