//! `GeneralizedTime` with optional fractional seconds (RFC 3161 §2.4.2 `genTime`), and
//! small calendar helpers. `der`'s own `GeneralizedTime` follows RFC 5280 and refuses
//! fractional seconds, which TSAs are allowed (and some choose) to emit.

use der::{DecodeValue, EncodeValue, FixedTag, Header, Length, Reader, Tag, Writer};

/// A UTC `GeneralizedTime` of the form `YYYYMMDDHHMMSS[.fff…]Z`.
///
/// The original encoding is kept so re-encoding reproduces the signed bytes exactly.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GenTime {
    raw: Vec<u8>,
    unix: i64,
    nanos: u32,
}

impl GenTime {
    /// A whole-second time (`YYYYMMDDHHMMSSZ`). Fails for years outside 0..=9999.
    pub fn from_unix(unix: i64) -> Result<Self, der::Error> {
        let (y, mo, d, h, mi, s) = civil_from_unix(unix);
        if !(0..=9999).contains(&y) {
            return Err(der::Error::from(Tag::GeneralizedTime.value_error()));
        }
        let raw = format!("{y:04}{mo:02}{d:02}{h:02}{mi:02}{s:02}Z").into_bytes();
        Ok(Self {
            raw,
            unix,
            nanos: 0,
        })
    }

    /// Parses the value bytes of a `GeneralizedTime`.
    pub fn parse(raw: &[u8]) -> Option<Self> {
        let (body, rest) = (raw.get(..14)?, raw.get(14..)?);
        if !body.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let num = |a: usize, b: usize| -> Option<u32> {
            body.get(a..b)?
                .iter()
                .try_fold(0u32, |acc, c| Some(acc * 10 + u32::from(c - b'0')))
        };
        let (y, mo, d) = (num(0, 4)?, num(4, 6)?, num(6, 8)?);
        let (h, mi, s) = (num(8, 10)?, num(10, 12)?, num(12, 14)?);
        if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 {
            return None;
        }
        // Leap seconds are not representable in Unix time; refuse rather than guess.
        if s > 59 {
            return None;
        }
        let mut nanos = 0u32;
        let tail = match rest.split_first() {
            Some((b'.', frac)) => {
                let (digits, tail) =
                    frac.split_at(frac.iter().take_while(|c| c.is_ascii_digit()).count());
                // A fraction must have at least one digit and (DER, RFC 3161) no trailing zero.
                if digits.is_empty() || digits.last() == Some(&b'0') {
                    return None;
                }
                let mut scale = 100_000_000u32;
                for c in digits.iter().take(9) {
                    nanos += u32::from(c - b'0') * scale;
                    scale /= 10;
                }
                tail
            }
            _ => rest,
        };
        if tail != b"Z" {
            return None;
        }
        let unix = days_from_civil(i64::from(y), mo, d) * 86_400
            + i64::from(h) * 3600
            + i64::from(mi) * 60
            + i64::from(s);
        Some(Self {
            raw: raw.to_vec(),
            unix,
            nanos,
        })
    }

    /// Seconds since the Unix epoch (fraction truncated).
    pub fn unix(&self) -> i64 {
        self.unix
    }

    /// The sub-second part in nanoseconds (0 if the encoding had no fraction).
    pub fn nanos(&self) -> u32 {
        self.nanos
    }
}

impl FixedTag for GenTime {
    const TAG: Tag = Tag::GeneralizedTime;
}

impl<'a> DecodeValue<'a> for GenTime {
    type Error = der::Error;

    fn decode_value<R: Reader<'a>>(reader: &mut R, header: Header) -> der::Result<Self> {
        let raw = reader.read_vec(header.length())?;
        GenTime::parse(&raw).ok_or_else(|| reader.error(Tag::GeneralizedTime.value_error()))
    }
}

impl EncodeValue for GenTime {
    fn value_len(&self) -> der::Result<Length> {
        Length::try_from(self.raw.len())
    }

    fn encode_value(&self, writer: &mut impl Writer) -> der::Result<()> {
        writer.write(&self.raw)
    }
}

fn is_leap(y: u32) -> bool {
    (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400)
}

fn days_in_month(y: u32, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        _ => 28,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// (year, month, day, hour, minute, second) of a Unix time.
fn civil_from_unix(t: i64) -> (i64, u32, u32, u32, u32, u32) {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    // All casts below are of values bounded by the arithmetic above (< 86400, 1..=31, 1..=12).
    let (h, mi, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    (
        y,
        u32::try_from(m).unwrap_or(0),
        u32::try_from(d).unwrap_or(0),
        u32::try_from(h).unwrap_or(0),
        u32::try_from(mi).unwrap_or(0),
        u32::try_from(s).unwrap_or(0),
    )
}

/// RFC 3339 rendering of a Unix time, for error messages (`2025-07-01T12:00:00Z`).
pub fn rfc3339(t: i64) -> String {
    let (y, mo, d, h, mi, s) = civil_from_unix(t);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_whole_and_fractional_seconds() {
        // 2000-03-01T00:00:00Z = 951868800 (independently known epoch value).
        let t = GenTime::parse(b"20000301000000Z").unwrap();
        assert_eq!((t.unix(), t.nanos()), (951_868_800, 0));
        let t = GenTime::parse(b"20000301000000.25Z").unwrap();
        assert_eq!((t.unix(), t.nanos()), (951_868_800, 250_000_000));
    }

    #[test]
    fn rejects_malformed_generalized_times() {
        for bad in [
            &b"20000301000000"[..],
            b"20000301000000+0100",
            b"20000301000000.Z",
            b"20000301000000.50Z",
            b"20000230000000Z",
            b"20001301000000Z",
            b"2000030100000Z",
            b"20000301000060Z",
            b"",
        ] {
            assert!(
                GenTime::parse(bad).is_none(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn formats_round_trip_through_civil_conversion() {
        for t in [0i64, 951_868_800, 1_700_000_000, 4_102_444_799] {
            let g = GenTime::from_unix(t).unwrap();
            assert_eq!(GenTime::parse(&g.raw).unwrap().unix(), t);
        }
        assert_eq!(rfc3339(951_868_800), "2000-03-01T00:00:00Z");
    }
}
