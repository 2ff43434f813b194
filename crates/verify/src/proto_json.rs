//! The protobuf JSON mapping Sigstore documents use: 64-bit integers as strings (numbers
//! accepted too), bytes as base64 (standard or URL-safe, padded or not), timestamps as RFC 3339.
//! serde `deserialize_with` helpers for the bundle and trusted-root parsers.

use base64::Engine as _;
use serde::{Deserialize, Deserializer, de};

use crate::time::Timestamp;

/// Decodes protobuf JSON bytes.
pub fn decode_bytes(s: &str) -> Option<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    [STANDARD, URL_SAFE, STANDARD_NO_PAD, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|e| e.decode(s).ok())
}

pub fn bytes<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    let s = String::deserialize(d)?;
    decode_bytes(&s).ok_or_else(|| de::Error::custom("invalid base64"))
}

pub fn opt_bytes<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
    match Option::<String>::deserialize(d)? {
        None => Ok(None),
        Some(s) => decode_bytes(&s)
            .map(Some)
            .ok_or_else(|| de::Error::custom("invalid base64")),
    }
}

pub fn bytes_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Vec<u8>>, D::Error> {
    Vec::<String>::deserialize(d)?
        .iter()
        .map(|s| decode_bytes(s).ok_or_else(|| de::Error::custom("invalid base64")))
        .collect()
}

#[derive(Deserialize)]
#[serde(untagged)]
enum IntOrString {
    Int(i64),
    Str(String),
}

fn to_i64<E: de::Error>(v: IntOrString) -> Result<i64, E> {
    match v {
        IntOrString::Int(n) => Ok(n),
        IntOrString::Str(s)
            if !s.is_empty()
                && s.trim_start_matches('-')
                    .bytes()
                    .all(|b| b.is_ascii_digit()) =>
        {
            s.parse().map_err(|_| E::custom("integer out of range"))
        }
        IntOrString::Str(s) => Err(E::custom(format!("{s:?} is not an integer"))),
    }
}

pub fn int64<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    to_i64(IntOrString::deserialize(d)?)
}

pub fn opt_int64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Option::<IntOrString>::deserialize(d)?
        .map(to_i64)
        .transpose()
}

pub fn opt_timestamp<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
    match Option::<String>::deserialize(d)? {
        None => Ok(None),
        Some(s) => Timestamp::parse_rfc3339(&s)
            .map(Some)
            .map_err(de::Error::custom),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct T {
        #[serde(deserialize_with = "int64")]
        n: i64,
        #[serde(deserialize_with = "bytes")]
        b: Vec<u8>,
    }

    #[test]
    fn integers_and_bytes() {
        for (json, n, b) in [
            (r#"{"n":"42","b":"AQID"}"#, 42, vec![1, 2, 3]),
            (r#"{"n":42,"b":"AQI"}"#, 42, vec![1, 2]),
            (r#"{"n":"-7","b":"-_8="}"#, -7, vec![0xfb, 0xff]),
        ] {
            let t: T = serde_json::from_str(json).unwrap();
            assert_eq!((t.n, t.b), (n, b), "{json}");
        }
        for bad in [
            r#"{"n":"4x","b":"AQID"}"#,
            r#"{"n":"","b":"AQID"}"#,
            r#"{"n":"1","b":"!!"}"#,
            r#"{"n":1.5,"b":"AQID"}"#,
        ] {
            assert!(serde_json::from_str::<T>(bad).is_err(), "{bad}");
        }
    }
}
