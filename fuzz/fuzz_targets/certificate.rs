//! Fuzzes `x509::Certificate::from_der`, the PEM chain reader and the SCT list parser. Parsing
//! never panics; an accepted certificate is exactly its input and re-parses equal, its
//! TBSCertificate and fields are slices of it, what it reports agrees with its extensions, the
//! precertificate TBS rebuilt without the SCT list is one DER SEQUENCE, and checking its
//! signature, its SCTs and a chain through it never panics either. Seeds (fuzz/seeds/certificate):
//! real certificates from ../shared/fixtures/signing (a 2021 Fulcio leaf, the first Fulcio
//! root, the current intermediate, a leaf with an SCT list, sigstore-go's otherName leaf signed
//! with RSA) and an RSA-PSS-signed leaf made by OpenSSL.
#![no_main]

use libfuzzer_sys::fuzz_target;
use verify::der::{self, tag};
use verify::sct::{self, CtLog};
use verify::x509::{self, Certificate, oids};

fuzz_target!(|data: &[u8]| {
    // The bytes inside a certificate's SCT extension are the signer's to choose.
    if let Ok(scts) = sct::parse_sct_list(data) {
        assert!(!scts.is_empty());
        for s in &scts {
            let _ = s.scheme();
        }
    }
    match Certificate::from_der(data) {
        Ok(cert) => check(data, &cert),
        // Error messages reach users; building one must not panic either.
        Err(e) => drop(e.to_string()),
    }
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(certs) = x509::certificates_from_pem(text)
    {
        for cert in &certs {
            assert_eq!(Certificate::from_der(cert.der()).as_ref(), Ok(cert));
        }
    }
});

fn check(data: &[u8], cert: &Certificate) {
    assert_eq!(cert.der(), data);
    let again = Certificate::from_der(cert.der()).expect("accepted once, accepted again");
    assert_eq!(&again, cert);
    assert_eq!(format!("{again:?}"), format!("{cert:?}"));

    // The signed bytes are the input's, and every field lies inside them.
    assert_eq!(&data[cert.tbs_range()], cert.tbs_der());
    der::parse_single(cert.tbs_der(), tag::SEQUENCE).expect("the TBSCertificate is one SEQUENCE");
    for part in [
        cert.issuer_der(),
        cert.subject_der(),
        cert.spki_der(),
        cert.serial(),
    ] {
        assert!(is_within(cert.tbs_der(), part));
    }
    // The outer signature AlgorithmIdentifier follows the TBSCertificate, which holds the same.
    let alg = cert.signature_algorithm_der();
    assert!(is_within(cert.der(), alg) && !is_within(cert.tbs_der(), alg));
    assert!(cert.tbs_der().windows(alg.len()).any(|w| w == alg));
    assert!(is_within(cert.der(), cert.signature()));
    assert_eq!(cert.public_key().spki_der(), cert.spki_der());
    assert!(cert.serial().len() <= 20);
    assert!(matches!(cert.version(), 1..=3));

    // What it reports agrees with its extensions.
    let extensions = cert.extensions();
    if cert.version() < 3 {
        assert!(extensions.is_empty());
    }
    for (i, e) in extensions.iter().enumerate() {
        assert!(extensions[..i].iter().all(|f| f.oid != e.oid), "duplicate {}", e.oid);
    }
    for oid in cert.unhandled_critical_extensions() {
        assert!(extensions.iter().any(|e| &e.oid == oid && e.critical));
    }
    if let Some(bc) = cert.basic_constraints() {
        assert!(bc.ca || bc.path_len.is_none());
        assert!(cert.extension(oids::BASIC_CONSTRAINTS).is_some());
    }
    assert_eq!(cert.key_usage().is_some(), cert.extension(oids::KEY_USAGE).is_some());
    assert_eq!(cert.sct_list().is_some(), cert.extension(oids::SCT_LIST).is_some());
    if let Some(issuer) = cert.oidc_issuer() {
        assert!(!issuer.is_empty());
    }
    for identity in cert.san_identities() {
        assert!(!identity.is_empty());
    }
    match cert.tbs_der_without_extension(oids::SCT_LIST) {
        Some(precert) => {
            der::parse_single(&precert, tag::SEQUENCE).expect("the precertificate TBS is DER");
            assert!(precert.len() < cert.tbs_der().len());
        }
        None => assert!(cert.sct_list().is_none()),
    }
    assert!(!cert.describe().is_empty());

    // Checking never panics: its own signature, its SCTs (with itself as issuer and log), a
    // chain where it is its own trusted root.
    let _ = cert.verify_signed_by(cert.public_key());
    let log = CtLog::new(cert.public_key().clone(), i64::MIN, None);
    match sct::verify_scts(cert, cert.public_key(), &[log]) {
        Ok(report) => assert!(!(report.verified.is_empty() && report.rejected.is_empty())),
        Err(e) => drop(e.to_string()),
    }
    for at in [cert.not_before(), cert.not_after(), i64::MIN, i64::MAX] {
        match x509::verify_chain(cert, &[], std::slice::from_ref(cert), at) {
            Ok(path) => {
                assert_eq!(path, [cert.clone()]);
                assert!(cert.is_valid_at(at) && !cert.is_ca());
            }
            Err(e) => drop(e.to_string()),
        }
    }
    let _ = x509::format_time(cert.not_before());
}

/// Whether `inner` is a subslice of `outer`.
fn is_within(outer: &[u8], inner: &[u8]) -> bool {
    let (o, i) = (outer.as_ptr().addr(), inner.as_ptr().addr());
    i >= o && i + inner.len() <= o + outer.len()
}
