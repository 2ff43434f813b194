//! PEM armor (RFC 7468): parsing one or many blocks, and writing them.

use base64::Engine as _;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PemError {
    #[error("no PEM block found")]
    NoBlock,
    #[error("PEM block {0:?} has no END line")]
    Unterminated(String),
    #[error("PEM END line {found:?} does not match BEGIN {begun:?}")]
    Mismatched { begun: String, found: String },
    #[error("PEM block {0:?} is not valid base64")]
    Base64(String),
    #[error("expected a PEM {expected} block, found {found}")]
    UnexpectedLabel { expected: String, found: String },
}

/// One decoded block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    pub label: String,
    /// Header lines (`Key: value`) some formats carry before the data; rare.
    pub headers: Vec<(String, String)>,
    pub data: Vec<u8>,
}

/// Every block in `text`, in order. Text outside blocks is ignored, as RFC 7468 allows.
pub fn parse_all(text: &str) -> Result<Vec<Block>, PemError> {
    let mut blocks = Vec::new();
    let mut lines = text.lines().map(str::trim);
    while let Some(line) = lines.next() {
        let Some(label) = line
            .strip_prefix("-----BEGIN ")
            .and_then(|l| l.strip_suffix("-----"))
        else {
            continue;
        };
        let mut headers = Vec::new();
        let mut b64 = String::new();
        let mut ended = false;
        for line in lines.by_ref() {
            if let Some(end) = line
                .strip_prefix("-----END ")
                .and_then(|l| l.strip_suffix("-----"))
            {
                if end != label {
                    return Err(PemError::Mismatched {
                        begun: label.to_owned(),
                        found: end.to_owned(),
                    });
                }
                ended = true;
                break;
            }
            if b64.is_empty()
                && let Some((k, v)) = line.split_once(": ")
            {
                headers.push((k.to_owned(), v.to_owned()));
                continue;
            }
            b64.push_str(line);
        }
        if !ended {
            return Err(PemError::Unterminated(label.to_owned()));
        }
        let data = base64::engine::general_purpose::STANDARD
            .decode(b64.as_bytes())
            .map_err(|_| PemError::Base64(label.to_owned()))?;
        blocks.push(Block {
            label: label.to_owned(),
            headers,
            data,
        });
    }
    if blocks.is_empty() {
        return Err(PemError::NoBlock);
    }
    Ok(blocks)
}

/// The first block, whatever its label.
pub fn parse(text: &str) -> Result<Block, PemError> {
    parse_all(text).map(|mut b| b.swap_remove(0))
}

/// The first block, which must carry `label`.
pub fn parse_labelled(text: &str, label: &str) -> Result<Vec<u8>, PemError> {
    let block = parse(text)?;
    if block.label != label {
        return Err(PemError::UnexpectedLabel {
            expected: label.to_owned(),
            found: block.label,
        });
    }
    Ok(block.data)
}

/// Encodes `data` as a PEM block with 64-character lines.
pub fn encode(label: &str, data: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(data);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        // base64 output is ASCII, so every chunk is valid UTF-8.
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_many_blocks() {
        let a = encode("CERTIFICATE", &[1, 2, 3]);
        let b = encode("PUBLIC KEY", &[9u8; 100]);
        let text = format!("junk before\n{a}between\n{b}");
        let blocks = parse_all(&text).unwrap();
        assert_eq!(blocks.len(), 2);
        assert_eq!(blocks[0].data, [1, 2, 3]);
        assert_eq!(blocks[1].label, "PUBLIC KEY");
        assert_eq!(blocks[1].data.len(), 100);
        assert_eq!(parse_labelled(&a, "CERTIFICATE").unwrap(), [1, 2, 3]);
        assert!(matches!(
            parse_labelled(&a, "PUBLIC KEY"),
            Err(PemError::UnexpectedLabel { .. })
        ));
    }

    #[test]
    fn rejects_broken_armor() {
        assert_eq!(parse("nothing here"), Err(PemError::NoBlock));
        assert!(matches!(
            parse("-----BEGIN X-----\nAAAA\n"),
            Err(PemError::Unterminated(_))
        ));
        assert!(matches!(
            parse("-----BEGIN X-----\nAAAA\n-----END Y-----\n"),
            Err(PemError::Mismatched { .. })
        ));
        assert!(matches!(
            parse("-----BEGIN X-----\n!!!!\n-----END X-----\n"),
            Err(PemError::Base64(_))
        ));
    }

    #[test]
    fn headers_are_kept_apart_from_data() {
        let text = "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n\nAQID\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n";
        let block = parse(text).unwrap();
        assert_eq!(
            block.headers,
            vec![("Proc-Type".to_owned(), "4,ENCRYPTED".to_owned())]
        );
        assert_eq!(block.data, [1, 2, 3]);
    }
}
