//! Fuzzes the DSSE envelope and in-toto Statement parsers (and the SLSA checks behind them) with
//! the same input. None may panic; an accepted envelope re-serializes to JSON that parses to
//! the same envelope, and the embedded (serde) reading agrees with `Envelope::parse`; an
//! accepted statement re-serializes to one with the same version, subjects and predicate type;
//! and PAE is injective: two different (type, body) pairs cut from the input never encode the
//! same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use verify::dsse::{self, Envelope};
use verify::intoto::Statement;
use verify::slsa::{self, BuilderId, Expectations, SourceRepo};

fuzz_target!(|data: &[u8]| {
    envelope(data);
    statement(data);
    pae(data);
});

fn envelope(data: &[u8]) {
    let parsed = Envelope::parse(data);
    // The reading used inside Sigstore bundles accepts exactly what `parse` accepts.
    let embedded = serde_json::from_slice::<Envelope>(data);
    match (&parsed, &embedded) {
        (Ok(a), Ok(b)) => assert_eq!(a, b),
        (Err(e), Err(_)) => drop(e.to_string()),
        _ => panic!("parse and deserialize disagree: {parsed:?} vs {embedded:?}"),
    }
    let Ok(envelope) = parsed else { return };
    let json = envelope.to_json();
    let again = Envelope::parse(json.as_bytes()).expect("a written envelope parses");
    assert_eq!(again, envelope);
    assert_eq!(again.to_json(), json, "writing is a function of the envelope");
    assert_eq!(envelope.pae(), dsse::pae(&envelope.payload_type, &envelope.payload));
}

fn statement(data: &[u8]) {
    let statement = match Statement::parse(data) {
        Ok(s) => s,
        Err(e) => return drop(e.to_string()),
    };
    assert!(!statement.subject.is_empty());
    assert!(statement.subject.iter().all(|s| !s.digest.is_empty()));
    let again = Statement::parse(statement.to_json().as_bytes()).expect("a written statement parses");
    assert_eq!(again.version, statement.version);
    assert_eq!(again.subject, statement.subject);
    assert_eq!(again.predicate_type, statement.predicate_type);
    assert_eq!(again.predicate.len(), statement.predicate.len());

    // The provenance checks never panic, whatever the statement; a pass means a subject
    // carries the artifact's digest.
    let Some(sha256) = statement.subject[0].digest.get("sha256") else { return };
    let Ok(digest) = oci::Digest::parse(&format!("sha256:{}", sha256.to_ascii_lowercase())) else {
        return;
    };
    let expect = Expectations {
        digest: digest.clone(),
        builder_id: BuilderId::parse("https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_generic_slsa3.yml").unwrap(),
        source: SourceRepo::parse("github.com/slsa-framework/example-package").unwrap(),
    };
    match slsa::check_provenance(&statement, &expect) {
        Ok(facts) => assert!(statement.subject.iter().any(|s| s.matches(&digest) && s.name == facts.subject_name)),
        Err(reason) => drop(reason.to_string()),
    }
}

/// Two cuts of the input into (type, body): different pairs, different encodings.
fn pae(data: &[u8]) {
    let [a, b, rest @ ..] = data else { return };
    let cut = |at: u8| {
        let at = usize::from(at).min(rest.len());
        (String::from_utf8_lossy(&rest[..at]).into_owned(), &rest[at..])
    };
    let (t1, b1) = cut(*a);
    let (t2, b2) = cut(*b);
    let (p1, p2) = (dsse::pae(&t1, b1), dsse::pae(&t2, b2));
    assert_eq!((t1 == t2 && b1 == b2), p1 == p2, "PAE is not injective");
    // Also against the same bytes as a body with an empty type, and swapped roles.
    let whole = dsse::pae("", rest);
    assert_eq!(t1.is_empty() && b1 == rest, p1 == whole);
    let swapped = dsse::pae(&String::from_utf8_lossy(b1), t1.as_bytes());
    assert_eq!(t1.as_bytes() == b1, p1 == swapped);
}
