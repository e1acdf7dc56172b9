//! securesystemslib / OLPC canonical JSON: sorted keys, no whitespace, only `"` and `\`
//! escaped, integers only. This is what a classic Metablock signature covers.

use serde::Serialize;
use serde_json::Value;

use crate::Error;

/// Encode `value` as securesystemslib canonical JSON bytes.
///
/// Fails on floating-point numbers, which securesystemslib rejects as well.
pub fn canonical_json(value: &Value) -> Result<Vec<u8>, Error> {
    let mut out = Vec::with_capacity(512);
    let mut ser =
        serde_json::Serializer::with_formatter(&mut out, olpc_cjson::CanonicalFormatter::new());
    value
        .serialize(&mut ser)
        .map_err(|e| Error::format("canonical JSON", e))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_json_sorts_keys_and_escapes_only_quote_and_backslash() {
        let v: Value =
            serde_json::from_str(r#"{"b":1,"a":"x\"y\\z\u001b\n","c":[true,null]}"#).unwrap();
        let got = canonical_json(&v).unwrap();
        assert_eq!(
            got,
            b"{\"a\":\"x\\\"y\\\\z\x1b\n\",\"b\":1,\"c\":[true,null]}".to_vec()
        );
    }

    #[test]
    fn canonical_json_rejects_floats() {
        let v: Value = serde_json::from_str(r#"{"a":1.5}"#).unwrap();
        assert!(canonical_json(&v).is_err());
    }
}
