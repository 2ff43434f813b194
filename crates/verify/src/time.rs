//! Points in time as verification uses them: Unix seconds with nanoseconds, parsed from RFC 3339
//! (trusted roots, bundles, provenance) and ASN.1 times. No clock: callers say what "now" is.

use std::fmt;

use crate::der::days_from_civil;

/// A point in time, ordered, with nanosecond precision.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    secs: i64,
    nanos: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an RFC 3339 time (YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM))")]
pub struct TimeError(pub String);

impl Timestamp {
    pub const fn from_unix(secs: i64) -> Timestamp {
        Timestamp { secs, nanos: 0 }
    }

    /// `nanos` must be below one second; larger values are carried into the seconds.
    pub fn from_unix_nanos(secs: i64, nanos: u32) -> Timestamp {
        Timestamp {
            secs: secs + i64::from(nanos / 1_000_000_000),
            nanos: nanos % 1_000_000_000,
        }
    }

    pub fn from_system_time(t: std::time::SystemTime) -> Timestamp {
        match t.duration_since(std::time::UNIX_EPOCH) {
            Ok(d) => Timestamp::from_unix_nanos(d.as_secs() as i64, d.subsec_nanos()),
            Err(e) => {
                let d = e.duration();
                let (secs, nanos) = (d.as_secs() as i64, d.subsec_nanos());
                if nanos == 0 {
                    Timestamp::from_unix(-secs)
                } else {
                    Timestamp {
                        secs: -secs - 1,
                        nanos: 1_000_000_000 - nanos,
                    }
                }
            }
        }
    }

    pub fn secs(&self) -> i64 {
        self.secs
    }

    pub fn nanos(&self) -> u32 {
        self.nanos
    }

    /// Parses RFC 3339, e.g. `2022-12-31T23:59:59.999Z` or `2024-01-01T10:00:00+02:00`.
    pub fn parse_rfc3339(s: &str) -> Result<Timestamp, TimeError> {
        let bad = || TimeError(s.chars().take(64).collect());
        let b = s.as_bytes();
        if b.len() < 20
            || b[4] != b'-'
            || b[7] != b'-'
            || !matches!(b[10], b'T' | b't')
            || b[13] != b':'
            || b[16] != b':'
        {
            return Err(bad());
        }
        // `get`, not indexing: a multi-byte character may straddle a field's end.
        let num = |r: std::ops::Range<usize>| num_in(s, r).ok_or_else(bad);
        let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
        let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
        let mut rest = &s[19..];
        let mut nanos: u32 = 0;
        if let Some(frac) = rest.strip_prefix('.') {
            let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return Err(bad());
            }
            // Keep nanosecond precision; further digits are dropped.
            let kept = &frac[..digits.min(9)];
            nanos = kept.parse::<u32>().map_err(|_| bad())? * 10u32.pow(9 - kept.len() as u32);
            rest = &frac[digits..];
        }
        let offset = match rest {
            "Z" | "z" => 0,
            _ => {
                let ob = rest.as_bytes();
                if ob.len() != 6 || !matches!(ob[0], b'+' | b'-') || ob[3] != b':' {
                    return Err(bad());
                }
                let (oh, om) = (
                    num_in(rest, 1..3).ok_or_else(bad)?,
                    num_in(rest, 4..6).ok_or_else(bad)?,
                );
                if oh > 23 || om > 59 {
                    return Err(bad());
                }
                let sign = if ob[0] == b'-' { -1 } else { 1 };
                sign * (oh * 3600 + om * 60)
            }
        };
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        let month_days = [
            31,
            if leap { 29 } else { 28 },
            31,
            30,
            31,
            30,
            31,
            31,
            30,
            31,
            30,
            31,
        ];
        if !(1..=12).contains(&month)
            || day < 1
            || day > month_days[(month - 1) as usize]
            || hour > 23
            || minute > 59
            || second > 60
        {
            return Err(bad());
        }
        // A leap second (:60) is folded into the next second.
        let secs =
            days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second - offset;
        Ok(Timestamp { secs, nanos })
    }

    /// RFC 3339 in UTC with `Z`; fractions only when there are any.
    pub fn to_rfc3339(&self) -> String {
        let days = self.secs.div_euclid(86400);
        let rem = self.secs.rem_euclid(86400);
        let (y, m, d) = civil_from_days(days);
        let mut out = format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
            rem / 3600,
            rem % 3600 / 60,
            rem % 60
        );
        if self.nanos != 0 {
            let frac = format!("{:09}", self.nanos);
            out.push('.');
            out.push_str(frac.trim_end_matches('0'));
        }
        out.push('Z');
        out
    }
}

fn num_in(s: &str, r: std::ops::Range<usize>) -> Option<i64> {
    let part = s.get(r)?;
    if part.bytes().all(|c| c.is_ascii_digit()) {
        part.parse().ok()
    } else {
        None
    }
}

/// The inverse of `days_from_civil`: (year, month, day) of a day number since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({})", self.to_rfc3339())
    }
}

/// A validity window; both ends are inclusive, as Sigstore trusted roots and X.509 use them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Validity {
    pub start: Timestamp,
    pub end: Option<Timestamp>,
}

impl Validity {
    pub fn contains(&self, t: Timestamp) -> bool {
        self.start <= t && self.end.is_none_or(|end| t <= end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the `entry` fuzz target: a submitted ledger entry's time panicked the request.
    #[test]
    fn multi_byte_characters_inside_fields_are_errors_not_panics() {
        for s in [
            "2027-09-21T14:15:0Я",
            "2027-09-21T14:15:0ЯZ",
            "2027-09-21T1Я:15:00Z",
            "2027-09-2ЯT14:15:00Z",
            "ЯЯ27-09-21T14:15:00Z",
            "2027-09-21T14:15:00+0Я:00",
        ] {
            assert!(Timestamp::parse_rfc3339(s).is_err(), "{s}");
        }
    }

    #[test]
    fn parses_and_prints() {
        let table = [
            ("1970-01-01T00:00:00Z", 0, 0, "1970-01-01T00:00:00Z"),
            (
                "2022-12-31T23:59:59.999Z",
                1672531199,
                999_000_000,
                "2022-12-31T23:59:59.999Z",
            ),
            (
                "2024-02-29T12:00:00+02:00",
                1709200800,
                0,
                "2024-02-29T10:00:00Z",
            ),
            (
                "2021-01-12T11:53:27.123456789123Z",
                1610452407,
                123_456_789,
                "2021-01-12T11:53:27.123456789Z",
            ),
            ("1969-12-31T23:59:59-00:00", -1, 0, "1969-12-31T23:59:59Z"),
        ];
        for (input, secs, nanos, printed) in table {
            let t = Timestamp::parse_rfc3339(input).unwrap();
            assert_eq!((t.secs(), t.nanos()), (secs, nanos), "{input}");
            assert_eq!(t.to_rfc3339(), printed, "{input}");
        }
        for bad in [
            "",
            "2022-12-31",
            "2022-12-31T23:59:59",
            "2022-13-01T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "2022-12-31T23:59:59.Z",
            "2022-12-31 23:59:59Z",
            "2022-12-31T23:59:59+2:00",
        ] {
            assert!(Timestamp::parse_rfc3339(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn validity_ends_are_inclusive() {
        let v = Validity {
            start: Timestamp::parse_rfc3339("2021-03-07T03:20:29Z").unwrap(),
            end: Some(Timestamp::parse_rfc3339("2022-12-31T23:59:59.999Z").unwrap()),
        };
        assert!(v.contains(Timestamp::parse_rfc3339("2021-03-07T03:20:29Z").unwrap()));
        assert!(v.contains(Timestamp::from_unix(1672531199)));
        assert!(v.contains(Timestamp::parse_rfc3339("2022-12-31T23:59:59.999Z").unwrap()));
        assert!(!v.contains(Timestamp::from_unix(1672531200)));
        assert!(!v.contains(Timestamp::from_unix(1615087228)));
    }

    #[test]
    fn civil_round_trip() {
        for days in [-800_000, -1, 0, 1, 59, 365 * 400, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }
}
