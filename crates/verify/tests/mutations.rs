//! Mutation tests over every valid sigstore-conformance bundle.
//!
//! Acceptance criterion: "A property test mutates every valid bundle field by field (bit
//! flips in every base64 value, changed integers, removed and swapped members): no
//! mutation is accepted unless the field is provably outside every signature and check,
//! and the test lists those fields." That list is [`OUTSIDE_EVERY_CHECK`]; every entry
//! says why the field cannot matter.
//!
//! Mutations, applied one at a time to the bundle parsed as JSON:
//! * (a) every base64 value (a schema `bytes` field): decode, flip one bit (first, middle
//!   and last byte, plus random positions), re-encode. `canonicalizedBody` is itself
//!   base64 of JSON: its outer bytes are flipped AND, decoded, every inner field is
//!   mutated with these same rules before it is re-encoded;
//! * (b) every integer (protobuf JSON encodes int64 as a string): +1, -1, 0;
//! * (c) every other string: one character changed (first, middle, last); every line of a
//!   checkpoint gets a changed character and is also removed; `mediaType` is also set to
//!   every other supported media type;
//! * (d) every object member and array element removed;
//! * (e) adjacent array elements swapped, and the values of every pair of string members
//!   of one object swapped;
//! * (f) insertions: an `integratedTime` into entries without one, and the trusted root's
//!   intermediates (intact and bit-flipped) or root CA into v0.1/v0.2 certificate chains.
//!
//! Each mutated bundle is re-serialised and verified with the artifact given both as bytes
//! and as a SHA-256 digest; it must be rejected both ways unless its field is listed in
//! [`OUTSIDE_EVERY_CHECK`]. A second property flips random bits of the bundle files.
//!
//! The vectors are read in place from the shared conformance assets.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chainseal_crypto::keys::PublicKey;
use chainseal_verify::{Artifact, Matcher, Policy, TrustMaterial, Verifier};
use proptest::prelude::*;
use proptest::test_runner::{TestRng, TestRunner};
use serde_json::Value;

const ASSETS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/vectors/sigstore/conformance-assets/bundle-verify"
);
const DEFAULT_IDENTITY: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const DEFAULT_ISSUER: &str = "https://token.actions.githubusercontent.com";

/// Every bundle media type the verifier understands.
const MEDIA_TYPES: &[&str] = &[
    "application/vnd.dev.sigstore.bundle+json;version=0.1",
    "application/vnd.dev.sigstore.bundle+json;version=0.2",
    "application/vnd.dev.sigstore.bundle+json;version=0.3",
    "application/vnd.dev.sigstore.bundle.v0.3+json",
];

/// Field names whose values are base64 `bytes` in the bundle schema (protobuf-specs).
/// Array elements inherit their array's name (`hashes`, `rfc3161Timestamps` holds objects).
const BUNDLE_BYTES_FIELDS: &[&str] = &[
    "rawBytes",
    "signature",
    "digest",
    "payload",
    "sig",
    "keyId",
    "signedTimestamp",
    "rootHash",
    "hashes",
    "canonicalizedBody",
    "signedEntryTimestamp",
    // A string in the schema, but base64 of a key digest in practice: flip it too.
    "hint",
];

/// Field names whose values are base64 inside Rekor entry bodies (hashedrekord 0.0.1
/// `content`, dsse `signature`/`verifier`, intoto `payload`/`sig`/`publicKey`, Rekor v2
/// `digest`/`content`/`rawBytes`).
const BODY_BYTES_FIELDS: &[&str] = &[
    "content",
    "signature",
    "verifier",
    "payload",
    "sig",
    "publicKey",
    "digest",
    "rawBytes",
];

// ---------------------------------------------------------------------------------------
// The allow-list.
// ---------------------------------------------------------------------------------------

/// Which mutations of a field an allow-list entry covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ops {
    /// Any mutation (the value is never read by a check).
    Any,
    /// Only removing it (optional evidence; when present it is fully checked).
    RemoveOnly,
}

/// A condition on the original bundle under which an allow-list entry applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum When {
    Always,
    /// The tlog entry holding the field has no `inclusionPromise` (no SET signs it).
    EntryHasNoInclusionPromise,
    /// Every tlog entry has a signed entry timestamp, so an integrated time is proven.
    EveryEntryHasInclusionPromise,
    /// The bundle carries an RFC 3161 timestamp (another verified signing time) and is not
    /// v0.1 (which requires the promise).
    HasRfc3161TimestampAndNotV01,
    /// The bundle is v0.1, whose inclusion proof is optional.
    BundleV01,
    /// The checkpoint line is a signature line whose (key name, key ID) is no log in the
    /// trusted root.
    UnknownCheckpointSigner,
    /// The removed member held the protobuf default of a scalar or repeated field (`0`,
    /// `""`, `[]`), which protobuf JSON treats exactly like an absent member.
    RemovedValueIsProtoDefault,
    /// The new media type is another supported version whose structural rules the bundle
    /// meets too (see [`conforms_to`]).
    MediaTypeStillConforms,
    /// The flipped byte of an RFC 3161 `TimeStampResp` lies in a part that no signature
    /// covers and no check reads (see [`tsa_unsigned_regions`]).
    TsaUnsignedRegion,
}

/// One field that may be mutated without the bundle being rejected, and why.
struct Allow {
    /// The field's path, indices written `[*]`; `{line}` is a line of a checkpoint.
    pattern: &'static str,
    ops: Ops,
    when: When,
    why: &'static str,
}

/// Fields provably outside every signature and check (or optional evidence whose removal
/// leaves a bundle every check still passes). Anything accepted that is not listed here
/// fails the test. `*` matches every path.
const OUTSIDE_EVERY_CHECK: &[Allow] = &[
    Allow {
        pattern: "*",
        ops: Ops::RemoveOnly,
        when: When::RemovedValueIsProtoDefault,
        why: "protobuf JSON: an absent scalar or repeated member and one holding its default \
              (0, \"\", []) parse to the same message, so removing a default-valued member is no \
              change at all (e.g. inclusionProof.logIndex \"0\", hashes [] of a 1-leaf tree, \
              keyid \"\")",
    },
    Allow {
        pattern: "mediaType",
        ops: Ops::Any,
        when: When::MediaTypeStillConforms,
        why: "the media type is in no signature; it only selects the structural rules of a \
              version. Another supported media type whose rules the bundle also meets (the two \
              v0.3 spellings; v0.1 <-> v0.2 for a chain/key bundle with both a SET and an \
              inclusion proof on every entry) denotes an equally valid bundle",
    },
    Allow {
        pattern: "verificationMaterial.timestampVerificationData.rfc3161Timestamps[*].signedTimestamp",
        ops: Ops::Any,
        when: When::TsaUnsignedRegion,
        why: "bytes of the TimeStampResp outside the TSA's signature that no check relies on: \
              PKIStatusInfo (only required to be granted or grantedWithMods); the SignedData \
              and SignerInfo version numbers (syntax markers nothing reads); SignedData \
              digestAlgorithms (informational: the SignerInfo's digest algorithm OID is used, \
              and its parameters are ignored as SHA-2 takes none); unsigned attributes; and \
              the embedded certificates/CRLs (only candidates: the signer certificate is bound \
              by the signed ESS signingCertificate(V2) hash and must chain to the trusted \
              root's TSA chain, which is tried too, so a mutated copy just fails and is skipped)",
    },
    Allow {
        pattern: "dsseEnvelope.signatures[*].keyid",
        ops: Ops::Any,
        when: When::Always,
        why: "a DSSE key ID is an unauthenticated hint (DSSE spec); the verifier never reads \
              it: the key comes from the certificate or the --key policy",
    },
    Allow {
        pattern: "verificationMaterial.publicKey.hint",
        ops: Ops::Any,
        when: When::Always,
        why: "a managed-key hint is never trusted: Signer::establish ignores it and uses \
              the policy's key; the hint is in no signature or log entry",
    },
    Allow {
        pattern: "verificationMaterial.x509CertificateChain.certificates[*].rawBytes",
        ops: Ops::Any,
        when: When::Always,
        why: "intermediates (index >= 1; the leaf [0] is never allowed, see allowed()) are \
              only parsed and rejected when self-signed: the path is built from the trusted \
              root's own chain, so a (mutated) intermediate that still parses and is not a \
              root is ignored. No valid vector carries one: the test inserts the trusted \
              intermediates into v0.1/v0.2 chains to exercise this",
    },
    Allow {
        pattern: "verificationMaterial.tlogEntries[*].integratedTime",
        ops: Ops::Any,
        when: When::EntryHasNoInclusionPromise,
        why: "without a signed entry timestamp the integrated time is unproven and never \
              used (Rekor v2 has none): verify_entry only returns it when the SET verified. \
              The test also inserts one into entries that lack it",
    },
    Allow {
        pattern: "verificationMaterial.timestampVerificationData",
        ops: Ops::RemoveOnly,
        when: When::EveryEntryHasInclusionPromise,
        why: "optional evidence: RFC 3161 timestamps only add verified signing times; with a \
              SET-proven integrated time on every entry the certificate is still checked at \
              a verified time. When present, every timestamp must verify",
    },
    Allow {
        pattern: "verificationMaterial.timestampVerificationData.rfc3161Timestamps",
        ops: Ops::RemoveOnly,
        when: When::EveryEntryHasInclusionPromise,
        why: "as timestampVerificationData: removing all timestamps removes optional evidence",
    },
    Allow {
        pattern: "verificationMaterial.timestampVerificationData.rfc3161Timestamps[*]",
        ops: Ops::RemoveOnly,
        when: When::EveryEntryHasInclusionPromise,
        why: "as timestampVerificationData: removing one timestamp removes optional evidence",
    },
    Allow {
        pattern: "verificationMaterial.tlogEntries[*].inclusionPromise",
        ops: Ops::RemoveOnly,
        when: When::HasRfc3161TimestampAndNotV01,
        why: "optional evidence in v0.2+: the SET only proves an integrated time; an RFC 3161 \
              timestamp already provides a verified time and the inclusion proof + signed \
              checkpoint still prove inclusion. When present, the SET must verify",
    },
    Allow {
        pattern: "verificationMaterial.tlogEntries[*].inclusionPromise.signedEntryTimestamp",
        ops: Ops::RemoveOnly,
        when: When::HasRfc3161TimestampAndNotV01,
        why: "an inclusionPromise without its SET is treated as absent: as removing \
              inclusionPromise (optional evidence next to an RFC 3161 timestamp)",
    },
    Allow {
        pattern: "verificationMaterial.tlogEntries[*].inclusionProof",
        ops: Ops::RemoveOnly,
        when: When::BundleV01,
        why: "optional evidence in v0.1 bundles, which rely on the (required, verified) SET; \
              when present the proof and its checkpoint must verify",
    },
    Allow {
        pattern: "messageSignature.messageDigest",
        ops: Ops::RemoveOnly,
        when: When::Always,
        why: "optional claim (protobuf-specs: the digest is a hint); the artifact's own digest \
              is what the signature and the log entry are checked against. When present it \
              must match the artifact",
    },
    Allow {
        pattern: "verificationMaterial.tlogEntries[*].inclusionProof.checkpoint.envelope{line}",
        ops: Ops::Any,
        when: When::UnknownCheckpointSigner,
        why: "a checkpoint signature line by a key that is no log in the trusted root (a \
              witness cosignature, or another key of the same name) is ignored under the \
              C2SP signed-note rule; the log's own signature over the note text is required",
    },
];

// ---------------------------------------------------------------------------------------
// Cases.
// ---------------------------------------------------------------------------------------

struct Case {
    name: String,
    bundle: Vec<u8>,
    value: Value,
    artifact: Vec<u8>,
    digest: [u8; 32],
    policy: Policy,
    verifier: Verifier,
}

impl Case {
    fn accepts_bytes(&self, json: &[u8]) -> bool {
        self.verifier
            .verify_json(json, Artifact::Bytes(&self.artifact), &self.policy)
            .is_ok()
    }

    fn accepts_digest(&self, json: &[u8]) -> bool {
        self.verifier
            .verify_json(json, Artifact::Sha256(self.digest), &self.policy)
            .is_ok()
    }

    fn trusted_note_keys(&self) -> Vec<(String, u32)> {
        self.verifier
            .trust()
            .tlogs
            .iter()
            .map(|t| {
                (
                    t.note_name.clone(),
                    u32::from_be_bytes(t.checkpoint_key_hint),
                )
            })
            .collect()
    }
}

fn read(path: &str) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn read_opt(path: &str) -> Option<Vec<u8>> {
    std::fs::read(path).ok()
}

fn text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap().trim().to_string()
}

fn load_cases() -> Vec<Case> {
    let mut names: Vec<String> = std::fs::read_dir(ASSETS)
        .unwrap_or_else(|e| panic!("{ASSETS}: {e}"))
        .filter_map(|e| {
            let e = e.ok()?;
            e.file_type()
                .ok()?
                .is_dir()
                .then(|| e.file_name().into_string().ok())?
        })
        .filter(|n| !n.ends_with("_fail"))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let dir = format!("{ASSETS}/{name}");
            let bundle = read(&format!("{dir}/bundle.sigstore.json"));
            let value: Value = serde_json::from_slice(&bundle).unwrap();
            let artifact = read_opt(&format!("{dir}/artifact"))
                .unwrap_or_else(|| read(&format!("{ASSETS}/a.txt")));
            let digest = chainseal_crypto::keys::sha256(&artifact);
            let trust = match read_opt(&format!("{dir}/trusted_root.json")) {
                Some(root) => TrustMaterial::from_json(&root).unwrap(),
                None => TrustMaterial::public_good().unwrap(),
            };
            let policy = match read_opt(&format!("{dir}/key.pub")) {
                Some(pem) => Policy::Key(PublicKey::from_pem(&text(pem)).unwrap()),
                None => Policy::Identity {
                    identity: Matcher::Exact(
                        read_opt(&format!("{dir}/identity"))
                            .map(text)
                            .unwrap_or_else(|| DEFAULT_IDENTITY.into()),
                    ),
                    issuer: Matcher::Exact(
                        read_opt(&format!("{dir}/issuer"))
                            .map(text)
                            .unwrap_or_else(|| DEFAULT_ISSUER.into()),
                    ),
                    extensions: Vec::new(),
                },
            };
            Case {
                name,
                bundle,
                value,
                artifact,
                digest,
                policy,
                verifier: Verifier::new(trust),
            }
        })
        .collect()
}

fn cases() -> &'static [Case] {
    static CASES: OnceLock<Vec<Case>> = OnceLock::new();
    CASES.get_or_init(load_cases)
}

// ---------------------------------------------------------------------------------------
// Paths.
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    Key(String),
    Index(usize),
}

fn display(path: &[Seg]) -> String {
    let mut s = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            Seg::Index(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}

fn pattern_of(path: &[Seg]) -> String {
    let mut s = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            Seg::Index(_) => s.push_str("[*]"),
        }
    }
    s
}

fn get_mut<'a>(v: &'a mut Value, path: &[Seg]) -> &'a mut Value {
    path.iter().fold(v, |v, seg| match seg {
        Seg::Key(k) => &mut v[k.as_str()],
        Seg::Index(i) => &mut v[*i],
    })
}

fn get<'a>(v: &'a Value, path: &[Seg]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, seg| match seg {
        Seg::Key(k) => v.get(k.as_str()),
        Seg::Index(i) => v.get(*i),
    })
}

/// Every node of a JSON value with its path, parents before children.
fn nodes(v: &Value) -> Vec<(Vec<Seg>, &Value)> {
    fn go<'a>(v: &'a Value, path: &mut Vec<Seg>, out: &mut Vec<(Vec<Seg>, &'a Value)>) {
        out.push((path.clone(), v));
        match v {
            Value::Object(m) => {
                for (k, c) in m {
                    path.push(Seg::Key(k.clone()));
                    go(c, path, out);
                    path.pop();
                }
            }
            Value::Array(a) => {
                for (i, c) in a.iter().enumerate() {
                    path.push(Seg::Index(i));
                    go(c, path, out);
                    path.pop();
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    go(v, &mut Vec::new(), &mut out);
    out
}

/// The name a node is known by: its member name, or its array's member name.
fn field_name(path: &[Seg]) -> Option<&str> {
    path.iter().rev().find_map(|s| match s {
        Seg::Key(k) => Some(k.as_str()),
        Seg::Index(_) => None,
    })
}

// ---------------------------------------------------------------------------------------
// Mutations.
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Change,
    Remove,
    Swap,
}

/// Where inside a string value a mutation happened.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Inner {
    None,
    /// A field of a decoded `canonicalizedBody` (display path inside the body).
    Body(String),
    /// A line of a checkpoint envelope.
    Line(usize),
}

struct Mutation {
    path: Vec<Seg>,
    inner: Inner,
    op: Op,
    /// The flipped byte of a base64 value, if this is a bit flip.
    flipped: Option<usize>,
    what: String,
    bundle: Value,
}

impl Mutation {
    fn location(&self) -> String {
        let p = display(&self.path);
        match &self.inner {
            Inner::None => p,
            Inner::Body(b) => format!("{p}{{{b}}}"),
            Inner::Line(l) => format!("{p}{{line {l}}}"),
        }
    }
    fn pattern(&self) -> String {
        let p = pattern_of(&self.path);
        match &self.inner {
            Inner::None => p,
            Inner::Body(b) => format!("{p}{{{b}}}"),
            Inner::Line(_) => format!("{p}{{line}}"),
        }
    }
}

/// Byte positions to flip in a value of `len` bytes: first, middle, last and `random`
/// random ones; with the bit to flip at each.
fn flip_positions(len: usize, random: usize, rng: &mut TestRng) -> Vec<(usize, u8)> {
    if len == 0 {
        return vec![];
    }
    let mut out = vec![(0, 0x80u8), (len / 2, 0x01), (len - 1, 0x10)];
    for _ in 0..random {
        let pos = (rng.next_u64() % len as u64) as usize;
        let bit = 1u8 << (rng.next_u32() % 8);
        out.push((pos, bit));
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// A different character for `c` that keeps the string printable.
fn other_char(c: char) -> char {
    match c {
        'a'..='y' | 'A'..='Y' | '0'..='8' => char::from_u32(c as u32 + 1).unwrap(),
        'z' | 'Z' | '9' => char::from_u32(c as u32 - 1).unwrap(),
        _ => 'x',
    }
}

/// Strings with one character changed at the first, middle and last position (an empty
/// string gets one character).
fn char_changes(s: &str) -> Vec<(String, String)> {
    let chars: Vec<char> = s.chars().collect();
    if chars.is_empty() {
        return vec![("\"\" -> \"x\"".into(), "x".into())];
    }
    let mut idx = vec![0, chars.len() / 2, chars.len() - 1];
    idx.dedup();
    idx.into_iter()
        .map(|i| {
            let mut c = chars.clone();
            c[i] = other_char(c[i]);
            (
                format!("char {i} {:?} -> {:?}", chars[i], c[i]),
                c.into_iter().collect(),
            )
        })
        .collect()
}

fn int_changes(n: i64) -> Vec<(String, i64)> {
    [
        ("+1", n.checked_add(1)),
        ("-1", n.checked_sub(1)),
        ("0", Some(0)),
    ]
    .into_iter()
    .filter_map(|(w, v)| {
        v.filter(|&v| v != n)
            .map(|v| (format!("{n} -> {v} ({w})"), v))
    })
    .collect()
}

/// Generic value mutations of one JSON document (the bundle, or a decoded entry body):
/// yields (path, op, description, mutated document).
fn value_mutations(
    root: &Value,
    bytes_fields: &[&str],
    random_flips: usize,
    rng: &mut TestRng,
    emit: &mut dyn FnMut(Vec<Seg>, Op, Option<usize>, String, Value),
) {
    for (path, node) in nodes(root) {
        // (d) removal of every object member and array element.
        if let Some((last, parent)) = path.split_last() {
            let mut m = root.clone();
            match (get_mut(&mut m, parent), last) {
                (Value::Object(o), Seg::Key(k)) => {
                    o.remove(k);
                }
                (Value::Array(a), Seg::Index(i)) => {
                    a.remove(*i);
                }
                _ => unreachable!(),
            }
            emit(path.clone(), Op::Remove, None, "removed".into(), m);
        }
        match node {
            Value::String(s) => {
                let name = field_name(&path).unwrap_or("");
                let is_bytes = bytes_fields.contains(&name);
                if let Ok(n) = s.parse::<i64>() {
                    // (b) integers (int64 is a string in protobuf JSON).
                    for (what, v) in int_changes(n) {
                        let mut m = root.clone();
                        *get_mut(&mut m, &path) = Value::String(v.to_string());
                        emit(path.clone(), Op::Change, None, what, m);
                    }
                } else if let (true, Ok(raw)) = (is_bytes, STANDARD.decode(s)) {
                    // (a) bit flips in base64 values.
                    let n = if raw.len() > 64 {
                        random_flips * 2
                    } else {
                        random_flips
                    };
                    for (pos, bit) in flip_positions(raw.len(), n, rng) {
                        let mut r = raw.clone();
                        r[pos] ^= bit;
                        let mut m = root.clone();
                        *get_mut(&mut m, &path) = Value::String(STANDARD.encode(&r));
                        emit(
                            path.clone(),
                            Op::Change,
                            Some(pos),
                            format!("bit flip: byte {pos} of {} ^= {bit:#04x}", raw.len()),
                            m,
                        );
                    }
                } else if name != "envelope" {
                    // (c) plain strings (checkpoint envelopes are mutated line by line).
                    for (what, v) in char_changes(s) {
                        let mut m = root.clone();
                        *get_mut(&mut m, &path) = Value::String(v);
                        emit(path.clone(), Op::Change, None, what, m);
                    }
                }
            }
            Value::Number(num) => {
                if let Some(n) = num.as_i64() {
                    for (what, v) in int_changes(n) {
                        let mut m = root.clone();
                        *get_mut(&mut m, &path) = Value::from(v);
                        emit(path.clone(), Op::Change, None, what, m);
                    }
                }
            }
            Value::Array(a) => {
                // (e) swap adjacent elements.
                for i in 1..a.len() {
                    if a[i - 1] == a[i] {
                        continue;
                    }
                    let mut m = root.clone();
                    if let Value::Array(b) = get_mut(&mut m, &path) {
                        b.swap(i - 1, i);
                    }
                    emit(
                        path.clone(),
                        Op::Swap,
                        None,
                        format!("swapped elements {} and {i}", i - 1),
                        m,
                    );
                }
            }
            Value::Object(o) => {
                // (e) swap the values of two string members.
                let strings: Vec<&String> = o
                    .iter()
                    .filter(|(_, v)| v.is_string())
                    .map(|(k, _)| k)
                    .collect();
                for (i, a) in strings.iter().enumerate() {
                    for b in &strings[i + 1..] {
                        if o[a.as_str()] == o[b.as_str()] {
                            continue;
                        }
                        let mut m = root.clone();
                        let obj = get_mut(&mut m, &path).as_object_mut().unwrap();
                        let va = obj[a.as_str()].take();
                        let vb = std::mem::replace(&mut obj[b.as_str()], va);
                        obj[a.as_str()] = vb;
                        emit(
                            path.clone(),
                            Op::Swap,
                            None,
                            format!("swapped values of {a} and {b}"),
                            m,
                        );
                    }
                }
            }
            _ => {}
        }
    }
}

/// Every mutation of a case's bundle.
fn bundle_mutations(case: &Case, rng: &mut TestRng, f: &mut dyn FnMut(Mutation)) {
    let root = &case.value;
    value_mutations(
        root,
        BUNDLE_BYTES_FIELDS,
        6,
        rng,
        &mut |path, op, flipped, what, bundle| {
            f(Mutation {
                path,
                inner: Inner::None,
                op,
                flipped,
                what,
                bundle,
            })
        },
    );
    for (path, node) in nodes(root) {
        let (Value::String(s), Some(name)) = (node, field_name(&path)) else {
            continue;
        };
        match name {
            // mediaType set to every other supported media type.
            "mediaType" if path.len() == 1 => {
                for mt in MEDIA_TYPES.iter().filter(|mt| **mt != s) {
                    let mut m = root.clone();
                    m["mediaType"] = Value::String(mt.to_string());
                    f(Mutation {
                        path: path.clone(),
                        inner: Inner::None,
                        op: Op::Change,
                        flipped: None,
                        what: format!("media type -> {mt}"),
                        bundle: m,
                    });
                }
            }
            // The decoded entry body: mutate every inner field, re-encode.
            "canonicalizedBody" => {
                let raw = STANDARD.decode(s).unwrap();
                let body: Value = serde_json::from_slice(&raw).unwrap();
                value_mutations(
                    &body,
                    BODY_BYTES_FIELDS,
                    3,
                    rng,
                    &mut |ipath, op, _, what, b| {
                        let mut m = root.clone();
                        *get_mut(&mut m, &path) =
                            Value::String(STANDARD.encode(serde_json::to_vec(&b).unwrap()));
                        f(Mutation {
                            path: path.clone(),
                            inner: Inner::Body(display(&ipath)),
                            op,
                            flipped: None,
                            what,
                            bundle: m,
                        })
                    },
                );
            }
            // Every line of a checkpoint: one changed character, and removal.
            "envelope" => {
                let lines: Vec<&str> = s.split('\n').collect();
                for (l, line) in lines.iter().enumerate() {
                    let mut variants: Vec<(Op, String, String)> = char_changes(line)
                        .into_iter()
                        .map(|(w, v)| (Op::Change, w, v))
                        .collect();
                    if l + 1 < lines.len() {
                        variants.push((Op::Remove, "line removed".into(), String::new()));
                    }
                    for (op, what, new_line) in variants {
                        let mut ls: Vec<String> = lines.iter().map(|s| s.to_string()).collect();
                        if op == Op::Remove {
                            ls.remove(l);
                        } else {
                            ls[l] = new_line;
                        }
                        let mut m = root.clone();
                        *get_mut(&mut m, &path) = Value::String(ls.join("\n"));
                        f(Mutation {
                            path: path.clone(),
                            inner: Inner::Line(l),
                            op,
                            flipped: None,
                            what,
                            bundle: m,
                        });
                    }
                }
            }
            _ => {}
        }
    }
    insertions(case, rng, f);
}

/// (f) Members a mutator could add. An `integratedTime` on an entry without one (Rekor v2)
/// must never become a verified time; a v0.1/v0.2 chain may carry intermediates, which
/// are then bit-flipped and swapped like any value; a trusted root CA inserted as an
/// intermediate must be rejected.
fn insertions(case: &Case, rng: &mut TestRng, f: &mut dyn FnMut(Mutation)) {
    let root = &case.value;
    for (i, e) in entries(root).iter().enumerate() {
        if e.get("integratedTime").is_some() {
            continue;
        }
        for t in ["1", "1700000000", "4102444800"] {
            let mut m = root.clone();
            m["verificationMaterial"]["tlogEntries"][i]["integratedTime"] = Value::from(t);
            f(Mutation {
                path: vec![
                    Seg::Key("verificationMaterial".into()),
                    Seg::Key("tlogEntries".into()),
                    Seg::Index(i),
                    Seg::Key("integratedTime".into()),
                ],
                inner: Inner::None,
                op: Op::Change,
                flipped: None,
                what: format!("inserted integratedTime {t}"),
                bundle: m,
            });
        }
    }
    if root["verificationMaterial"]["x509CertificateChain"]["certificates"]
        .as_array()
        .is_none_or(|c| c.len() != 1)
    {
        return;
    }
    let cert_path = |i: usize| {
        vec![
            Seg::Key("verificationMaterial".into()),
            Seg::Key("x509CertificateChain".into()),
            Seg::Key("certificates".into()),
            Seg::Index(i),
            Seg::Key("rawBytes".into()),
        ]
    };
    let with_extra = |der: &[u8]| {
        let mut m = root.clone();
        m["verificationMaterial"]["x509CertificateChain"]["certificates"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({ "rawBytes": STANDARD.encode(der) }));
        m
    };
    for ca in &case.verifier.trust().cas {
        f(Mutation {
            // Recorded on the chain itself, which no allow-list entry covers.
            path: cert_path(1)[..3].to_vec(),
            inner: Inner::None,
            op: Op::Change,
            flipped: None,
            what: "inserted the trusted root CA as an intermediate".into(),
            bundle: with_extra(ca.root.der()),
        });
        for inter in &ca.intermediates {
            let der = inter.der();
            f(Mutation {
                path: cert_path(1),
                inner: Inner::None,
                op: Op::Change,
                flipped: None,
                what: "inserted a trusted intermediate".into(),
                bundle: with_extra(der),
            });
            for (pos, bit) in flip_positions(der.len(), 6, rng) {
                let mut d = der.to_vec();
                d[pos] ^= bit;
                f(Mutation {
                    path: cert_path(1),
                    inner: Inner::None,
                    op: Op::Change,
                    flipped: Some(pos),
                    what: format!(
                        "inserted a trusted intermediate, byte {pos} of {} ^= {bit:#04x}",
                        der.len()
                    ),
                    bundle: with_extra(&d),
                });
            }
            let mut swapped = with_extra(der);
            swapped["verificationMaterial"]["x509CertificateChain"]["certificates"]
                .as_array_mut()
                .unwrap()
                .swap(0, 1);
            f(Mutation {
                path: cert_path(0),
                inner: Inner::None,
                op: Op::Swap,
                flipped: None,
                what: "inserted a trusted intermediate, then swapped it with the leaf".into(),
                bundle: swapped,
            });
        }
    }
}

// ---------------------------------------------------------------------------------------
// Classification.
// ---------------------------------------------------------------------------------------

fn tlog_entry_index(path: &[Seg]) -> Option<usize> {
    match path {
        [Seg::Key(a), Seg::Key(b), Seg::Index(i), ..]
            if a == "verificationMaterial" && b == "tlogEntries" =>
        {
            Some(*i)
        }
        _ => None,
    }
}

fn entries(bundle: &Value) -> &[Value] {
    bundle["verificationMaterial"]["tlogEntries"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// Whether checkpoint line `l` of the original bundle is a signature line by a key that
/// is no transparency log of the trusted root.
fn unknown_signer_line(case: &Case, path: &[Seg], l: usize) -> bool {
    let Some(Value::String(cp)) = get(&case.value, path) else {
        return false;
    };
    let lines: Vec<&str> = cp.split('\n').collect();
    // Signature lines follow the last blank line; the final element is the empty string
    // after the closing newline.
    let Some(last_blank) = lines[..lines.len() - 1].iter().rposition(|s| s.is_empty()) else {
        return false;
    };
    if l <= last_blank || l + 1 >= lines.len() {
        return false;
    }
    let Some((name, b64)) = lines[l]
        .strip_prefix("\u{2014} ")
        .and_then(|r| r.split_once(' '))
    else {
        return false;
    };
    let Some(id) = STANDARD.decode(b64).ok().and_then(|raw| {
        raw.get(..4)
            .map(|h| u32::from_be_bytes(h.try_into().unwrap()))
    }) else {
        return false;
    };
    !case
        .trusted_note_keys()
        .iter()
        .any(|(n, k)| n == name && *k == id)
}

fn condition_holds(when: When, case: &Case, m: &Mutation) -> bool {
    let b = &case.value;
    match when {
        When::Always => true,
        When::EntryHasNoInclusionPromise => tlog_entry_index(&m.path)
            .is_some_and(|i| entries(b)[i].get("inclusionPromise").is_none()),
        When::EveryEntryHasInclusionPromise => entries(b)
            .iter()
            .all(|e| e.get("inclusionPromise").is_some()),
        When::HasRfc3161TimestampAndNotV01 => {
            b["mediaType"] != MEDIA_TYPES[0]
                && b["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"]
                    .as_array()
                    .is_some_and(|a| !a.is_empty())
        }
        When::BundleV01 => b["mediaType"] == MEDIA_TYPES[0],
        When::UnknownCheckpointSigner => match m.inner {
            Inner::Line(l) => unknown_signer_line(case, &m.path, l),
            _ => false,
        },
        When::RemovedValueIsProtoDefault => {
            m.inner == Inner::None
                && get(b, &m.path).is_some_and(|v| match v {
                    Value::String(s) => s.is_empty() || s == "0",
                    Value::Number(n) => n.as_f64() == Some(0.0),
                    Value::Array(a) => a.is_empty(),
                    // A message field has presence: an empty message is not "absent".
                    Value::Object(_) => false,
                    Value::Bool(x) => !x,
                    Value::Null => true,
                })
        }
        When::MediaTypeStillConforms => m.bundle["mediaType"]
            .as_str()
            .is_some_and(|mt| conforms_to(&m.bundle, mt)),
        When::TsaUnsignedRegion => {
            let (Some(pos), Some(Value::String(der))) = (m.flipped, get(b, &m.path)) else {
                return false;
            };
            let der = STANDARD.decode(der).unwrap();
            tsa_unsigned_regions(&der)
                .iter()
                .any(|(_, r)| r.contains(&pos))
        }
    }
}

/// Whether `bundle` meets the structural rules of the bundle version `media_type` names
/// (protobuf-specs sigstore_bundle.proto): v0.1 needs a SET on every entry, v0.2+ an
/// inclusion proof; v0.1/v0.2 carry a chain or a key, v0.3 a single certificate or a key.
fn conforms_to(bundle: &Value, media_type: &str) -> bool {
    let Some(v) = MEDIA_TYPES.iter().position(|m| *m == media_type) else {
        return false;
    };
    let vm = &bundle["verificationMaterial"];
    let has = |k: &str| vm.get(k).is_some();
    let all = |k: &str| entries(bundle).iter().all(|e| e.get(k).is_some());
    let key_ok = has("publicKey")
        || if v < 2 {
            has("x509CertificateChain")
        } else {
            has("certificate")
        };
    let entries_ok = if v == 0 {
        all("inclusionPromise")
    } else {
        all("inclusionProof")
    };
    key_ok && entries_ok
}

/// One DER TLV at `at`: (tag, header length, content length).
fn der_tlv(d: &[u8], at: usize) -> Option<(u8, usize, usize)> {
    let tag = *d.get(at)?;
    let first = *d.get(at + 1)? as usize;
    if first < 0x80 {
        return Some((tag, 2, first));
    }
    let n = first & 0x7f;
    if n == 0 || n > 4 {
        return None;
    }
    let mut len = 0usize;
    for i in 0..n {
        len = (len << 8) | *d.get(at + 2 + i)? as usize;
    }
    Some((tag, 2 + n, len))
}

/// The TLVs inside the constructed TLV at `at`: (tag, whole TLV range).
fn der_children(d: &[u8], at: usize) -> Vec<(u8, std::ops::Range<usize>)> {
    let mut out = Vec::new();
    let Some((_, h, len)) = der_tlv(d, at) else {
        return out;
    };
    let (mut p, end) = (at + h, at + h + len);
    while p < end {
        let Some((tag, h, len)) = der_tlv(d, p) else {
            break;
        };
        out.push((tag, p..p + h + len));
        p += h + len;
    }
    out
}

/// The byte ranges of a DER `TimeStampResp` (or bare time-stamp `ContentInfo`) that no
/// signature covers and no check relies on, by name: the PKIStatusInfo; the `SignedData`
/// version, digestAlgorithms, certificates [0] and crls [1]; and in each `SignerInfo` the
/// version, the digest algorithm's parameters and the unsigned attributes.
fn tsa_unsigned_regions(d: &[u8]) -> Vec<(&'static str, std::ops::Range<usize>)> {
    let mut out = Vec::new();
    let top = der_children(d, 0);
    let content_info = match top.as_slice() {
        [(0x30, status), (0x30, ci)] => {
            out.push(("PKIStatusInfo", status.clone()));
            ci.start
        }
        [(0x06, _), ..] => 0,
        _ => return out,
    };
    let ci = der_children(d, content_info);
    let Some((0xa0, explicit)) = ci.get(1) else {
        return out;
    };
    let Some((0x30, signed_data)) = der_children(d, explicit.start).first().cloned() else {
        return out;
    };
    let fields = der_children(d, signed_data.start);
    for (i, (tag, r)) in fields.iter().enumerate() {
        match (i, tag) {
            (0, 0x02) => out.push(("SignedData.version", r.clone())),
            (1, 0x31) => out.push(("SignedData.digestAlgorithms", r.clone())),
            (_, 0xa0) => out.push(("SignedData.certificates", r.clone())),
            (_, 0xa1) => out.push(("SignedData.crls", r.clone())),
            _ => {}
        }
    }
    // signerInfos is the last SET; in each SignerInfo: version, sid, digestAlgorithm,
    // [0] signedAttrs, signatureAlgorithm, signature, [1] unsignedAttrs.
    if let Some((0x31, infos)) = fields.last() {
        for (_, info) in der_children(d, infos.start) {
            let parts = der_children(d, info.start);
            if let Some((0x02, r)) = parts.first() {
                out.push(("SignerInfo.version", r.clone()));
            }
            if let Some((0x30, alg)) = parts.get(2)
                && let Some((_, params)) = der_children(d, alg.start).get(1)
            {
                out.push(("SignerInfo.digestAlgorithm.parameters", params.clone()));
            }
            if let Some((0xa1, r)) = parts.last() {
                out.push(("SignerInfo.unsignedAttrs", r.clone()));
            }
        }
    }
    out
}

/// The allow-list entry covering an accepted mutation, if any.
fn allowed(case: &Case, m: &Mutation) -> Option<&'static Allow> {
    // The chain itself and its leaf certificate (the signer) are never allowed.
    let chain = [
        Seg::Key("verificationMaterial".into()),
        Seg::Key("x509CertificateChain".into()),
        Seg::Key("certificates".into()),
    ];
    if m.path.starts_with(&chain) && matches!(m.path.get(3), None | Some(Seg::Index(0))) {
        return None;
    }
    let pattern = m.pattern();
    OUTSIDE_EVERY_CHECK.iter().find(|a| {
        (a.pattern == "*" || a.pattern == pattern)
            && (a.ops == Ops::Any || m.op == Op::Remove)
            && condition_holds(a.when, case, m)
    })
}

// ---------------------------------------------------------------------------------------
// Tests.
// ---------------------------------------------------------------------------------------

#[test]
fn unmutated_valid_bundles_verify() {
    let cases = cases();
    assert!(
        cases.len() >= 15,
        "expected the valid conformance cases under {ASSETS}, found {}",
        cases.len()
    );
    let mut failures = Vec::new();
    for case in cases {
        let compact = serde_json::to_vec(&case.value).unwrap();
        for (form, json) in [("file", &case.bundle), ("re-serialised", &compact)] {
            for (artifact, r) in [
                (
                    "bytes",
                    case.verifier
                        .verify_json(json, Artifact::Bytes(&case.artifact), &case.policy),
                ),
                (
                    "sha256",
                    case.verifier
                        .verify_json(json, Artifact::Sha256(case.digest), &case.policy),
                ),
            ] {
                if let Err(e) = r {
                    failures.push(format!("{} ({form}, {artifact}): {e}", case.name));
                }
            }
        }
    }
    println!(
        "{} valid cases verify: {:?}",
        cases.len(),
        cases.iter().map(|c| &c.name).collect::<Vec<_>>()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn no_mutation_of_a_signed_or_checked_field_is_accepted() {
    let mut runner = TestRunner::deterministic();
    let rng = runner.rng();
    let mut tried = 0usize;
    let mut per_case: Vec<(String, usize)> = Vec::new();
    let mut hits: BTreeMap<&'static str, BTreeSet<String>> = BTreeMap::new();
    let mut unexpected: Vec<String> = Vec::new();
    let mut fields: BTreeSet<String> = BTreeSet::new();
    let start = std::time::Instant::now();
    for case in cases() {
        let before = tried;
        bundle_mutations(case, rng, &mut |m| {
            if m.bundle == case.value {
                return; // a no-op (e.g. a swap of equal values)
            }
            tried += 1;
            fields.insert(format!("{}: {}", case.name, m.location()));
            let json = serde_json::to_vec(&m.bundle).unwrap();
            let by_bytes = case.accepts_bytes(&json);
            // The digest form is checked for every mutation the bytes form rejects too:
            // a bundle must be rejected whichever way the artifact is given.
            let by_digest = case.accepts_digest(&json);
            if !(by_bytes || by_digest) {
                return;
            }
            match allowed(case, &m) {
                Some(a) => {
                    hits.entry(a.pattern).or_default().insert(format!(
                        "{}: {} ({})",
                        case.name,
                        m.location(),
                        m.what
                    ));
                }
                None => unexpected.push(format!(
                    "{}: {} [{:?}] {} -- accepted with {}",
                    case.name,
                    m.location(),
                    m.op,
                    m.what,
                    match (by_bytes, by_digest) {
                        (true, true) => "artifact bytes and sha256",
                        (true, false) => "artifact bytes only",
                        _ => "sha256 only",
                    }
                )),
            }
        });
        per_case.push((case.name.clone(), tried - before));
    }
    println!(
        "{tried} mutations of {} fields/lines in {} valid bundles, {:.1?}",
        fields.len(),
        per_case.len(),
        start.elapsed()
    );
    for (name, n) in &per_case {
        println!("  {name}: {n} mutations");
    }
    println!("allow-listed fields hit (accepted, provably unchecked or optional):");
    for a in OUTSIDE_EVERY_CHECK {
        let hit = hits.get(a.pattern).map_or(0, BTreeSet::len);
        println!(
            "  {} [{:?}, {:?}]: {hit} accepted",
            a.pattern, a.ops, a.when
        );
        println!("      why: {}", a.why);
        for h in hits.get(a.pattern).into_iter().flatten().take(4) {
            println!("      e.g. {h}");
        }
    }
    assert!(
        unexpected.is_empty(),
        "{} accepted mutations of fields that are signed or checked:\n{}",
        unexpected.len(),
        unexpected.join("\n")
    );
}

/// Differences between the original bundle and an accepted, randomly mutated one that
/// the allow-list does not cover.
fn disallowed_differences(case: &Case, mutated: &Value) -> Vec<String> {
    fn diff(a: &Value, b: &Value, path: &mut Vec<Seg>, out: &mut Vec<(Vec<Seg>, Op)>) {
        match (a, b) {
            (Value::Object(x), Value::Object(y)) => {
                for (k, va) in x {
                    path.push(Seg::Key(k.clone()));
                    match y.get(k) {
                        Some(vb) => diff(va, vb, path, out),
                        None => out.push((path.clone(), Op::Remove)),
                    }
                    path.pop();
                }
                for k in y.keys().filter(|k| !x.contains_key(*k)) {
                    path.push(Seg::Key(k.clone()));
                    out.push((path.clone(), Op::Change)); // an added member
                    path.pop();
                }
            }
            (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
                for (i, (va, vb)) in x.iter().zip(y).enumerate() {
                    path.push(Seg::Index(i));
                    diff(va, vb, path, out);
                    path.pop();
                }
            }
            _ if a != b => out.push((path.clone(), Op::Change)),
            _ => {}
        }
    }
    let mut diffs = Vec::new();
    diff(&case.value, mutated, &mut Vec::new(), &mut diffs);
    let mut bad = Vec::new();
    for (path, op) in diffs {
        // Express the difference as the field-level mutations the allow-list speaks of:
        // a changed checkpoint line, or a changed byte of a base64 value.
        let mut ms: Vec<Mutation> = Vec::new();
        let base = |inner, flipped| Mutation {
            path: path.clone(),
            inner,
            op,
            flipped,
            what: "random byte flip".into(),
            bundle: mutated.clone(),
        };
        match (get(&case.value, &path), get(mutated, &path)) {
            (Some(Value::String(a)), Some(Value::String(b)))
                if field_name(&path) == Some("envelope")
                    && a.split('\n').count() == b.split('\n').count() =>
            {
                for (l, _) in a
                    .split('\n')
                    .zip(b.split('\n'))
                    .enumerate()
                    .filter(|(_, (x, y))| x != y)
                {
                    ms.push(base(Inner::Line(l), None));
                }
            }
            (Some(Value::String(a)), Some(Value::String(b))) => {
                match (STANDARD.decode(a), STANDARD.decode(b)) {
                    (Ok(x), Ok(y)) if x.len() == y.len() => {
                        for pos in (0..x.len()).filter(|&p| x[p] != y[p]) {
                            ms.push(base(Inner::None, Some(pos)));
                        }
                    }
                    _ => ms.push(base(Inner::None, None)),
                }
            }
            _ => ms.push(base(Inner::None, None)),
        }
        for m in ms {
            if allowed(case, &m).is_none() {
                bad.push(format!("{} [{:?}]", m.location(), m.op));
            }
        }
    }
    bad
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 600,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Random bit flips anywhere in a valid bundle file (JSON syntax, member names, base64
    /// text, whitespace): verification must never panic, and a flipped bundle that is
    /// still accepted may differ from the original (as parsed JSON) only in allow-listed
    /// fields (or not at all, e.g. in whitespace).
    #[test]
    fn random_byte_flips_never_panic_or_verify(
        which in any::<prop::sample::Index>(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), 0u8..8), 1..=3),
    ) {
        let cases = cases();
        let case = which.get(cases);
        let mut bytes = case.bundle.clone();
        for (pos, bit) in &flips {
            let i = pos.index(bytes.len());
            bytes[i] ^= 1 << bit;
        }
        let accepted = case.accepts_bytes(&bytes) | case.accepts_digest(&bytes);
        if accepted {
            let mutated: Value = serde_json::from_slice(&bytes)
                .expect("an accepted bundle must be JSON");
            let bad = disallowed_differences(case, &mutated);
            prop_assert!(
                bad.is_empty(),
                "{}: flips {:?} accepted, changing {:?}",
                case.name,
                flips.iter().map(|(p, b)| (p.index(case.bundle.len()), b)).collect::<Vec<_>>(),
                bad
            );
        }
    }
}

/// Flips bits of every base64 value of every valid bundle except those compared byte for
/// byte elsewhere (certificates, entry bodies, DSSE payloads), and lists the flips that
/// are accepted. A release build flips EVERY bit (~145,000 flips); a debug build flips
/// every 64th bit, rotating the offset per field so every bit position class is reached.
#[test]
fn exhaustive_bit_flips_of_small_and_der_values() {
    let stride: usize = if cfg!(debug_assertions) { 64 } else { 1 };
    let mut field_no = 0usize;
    let mut accepted = Vec::new();
    let mut tried = 0usize;
    for case in cases() {
        for (path, node) in nodes(&case.value) {
            let Value::String(s) = node else { continue };
            let name = field_name(&path).unwrap_or("");
            if !BUNDLE_BYTES_FIELDS.contains(&name)
                || matches!(name, "rawBytes" | "canonicalizedBody" | "payload")
                || s.parse::<i64>().is_ok()
            {
                continue;
            }
            let Ok(raw) = STANDARD.decode(s) else {
                continue;
            };
            field_no += 1;
            for pos in 0..raw.len() {
                for bit in 0..8 {
                    if !(pos * 8 + bit + field_no).is_multiple_of(stride) {
                        continue;
                    }
                    let mut r = raw.clone();
                    r[pos] ^= 1 << bit;
                    let mut m = case.value.clone();
                    *get_mut(&mut m, &path) = Value::String(STANDARD.encode(&r));
                    tried += 1;
                    let json = serde_json::to_vec(&m).unwrap();
                    if case.accepts_bytes(&json) {
                        let mutation = Mutation {
                            path: path.clone(),
                            inner: Inner::None,
                            op: Op::Change,
                            flipped: Some(pos),
                            what: format!("byte {pos} ^= {:#04x}", 1u8 << bit),
                            bundle: m,
                        };
                        let verdict = allowed(case, &mutation).map_or("NOT ALLOWED", |a| a.pattern);
                        accepted.push(format!(
                            "{}: {} {} -> {verdict}",
                            case.name,
                            display(&path),
                            mutation.what
                        ));
                    }
                }
            }
        }
    }
    println!("{tried} flips, {} accepted:", accepted.len());
    for a in &accepted {
        println!("  {a}");
    }
    assert!(
        accepted.iter().all(|a| !a.ends_with("NOT ALLOWED")),
        "accepted flips outside the allow-list"
    );
}
