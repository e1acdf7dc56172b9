//! The in-toto layout of a pipeline, generated from the pipeline file itself.
//!
//! The chain it describes:
//! - `source` — the observer's own retrieval of the source tree: no materials, products
//!   `source/…` only;
//! - one step per pipeline step, performed by the factory's key: each material under a
//!   folder the step takes as input (`source/…` or `<earlier step>/…`) must MATCH a
//!   product of that step, nothing else may be consumed, and only `<step>/…` may be
//!   created.
//!
//! So a file that changes between the step that produced it and the step that consumed it
//! — a build-host implant rewriting the source mid-pipeline, as in SolarWinds — breaks a
//! MATCH rule and the run fails its gate.

use std::collections::BTreeSet;

use chainseal_intoto::Key;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::pipeline::{Pipeline, SOURCE_DIR};

/// The name of the observer's source-retrieval link.
pub const SOURCE_STEP: &str = SOURCE_DIR;

/// The folders (step names or `source`) a step reads from, in first-use order.
pub fn input_steps(inputs: &[String]) -> Vec<String> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for i in inputs {
        if let Some(first) = i.split('/').find(|c| !c.is_empty() && *c != ".")
            && seen.insert(first.to_string())
        {
            out.push(first.to_string());
        }
    }
    out
}

/// The layout payload (`_type: layout`) for `pipeline`, with each of `functionaries` (the
/// run's certified keys) authorised for every step, expiring at `expires`.
pub fn layout_for(pipeline: &Pipeline, functionaries: &[Key], expires: OffsetDateTime) -> Value {
    let kids: Vec<String> = functionaries.iter().map(Key::keyid).collect();
    let step = |name: &str, command: Vec<String>, mats: Vec<Value>, prods: Vec<Value>| {
        json!({
            "_type": "step", "name": name, "threshold": 1, "pubkeys": kids,
            "expected_command": command,
            "expected_materials": mats, "expected_products": prods,
        })
    };
    let mut steps = vec![step(
        SOURCE_STEP,
        Vec::new(),
        vec![json!(["DISALLOW", "*"])],
        vec![
            json!(["CREATE", format!("{SOURCE_DIR}/*")]),
            json!(["DISALLOW", "*"]),
        ],
    )];
    for s in &pipeline.steps {
        let mut mats: Vec<Value> = input_steps(&s.inputs)
            .into_iter()
            .map(|from| {
                json!([
                    "MATCH",
                    format!("{from}/*"),
                    "WITH",
                    "PRODUCTS",
                    "FROM",
                    from
                ])
            })
            .collect();
        mats.push(json!(["DISALLOW", "*"]));
        let prods = vec![
            json!(["CREATE", format!("{}/*", s.name)]),
            json!(["DISALLOW", "*"]),
        ];
        steps.push(step(&s.name, s.argv(), mats, prods));
    }
    let expires = expires
        .replace_nanosecond(0)
        .unwrap_or(expires)
        .format(&Rfc3339)
        .unwrap_or_default();
    json!({
        "_type": "layout",
        "expires": expires,
        "readme": format!("chainseal factory pipeline '{}' (generated from the pipeline file)", pipeline.name),
        "keys": functionaries
            .iter()
            .map(|k| (k.keyid(), k.to_json_with_keyid()))
            .collect::<serde_json::Map<String, Value>>(),
        "steps": steps,
        "inspect": [],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chainseal_crypto::keys::{KeyKind, PrivateKey};
    use chainseal_intoto::models::Layout;

    fn key() -> Key {
        Key::from_public(
            PrivateKey::generate(KeyKind::EcdsaP256)
                .unwrap()
                .public_key(),
        )
        .unwrap()
    }

    #[test]
    fn example_pipeline_yields_a_layout_in_toto_accepts_with_the_data_flow_rules() {
        let text = include_str!("../../../examples/hello/pipeline.yaml");
        let p = Pipeline::from_yaml(text, "examples/hello/pipeline.yaml").unwrap();
        let k = key();
        let v = layout_for(
            &p,
            std::slice::from_ref(&k),
            OffsetDateTime::now_utc() + time::Duration::days(1),
        );
        let l = Layout::from_value(&v, "generated layout").expect("a valid in-toto layout");
        let names: Vec<&str> = l.steps.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            ["source", "fetch-source", "fetch-deps", "build", "package"]
        );
        assert!(l.keys.contains_key(&k.keyid()));
        let build = &l.steps[3];
        assert_eq!(build.pubkeys, vec![k.keyid()]);
        let rule = |r: &[&str]| r.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            build.expected_materials,
            vec![
                rule(&[
                    "MATCH",
                    "fetch-source/*",
                    "WITH",
                    "PRODUCTS",
                    "FROM",
                    "fetch-source"
                ]),
                rule(&[
                    "MATCH",
                    "fetch-deps/*",
                    "WITH",
                    "PRODUCTS",
                    "FROM",
                    "fetch-deps"
                ]),
                rule(&["DISALLOW", "*"]),
            ]
        );
        assert_eq!(
            build.expected_products,
            vec![rule(&["CREATE", "build/*"]), rule(&["DISALLOW", "*"])]
        );
    }

    #[test]
    fn layout_expiry_is_the_requested_time_in_rfc3339() {
        let p = Pipeline::from_yaml(
            "name: a\nsource: {path: .}\nsteps: [{name: s, command: [x]}]\n",
            "p",
        )
        .unwrap();
        let t = OffsetDateTime::from_unix_timestamp(4_000_000_000).unwrap();
        let v = layout_for(&p, &[key()], t);
        assert_eq!(v["expires"], "2096-10-02T07:06:40Z");
    }

    #[test]
    fn input_steps_are_the_first_path_components_once_each() {
        let v = input_steps(&[
            "source/a.c".into(),
            "./source/b.c".into(),
            "build/hello".into(),
            "source/**".into(),
        ]);
        assert_eq!(v, vec!["source".to_string(), "build".to_string()]);
    }
}
