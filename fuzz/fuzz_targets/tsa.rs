//! Fuzzes `tsa::parse`, the reader of RFC 3161 timestamps (a TimeStampResp or a bare
//! TimeStampToken) that bundles carry. It never panics, and neither do error messages or
//! checking a token's signature with any certificate it embeds. Parsing is a function of the
//! input; the two spellings agree: a response's token parses alone to the same token, and a token
//! wrapped in a response with status granted (0) or grantedWithMods (1) parses to the same token
//! while any other status is refused as not granted; no strict prefix of an accepted input is
//! accepted; embedded certificates are single DER SEQUENCEs; the time prints as RFC 3339 and
//! reads back equal. And what is signed is what is read: a token that verifies under the real
//! conformance TSA's certificate (read at startup from ../shared/fixtures/signing) has the time
//! and message imprint of one of the real tokens it signed. Seeds (fuzz/seeds/tsa): the
//! timestamps of Rekor v2 conformance bundles, with and without an embedded certificate, and
//! one bare token.
#![no_main]

use std::path::PathBuf;
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use verify::bundle::Bundle;
use verify::der::{self, Reader, tag};
use verify::keys::PublicKey;
use verify::time::Timestamp;
use verify::trust_root::TrustedRoot;
use verify::tsa::{self, Token, TsaError};
use verify::x509::Certificate;

const CASES: &str = "sigstore-conformance/bundle-verify";

/// The conformance TSA's signing certificates (DER and key), and the real tokens they signed.
struct Known {
    signers: Vec<(Vec<u8>, PublicKey)>,
    tokens: Vec<Token>,
}

fn shared(path: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/fixtures/signing")
        .join(path);
    std::fs::read(&p).unwrap_or_else(|e| panic!("fuzz tsa needs {}: {e}", p.display()))
}

static KNOWN: LazyLock<Known> = LazyLock::new(|| {
    let root = TrustedRoot::from_json(&shared(&format!(
        "{CASES}/rekor2-happy-path/trusted_root.json"
    )))
    .expect("the Rekor v2 conformance trusted root parses");
    let mut candidates: Vec<Vec<u8>> = root
        .timestamp_authorities
        .iter()
        .filter_map(|a| a.chain.first().cloned())
        .collect();
    let mut tokens = Vec::new();
    for case in [
        "rekor2-happy-path",
        "rekor2-timestamp-with-embedded-cert",
        "rekor2-timestamp-without-embedded-cert",
    ] {
        let bundle = Bundle::from_json(&shared(&format!("{CASES}/{case}/bundle.sigstore.json")))
            .unwrap_or_else(|e| panic!("{case}: {e}"));
        for der in &bundle.rfc3161_timestamps {
            let token = tsa::parse(der).unwrap_or_else(|e| panic!("{case}: {e}"));
            candidates.extend(token.certificates.iter().cloned());
            tokens.push(token);
        }
    }
    let mut signers: Vec<(Vec<u8>, PublicKey)> = Vec::new();
    for der in candidates {
        let Ok(cert) = Certificate::from_der(&der) else {
            continue;
        };
        let key = cert.public_key().clone();
        if tokens.iter().any(|t| t.verify_signed_by(&der, &key).is_ok())
            && !signers.iter().any(|(d, _)| *d == der)
        {
            signers.push((der, key));
        }
    }
    for t in &tokens {
        assert!(
            signers
                .iter()
                .any(|(d, k)| t.verify_signed_by(d, k).is_ok()),
            "a real token that no known certificate verifies"
        );
    }
    Known { signers, tokens }
});

fuzz_target!(|data: &[u8]| {
    let known = &*KNOWN;
    check_spellings(data);
    let token = match tsa::parse(data) {
        Ok(t) => t,
        Err(e) => return drop(e.to_string()),
    };
    let again = tsa::parse(data).expect("accepted once, accepted again");
    assert_eq!(format!("{again:?}"), format!("{token:?}"));
    assert!(tsa::parse(&data[..data.len() - 1]).is_err());

    let time = token.gen_time.to_rfc3339();
    assert_eq!(Timestamp::parse_rfc3339(&time), Ok(token.gen_time), "{time}");

    for der in &token.certificates {
        der::parse_single(der, tag::SEQUENCE).expect("an embedded certificate is one SEQUENCE");
        if let Ok(cert) = Certificate::from_der(der) {
            let _ = token.verify_signed_by(der, cert.public_key());
        }
    }
    for (der, key) in &known.signers {
        if token.verify_signed_by(der, key).is_ok() {
            assert!(
                known.tokens.iter().any(|t| t.gen_time == token.gen_time
                    && t.imprint_alg == token.imprint_alg
                    && t.imprint == token.imprint),
                "a token verifies with a time or imprint the TSA never signed: {token:?}"
            );
        }
    }
});

/// A TimeStampResp and the TimeStampToken inside it parse to the same token.
fn check_spellings(data: &[u8]) {
    // As a token inside a response.
    let wrapped = tsa::parse(&response(0, data));
    if let Ok(w) = &wrapped {
        let bare = tsa::parse(data).expect("a token accepted inside a response is accepted alone");
        assert_eq!(format!("{w:?}"), format!("{bare:?}"));
        let mods = tsa::parse(&response(1, data)).expect("grantedWithMods is granted");
        assert_eq!(format!("{mods:?}"), format!("{bare:?}"));
        for status in [2, 5, 300] {
            assert!(matches!(
                tsa::parse(&response(status, data)),
                Err(TsaError::NotGranted(s)) if s == status
            ));
        }
    }
    // As a response: its token alone.
    let Ok(outer) = der::parse_single(data, tag::SEQUENCE) else {
        return;
    };
    let mut r = Reader::new(outer.value);
    if r.peek_tag() != Some(tag::SEQUENCE) {
        // A bare token: the response built around it was checked above.
        if let Ok(bare) = tsa::parse(data) {
            let w = wrapped.expect("a token accepted alone is accepted inside a response");
            assert_eq!(format!("{w:?}"), format!("{bare:?}"));
        }
        return;
    }
    let Ok(resp) = tsa::parse(data) else { return };
    let _status = r.read_any().expect("the parser read a status");
    let token = r.read_any().expect("the parser read a token");
    let alone = tsa::parse(token.raw).expect("a response's token parses alone");
    assert_eq!(format!("{alone:?}"), format!("{resp:?}"));
}

/// `TimeStampResp ::= SEQUENCE { status PKIStatusInfo, timeStampToken }`, DER.
fn response(status: u64, token: &[u8]) -> Vec<u8> {
    let mut n = status.to_be_bytes().to_vec();
    while n.len() > 1 && n[0] == 0 && n[1] & 0x80 == 0 {
        n.remove(0);
    }
    if n[0] & 0x80 != 0 {
        n.insert(0, 0);
    }
    let status_info = tlv(tag::SEQUENCE, &tlv(tag::INTEGER, &n));
    tlv(tag::SEQUENCE, &[status_info, token.to_vec()].concat())
}

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}
