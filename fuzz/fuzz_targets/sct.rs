//! Fuzzes `sct::parse_sct_list`, the reader of the TLS-encoded SignedCertificateTimestampList a
//! certificate's signer chooses. It never panics; an accepted list is non-empty and encodes back
//! to exactly its input (the encoding has one spelling, so the parser must consume every byte
//! and keep every field); the scheme an SCT names is the one its two algorithm bytes name; and
//! the data a log signs for it has RFC 6962's layout. Seeds (fuzz/seeds/sct): the SCT lists of
//! conformance leaf certificates (one with a static-CT extension) and a list of two.
#![no_main]

use libfuzzer_sys::fuzz_target;
use verify::keys::{HashAlg, Scheme};
use verify::sct::{self, Sct};

fuzz_target!(|data: &[u8]| {
    let scts = match sct::parse_sct_list(data) {
        Ok(scts) => scts,
        Err(e) => return drop(e.to_string()),
    };
    assert!(!scts.is_empty());
    assert_eq!(encode(&scts), data);
    for s in &scts {
        check_scheme(s);
        check_signed_data(s, data);
    }
});

/// The TLS encoding: a 16-bit-length list of 16-bit-length v1 SCTs.
fn encode(scts: &[Sct]) -> Vec<u8> {
    let mut list = Vec::new();
    for s in scts {
        let mut one = vec![0u8]; // v1
        one.extend_from_slice(&s.log_id);
        one.extend_from_slice(&s.timestamp_ms.to_be_bytes());
        one.extend_from_slice(&u16_len(&s.extensions));
        one.extend_from_slice(&s.extensions);
        one.push(s.hash_algorithm);
        one.push(s.signature_algorithm);
        one.extend_from_slice(&u16_len(&s.signature));
        one.extend_from_slice(&s.signature);
        list.extend_from_slice(&u16_len(&one));
        list.extend_from_slice(&one);
    }
    let mut out = u16_len(&list).to_vec();
    out.extend_from_slice(&list);
    out
}

fn u16_len(b: &[u8]) -> [u8; 2] {
    u16::try_from(b.len())
        .expect("parsed from a 16-bit length")
        .to_be_bytes()
}

/// TLS HashAlgorithm 4-6 with RSA (1) or ECDSA (3), or intrinsic (8) with Ed25519 (7).
fn check_scheme(s: &Sct) {
    let hash = match s.hash_algorithm {
        4 => Some(HashAlg::Sha256),
        5 => Some(HashAlg::Sha384),
        6 => Some(HashAlg::Sha512),
        _ => None,
    };
    let want = match (hash, s.hash_algorithm, s.signature_algorithm) {
        (Some(h), _, 1) => Some(Scheme::RsaPkcs1(h)),
        (Some(h), _, 3) => Some(Scheme::Ecdsa(h)),
        (None, 8, 7) => Some(Scheme::Ed25519),
        _ => None,
    };
    assert_eq!(s.scheme(), want, "{s:?}");
}

/// RFC 6962 3.2: version, signature type, timestamp, entry type 1, issuer key hash, the
/// precertificate TBS with a 24-bit length, the extensions with a 16-bit length.
fn check_signed_data(s: &Sct, tbs: &[u8]) {
    let tbs = &tbs[..tbs.len().min(0xff_ffff)];
    let issuer = [0xa5u8; 32];
    let d = s.precert_signed_data(&issuer, tbs);
    assert_eq!(d.len(), 2 + 8 + 2 + 32 + 3 + tbs.len() + 2 + s.extensions.len());
    assert_eq!(d[..2], [0, 0]);
    assert_eq!(d[2..10], s.timestamp_ms.to_be_bytes());
    assert_eq!(d[10..12], [0, 1]);
    assert_eq!(d[12..44], issuer);
    assert_eq!(d[44..47], (tbs.len() as u32).to_be_bytes()[1..]);
    let rest = &d[47..];
    assert_eq!(&rest[..tbs.len()], tbs);
    assert_eq!(rest[tbs.len()..tbs.len() + 2], u16_len(&s.extensions));
    assert_eq!(&rest[tbs.len() + 2..], &s.extensions[..]);
}
