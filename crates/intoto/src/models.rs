//! Typed layouts, steps, inspections and links, parsed from the JSON that was verified,
//! plus the attestation-framework Statement v1 with the `link/v0.3` predicate.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::Error;
use crate::keys::Key;
use crate::rules::Rule;

/// `{algorithm: hex digest}` of one artifact.
pub type Digests = BTreeMap<String, String>;
/// `{artifact path: digests}`.
pub type Artifacts = BTreeMap<String, Digests>;

/// The Statement v1 type URI.
pub const STATEMENT_V1: &str = "https://in-toto.io/Statement/v1";
/// The older Statement type URI, accepted when reading.
pub const STATEMENT_V01: &str = "https://in-toto.io/Statement/v0.1";
/// The link predicate type.
pub const LINK_PREDICATE_V03: &str = "https://in-toto.io/attestation/link/v0.3";

/// Link metadata: what one step consumed and produced.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Link {
    /// The step (or inspection) name.
    pub name: String,
    /// The command that ran.
    pub command: Vec<String>,
    /// Artifacts before the command.
    pub materials: Artifacts,
    /// Artifacts after the command.
    pub products: Artifacts,
    /// `stdout`, `stderr`, `return-value`.
    pub byproducts: Map<String, Value>,
    /// Environment information.
    pub environment: Map<String, Value>,
}

/// A step of a layout.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// Unique name.
    pub name: String,
    /// Distinct functionaries that must have signed matching links.
    pub threshold: u64,
    /// Key IDs (keys of the layout's `keys`) authorised to sign links for this step.
    pub pubkeys: Vec<String>,
    /// Expected command; a mismatch only warns, as the specification says.
    pub expected_command: Vec<String>,
    /// Material rules, as written.
    pub expected_materials: Vec<Vec<String>>,
    /// Product rules, as written.
    pub expected_products: Vec<Vec<String>>,
}

/// An inspection of a layout: a command the verifier runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Inspection {
    /// Unique name.
    pub name: String,
    /// The command (argv).
    pub run: Vec<String>,
    /// Material rules, as written.
    pub expected_materials: Vec<Vec<String>>,
    /// Product rules, as written.
    pub expected_products: Vec<Vec<String>>,
}

/// A supply-chain layout.
#[derive(Debug, Clone)]
pub struct Layout {
    /// `expires` as written.
    pub expires: String,
    /// `expires` parsed.
    pub expires_at: OffsetDateTime,
    /// Free text.
    pub readme: String,
    /// Functionary keys by the layout's own key IDs.
    pub keys: BTreeMap<String, Key>,
    /// Keys the layout lists that this implementation cannot use, with the reason.
    pub unusable_keys: BTreeMap<String, String>,
    /// Steps, in order.
    pub steps: Vec<Step>,
    /// Inspections, in order.
    pub inspect: Vec<Inspection>,
}

fn obj<'a>(v: &'a Value, what: &str) -> Result<&'a Map<String, Value>, Error> {
    v.as_object()
        .ok_or_else(|| Error::format(what, "must be a JSON object"))
}

fn string(o: &Map<String, Value>, field: &str, what: &str) -> Result<String, Error> {
    o.get(field)
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| Error::format(what, format!("'{field}' must be a string")))
}

fn string_list(v: Option<&Value>, field: &str, what: &str) -> Result<Vec<String>, Error> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(a)) => a
            .iter()
            .map(|x| {
                x.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| Error::format(what, format!("'{field}' must hold only strings")))
            })
            .collect(),
        Some(_) => Err(Error::format(
            what,
            format!("'{field}' must be a list of strings"),
        )),
    }
}

fn rule_list(v: Option<&Value>, field: &str, what: &str) -> Result<Vec<Vec<String>>, Error> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(a)) => a
            .iter()
            .map(|r| string_list(Some(r), field, what))
            .collect(),
        Some(_) => Err(Error::format(
            what,
            format!("'{field}' must be a list of rules"),
        )),
    }
}

fn map_field(o: &Map<String, Value>, field: &str, what: &str) -> Result<Map<String, Value>, Error> {
    match o.get(field) {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(m)) => Ok(m.clone()),
        Some(_) => Err(Error::format(what, format!("'{field}' must be an object"))),
    }
}

fn artifacts(o: &Map<String, Value>, field: &str, what: &str) -> Result<Artifacts, Error> {
    let mut out = Artifacts::new();
    for (path, digests) in map_field(o, field, what)? {
        let d = digests
            .as_object()
            .ok_or_else(|| Error::format(what, format!("{field}['{path}'] must be an object")))?;
        out.insert(
            path.clone(),
            digest_set(d, &format!("{what} {field}['{path}']"))?,
        );
    }
    Ok(out)
}

fn digest_set(d: &Map<String, Value>, what: &str) -> Result<Digests, Error> {
    let mut set = Digests::new();
    for (alg, hexval) in d {
        let h = hexval
            .as_str()
            .ok_or_else(|| Error::format(what, format!("digest '{alg}' must be a string")))?;
        set.insert(alg.clone(), h.to_string());
    }
    Ok(set)
}

impl Link {
    /// Parse a link payload: a classic `_type: link` object, or a Statement v1/v0.1
    /// with the `link/v0.3` predicate (products are the subjects).
    pub fn from_value(v: &Value, what: &str) -> Result<Self, Error> {
        let o = obj(v, what)?;
        let ty = o.get("_type").and_then(Value::as_str).unwrap_or("");
        if ty == STATEMENT_V1 || ty == STATEMENT_V01 {
            return Link::from_statement(o, what);
        }
        if ty != "link" {
            return Err(Error::format(
                what,
                format!("_type is '{ty}', expected 'link'"),
            ));
        }
        Ok(Link {
            name: string(o, "name", what)?,
            command: string_list(o.get("command"), "command", what)?,
            materials: artifacts(o, "materials", what)?,
            products: artifacts(o, "products", what)?,
            byproducts: map_field(o, "byproducts", what)?,
            environment: map_field(o, "environment", what)?,
        })
    }

    fn from_statement(o: &Map<String, Value>, what: &str) -> Result<Self, Error> {
        let pt = o.get("predicateType").and_then(Value::as_str).unwrap_or("");
        if pt != LINK_PREDICATE_V03 {
            return Err(Error::format(
                what,
                format!("statement predicateType '{pt}' is not '{LINK_PREDICATE_V03}'"),
            ));
        }
        let pred = o
            .get("predicate")
            .and_then(Value::as_object)
            .ok_or_else(|| Error::format(what, "statement has no predicate object"))?;
        let descriptors = |v: Option<&Value>, field: &str| -> Result<Artifacts, Error> {
            let mut out = Artifacts::new();
            let list = match v {
                None | Some(Value::Null) => return Ok(out),
                Some(Value::Array(a)) => a,
                Some(_) => return Err(Error::format(what, format!("'{field}' must be a list"))),
            };
            for (i, rd) in list.iter().enumerate() {
                let rd = obj(rd, what)?;
                let name = rd
                    .get("name")
                    .or_else(|| rd.get("uri"))
                    .and_then(Value::as_str)
                    .ok_or_else(|| Error::format(what, format!("{field}[{i}] has no name")))?;
                let d = rd
                    .get("digest")
                    .and_then(Value::as_object)
                    .ok_or_else(|| Error::format(what, format!("{field}[{i}] has no digest")))?;
                if out.insert(name.to_string(), digest_set(d, what)?).is_some() {
                    return Err(Error::format(what, format!("{field} lists '{name}' twice")));
                }
            }
            Ok(out)
        };
        Ok(Link {
            name: string(pred, "name", what)?,
            command: string_list(pred.get("command"), "command", what)?,
            materials: descriptors(pred.get("materials"), "predicate.materials")?,
            products: descriptors(o.get("subject"), "subject")?,
            byproducts: map_field(pred, "byproducts", what)?,
            environment: map_field(pred, "environment", what)?,
        })
    }

    /// The classic link JSON.
    pub fn to_value(&self) -> Value {
        json!({
            "_type": "link",
            "name": self.name,
            "command": self.command,
            "materials": self.materials,
            "products": self.products,
            "byproducts": self.byproducts,
            "environment": self.environment,
        })
    }

    /// The attestation-framework Statement v1 with the `link/v0.3` predicate.
    pub fn to_statement(&self) -> Value {
        let rds = |a: &Artifacts| -> Vec<Value> {
            a.iter()
                .map(|(name, d)| json!({"name": name, "digest": d}))
                .collect()
        };
        json!({
            "_type": STATEMENT_V1,
            "subject": rds(&self.products),
            "predicateType": LINK_PREDICATE_V03,
            "predicate": {
                "name": self.name,
                "command": self.command,
                "materials": rds(&self.materials),
                "byproducts": self.byproducts,
                "environment": self.environment,
            },
        })
    }
}

fn check_rules(item: &str, rules: &[Vec<String>]) -> Result<(), Error> {
    for r in rules {
        Rule::parse(r).map_err(|reason| Error::BadRule {
            item: item.to_string(),
            rule: r.join(" "),
            reason,
        })?;
    }
    Ok(())
}

impl Layout {
    /// Parse and validate a layout payload.
    pub fn from_value(v: &Value, what: &str) -> Result<Self, Error> {
        let o = obj(v, what)?;
        let ty = o.get("_type").and_then(Value::as_str).unwrap_or("");
        if ty != "layout" {
            return Err(Error::format(
                what,
                format!("_type is '{ty}', expected 'layout'"),
            ));
        }
        let expires = string(o, "expires", what)?;
        let expires_at = OffsetDateTime::parse(&expires, &Rfc3339)
            .map_err(|e| Error::format(what, format!("expires '{expires}': {e}")))?;
        let readme = o
            .get("readme")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let mut keys = BTreeMap::new();
        let mut unusable_keys = BTreeMap::new();
        for (keyid, kv) in map_field(o, "keys", what)? {
            match Key::from_json(&kv) {
                Ok(k) => {
                    keys.insert(keyid, k);
                }
                Err(e) => {
                    unusable_keys.insert(keyid, e.to_string());
                }
            }
        }
        let mut names = BTreeSet::new();
        let mut steps = Vec::new();
        let step_list = match o.get("steps") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) => a.clone(),
            Some(_) => return Err(Error::format(what, "'steps' must be a list")),
        };
        for s in &step_list {
            let so = obj(s, what)?;
            let name = string(so, "name", &format!("{what} step"))?;
            let swhat = format!("{what} step '{name}'");
            let threshold = match so.get("threshold") {
                None => 1,
                Some(t) => t
                    .as_u64()
                    .filter(|t| *t >= 1)
                    .ok_or_else(|| Error::format(&swhat, "threshold must be an integer ≥ 1"))?,
            };
            let step = Step {
                threshold,
                pubkeys: string_list(so.get("pubkeys"), "pubkeys", &swhat)?,
                expected_command: string_list(
                    so.get("expected_command"),
                    "expected_command",
                    &swhat,
                )?,
                expected_materials: rule_list(
                    so.get("expected_materials"),
                    "expected_materials",
                    &swhat,
                )?,
                expected_products: rule_list(
                    so.get("expected_products"),
                    "expected_products",
                    &swhat,
                )?,
                name,
            };
            check_rules(&step.name, &step.expected_materials)?;
            check_rules(&step.name, &step.expected_products)?;
            if !names.insert(step.name.clone()) {
                return Err(Error::format(
                    what,
                    format!("duplicate step name '{}'", step.name),
                ));
            }
            steps.push(step);
        }
        let mut inspect = Vec::new();
        let insp_list = match o.get("inspect") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) => a.clone(),
            Some(_) => return Err(Error::format(what, "'inspect' must be a list")),
        };
        for i in &insp_list {
            let io = obj(i, what)?;
            let name = string(io, "name", &format!("{what} inspection"))?;
            let iwhat = format!("{what} inspection '{name}'");
            let insp = Inspection {
                run: string_list(io.get("run"), "run", &iwhat)?,
                expected_materials: rule_list(
                    io.get("expected_materials"),
                    "expected_materials",
                    &iwhat,
                )?,
                expected_products: rule_list(
                    io.get("expected_products"),
                    "expected_products",
                    &iwhat,
                )?,
                name,
            };
            check_rules(&insp.name, &insp.expected_materials)?;
            check_rules(&insp.name, &insp.expected_products)?;
            if !names.insert(insp.name.clone()) {
                return Err(Error::format(
                    what,
                    format!(
                        "inspection name '{}' is used twice (steps and inspections share names)",
                        insp.name
                    ),
                ));
            }
            inspect.push(insp);
        }
        Ok(Layout {
            expires,
            expires_at,
            readme,
            keys,
            unusable_keys,
            steps,
            inspect,
        })
    }

    /// Substitute `{name}` parameters in rules, expected commands and inspection commands,
    /// as in-toto's `substitute_parameters` (Python `str.format`) does.
    pub fn substitute(&mut self, params: &BTreeMap<String, String>) -> Result<(), Error> {
        let sub_all = |v: &mut Vec<String>| -> Result<(), Error> {
            for s in v.iter_mut() {
                *s = substitute_one(s, params)?;
            }
            Ok(())
        };
        for step in &mut self.steps {
            sub_all(&mut step.expected_command)?;
            for r in step
                .expected_materials
                .iter_mut()
                .chain(step.expected_products.iter_mut())
            {
                sub_all(r)?;
            }
            check_rules(&step.name, &step.expected_materials)?;
            check_rules(&step.name, &step.expected_products)?;
        }
        for insp in &mut self.inspect {
            sub_all(&mut insp.run)?;
            for r in insp
                .expected_materials
                .iter_mut()
                .chain(insp.expected_products.iter_mut())
            {
                sub_all(r)?;
            }
            check_rules(&insp.name, &insp.expected_materials)?;
            check_rules(&insp.name, &insp.expected_products)?;
        }
        Ok(())
    }
}

/// Python `str.format(**params)` restricted to plain `{name}` fields.
pub(crate) fn substitute_one(s: &str, params: &BTreeMap<String, String>) -> Result<String, Error> {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                out.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                out.push('}');
            }
            '}' => {
                return Err(Error::Parameter {
                    reason: format!("single '}}' in '{s}'"),
                });
            }
            '{' => {
                let mut name = String::new();
                loop {
                    match chars.next() {
                        Some('}') => break,
                        Some(ch) => name.push(ch),
                        None => {
                            return Err(Error::Parameter {
                                reason: format!("unclosed '{{' in '{s}'"),
                            });
                        }
                    }
                }
                let value = params.get(&name).ok_or_else(|| Error::Parameter {
                    reason: format!("no value for parameter '{name}' used in '{s}'"),
                })?;
                out.push_str(value);
            }
            c => out.push(c),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substitution_replaces_named_fields_and_unescapes_braces() {
        let p = BTreeMap::from([("EDITOR".to_string(), "vi".to_string())]);
        assert_eq!(
            substitute_one("run {EDITOR} {{x}}", &p).unwrap(),
            "run vi {x}"
        );
    }

    #[test]
    fn substitution_rejects_unknown_parameters_and_stray_braces() {
        let p = BTreeMap::new();
        assert!(substitute_one("{missing}", &p).is_err());
        assert!(substitute_one("a}b", &p).is_err());
        assert!(substitute_one("{open", &p).is_err());
    }

    #[test]
    fn statement_round_trips_to_the_same_link() {
        let mut l = Link {
            name: "build".into(),
            command: vec!["make".into()],
            ..Link::default()
        };
        l.materials.insert(
            "src.c".into(),
            Digests::from([("sha256".into(), "aa".into())]),
        );
        l.products.insert(
            "a.out".into(),
            Digests::from([("sha256".into(), "bb".into())]),
        );
        let back = Link::from_value(&l.to_statement(), "test").unwrap();
        assert_eq!(back, l);
    }

    #[test]
    fn rejects_statement_with_other_predicate_type() {
        let v = json!({"_type": STATEMENT_V1, "subject": [], "predicateType": "https://slsa.dev/provenance/v1", "predicate": {"name": "x"}});
        assert!(Link::from_value(&v, "t").is_err());
    }

    #[test]
    fn rejects_layout_with_duplicate_step_names_or_zero_threshold() {
        let base = json!({"_type":"layout","expires":"2030-01-01T00:00:00Z","keys":{},
            "steps":[{"name":"a","pubkeys":[],"threshold":1},{"name":"a","pubkeys":[],"threshold":1}],"inspect":[]});
        assert!(Layout::from_value(&base, "t").is_err());
        let zero = json!({"_type":"layout","expires":"2030-01-01T00:00:00Z","keys":{},
            "steps":[{"name":"a","pubkeys":[],"threshold":0}],"inspect":[]});
        assert!(Layout::from_value(&zero, "t").is_err());
        let ok = json!({"_type":"layout","expires":"2030-01-01T00:00:00Z","keys":{},
            "steps":[{"name":"a","pubkeys":[],"threshold":1}],"inspect":[]});
        assert!(Layout::from_value(&ok, "t").is_ok());
    }
}
