//! Fuzzes the ledger's readers of submitted and stored bytes: `Entry::parse` never panics, a
//! parsed entry's bytes are exactly the input (which begins with its event's canonical JSON),
//! and its event, signed again, encodes to that same event JSON and parses back equal; the
//! stateless gate (`Authorities::check`) and the rules (`State::apply` on a small state that
//! already holds a pushed artifact, a policy and a revoked key) take any parsed entry without
//! panicking: an accepted entry gets the next index and the same bytes again are its duplicate,
//! a rejected one changes nothing and is rejected the same way twice; and
//! `store::decode_checkpoint_file` gives back exactly what `encode_checkpoint_file` wrote.
#![no_main]

use std::sync::LazyLock;

use ledger::state::{Applied, Authorities, State, Submitter};
use ledger::store::{decode_checkpoint_file, encode_checkpoint_file};
use ledger::{Entry, Event, EventType};
use libfuzzer_sys::fuzz_target;
use verify::keys::PrivateKey;
use verify::merkle;
use verify::time::Timestamp;

/// The keys the seeds are signed with (fixed seeds, so the seeds pass the gate): the node may
/// record every event type, CI only `build.recorded`; the revoked key is revoked by the state.
struct World {
    node: PrivateKey,
    authorities: Authorities,
    /// The entries the state holds before each input.
    history: Vec<Entry>,
}

/// An Ed25519 PKCS#8 v1 private key with the given 32-byte seed.
fn ed25519(seed: u8) -> PrivateKey {
    let mut der = vec![
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    der.extend_from_slice(&[seed; 32]);
    PrivateKey::from_pkcs8_der(&der).expect("a valid Ed25519 PKCS#8 key")
}

fn digest(c: char) -> oci::Digest {
    oci::Digest::parse(&format!("sha256:{}", c.to_string().repeat(64))).expect("a valid digest")
}

static WORLD: LazyLock<World> = LazyLock::new(|| {
    let node = ed25519(0x01);
    let ci = ed25519(0x02);
    let revoked = ed25519(0x03);
    let mut authorities = Authorities::new();
    for (name, key, events) in [
        ("node", &node, EventType::ALL.to_vec()),
        ("ci", &ci, vec![EventType::BuildRecorded]),
        ("revoked", &revoked, EventType::ALL.to_vec()),
    ] {
        authorities.allow(Submitter {
            name: name.into(),
            key: key.public_key().expect("an Ed25519 public key"),
            events: events.into_iter().collect(),
        });
    }
    let event = |kind| Event::new(kind, Timestamp::from_unix(1_790_000_000), "fuzz");
    let mut pushed = event(EventType::ArtifactPushed);
    pushed.subject.repository = Some("app".into());
    pushed.subject.digest = Some(digest('a'));
    let mut signature = pushed.clone();
    signature.subject.digest = Some(digest('5'));
    let mut policy = event(EventType::PolicyUpdated);
    policy.subject.name = Some("default".into());
    policy.subject.digest = Some(digest('f'));
    let mut revoke = event(EventType::KeyRevoked);
    revoke.subject.key = Some(ledger::event::fingerprint(
        &revoked.public_key().expect("an Ed25519 public key"),
    ));
    revoke.details.insert("reason".into(), "leaked".into());
    let history = [pushed, signature, policy, revoke]
        .into_iter()
        .map(|e| Entry::sign(e, &node).expect("the history signs"))
        .collect();
    World {
        node,
        authorities,
        history,
    }
});

impl World {
    fn state(&self) -> State {
        let mut state = State::new();
        for e in &self.history {
            state
                .apply(e, merkle::leaf_hash(e.bytes()))
                .expect("the history is consistent");
        }
        state
    }
}

fuzz_target!(|data: &[u8]| {
    check_entry(data);
    check_checkpoint_file(data);
});

fn check_entry(data: &[u8]) {
    let world = &*WORLD;
    let gate = world.authorities.check(data);
    let Ok(entry) = Entry::parse(data) else {
        assert!(gate.is_err());
        return;
    };
    assert_eq!(entry.bytes(), data);
    // `{"event":<event JSON>,"signature":{..}}`: the signed bytes are the input's own.
    let event_at = br#"{"event":"#.len();
    assert_eq!(&data[..event_at], br#"{"event":"#);
    assert_eq!(
        data.get(event_at..event_at + entry.event_json().len()),
        Some(entry.event_json())
    );
    if let Ok(e) = &gate {
        assert_eq!(e, &entry);
    }
    // The event encodes back to exactly what it was parsed from.
    if let Ok(signed) = Entry::sign(entry.event.clone(), &world.node) {
        assert_eq!(signed.event_json(), entry.event_json());
        let parsed = Entry::parse(signed.bytes()).expect("a signed entry parses");
        assert_eq!(parsed, signed);
        assert_eq!(parsed.event, entry.event);
        world
            .authorities
            .check(signed.bytes())
            .expect("the node may record every event type");
    }

    let mut state = world.state();
    let size = state.size();
    let leaf = merkle::leaf_hash(data);
    match state.apply(&entry, leaf) {
        Ok(Applied::Appended(index)) => {
            assert_eq!(index, size);
            assert_eq!(state.size(), size + 1);
            assert_eq!(state.apply(&entry, leaf), Ok(Applied::Duplicate(index)));
            assert_eq!(state.size(), size + 1);
            for d in entry.event.digests() {
                assert!(state.entries_about(&d.to_string()).contains(&index));
            }
        }
        Ok(Applied::Duplicate(index)) => {
            // Only the history's own bytes.
            assert!(index < size);
            assert_eq!(world.history[index as usize].bytes(), data);
            assert_eq!(state.size(), size);
        }
        Err(rejection) => {
            assert_eq!(state.size(), size);
            assert_eq!(state.apply(&entry, leaf), Err(rejection.clone()));
            // The rules' rejections are conflicts (409) or a revoked key (403), never
            // malformed input: parsing already decided that.
            assert!(
                matches!(rejection.status(), 403 | 409 | 507),
                "{rejection:?}"
            );
        }
    }
}

fn check_checkpoint_file(data: &[u8]) {
    if let Ok(note) = decode_checkpoint_file(data) {
        assert_eq!(encode_checkpoint_file(&note), data);
    }
    assert_eq!(
        decode_checkpoint_file(&encode_checkpoint_file(data)).as_deref(),
        Ok(data)
    );
}
