//! Fuzzes `Digest::parse` and hashing: a parsed digest keeps its exact text, its hex part has
//! the algorithm's length, errors describe the input truthfully, and the digest computed over
//! arbitrary bytes (at once or in two pieces) parses back equal and matches those bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oci::{Algorithm, Digest, DigestError, Digester};

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        check_parse(s);
    }
    check_compute(data);
});

fn check_parse(s: &str) {
    let digest = match Digest::parse(s) {
        Ok(digest) => digest,
        Err(DigestError::BadEncoding {
            algorithm,
            expected,
        }) => {
            assert_eq!(expected, algorithm.hex_len());
            assert!(s.starts_with(&format!("{algorithm}:")), "{s:?}");
            return;
        }
        Err(DigestError::UnsupportedAlgorithm(alg)) => {
            // The name before the colon, echoed back truncated to 32 characters; never one
            // the registry supports.
            let (name, _) = s
                .split_once(':')
                .expect("only `algorithm:encoded` gets this far");
            assert!(
                alg == name || (alg.chars().count() == 32 && name.starts_with(&alg)),
                "{s:?} {alg:?}"
            );
            assert!(alg != "sha256" && alg != "sha512", "{s:?}");
            return;
        }
        Err(_) => return,
    };
    assert_eq!(digest.as_str(), s);
    assert_eq!(digest.to_string(), s);
    let algorithm = digest.algorithm();
    assert_eq!(digest.hex().len(), algorithm.hex_len());
    assert!(
        digest
            .hex()
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "{s:?}"
    );
    assert_eq!(format!("{algorithm}:{}", digest.hex()), s);
    assert_eq!(Algorithm::parse(algorithm.as_str()), Ok(algorithm));
    assert_eq!(Digest::parse(digest.as_str()).as_ref(), Ok(&digest));
    assert_eq!(s.parse::<Digest>().as_ref(), Ok(&digest));
    // The JSON form is the plain string, and reads back through the same parser.
    let json = serde_json::to_string(&digest).expect("a digest serializes as a string");
    assert_eq!(json, format!("\"{s}\""));
    assert_eq!(
        serde_json::from_str::<Digest>(&json).expect("its own JSON parses"),
        digest
    );
}

fn check_compute(data: &[u8]) {
    // The first byte picks the algorithm and where to split the input for incremental hashing.
    let Some((&first, _)) = data.split_first() else {
        return;
    };
    let algorithm = if first & 1 == 0 {
        Algorithm::Sha256
    } else {
        Algorithm::Sha512
    };
    let digest = Digest::compute(algorithm, data);
    assert_eq!(digest.algorithm(), algorithm);
    assert_eq!(digest.hex().len(), algorithm.hex_len());
    assert_eq!(Digest::parse(digest.as_str()).as_ref(), Ok(&digest));
    assert!(digest.matches(data));

    let split = usize::from(first >> 1).min(data.len());
    let mut digester = Digester::new(algorithm);
    digester.update(&data[..split]);
    let snapshot = digester.clone();
    digester.update(&data[split..]);
    assert_eq!(digester.finish(), digest);
    assert_eq!(
        snapshot.finish(),
        Digest::compute(algorithm, &data[..split])
    );
}
