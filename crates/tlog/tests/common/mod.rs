//! Shared helpers for the vector tests (reading vectors in place, never copying them).
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use base64::Engine;

/// Root of the shared tlog vectors.
pub fn vectors() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/vectors/tlog"
    ))
}

/// Reads a vector file (panics with the path on failure: tests only).
pub fn read(rel: &str) -> Vec<u8> {
    let p = vectors().join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("reading {}: {e}", p.display()))
}

/// Reads a vector file as UTF-8.
pub fn read_str(rel: &str) -> String {
    String::from_utf8(read(rel)).expect("utf-8 vector")
}

/// Parses a JSON vector.
pub fn json(rel: &str) -> serde_json::Value {
    serde_json::from_slice(&read(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// All `*.json` files under `dir`, recursively, sorted.
pub fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "json") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Standard base64 decode.
pub fn b64(s: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .unwrap_or_else(|e| panic!("base64 {s:?}: {e}"))
}

/// Decode a 32-byte base64 hash.
pub fn b64_hash(s: &str) -> [u8; 32] {
    b64(s).try_into().expect("32-byte hash")
}

/// Flips one bit of byte `i`.
pub fn flip(bytes: &mut [u8], i: usize) {
    bytes[i] ^= 0x01;
}
