//! Content digests (`algorithm:encoded`) as the OCI image spec defines them, and hashing.

use std::fmt;
use std::str::FromStr;

/// A digest algorithm the registry can verify content against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    Sha256,
    Sha512,
}

impl Algorithm {
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
        }
    }

    /// Length of the lowercase hex encoding of this algorithm's output.
    pub fn hex_len(self) -> usize {
        match self {
            Algorithm::Sha256 => 64,
            Algorithm::Sha512 => 128,
        }
    }

    fn backend(self) -> &'static aws_lc_rs::digest::Algorithm {
        match self {
            Algorithm::Sha256 => &aws_lc_rs::digest::SHA256,
            Algorithm::Sha512 => &aws_lc_rs::digest::SHA512,
        }
    }

    /// Parses a registered algorithm name (`sha256`, `sha512`).
    pub fn parse(s: &str) -> Result<Algorithm, DigestError> {
        match s {
            "sha256" => Ok(Algorithm::Sha256),
            "sha512" => Ok(Algorithm::Sha512),
            other if is_algorithm_grammar(other) => {
                Err(DigestError::UnsupportedAlgorithm(truncate(other)))
            }
            _ => Err(DigestError::Malformed),
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a string is not an acceptable digest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DigestError {
    #[error("digest is not of the form algorithm:encoded")]
    Malformed,
    #[error("unsupported digest algorithm {0:?}")]
    UnsupportedAlgorithm(String),
    #[error("{algorithm} digest must be {expected} lowercase hex characters")]
    BadEncoding {
        algorithm: Algorithm,
        expected: usize,
    },
}

/// A verified-syntax content digest using a supported algorithm, e.g. `sha256:<64 hex>`.
///
/// The string form is kept so that formatting and comparison are free.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    text: Box<str>,
    algorithm: Algorithm,
}

impl Digest {
    /// Parses `algorithm:encoded`, accepting only sha256 and sha512 with lowercase hex.
    pub fn parse(s: &str) -> Result<Digest, DigestError> {
        let (alg, encoded) = s.split_once(':').ok_or(DigestError::Malformed)?;
        if !is_encoded_grammar(encoded) {
            return Err(DigestError::Malformed);
        }
        let algorithm = Algorithm::parse(alg)?;
        let expected = algorithm.hex_len();
        let hex_ok = encoded.len() == expected
            && encoded
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !hex_ok {
            return Err(DigestError::BadEncoding {
                algorithm,
                expected,
            });
        }
        Ok(Digest {
            text: s.into(),
            algorithm,
        })
    }

    /// The digest of `bytes` under `algorithm`.
    pub fn compute(algorithm: Algorithm, bytes: &[u8]) -> Digest {
        let mut d = Digester::new(algorithm);
        d.update(bytes);
        d.finish()
    }

    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The lowercase hex part after the colon.
    pub fn hex(&self) -> &str {
        &self.text[self.algorithm.as_str().len() + 1..]
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether `bytes` hash to this digest.
    pub fn matches(&self, bytes: &[u8]) -> bool {
        Digest::compute(self.algorithm, bytes) == *self
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({})", self.text)
    }
}

impl FromStr for Digest {
    type Err = DigestError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Digest::parse(s)
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Digest::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl fmt::Debug for Digester {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digester({})", self.algorithm)
    }
}

/// Incremental hashing that yields a [`Digest`]. Cloning snapshots the state, which lets an
/// upload roll back a chunk that failed half way.
#[derive(Clone)]
pub struct Digester {
    algorithm: Algorithm,
    context: aws_lc_rs::digest::Context,
}

impl Digester {
    pub fn new(algorithm: Algorithm) -> Digester {
        Digester {
            algorithm,
            context: aws_lc_rs::digest::Context::new(algorithm.backend()),
        }
    }

    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    pub fn update(&mut self, bytes: &[u8]) {
        self.context.update(bytes);
    }

    pub fn finish(self) -> Digest {
        let out = self.context.finish();
        let mut text =
            String::with_capacity(self.algorithm.as_str().len() + 1 + out.as_ref().len() * 2);
        text.push_str(self.algorithm.as_str());
        text.push(':');
        for b in out.as_ref() {
            text.push(char::from(HEX[usize::from(b >> 4)]));
            text.push(char::from(HEX[usize::from(b & 0xf)]));
        }
        Digest {
            text: text.into(),
            algorithm: self.algorithm,
        }
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// `algorithm ::= component (separator component)*`, `component ::= [a-z0-9]+`,
/// `separator ::= [+._-]`.
fn is_algorithm_grammar(s: &str) -> bool {
    !s.is_empty()
        && s.split(['+', '.', '_', '-']).all(|c| {
            !c.is_empty()
                && c.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

/// `encoded ::= [a-zA-Z0-9=_-]+`.
fn is_encoded_grammar(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'=' | b'_' | b'-'))
}

fn truncate(s: &str) -> String {
    s.chars().take(32).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY_SHA256: &str =
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn computes_known_digests() {
        assert_eq!(
            Digest::compute(Algorithm::Sha256, b"").as_str(),
            EMPTY_SHA256
        );
        let d512 = Digest::compute(Algorithm::Sha512, b"");
        assert!(d512.as_str().starts_with("sha512:cf83e1357eefb8bd"));
        assert_eq!(d512.hex().len(), 128);
    }

    #[test]
    fn parses_and_rejects() {
        let d = Digest::parse(EMPTY_SHA256).unwrap();
        assert_eq!(d.algorithm(), Algorithm::Sha256);
        assert!(d.matches(b""));
        assert!(!d.matches(b"x"));
        let cases: &[(&str, DigestError)] = &[
            ("", DigestError::Malformed),
            ("sha256", DigestError::Malformed),
            ("sha256:", DigestError::Malformed),
            (":abc", DigestError::Malformed),
            (
                "sha256:baddigeststring",
                DigestError::BadEncoding {
                    algorithm: Algorithm::Sha256,
                    expected: 64,
                },
            ),
            ("SHA256:abc", DigestError::Malformed),
            (
                "md5:d41d8cd98f00b204e9800998ecf8427e",
                DigestError::UnsupportedAlgorithm("md5".into()),
            ),
            (
                "sha256+b64u:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564",
                DigestError::UnsupportedAlgorithm("sha256+b64u".into()),
            ),
            (
                "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
                DigestError::BadEncoding {
                    algorithm: Algorithm::Sha256,
                    expected: 64,
                },
            ),
            (
                "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85",
                DigestError::BadEncoding {
                    algorithm: Algorithm::Sha256,
                    expected: 64,
                },
            ),
            (
                "sha256:e3b0/44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                DigestError::Malformed,
            ),
        ];
        for (input, want) in cases {
            assert_eq!(Digest::parse(input).unwrap_err(), *want, "input {input:?}");
        }
    }

    #[test]
    fn digester_clone_snapshots_state() {
        let mut a = Digester::new(Algorithm::Sha256);
        a.update(b"hello ");
        let snapshot = a.clone();
        a.update(b"world");
        assert_eq!(
            a.finish(),
            Digest::compute(Algorithm::Sha256, b"hello world")
        );
        assert_eq!(
            snapshot.finish(),
            Digest::compute(Algorithm::Sha256, b"hello ")
        );
    }
}
