//! Subtree inclusion and subtree consistency proofs (draft-ietf-plants-merkle-tree-certs
//! §4): every transparency-dev/merkle `subtree*` vector, the draft's worked examples and
//! Appendix C accumulated digests, and property tests over generated proofs.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use chainseal_tlog::Error;
use chainseal_tlog::merkle::{
    Hash, MemoryTree, consistency_proof, empty_root, inclusion_proof, leaf_hash, node_hash,
    tree_hash,
};
use chainseal_tlog::subtree::{
    is_valid_subtree, subtree_consistency_proof, subtree_consistency_proof_len, subtree_hash,
    subtree_inclusion_proof, verify_subtree_consistency, verify_subtree_consistency_bytes,
    verify_subtree_inclusion, verify_subtree_inclusion_bytes,
};
use common::{b64, json_files};
use proptest::prelude::*;
use serde_json::Value;
use sha2::{Digest, Sha256};

const TESTDATA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/vectors/tlog/transparency-dev-merkle/testdata"
);

fn load(f: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(f).unwrap()).unwrap_or_else(|e| panic!("{f:?}: {e}"))
}

fn proof_of(v: &Value) -> Vec<Vec<u8>> {
    match &v["proof"] {
        Value::Null => vec![],
        Value::Array(a) => a.iter().map(|h| b64(h.as_str().unwrap())).collect(),
        other => panic!("bad proof {other}"),
    }
}

fn u(v: &Value, k: &str) -> u64 {
    v[k].as_u64().unwrap_or_else(|| panic!("field {k} in {v}"))
}

fn s(v: &Value, k: &str) -> Vec<u8> {
    b64(v[k].as_str().unwrap_or_else(|| panic!("field {k} in {v}")))
}

/// All case files of one vector directory, with an exact count per top-level
/// subdirectory, so a renamed, emptied or skipped directory fails the test.
fn case_files(dir: &str, expected: &[(&str, usize)]) -> Vec<PathBuf> {
    let root = Path::new(TESTDATA).join(dir);
    let files = json_files(&root);
    let mut per_dir: BTreeMap<String, usize> = BTreeMap::new();
    for f in &files {
        let rel = f.strip_prefix(&root).unwrap();
        let top = rel.components().next().unwrap().as_os_str();
        *per_dir
            .entry(top.to_string_lossy().into_owned())
            .or_default() += 1;
    }
    let want: BTreeMap<String, usize> = expected.iter().map(|(d, n)| (d.to_string(), *n)).collect();
    assert_eq!(per_dir, want, "case files per directory under {dir}");
    files
}

const INCLUSION_DIRS: &[(&str, usize)] = &[
    ("0", 26),
    ("1", 36),
    ("2", 36),
    ("3", 30),
    ("4", 36),
    ("additional", 24),
    ("errors", 8),
    ("single-entry", 8),
];

const CONSISTENCY_DIRS: &[(&str, usize)] = &[
    ("0", 1),
    ("1", 22),
    ("2", 22),
    ("3", 21),
    ("4", 22),
    ("additional", 30),
];

fn check_vectors(files: &[PathBuf], run: impl Fn(&Value) -> chainseal_tlog::Result<()>) -> usize {
    let mut failures = Vec::new();
    let mut accepted = 0;
    for f in files {
        let v = load(f);
        let want_err = v["wantErr"].as_bool().unwrap();
        let res = run(&v);
        accepted += usize::from(res.is_ok());
        if res.is_err() != want_err {
            failures.push(format!("{}: wantErr={want_err}, got {res:?}", f.display()));
        }
    }
    assert!(
        failures.is_empty(),
        "failing cases:\n{}",
        failures.join("\n")
    );
    accepted
}

#[test]
fn transparency_dev_subtree_inclusion_vectors_verify_or_fail_as_expected() {
    let files = case_files("subtreeinclusion", INCLUSION_DIRS);
    assert_eq!(files.len(), 204);
    let accepted = check_vectors(&files, |v| {
        verify_subtree_inclusion_bytes(
            u(v, "leafIdx"),
            u(v, "start"),
            u(v, "end"),
            &s(v, "leafHash"),
            &proof_of(v),
            &s(v, "root"),
        )
    });
    assert_eq!(accepted, 12, "valid subtree inclusion cases");
}

#[test]
fn transparency_dev_subtree_consistency_vectors_verify_or_fail_as_expected() {
    let files = case_files("subtreeconsistency", CONSISTENCY_DIRS);
    assert_eq!(files.len(), 118);
    let accepted = check_vectors(&files, |v| {
        verify_subtree_consistency_bytes(
            u(v, "start"),
            u(v, "end"),
            u(v, "size"),
            &proof_of(v),
            &s(v, "root1"),
            &s(v, "root2"),
        )
    });
    assert_eq!(accepted, 12, "valid subtree consistency cases");
}

fn reference_leaves() -> Vec<Hash> {
    let v = common::json("transparency-dev-merkle/reference-tree-8-leaves.json");
    v["leaf_inputs_hex"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| leaf_hash(&hex::decode(s.as_str().unwrap()).unwrap()))
        .collect()
}

#[test]
fn generated_proofs_equal_the_valid_transparency_dev_vectors() {
    // The vectors are built over the RFC 6962 reference leaves; the `-subtree` variants
    // place them at [start, end) of a larger tree.
    let reference = reference_leaves();
    let mut checked = 0;
    for f in case_files("subtreeinclusion", INCLUSION_DIRS) {
        let v = load(&f);
        if v["wantErr"].as_bool().unwrap() {
            continue;
        }
        let (index, start, end) = (u(&v, "leafIdx"), u(&v, "start"), u(&v, "end"));
        // The single-entry cases use their own leaf rather than the reference leaves.
        let mut leaves = reference[..(end - start) as usize].to_vec();
        if leaves.len() == 1 {
            leaves[0] = s(&v, "leafHash").try_into().unwrap();
        }
        let filler = (0..start).map(|i| leaf_hash(&i.to_be_bytes()));
        let tree = MemoryTree::from_leaf_hashes(filler.chain(leaves));
        let got = subtree_inclusion_proof(index, start, end, &tree).unwrap();
        let want: Vec<Vec<u8>> = proof_of(&v);
        assert_eq!(
            got.iter().map(|h| h.to_vec()).collect::<Vec<_>>(),
            want,
            "{}",
            f.display()
        );
        assert_eq!(
            subtree_hash(start, end, &tree).unwrap().to_vec(),
            s(&v, "root"),
            "{}",
            f.display()
        );
        checked += 1;
    }
    let tree = MemoryTree::from_leaf_hashes(reference.iter().copied());
    for f in case_files("subtreeconsistency", CONSISTENCY_DIRS) {
        let v = load(&f);
        if v["wantErr"].as_bool().unwrap() {
            continue;
        }
        let (start, end, size) = (u(&v, "start"), u(&v, "end"), u(&v, "size"));
        let got = subtree_consistency_proof(start, end, size, &tree).unwrap();
        assert_eq!(
            got.iter().map(|h| h.to_vec()).collect::<Vec<_>>(),
            proof_of(&v),
            "{}",
            f.display()
        );
        let root1 = s(&v, "root1");
        if root1.len() == 32 {
            assert_eq!(
                subtree_hash(start, end, &tree).unwrap().to_vec(),
                root1,
                "{}",
                f.display()
            );
        }
        checked += 1;
    }
    assert_eq!(checked, 24);
}

// ---------------------------------------------------------------------------------------
// The draft's own examples and accumulated test vectors
// ---------------------------------------------------------------------------------------

/// Direct RFC 6962 recursion over leaf hashes, independent of the code under test.
fn naive_mth(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            let mut k = 1;
            while k * 2 < n {
                k *= 2;
            }
            node_hash(&naive_mth(&leaves[..k]), &naive_mth(&leaves[k..]))
        }
    }
}

fn byte_leaves(n: u64) -> Vec<Hash> {
    (0..n).map(|i| leaf_hash(&[i as u8])).collect()
}

#[test]
fn draft_example_proofs_have_the_nodes_the_draft_lists() {
    let d = byte_leaves(14);
    let t = MemoryTree::from_leaf_hashes(d.iter().copied());
    let mth = |a: usize, b: usize| naive_mth(&d[a..b]);
    let root = mth(0, 14);
    // §4.4.2: [4, 8) in a tree of 14 is {MTH(D[0:4]), MTH(D[8:14])}.
    let p = subtree_consistency_proof(4, 8, 14, &t).unwrap();
    assert_eq!(p, vec![mth(0, 4), mth(8, 14)]);
    verify_subtree_consistency(4, 8, 14, &p, &mth(4, 8), &root).unwrap();
    // §4.4.2: [8, 13) in a tree of 14 is {d12, d13, MTH(D[8:12]), MTH(D[0:8])}.
    let p = subtree_consistency_proof(8, 13, 14, &t).unwrap();
    assert_eq!(p, vec![d[12], d[13], mth(8, 12), mth(0, 8)]);
    verify_subtree_consistency(8, 13, 14, &p, &mth(8, 13), &root).unwrap();
    // §4.3.1: entry 10 of [8, 13) is {d11, MTH(D[8:10]), d12}.
    let p = subtree_inclusion_proof(10, 8, 13, &t).unwrap();
    assert_eq!(p, vec![d[11], mth(8, 10), d[12]]);
    verify_subtree_inclusion(10, 8, 13, &d[10], &p, &mth(8, 13)).unwrap();
}

fn proof_line(prefix: String, proof: &[Hash]) -> String {
    let mut line = prefix;
    for h in proof {
        line.push(' ');
        line.push_str(&hex::encode(h));
    }
    line.push('\n');
    line
}

/// draft-ietf-plants-merkle-tree-certs-05 Appendix C: over leaves `d[i] = [i]` for trees
/// up to 130 entries, each output line is fed to one running SHA-256. (Digests as
/// reproduced by several independent implementations of the draft.)
#[test]
fn draft_appendix_c_accumulated_digests_match_and_every_proof_verifies() {
    const MAX: u64 = 130;
    let d = byte_leaves(MAX);
    let t = MemoryTree::from_leaf_hashes(d.iter().copied());

    let mut c1 = Sha256::new();
    let mut c2 = Sha256::new();
    for end in 1..=MAX {
        for start in (0..end).filter(|&s| is_valid_subtree(s, end)) {
            let h = subtree_hash(start, end, &t).unwrap();
            assert_eq!(h, naive_mth(&d[start as usize..end as usize]));
            c1.update(format!("[{start}, {end}) {}\n", hex::encode(h)));
            for index in start..end {
                let p = subtree_inclusion_proof(index, start, end, &t).unwrap();
                verify_subtree_inclusion(index, start, end, &d[index as usize], &p, &h).unwrap();
                c2.update(proof_line(format!("{index} [{start}, {end})"), &p));
            }
        }
    }
    let mut c3 = Sha256::new();
    for n in 0..=MAX {
        let root = tree_hash(n, &t).unwrap();
        for end in 1..=n {
            for start in (0..end).filter(|&s| is_valid_subtree(s, end)) {
                let p = subtree_consistency_proof(start, end, n, &t).unwrap();
                let h = subtree_hash(start, end, &t).unwrap();
                verify_subtree_consistency(start, end, n, &p, &h, &root)
                    .unwrap_or_else(|e| panic!("[{start}, {end}) in {n}: {e}"));
                c3.update(proof_line(format!("[{start}, {end}) {n}"), &p));
            }
        }
    }
    let hx = |h: Sha256| hex::encode(h.finalize());
    assert_eq!(
        hx(c1),
        "94a95384a8c69acea9b50d035a58285b3a777cb7a724005faa5e1f1e1190007f",
        "C.1 subtree hashes"
    );
    assert_eq!(
        hx(c2),
        "ac2a8f989e44d99e399db448050ff5f19757df53cfb716aa81015d3955d8163f",
        "C.2 subtree inclusion proofs"
    );
    assert_eq!(
        hx(c3),
        "c586ebbb73a5621baf2140095d87dde934e3b6503a562a1a5215b8209edd083d",
        "C.3 subtree consistency proofs"
    );
}

// ---------------------------------------------------------------------------------------
// Rejections with the right error
// ---------------------------------------------------------------------------------------

#[test]
fn rejects_invalid_subtrees_subtrees_beyond_the_tree_and_indices_outside_them() {
    let h = [7u8; 32];
    for (s, e) in [(1, 3), (2, 6), (3, 2), (1, (1u64 << 63) + 2)] {
        assert!(matches!(
            verify_subtree_consistency(s, e, u64::MAX, &[], &h, &h),
            Err(Error::InvalidSubtree { .. })
        ));
        assert!(matches!(
            verify_subtree_inclusion(s, s, e, &h, &[], &h),
            Err(Error::InvalidSubtree { .. })
        ));
        assert!(subtree_consistency_proof(s, e, u64::MAX, &MemoryTree::new()).is_err());
    }
    assert!(matches!(
        verify_subtree_consistency(8, 13, 12, &[h; 3], &h, &h),
        Err(Error::SubtreeBeyondTree {
            start: 8,
            end: 13,
            size: 12
        })
    ));
    assert!(matches!(
        subtree_consistency_proof(0, 5, 4, &MemoryTree::new()),
        Err(Error::SubtreeBeyondTree { .. })
    ));
    for index in [7, 13, u64::MAX] {
        assert!(matches!(
            verify_subtree_inclusion(index, 8, 13, &h, &[h; 3], &h),
            Err(Error::SubtreeIndexOutOfRange { .. })
        ));
    }
    // The empty subtree contains no entry.
    assert!(matches!(
        verify_subtree_inclusion(4, 4, 4, &h, &[], &h),
        Err(Error::SubtreeIndexOutOfRange { .. })
    ));
}

#[test]
fn rejects_proofs_of_the_wrong_length_and_hashes_that_are_not_32_bytes() {
    let h = [7u8; 32];
    assert!(matches!(
        verify_subtree_consistency(8, 13, 14, &[h; 3], &h, &h),
        Err(Error::ProofLength {
            proof: "subtree consistency",
            got: 3,
            expected: 4
        })
    ));
    assert!(matches!(
        verify_subtree_consistency(0, 14, 14, &[h], &h, &h),
        Err(Error::ProofLength { expected: 0, .. })
    ));
    assert!(matches!(
        verify_subtree_inclusion(10, 8, 13, &h, &[h; 4], &h),
        Err(Error::ProofLength {
            proof: "subtree inclusion",
            got: 4,
            expected: 3
        })
    ));
    let short = [7u8; 31];
    assert!(matches!(
        verify_subtree_inclusion_bytes(10, 8, 13, &short, &[h; 3], &h),
        Err(Error::HashLength { .. })
    ));
    assert!(matches!(
        verify_subtree_inclusion_bytes(10, 8, 13, &h, &[h.as_slice(), &short, &h], &h),
        Err(Error::HashLength { .. })
    ));
    assert!(matches!(
        verify_subtree_consistency_bytes(8, 13, 14, &[h.as_slice(), &h, &h, &short], &h, &h),
        Err(Error::HashLength { .. })
    ));
    assert!(matches!(
        verify_subtree_consistency_bytes(4, 8, 14, &[h; 2], &h, &short),
        Err(Error::HashLength { .. })
    ));
}

#[test]
fn empty_subtree_is_consistent_only_with_the_empty_hash_and_an_empty_proof() {
    let e = empty_root();
    let h = [7u8; 32];
    verify_subtree_consistency(4, 4, 9, &[], &e, &h).unwrap();
    verify_subtree_consistency(0, 0, 0, &[], &e, &h).unwrap();
    assert!(matches!(
        verify_subtree_consistency(4, 4, 9, &[], &h, &h),
        Err(Error::SubtreeHashMismatch {
            which: "subtree",
            ..
        })
    ));
    assert!(matches!(
        verify_subtree_consistency(4, 4, 9, &[e], &e, &h),
        Err(Error::ProofLength { .. })
    ));
    assert!(matches!(
        verify_subtree_consistency(10, 10, 9, &[], &e, &h),
        Err(Error::SubtreeBeyondTree { .. })
    ));
    assert_eq!(subtree_hash(4, 4, &MemoryTree::new()).unwrap(), e);
    assert!(
        subtree_consistency_proof(4, 4, 9, &MemoryTree::new())
            .unwrap()
            .is_empty()
    );
}

// ---------------------------------------------------------------------------------------
// Property tests
// ---------------------------------------------------------------------------------------

const BIG: u64 = 2100;

fn big_tree() -> &'static MemoryTree {
    static T: OnceLock<MemoryTree> = OnceLock::new();
    T.get_or_init(|| MemoryTree::from_leaf_hashes((0..BIG).map(|i| leaf_hash(&i.to_be_bytes()))))
}

fn leaf(i: u64) -> Hash {
    leaf_hash(&i.to_be_bytes())
}

/// A non-empty valid subtree `[start, end)` of a tree of `size <= 2048` leaves: pick a
/// power-of-two width `w`, an aligned block `start = j·w` inside the tree, and an end in
/// `(start, min(start + w, size)]` (every valid subtree arises, with `w = BIT_CEIL`).
fn subtree_in_tree() -> impl Strategy<Value = (u64, u64, u64)> {
    (1u64..=2048, 0u32..12)
        .prop_flat_map(|(size, k)| {
            let w = 1u64 << k;
            (Just(size), Just(w), 0..(size - 1) / w + 1)
        })
        .prop_flat_map(|(size, w, j)| {
            let start = j * w;
            (Just(start), start + 1..=(start + w).min(size), Just(size))
        })
}

fn flip_bit(h: &Hash, bit: usize) -> Hash {
    let mut h = *h;
    h[bit / 8] ^= 1 << (bit % 8);
    h
}

/// Parameter changes by ±1 (wrapping, so 0 - 1 and MAX + 1 are exercised too).
fn nudges(x: u64) -> [u64; 2] {
    [x.wrapping_add(1), x.wrapping_sub(1)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn generated_subtree_consistency_proofs_verify((start, end, size) in subtree_in_tree()) {
        let t = big_tree();
        let proof = subtree_consistency_proof(start, end, size, t).unwrap();
        prop_assert_eq!(proof.len(), subtree_consistency_proof_len(start, end, size).unwrap());
        let node = subtree_hash(start, end, t).unwrap();
        verify_subtree_consistency(start, end, size, &proof, &node, &tree_hash(size, t).unwrap()).unwrap();
        // Draft §4.4.1 identities: start = 0 gives PROOF(end, D_n); end = start + 1 gives
        // PATH(start, D_n).
        if start == 0 {
            prop_assert_eq!(&proof, &consistency_proof(end, size, t).unwrap());
        }
        if end == start + 1 {
            prop_assert_eq!(&proof, &inclusion_proof(start, size, t).unwrap());
        }
    }

    #[test]
    fn any_single_mutation_of_a_subtree_consistency_proof_fails(
        (start, end, size) in subtree_in_tree(), pick in any::<prop::sample::Index>(), bit in 0usize..256
    ) {
        let t = big_tree();
        let proof = subtree_consistency_proof(start, end, size, t).unwrap();
        let node = subtree_hash(start, end, t).unwrap();
        let root = tree_hash(size, t).unwrap();
        let verify = |s, e, n, p: &[Hash], h: &Hash, r: &Hash| verify_subtree_consistency(s, e, n, p, h, r);
        if !proof.is_empty() {
            let j = pick.index(proof.len());
            let mut bad = proof.clone();
            bad[j] = flip_bit(&bad[j], bit);
            prop_assert!(verify(start, end, size, &bad, &node, &root).is_err());
            let mut short = proof.clone();
            short.remove(j);
            prop_assert!(verify(start, end, size, &short, &node, &root).is_err());
        }
        let j = pick.index(proof.len() + 1);
        let mut long = proof.clone();
        long.insert(j, root);
        prop_assert!(verify(start, end, size, &long, &node, &root).is_err());
        prop_assert!(verify(start, end, size, &proof, &flip_bit(&node, bit), &root).is_err());
        prop_assert!(verify(start, end, size, &proof, &node, &flip_bit(&root, bit)).is_err());

        // Changed start, end or size. A proof is judged against the true hashes of the
        // statement it is presented for (a cosigned subtree binds start/end to its hash, a
        // checkpoint binds size to its root): it must fail unless it *is* that statement's
        // proof. An invalid statement fails whatever the hashes.
        let mut mutations = Vec::new();
        for s2 in nudges(start) { mutations.push((s2, end, size)); }
        for e2 in nudges(end) { mutations.push((start, e2, size)); }
        for n2 in nudges(size) { mutations.push((start, end, n2)); }
        for (s2, e2, n2) in mutations {
            let res = if is_valid_subtree(s2, e2) && e2 <= n2 && n2 <= BIG {
                let honest = subtree_consistency_proof(s2, e2, n2, t).unwrap();
                if honest == proof { continue; }
                verify(s2, e2, n2, &proof, &subtree_hash(s2, e2, t).unwrap(), &tree_hash(n2, t).unwrap())
            } else {
                verify(s2, e2, n2, &proof, &node, &root)
            };
            prop_assert!(res.is_err(), "[{}, {}) in {} accepted the proof of [{}, {}) in {}", s2, e2, n2, start, end, size);
        }
    }

    #[test]
    fn generated_subtree_inclusion_proofs_verify(
        (start, end, _size) in subtree_in_tree(), pick in any::<prop::sample::Index>()
    ) {
        let t = big_tree();
        let index = start + pick.index((end - start) as usize) as u64;
        let proof = subtree_inclusion_proof(index, start, end, t).unwrap();
        let h = subtree_hash(start, end, t).unwrap();
        verify_subtree_inclusion(index, start, end, &leaf(index), &proof, &h).unwrap();
        // The subtree inclusion proof is the RFC 6962 PATH inside D[start:end].
        let shifted = MemoryTree::from_leaf_hashes((start..end).map(leaf));
        prop_assert_eq!(&proof, &inclusion_proof(index - start, end - start, &shifted).unwrap());
        prop_assert_eq!(h, shifted.root());
    }

    #[test]
    fn any_single_mutation_of_a_subtree_inclusion_proof_fails(
        (start, end, _size) in subtree_in_tree(), pick in any::<prop::sample::Index>(), bit in 0usize..256
    ) {
        let t = big_tree();
        let index = start + pick.index((end - start) as usize) as u64;
        let proof = subtree_inclusion_proof(index, start, end, t).unwrap();
        let h = subtree_hash(start, end, t).unwrap();
        let l = leaf(index);
        if !proof.is_empty() {
            let j = pick.index(proof.len());
            let mut bad = proof.clone();
            bad[j] = flip_bit(&bad[j], bit);
            prop_assert!(verify_subtree_inclusion(index, start, end, &l, &bad, &h).is_err());
            let mut short = proof.clone();
            short.remove(j);
            prop_assert!(verify_subtree_inclusion(index, start, end, &l, &short, &h).is_err());
        }
        let j = pick.index(proof.len() + 1);
        let mut long = proof.clone();
        long.insert(j, h);
        prop_assert!(verify_subtree_inclusion(index, start, end, &l, &long, &h).is_err());
        prop_assert!(verify_subtree_inclusion(index, start, end, &flip_bit(&l, bit), &proof, &h).is_err());
        prop_assert!(verify_subtree_inclusion(index, start, end, &l, &proof, &flip_bit(&h, bit)).is_err());

        // The same entry hash claimed at another index always fails.
        for i2 in nudges(index) {
            prop_assert!(verify_subtree_inclusion(i2, start, end, &l, &proof, &h).is_err());
        }
        // Changed index, start or end, judged against that statement's true hashes.
        let mut mutations = Vec::new();
        for i2 in nudges(index) { mutations.push((i2, start, end)); }
        for s2 in nudges(start) { mutations.push((index, s2, end)); }
        for e2 in nudges(end) { mutations.push((index, start, e2)); }
        for (i2, s2, e2) in mutations {
            let res = if is_valid_subtree(s2, e2) && s2 <= i2 && i2 < e2 && e2 <= BIG {
                let honest = subtree_inclusion_proof(i2, s2, e2, t).unwrap();
                if honest == proof { continue; }
                verify_subtree_inclusion(i2, s2, e2, &leaf(i2), &proof, &subtree_hash(s2, e2, t).unwrap())
            } else {
                verify_subtree_inclusion(i2, s2, e2, &l, &proof, &h)
            };
            prop_assert!(res.is_err(), "entry {} of [{}, {}) accepted the proof of entry {} of [{}, {})", i2, s2, e2, index, start, end);
        }
    }

    #[test]
    fn subtree_verifiers_never_panic(
        start in any::<u64>(), end in any::<u64>(), size in any::<u64>(), index in any::<u64>(),
        proof in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 0..70),
        a in prop::collection::vec(any::<u8>(), 0..40), b in prop::collection::vec(any::<u8>(), 0..40),
        small in any::<bool>()
    ) {
        // Half the cases use small numbers so that the structured paths are reached too.
        let (start, end, size, index) = if small {
            (start % 40, end % 40, size % 40, index % 40)
        } else {
            (start, end, size, index)
        };
        let _ = verify_subtree_consistency_bytes(start, end, size, &proof, &a, &b);
        let _ = verify_subtree_inclusion_bytes(index, start, end, &a, &proof, &b);
        let _ = subtree_consistency_proof_len(start, end, size);
        let _ = subtree_consistency_proof(start, end, size, big_tree());
        let _ = subtree_inclusion_proof(index, start, end, big_tree());
        let _ = subtree_hash(start, end, big_tree());
    }
}
