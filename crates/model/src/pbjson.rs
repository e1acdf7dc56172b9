//! The protobuf JSON mapping, for the few shapes Sigstore's schemas use: `bytes` as base64
//! (standard or URL-safe, padded or not, line breaks ignored as Go's and Python's decoders
//! do), `int64` as a string or a number, enums by name or number, timestamps in RFC 3339.
//!
//! Parsing Sigstore JSON directly with serde (instead of through a reflection descriptor
//! pool) keeps a one-shot verification within a few milliseconds.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};

/// Decode protobuf-JSON base64 (either alphabet, optional padding, whitespace ignored).
pub fn decode_base64(s: &str) -> Result<Vec<u8>, String> {
    let cleaned: String;
    let mut s = s;
    if s.bytes().any(|b| b.is_ascii_whitespace()) {
        cleaned = s.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        s = &cleaned;
    }
    let unpadded = s.trim_end_matches('=');
    if s.len() - unpadded.len() > 2 {
        return Err("too much padding".into());
    }
    if s.len() != unpadded.len() && !s.len().is_multiple_of(4) {
        return Err("padding on a length that is not a multiple of 4".into());
    }
    if unpadded.contains(['-', '_']) {
        URL_SAFE_NO_PAD.decode(unpadded)
    } else {
        STANDARD_NO_PAD.decode(unpadded)
    }
    .map_err(|e| e.to_string())
}

/// `bytes` field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bytes(pub Vec<u8>);

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        decode_base64(&s)
            .map(Bytes)
            .map_err(|e| de::Error::custom(format!("invalid base64: {e}")))
    }
}

impl Serialize for Bytes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(&self.0))
    }
}

/// `int64` field: a JSON string of decimal digits, or a JSON integer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Int64(pub i64);

impl<'de> Deserialize<'de> for Int64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Int64;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an int64 as a string or an integer")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Int64, E> {
                Ok(Int64(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Int64, E> {
                i64::try_from(v)
                    .map(Int64)
                    .map_err(|_| E::custom("int64 out of range"))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Int64, E> {
                if v.fract() == 0.0 && v.abs() < 9.007_199_254_740_992e15 {
                    Ok(Int64(v as i64))
                } else {
                    Err(E::custom("int64 must be an integer"))
                }
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Int64, E> {
                v.parse::<i64>()
                    .map(Int64)
                    .map_err(|_| E::custom(format!("invalid int64 {v:?}")))
            }
        }
        d.deserialize_any(V)
    }
}

impl Serialize for Int64 {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0.to_string())
    }
}

/// An enum field: its name, or its number rendered as a decimal string.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct EnumName(pub String);

impl<'de> Deserialize<'de> for EnumName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = serde_json::Value::deserialize(d)?;
        match v {
            serde_json::Value::String(s) => Ok(EnumName(s)),
            serde_json::Value::Number(n) if n.is_i64() => Ok(EnumName(n.to_string())),
            other => Err(de::Error::custom(format!("invalid enum value {other}"))),
        }
    }
}

/// `google.protobuf.Timestamp` in RFC 3339 (`2021-01-12T11:53:27.000Z`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rfc3339 {
    /// Seconds since the Unix epoch.
    pub seconds: i64,
    /// Nanoseconds.
    pub nanos: i32,
}

impl<'de> Deserialize<'de> for Rfc3339 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        let t = time::OffsetDateTime::parse(&s, &time::format_description::well_known::Rfc3339)
            .map_err(|e| de::Error::custom(format!("invalid RFC 3339 timestamp {s:?}: {e}")))?;
        Ok(Rfc3339 {
            seconds: t.unix_timestamp(),
            nanos: t.nanosecond() as i32,
        })
    }
}

/// Protobuf JSON accepts `null` for any field, meaning its default value.
pub fn nullable<'de, D: Deserializer<'de>, T: Default + Deserialize<'de>>(
    d: D,
) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Reject a oneof with more than one member set.
pub fn one_of<T>(field: &str, members: Vec<Option<T>>) -> Result<Option<T>, crate::Error> {
    let mut set = members.into_iter().flatten();
    let first = set.next();
    if set.next().is_some() {
        return Err(crate::Error::Invalid {
            field: field.into(),
            reason: "more than one member of a oneof is set".into(),
        });
    }
    Ok(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_accepts_both_alphabets_with_or_without_padding() {
        assert_eq!(decode_base64("+/8=").unwrap(), vec![0xfb, 0xff]);
        assert_eq!(decode_base64("-_8").unwrap(), vec![0xfb, 0xff]);
        assert_eq!(decode_base64("+/\n8=").unwrap(), vec![0xfb, 0xff]);
    }

    #[test]
    fn base64_rejects_invalid_symbols_and_bad_padding() {
        assert!(decode_base64("+/8!").is_err());
        assert!(decode_base64("+/8===").is_err());
        assert!(decode_base64("+-_/").is_err(), "mixed alphabets");
    }

    #[test]
    fn int64_accepts_string_and_number_but_not_garbage() {
        let v: Int64 = serde_json::from_str("\"-42\"").unwrap();
        assert_eq!(v.0, -42);
        let v: Int64 = serde_json::from_str("42").unwrap();
        assert_eq!(v.0, 42);
        assert!(serde_json::from_str::<Int64>("\"4x\"").is_err());
        assert!(serde_json::from_str::<Int64>("1.5").is_err());
    }

    #[test]
    fn null_means_default() {
        #[derive(Deserialize)]
        struct S {
            #[serde(default, deserialize_with = "nullable")]
            a: String,
            #[serde(default, deserialize_with = "nullable")]
            b: Bytes,
        }
        let s: S = serde_json::from_str(r#"{"a":null,"b":null}"#).unwrap();
        assert!(s.a.is_empty() && s.b.0.is_empty());
    }

    #[test]
    fn timestamp_parses_fractional_rfc3339() {
        let t: Rfc3339 = serde_json::from_str("\"2021-01-12T11:53:27.5Z\"").unwrap();
        assert_eq!((t.seconds, t.nanos), (1_610_452_407, 500_000_000));
        assert!(serde_json::from_str::<Rfc3339>("\"yesterday\"").is_err());
    }
}
