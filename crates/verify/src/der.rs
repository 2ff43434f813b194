//! A strict DER reader (and the small writer re-encoding needs) for the ASN.1 in certificates,
//! keys, timestamps and SCTs. Zero-copy, no recursion: callers walk nested structures with
//! [`Reader::read_sequence`]. Anything BER allows and DER forbids (indefinite or non-minimal
//! lengths, non-minimal integers, high tag numbers) is an error, so that one byte string has
//! one meaning.

use std::fmt;

/// Why input is not acceptable DER.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DerError {
    #[error("DER input ends early")]
    Truncated,
    #[error("DER length is not minimally encoded, or indefinite")]
    BadLength,
    #[error("expected DER tag {expected:#04x}, found {found:#04x}")]
    UnexpectedTag { expected: u8, found: u8 },
    #[error("unexpected data after the DER value")]
    TrailingData,
    #[error("DER tags above 30 are not supported")]
    HighTagNumber,
    #[error("DER INTEGER is empty, negative where it must not be, or not minimal")]
    BadInteger,
    #[error("DER BIT STRING has unused bits or is empty")]
    BadBitString,
    #[error("DER BOOLEAN is not 0x00 or 0xff")]
    BadBoolean,
    #[error("DER OBJECT IDENTIFIER is malformed")]
    BadOid,
    #[error("DER time is malformed")]
    BadTime,
    #[error("DER string is not valid for its type")]
    BadString,
}

/// Tags of the universal types in use, and the context-specific forms.
pub mod tag {
    pub const BOOLEAN: u8 = 0x01;
    pub const INTEGER: u8 = 0x02;
    pub const BIT_STRING: u8 = 0x03;
    pub const OCTET_STRING: u8 = 0x04;
    pub const NULL: u8 = 0x05;
    pub const OID: u8 = 0x06;
    pub const ENUMERATED: u8 = 0x0a;
    pub const UTF8_STRING: u8 = 0x0c;
    pub const PRINTABLE_STRING: u8 = 0x13;
    pub const IA5_STRING: u8 = 0x16;
    pub const UTC_TIME: u8 = 0x17;
    pub const GENERALIZED_TIME: u8 = 0x18;
    pub const SEQUENCE: u8 = 0x30;
    pub const SET: u8 = 0x31;

    /// `[n]` constructed (EXPLICIT tagging, or IMPLICIT on a constructed type).
    pub const fn context(n: u8) -> u8 {
        0xa0 | n
    }

    /// `[n]` primitive (IMPLICIT tagging of a primitive type).
    pub const fn context_primitive(n: u8) -> u8 {
        0x80 | n
    }
}

/// One tag-length-value.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Tlv<'a> {
    pub tag: u8,
    /// The contents.
    pub value: &'a [u8],
    /// The whole encoding, tag and length included.
    pub raw: &'a [u8],
}

impl fmt::Debug for Tlv<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tlv({:#04x}, {} bytes)", self.tag, self.value.len())
    }
}

/// A cursor over consecutive TLVs.
#[derive(Clone, Copy, Debug)]
pub struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(data: &'a [u8]) -> Reader<'a> {
        Reader { data }
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    pub fn peek_tag(&self) -> Option<u8> {
        self.data.first().copied()
    }

    /// Reads the next TLV whatever its tag.
    pub fn read_any(&mut self) -> Result<Tlv<'a>, DerError> {
        let data = self.data;
        let (&tag, rest) = data.split_first().ok_or(DerError::Truncated)?;
        if tag & 0x1f == 0x1f {
            return Err(DerError::HighTagNumber);
        }
        let (&first, rest) = rest.split_first().ok_or(DerError::Truncated)?;
        let (len, rest) = if first < 0x80 {
            (usize::from(first), rest)
        } else {
            let n = usize::from(first & 0x7f);
            // 0x80 is BER's indefinite form; more than 4 length bytes is never needed here.
            if n == 0 || n > 4 || rest.len() < n {
                return Err(if rest.len() < n {
                    DerError::Truncated
                } else {
                    DerError::BadLength
                });
            }
            let bytes = &rest[..n];
            if bytes[0] == 0 {
                return Err(DerError::BadLength);
            }
            let len = bytes
                .iter()
                .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
            if len < 0x80 {
                return Err(DerError::BadLength);
            }
            (len, &rest[n..])
        };
        if rest.len() < len {
            return Err(DerError::Truncated);
        }
        let header = data.len() - rest.len();
        let raw = &data[..header + len];
        self.data = &rest[len..];
        Ok(Tlv {
            tag,
            value: &rest[..len],
            raw,
        })
    }

    /// Reads the next TLV, which must carry `tag`.
    pub fn read(&mut self, tag: u8) -> Result<Tlv<'a>, DerError> {
        match self.peek_tag() {
            Some(t) if t == tag => self.read_any(),
            Some(t) if t & 0x1f == 0x1f => Err(DerError::HighTagNumber),
            Some(found) => Err(DerError::UnexpectedTag {
                expected: tag,
                found,
            }),
            None => Err(DerError::Truncated),
        }
    }

    /// Reads the next TLV if it carries `tag`.
    pub fn read_optional(&mut self, tag: u8) -> Result<Option<Tlv<'a>>, DerError> {
        if self.peek_tag() == Some(tag) {
            self.read_any().map(Some)
        } else {
            Ok(None)
        }
    }

    /// Reads a SEQUENCE and returns a reader over its contents.
    pub fn read_sequence(&mut self) -> Result<Reader<'a>, DerError> {
        Ok(Reader::new(self.read(tag::SEQUENCE)?.value))
    }

    /// Fails if anything is left.
    pub fn finish(&self) -> Result<(), DerError> {
        if self.data.is_empty() {
            Ok(())
        } else {
            Err(DerError::TrailingData)
        }
    }
}

/// Parses `data` as exactly one TLV with `tag`.
pub fn parse_single(data: &[u8], tag: u8) -> Result<Tlv<'_>, DerError> {
    let mut r = Reader::new(data);
    let tlv = r.read(tag)?;
    r.finish()?;
    Ok(tlv)
}

impl<'a> Tlv<'a> {
    /// A reader over the contents (for constructed values).
    pub fn reader(&self) -> Reader<'a> {
        Reader::new(self.value)
    }

    /// A non-negative INTEGER's big-endian magnitude without the sign byte.
    pub fn unsigned_integer(&self) -> Result<&'a [u8], DerError> {
        let v = self.value;
        match v {
            [] => Err(DerError::BadInteger),
            [b, ..] if b & 0x80 != 0 => Err(DerError::BadInteger), // negative
            [0, b, ..] if b & 0x80 == 0 => Err(DerError::BadInteger), // non-minimal
            [0, rest @ ..] if !rest.is_empty() => Ok(rest),
            _ => Ok(v),
        }
    }

    /// A non-negative INTEGER that fits in a u64.
    pub fn u64(&self) -> Result<u64, DerError> {
        let bytes = self.unsigned_integer()?;
        if bytes.len() > 8 {
            return Err(DerError::BadInteger);
        }
        Ok(bytes.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
    }

    /// A BIT STRING's bytes; only whole-byte strings are accepted (keys and signatures).
    pub fn bit_string(&self) -> Result<&'a [u8], DerError> {
        match self.value.split_first() {
            Some((0, rest)) => Ok(rest),
            _ => Err(DerError::BadBitString),
        }
    }

    /// A BIT STRING holding a named bit list (X.690 11.2.2: trailing zero bits removed) as a
    /// mask where bit `n` of the list is `1 << n`. At most 64 bits.
    pub fn named_bits(&self) -> Result<u64, DerError> {
        let (&unused, bytes) = self.value.split_first().ok_or(DerError::BadBitString)?;
        let minimal = match bytes.last() {
            None => unused == 0,
            // The unused bits are zero and the last used bit is one.
            Some(&last) => {
                unused < 8 && (last >> unused) & 1 == 1 && last & ((1 << unused) - 1) == 0
            }
        };
        if !minimal || bytes.len() > 8 {
            return Err(DerError::BadBitString);
        }
        let mut mask = 0u64;
        for (i, byte) in bytes.iter().enumerate() {
            for bit in 0..8 {
                if byte & (0x80 >> bit) != 0 {
                    mask |= 1 << (i * 8 + bit);
                }
            }
        }
        Ok(mask)
    }

    pub fn boolean(&self) -> Result<bool, DerError> {
        match self.value {
            [0x00] => Ok(false),
            [0xff] => Ok(true),
            _ => Err(DerError::BadBoolean),
        }
    }

    pub fn oid(&self) -> Result<Oid<'a>, DerError> {
        Oid::from_der_value(self.value)
    }

    /// UTCTime (`YYMMDDHHMMSSZ`) or GeneralizedTime (`YYYYMMDDHHMMSSZ`, optional fraction) as
    /// seconds since the Unix epoch (fractions truncated).
    pub fn time(&self) -> Result<i64, DerError> {
        self.time_nanos().map(|(secs, _)| secs)
    }

    /// Like [`Tlv::time`], keeping a GeneralizedTime's fraction as nanoseconds.
    pub fn time_nanos(&self) -> Result<(i64, u32), DerError> {
        // ASCII only, so that slicing by byte offsets below cannot split a character.
        let s = std::str::from_utf8(self.value)
            .ok()
            .filter(|s| s.is_ascii())
            .ok_or(DerError::BadTime)?;
        let s = s.strip_suffix('Z').ok_or(DerError::BadTime)?;
        let (year, rest) = match self.tag {
            tag::UTC_TIME => {
                let (yy, rest) = s.split_at_checked(2).ok_or(DerError::BadTime)?;
                let yy = digits(yy)?;
                // RFC 5280: 50-99 are 19xx, 00-49 are 20xx.
                (if yy >= 50 { 1900 + yy } else { 2000 + yy }, rest)
            }
            tag::GENERALIZED_TIME => {
                let (yyyy, rest) = s.split_at_checked(4).ok_or(DerError::BadTime)?;
                (digits(yyyy)?, rest)
            }
            _ => return Err(DerError::BadTime),
        };
        // Fractional seconds: GeneralizedTime only, no trailing zeros in DER.
        let (main, nanos) = match rest.split_once('.') {
            Some((m, f)) if self.tag == tag::GENERALIZED_TIME => {
                if f.is_empty() || f.ends_with('0') || !f.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(DerError::BadTime);
                }
                let kept = &f[..f.len().min(9)];
                let nanos = kept.parse::<u32>().map_err(|_| DerError::BadTime)?
                    * 10u32.pow(9 - kept.len() as u32);
                (m, nanos)
            }
            Some(_) => return Err(DerError::BadTime),
            None => (rest, 0),
        };
        if main.len() != 10 {
            return Err(DerError::BadTime);
        }
        let field = |i: usize| digits(&main[i..i + 2]);
        let (month, day, hour, minute, second) =
            (field(0)?, field(2)?, field(4)?, field(6)?, field(8)?);
        if !(1..=12).contains(&month)
            || day == 0
            || day > days_in_month(year, month)
            || hour > 23
            || minute > 59
            || second > 59
        {
            return Err(DerError::BadTime);
        }
        let days = days_from_civil(year, month, day);
        Ok((days * 86400 + hour * 3600 + minute * 60 + second, nanos))
    }

    /// UTF8String, PrintableString or IA5String contents.
    pub fn string(&self) -> Result<&'a str, DerError> {
        let s = std::str::from_utf8(self.value).map_err(|_| DerError::BadString)?;
        let ok = match self.tag {
            tag::UTF8_STRING => true,
            tag::IA5_STRING => s.is_ascii(),
            tag::PRINTABLE_STRING => s
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b" '()+,-./:=?".contains(&b)),
            _ => false,
        };
        if ok { Ok(s) } else { Err(DerError::BadString) }
    }
}

fn digits(s: &str) -> Result<i64, DerError> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(DerError::BadTime);
    }
    s.parse().map_err(|_| DerError::BadTime)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// An OBJECT IDENTIFIER as its DER contents bytes (compare with the constants in [`oid`]).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Oid<'a>(&'a [u8]);

impl<'a> Oid<'a> {
    pub const fn new(encoded: &'a [u8]) -> Oid<'a> {
        Oid(encoded)
    }

    fn from_der_value(v: &'a [u8]) -> Result<Oid<'a>, DerError> {
        // Each arc ends with a byte whose high bit is clear, and no arc starts with 0x80.
        let well_formed = !v.is_empty()
            && v.last().is_some_and(|b| b & 0x80 == 0)
            && v.iter()
                .enumerate()
                .all(|(i, &b)| b != 0x80 || (i > 0 && v[i - 1] & 0x80 != 0));
        if well_formed {
            Ok(Oid(v))
        } else {
            Err(DerError::BadOid)
        }
    }

    pub fn as_bytes(&self) -> &'a [u8] {
        self.0
    }
}

impl fmt::Display for Oid<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut arcs = Vec::new();
        let mut acc: u128 = 0;
        for &b in self.0 {
            acc = (acc << 7) | u128::from(b & 0x7f);
            if b & 0x80 == 0 {
                arcs.push(acc);
                acc = 0;
            }
        }
        let Some((&first, rest)) = arcs.split_first() else {
            return Ok(());
        };
        let (a, b) = if first < 80 {
            (first / 40, first % 40)
        } else {
            (2, first - 80)
        };
        write!(f, "{a}.{b}")?;
        for arc in rest {
            write!(f, ".{arc}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Oid<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Oid({self})")
    }
}

/// Object identifiers used by vouch, as DER contents bytes.
pub mod oid {
    use super::Oid;

    /// 1.2.840.10045.2.1
    pub const EC_PUBLIC_KEY: Oid<'static> = Oid::new(&[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01]);
    /// 1.2.840.10045.3.1.7 (P-256)
    pub const PRIME256V1: Oid<'static> =
        Oid::new(&[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07]);
    /// 1.3.132.0.34 (P-384)
    pub const SECP384R1: Oid<'static> = Oid::new(&[0x2b, 0x81, 0x04, 0x00, 0x22]);
    /// 1.3.132.0.35 (P-521)
    pub const SECP521R1: Oid<'static> = Oid::new(&[0x2b, 0x81, 0x04, 0x00, 0x23]);
    /// 1.3.101.112
    pub const ED25519: Oid<'static> = Oid::new(&[0x2b, 0x65, 0x70]);
    /// 1.2.840.113549.1.1.1
    pub const RSA_ENCRYPTION: Oid<'static> =
        Oid::new(&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01]);
    /// 1.2.840.113549.1.1.10
    pub const RSASSA_PSS: Oid<'static> =
        Oid::new(&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a]);
    /// 1.2.840.113549.1.1.11
    pub const SHA256_WITH_RSA: Oid<'static> =
        Oid::new(&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b]);
    /// 1.2.840.113549.1.1.12
    pub const SHA384_WITH_RSA: Oid<'static> =
        Oid::new(&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0c]);
    /// 1.2.840.113549.1.1.13
    pub const SHA512_WITH_RSA: Oid<'static> =
        Oid::new(&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0d]);
    /// 1.2.840.10045.4.3.2
    pub const ECDSA_WITH_SHA256: Oid<'static> =
        Oid::new(&[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02]);
    /// 1.2.840.10045.4.3.3
    pub const ECDSA_WITH_SHA384: Oid<'static> =
        Oid::new(&[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03]);
    /// 1.2.840.10045.4.3.4
    pub const ECDSA_WITH_SHA512: Oid<'static> =
        Oid::new(&[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x04]);
    /// 2.16.840.1.101.3.4.2.1
    pub const SHA256: Oid<'static> =
        Oid::new(&[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01]);
    /// 2.16.840.1.101.3.4.2.2
    pub const SHA384: Oid<'static> =
        Oid::new(&[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02]);
    /// 2.16.840.1.101.3.4.2.3
    pub const SHA512: Oid<'static> =
        Oid::new(&[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03]);
    /// 1.2.840.113549.1.1.8
    pub const MGF1: Oid<'static> =
        Oid::new(&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x08]);
}

/// Encodes one TLV (for re-encoding modified structures and building keys).
pub fn encode(tag: u8, contents: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(contents.len() + 6);
    out.push(tag);
    let len = contents.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(contents);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Encodes a dotted OID for checking the constants.
    fn encode_oid(dotted: &str) -> Vec<u8> {
        let arcs: Vec<u128> = dotted.split('.').map(|a| a.parse().unwrap()).collect();
        let mut out = Vec::new();
        let mut push = |mut v: u128| {
            let mut tmp = vec![(v & 0x7f) as u8];
            v >>= 7;
            while v > 0 {
                tmp.push(0x80 | (v & 0x7f) as u8);
                v >>= 7;
            }
            tmp.reverse();
            out.extend(tmp);
        };
        push(arcs[0] * 40 + arcs[1]);
        for &a in &arcs[2..] {
            push(a);
        }
        out
    }

    #[test]
    fn oid_constants_match_their_dotted_form() {
        let table = [
            (oid::EC_PUBLIC_KEY, "1.2.840.10045.2.1"),
            (oid::PRIME256V1, "1.2.840.10045.3.1.7"),
            (oid::SECP384R1, "1.3.132.0.34"),
            (oid::SECP521R1, "1.3.132.0.35"),
            (oid::ED25519, "1.3.101.112"),
            (oid::RSA_ENCRYPTION, "1.2.840.113549.1.1.1"),
            (oid::RSASSA_PSS, "1.2.840.113549.1.1.10"),
            (oid::SHA256_WITH_RSA, "1.2.840.113549.1.1.11"),
            (oid::SHA384_WITH_RSA, "1.2.840.113549.1.1.12"),
            (oid::SHA512_WITH_RSA, "1.2.840.113549.1.1.13"),
            (oid::ECDSA_WITH_SHA256, "1.2.840.10045.4.3.2"),
            (oid::ECDSA_WITH_SHA384, "1.2.840.10045.4.3.3"),
            (oid::ECDSA_WITH_SHA512, "1.2.840.10045.4.3.4"),
            (oid::SHA256, "2.16.840.1.101.3.4.2.1"),
            (oid::SHA384, "2.16.840.1.101.3.4.2.2"),
            (oid::SHA512, "2.16.840.1.101.3.4.2.3"),
            (oid::MGF1, "1.2.840.113549.1.1.8"),
        ];
        for (constant, dotted) in table {
            assert_eq!(
                constant.as_bytes(),
                encode_oid(dotted).as_slice(),
                "{dotted}"
            );
            assert_eq!(constant.to_string(), dotted);
        }
    }

    #[test]
    fn lengths_are_strict() {
        // Short form, long form, and what DER forbids.
        assert_eq!(
            parse_single(&[0x04, 0x01, 0xaa], tag::OCTET_STRING)
                .unwrap()
                .value,
            [0xaa]
        );
        let mut long = vec![0x04, 0x81, 0x80];
        long.extend(vec![0u8; 0x80]);
        assert_eq!(
            parse_single(&long, tag::OCTET_STRING).unwrap().value.len(),
            0x80
        );
        let bad: &[(&[u8], DerError)] = &[
            (&[0x04, 0x81, 0x01, 0xaa], DerError::BadLength), // long form for a short length
            (&[0x04, 0x82, 0x00, 0x81], DerError::BadLength), // leading zero
            (&[0x04, 0x80], DerError::BadLength),             // indefinite
            (&[0x04, 0x02, 0xaa], DerError::Truncated),
            (&[0x04], DerError::Truncated),
            (&[0x1f, 0x01, 0x00], DerError::HighTagNumber),
            (&[0x04, 0x00, 0x00], DerError::TrailingData),
            (
                &[0x02, 0x00],
                DerError::UnexpectedTag {
                    expected: 0x04,
                    found: 0x02,
                },
            ),
        ];
        for (input, want) in bad {
            assert_eq!(
                parse_single(input, tag::OCTET_STRING).unwrap_err(),
                *want,
                "{input:x?}"
            );
        }
    }

    #[test]
    fn integers() {
        let int = |v: &'static [u8]| Tlv {
            tag: tag::INTEGER,
            value: v,
            raw: v,
        };
        assert_eq!(int(&[0x00]).u64(), Ok(0));
        assert_eq!(int(&[0x00, 0x80]).unsigned_integer(), Ok(&[0x80][..]));
        assert_eq!(int(&[0x01, 0x00]).u64(), Ok(256));
        for bad in [&[][..], &[0x80], &[0x00, 0x01], &[0xff, 0xff]] {
            assert_eq!(
                int(bad).unsigned_integer(),
                Err(DerError::BadInteger),
                "{bad:x?}"
            );
        }
        assert_eq!(
            int(&[1, 0, 0, 0, 0, 0, 0, 0, 0]).u64(),
            Err(DerError::BadInteger)
        );
    }

    #[test]
    fn times() {
        let t = |tag, s: &'static str| {
            Tlv {
                tag,
                value: s.as_bytes(),
                raw: s.as_bytes(),
            }
            .time()
        };
        assert_eq!(t(tag::UTC_TIME, "700101000000Z"), Ok(0));
        assert_eq!(t(tag::UTC_TIME, "491231235959Z"), Ok(2524607999));
        assert_eq!(t(tag::GENERALIZED_TIME, "20240229120000Z"), Ok(1709208000));
        assert_eq!(
            t(tag::GENERALIZED_TIME, "20240229120000.25Z"),
            Ok(1709208000)
        );
        for (tag, bad) in [
            (tag::UTC_TIME, "700101000000"),
            (tag::UTC_TIME, "701301000000Z"),
            (tag::GENERALIZED_TIME, "20230229120000Z"),
            (tag::GENERALIZED_TIME, "20240229120000.50Z"),
            (tag::GENERALIZED_TIME, "20240229120000+0100"),
            (tag::UTC_TIME, "7001010000Z"),
            // Ten bytes after the year, one character of them three bytes long (found by the
            // certificate fuzz target: slicing it by bytes panicked).
            (tag::UTC_TIME, "0010\u{5d34}35658Z"),
        ] {
            assert_eq!(t(tag, bad), Err(DerError::BadTime), "{bad}");
        }
    }

    #[test]
    fn named_bit_lists_are_minimal() {
        let bits = |v: &'static [u8]| {
            Tlv {
                tag: tag::BIT_STRING,
                value: v,
                raw: v,
            }
            .named_bits()
        };
        // keyUsage digitalSignature (bit 0), keyCertSign + cRLSign (bits 5, 6), decipherOnly (8).
        assert_eq!(bits(&[0x07, 0x80]), Ok(1));
        assert_eq!(bits(&[0x01, 0x06]), Ok(0b110_0000));
        assert_eq!(bits(&[0x07, 0x00, 0x80]), Ok(1 << 8));
        assert_eq!(bits(&[0x00]), Ok(0));
        for bad in [
            &[][..],                            // no unused-bits byte
            &[0x01],                            // unused bits in an empty string
            &[0x06, 0x80],                      // trailing zero bit kept
            &[0x00, 0x00],                      // a whole trailing zero byte
            &[0x07, 0x81],                      // a set bit among the unused ones
            &[0x08, 0x80],                      // more than 7 unused bits
            &[0x00, 1, 1, 1, 1, 1, 1, 1, 1, 1], // more than 64 bits
        ] {
            assert_eq!(bits(bad), Err(DerError::BadBitString), "{bad:x?}");
        }
    }

    #[test]
    fn nested_reading_and_encoding_round_trip() {
        let inner = encode(tag::INTEGER, &[0x05]);
        let seq = encode(
            tag::SEQUENCE,
            &[inner.clone(), encode(tag::NULL, &[])].concat(),
        );
        let mut r = Reader::new(&seq);
        let mut s = r.read_sequence().unwrap();
        assert_eq!(s.read(tag::INTEGER).unwrap().u64(), Ok(5));
        assert!(s.read_optional(tag::BOOLEAN).unwrap().is_none());
        s.read(tag::NULL).unwrap();
        s.finish().unwrap();
        r.finish().unwrap();
        let big = encode(tag::OCTET_STRING, &vec![7u8; 300]);
        assert_eq!(&big[..4], &[0x04, 0x82, 0x01, 0x2c]);
        assert_eq!(
            parse_single(&big, tag::OCTET_STRING).unwrap().value.len(),
            300
        );
    }
}
