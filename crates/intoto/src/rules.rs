//! Artifact rules (`MATCH`, `ALLOW`, `DISALLOW`, `REQUIRE`, `CREATE`, `DELETE`, `MODIFY`)
//! and the queue algorithm in-toto 3.1.0 (`verifylib.verify_item_rules`) applies them with.
//!
//! Patterns are Python `fnmatch` patterns: `*` matches any run of characters including `/`,
//! `?` one character, `[seq]` / `[!seq]` a character class.

use std::collections::{BTreeMap, BTreeSet};

use crate::Error;
use crate::error::ArtifactKind;
use crate::models::{Artifacts, Link};

/// Which artifact set of the destination step a `MATCH` rule compares with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DestType {
    /// `WITH MATERIALS`.
    Materials,
    /// `WITH PRODUCTS`.
    Products,
}

/// One parsed artifact rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    /// `MATCH <pattern> [IN <src>] WITH (MATERIALS|PRODUCTS) [IN <dst>] FROM <step>`.
    Match {
        /// Pattern.
        pattern: String,
        /// Source prefix (may be empty).
        source_prefix: String,
        /// Destination set.
        dest_type: DestType,
        /// Destination prefix (may be empty).
        dest_prefix: String,
        /// Destination step or inspection.
        dest_name: String,
    },
    /// `ALLOW <pattern>`.
    Allow(String),
    /// `DISALLOW <pattern>`.
    Disallow(String),
    /// `REQUIRE <name>` (a literal name).
    Require(String),
    /// `CREATE <pattern>`.
    Create(String),
    /// `DELETE <pattern>`.
    Delete(String),
    /// `MODIFY <pattern>`.
    Modify(String),
}

impl Rule {
    /// Parse a rule; keywords are case-insensitive, as in the reference.
    pub fn parse(rule: &[String]) -> Result<Self, String> {
        let lower: Vec<String> = rule.iter().map(|s| s.to_lowercase()).collect();
        if rule.len() < 2 {
            return Err("a rule needs a type and a pattern".into());
        }
        let pattern = rule[1].clone();
        let generic = |r: Rule| -> Result<Rule, String> {
            if rule.len() == 2 {
                Ok(r)
            } else {
                Err(format!("'{}' rules take exactly one pattern", rule[0]))
            }
        };
        match lower[0].as_str() {
            "allow" => generic(Rule::Allow(pattern)),
            "disallow" => generic(Rule::Disallow(pattern)),
            "require" => generic(Rule::Require(pattern)),
            "create" => generic(Rule::Create(pattern)),
            "delete" => generic(Rule::Delete(pattern)),
            "modify" => generic(Rule::Modify(pattern)),
            "match" => {
                let l = &lower;
                let (src, dtype, dst, name) = if rule.len() == 10
                    && l[2] == "in"
                    && l[4] == "with"
                    && l[6] == "in"
                    && l[8] == "from"
                {
                    (rule[3].clone(), &l[5], rule[7].clone(), rule[9].clone())
                } else if rule.len() == 8 && l[2] == "in" && l[4] == "with" && l[6] == "from" {
                    (rule[3].clone(), &l[5], String::new(), rule[7].clone())
                } else if rule.len() == 8 && l[2] == "with" && l[4] == "in" && l[6] == "from" {
                    (String::new(), &l[3], rule[5].clone(), rule[7].clone())
                } else if rule.len() == 6 && l[2] == "with" && l[4] == "from" {
                    (String::new(), &l[3], String::new(), rule[5].clone())
                } else {
                    return Err("MATCH rules have the form MATCH <pattern> [IN <source-path-prefix>] \
                                WITH (MATERIALS|PRODUCTS) [IN <destination-path-prefix>] FROM <step>"
                        .into());
                };
                let dest_type = match dtype.as_str() {
                    "materials" => DestType::Materials,
                    "products" => DestType::Products,
                    other => {
                        return Err(format!(
                            "MATCH destination must be MATERIALS or PRODUCTS, not '{other}'"
                        ));
                    }
                };
                Ok(Rule::Match {
                    pattern,
                    source_prefix: src,
                    dest_type,
                    dest_prefix: dst,
                    dest_name: name,
                })
            }
            other => Err(format!("unknown rule type '{other}'")),
        }
    }
}

/// Python `os.path.join(prefix, "")`: append a `/` unless already there.
fn with_slash(prefix: &str) -> String {
    let p = prefix.replace('\\', "/");
    if p.ends_with('/') { p } else { format!("{p}/") }
}

/// Apply `rules` to the `kind` artifacts of `links[item]`, in order, consuming artifacts from
/// the queue; fails on the first `DISALLOW` that still matches or `REQUIRE` that is missing.
pub fn verify_item_rules(
    item: &str,
    kind: ArtifactKind,
    rules: &[Vec<String>],
    links: &BTreeMap<String, Link>,
) -> Result<(), Error> {
    let Some(link) = links.get(item) else {
        return Err(Error::format(item, "no link to apply rules to"));
    };
    let artifacts: &Artifacts = match kind {
        ArtifactKind::Materials => &link.materials,
        ArtifactKind::Products => &link.products,
    };
    let mut queue: BTreeSet<String> = artifacts.keys().cloned().collect();
    for raw in rules {
        let rule = Rule::parse(raw).map_err(|reason| Error::BadRule {
            item: item.to_string(),
            rule: raw.join(" "),
            reason,
        })?;
        let matching = |pat: &str, q: &BTreeSet<String>| -> Vec<String> {
            q.iter().filter(|p| fnmatch(p, pat)).cloned().collect()
        };
        let consumed: Vec<String> = match &rule {
            Rule::Match {
                pattern,
                source_prefix,
                dest_type,
                dest_prefix,
                dest_name,
            } => {
                let mut consumed = Vec::new();
                if let Some(dest) = links.get(dest_name) {
                    let dest_artifacts = match dest_type {
                        DestType::Materials => &dest.materials,
                        DestType::Products => &dest.products,
                    };
                    let src_pfx = if source_prefix.is_empty() {
                        String::new()
                    } else {
                        with_slash(source_prefix)
                    };
                    let dst_pfx = if dest_prefix.is_empty() {
                        String::new()
                    } else {
                        with_slash(dest_prefix)
                    };
                    for full_source in &queue {
                        let Some(rel) = full_source.strip_prefix(src_pfx.as_str()) else {
                            continue;
                        };
                        if !fnmatch(rel, pattern) {
                            continue;
                        }
                        let full_dest = format!("{dst_pfx}{rel}");
                        if let (Some(s), Some(d)) =
                            (artifacts.get(full_source), dest_artifacts.get(&full_dest))
                            && s == d
                        {
                            consumed.push(full_source.clone());
                        }
                    }
                }
                consumed
            }
            Rule::Allow(p) => matching(p, &queue),
            Rule::Create(p) => matching(p, &queue)
                .into_iter()
                .filter(|a| link.products.contains_key(a) && !link.materials.contains_key(a))
                .collect(),
            Rule::Delete(p) => matching(p, &queue)
                .into_iter()
                .filter(|a| link.materials.contains_key(a) && !link.products.contains_key(a))
                .collect(),
            Rule::Modify(p) => matching(p, &queue)
                .into_iter()
                .filter(|a| match (link.materials.get(a), link.products.get(a)) {
                    (Some(m), Some(pr)) => m != pr,
                    _ => false,
                })
                .collect(),
            Rule::Disallow(p) => {
                let hit = matching(p, &queue);
                if !hit.is_empty() {
                    return Err(Error::Rule {
                        item: item.to_string(),
                        kind,
                        rule: raw.join(" "),
                        artifacts: hit,
                    });
                }
                Vec::new()
            }
            Rule::Require(name) => {
                if !queue.contains(name) {
                    return Err(Error::Rule {
                        item: item.to_string(),
                        kind,
                        rule: raw.join(" "),
                        artifacts: vec![name.clone()],
                    });
                }
                Vec::new()
            }
        };
        for c in consumed {
            queue.remove(&c);
        }
    }
    Ok(())
}

/// Python `fnmatch.fnmatchcase` (POSIX `fnmatch` does not fold case).
pub fn fnmatch(name: &str, pattern: &str) -> bool {
    let n: Vec<char> = name.chars().collect();
    let p: Vec<char> = pattern.chars().collect();
    // Iterative matcher with single-star backtracking (sufficient for `*` patterns).
    let (mut ni, mut pi) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() {
            match p[pi] {
                '*' => {
                    star = Some((pi, ni));
                    pi += 1;
                    continue;
                }
                '?' => {
                    ni += 1;
                    pi += 1;
                    continue;
                }
                '[' => {
                    if let Some((matched, next)) = class_match(&p, pi, n[ni]) {
                        if matched {
                            ni += 1;
                            pi = next;
                            continue;
                        }
                    } else if n[ni] == '[' {
                        // Unclosed '[' is a literal.
                        ni += 1;
                        pi += 1;
                        continue;
                    }
                }
                c => {
                    if c == n[ni] {
                        ni += 1;
                        pi += 1;
                        continue;
                    }
                }
            }
        }
        match star {
            Some((sp, sn)) => {
                pi = sp + 1;
                ni = sn + 1;
                star = Some((sp, sn + 1));
            }
            None => return false,
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// Match `c` against the class starting at `p[start] == '['`. Returns `(matched, index
/// after ']')`, or `None` if the class is not closed (then `[` is literal).
fn class_match(p: &[char], start: usize, c: char) -> Option<(bool, usize)> {
    let mut j = start + 1;
    let negate = j < p.len() && p[j] == '!';
    if negate {
        j += 1;
    }
    let body_start = j;
    if j < p.len() && p[j] == ']' {
        j += 1;
    }
    while j < p.len() && p[j] != ']' {
        j += 1;
    }
    if j >= p.len() {
        return None;
    }
    let body = &p[body_start..j];
    let mut matched = false;
    let mut k = 0;
    while k < body.len() {
        if k + 2 < body.len() && body[k + 1] == '-' {
            let (lo, hi) = (body[k], body[k + 2]);
            if lo <= c && c <= hi {
                matched = true;
            }
            k += 3;
        } else {
            if body[k] == c {
                matched = true;
            }
            k += 1;
        }
    }
    Some((matched != negate, j + 1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::Digests;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn fnmatch_star_crosses_slashes_like_python() {
        assert!(fnmatch(
            "demo-project/.git/objects/ab",
            "demo-project/.git/*"
        ));
        assert!(fnmatch("a/b/c.link", "*.link"));
        assert!(!fnmatch("a.links", "*.link"));
        assert!(fnmatch("foo.py", "f?o.[pq]y"));
        assert!(!fnmatch("foo.ry", "foo.[pq]y"));
        assert!(fnmatch("foo.ry", "foo.[!pq]y"));
        assert!(!fnmatch("foo.py", "foo.[!pq]y"));
        assert!(fnmatch("a[b", "a[b"));
        assert!(fnmatch("x-1", "x-[0-9]"));
        assert!(!fnmatch("x-a", "x-[0-9]"));
        assert!(fnmatch("", "*"));
        assert!(!fnmatch("Foo", "foo"));
    }

    #[test]
    fn rule_parsing_accepts_all_match_forms_and_rejects_malformed() {
        assert!(Rule::parse(&s(&["MATCH", "*", "WITH", "PRODUCTS", "FROM", "a"])).is_ok());
        assert!(
            Rule::parse(&s(&[
                "match",
                "*",
                "in",
                "x",
                "with",
                "materials",
                "from",
                "a"
            ]))
            .is_ok()
        );
        assert!(
            Rule::parse(&s(&[
                "MATCH", "*", "WITH", "PRODUCTS", "IN", "y", "FROM", "a"
            ]))
            .is_ok()
        );
        assert!(
            Rule::parse(&s(&[
                "MATCH", "*", "IN", "x", "WITH", "PRODUCTS", "IN", "y", "FROM", "a"
            ]))
            .is_ok()
        );
        assert!(Rule::parse(&s(&["MATCH", "*", "WITH", "BYPRODUCTS", "FROM", "a"])).is_err());
        assert!(Rule::parse(&s(&["MATCH", "*", "FROM", "a"])).is_err());
        assert!(Rule::parse(&s(&["ALLOW", "*", "extra"])).is_err());
        assert!(Rule::parse(&s(&["PERMIT", "*"])).is_err());
        assert!(Rule::parse(&s(&["ALLOW"])).is_err());
    }

    fn link(name: &str, mats: &[(&str, &str)], prods: &[(&str, &str)]) -> Link {
        let a = |x: &[(&str, &str)]| -> Artifacts {
            x.iter()
                .map(|(p, h)| {
                    (
                        p.to_string(),
                        Digests::from([("sha256".to_string(), h.to_string())]),
                    )
                })
                .collect()
        };
        Link {
            name: name.into(),
            materials: a(mats),
            products: a(prods),
            ..Link::default()
        }
    }

    #[test]
    fn disallow_fails_on_artifact_not_consumed_by_earlier_rules() {
        let links = BTreeMap::from([("s".to_string(), link("s", &[], &[("a", "1"), ("b", "2")]))]);
        let ok = vec![
            s(&["ALLOW", "a"]),
            s(&["ALLOW", "b"]),
            s(&["DISALLOW", "*"]),
        ];
        verify_item_rules("s", ArtifactKind::Products, &ok, &links).unwrap();
        let bad = vec![s(&["ALLOW", "a"]), s(&["DISALLOW", "*"])];
        let err = verify_item_rules("s", ArtifactKind::Products, &bad, &links).unwrap_err();
        match err {
            Error::Rule { artifacts, .. } => assert_eq!(artifacts, vec!["b".to_string()]),
            e => panic!("unexpected {e}"),
        }
    }

    #[test]
    fn match_consumes_only_artifacts_with_equal_hashes_and_honours_prefixes() {
        let links = BTreeMap::from([
            (
                "src".to_string(),
                link("src", &[], &[("foo/x", "1"), ("foo/y", "2")]),
            ),
            (
                "dst".to_string(),
                link("dst", &[("lib/x", "1"), ("lib/y", "9")], &[]),
            ),
        ]);
        let rules = vec![
            s(&[
                "MATCH", "*", "IN", "lib", "WITH", "PRODUCTS", "IN", "foo", "FROM", "src",
            ]),
            s(&["DISALLOW", "*"]),
        ];
        let err = verify_item_rules("dst", ArtifactKind::Materials, &rules, &links).unwrap_err();
        match err {
            Error::Rule { artifacts, .. } => assert_eq!(artifacts, vec!["lib/y".to_string()]),
            e => panic!("unexpected {e}"),
        }
    }

    #[test]
    fn match_against_missing_step_consumes_nothing() {
        let links = BTreeMap::from([("dst".to_string(), link("dst", &[("a", "1")], &[]))]);
        let rules = vec![
            s(&["MATCH", "*", "WITH", "PRODUCTS", "FROM", "nope"]),
            s(&["DISALLOW", "*"]),
        ];
        assert!(verify_item_rules("dst", ArtifactKind::Materials, &rules, &links).is_err());
    }

    #[test]
    fn create_delete_modify_consume_by_presence_and_hash() {
        let l = link(
            "s",
            &[("kept", "1"), ("gone", "1"), ("changed", "1")],
            &[("kept", "1"), ("new", "1"), ("changed", "2")],
        );
        let links = BTreeMap::from([("s".to_string(), l)]);
        let prod_rules = vec![
            s(&["CREATE", "*"]),
            s(&["MODIFY", "*"]),
            s(&["ALLOW", "kept"]),
            s(&["DISALLOW", "*"]),
        ];
        verify_item_rules("s", ArtifactKind::Products, &prod_rules, &links).unwrap();
        // MODIFY must not consume an unchanged artifact.
        let strict = vec![
            s(&["CREATE", "*"]),
            s(&["MODIFY", "*"]),
            s(&["DISALLOW", "*"]),
        ];
        assert!(verify_item_rules("s", ArtifactKind::Products, &strict, &links).is_err());
        let mat_rules = vec![
            s(&["DELETE", "*"]),
            s(&["MODIFY", "*"]),
            s(&["DISALLOW", "gone"]),
        ];
        verify_item_rules("s", ArtifactKind::Materials, &mat_rules, &links).unwrap();
        // CREATE must not consume an artifact that was also a material.
        let create_only = vec![s(&["CREATE", "*"]), s(&["DISALLOW", "kept"])];
        assert!(verify_item_rules("s", ArtifactKind::Products, &create_only, &links).is_err());
    }

    #[test]
    fn require_fails_when_name_absent_from_queue() {
        let links = BTreeMap::from([("s".to_string(), link("s", &[], &[("a", "1")]))]);
        verify_item_rules("s", ArtifactKind::Products, &[s(&["REQUIRE", "a"])], &links).unwrap();
        assert!(
            verify_item_rules("s", ArtifactKind::Products, &[s(&["REQUIRE", "b"])], &links)
                .is_err()
        );
        // REQUIRE takes a literal, not a pattern.
        assert!(
            verify_item_rules("s", ArtifactKind::Products, &[s(&["REQUIRE", "*"])], &links)
                .is_err()
        );
    }
}
