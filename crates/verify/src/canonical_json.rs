//! Canonical JSON: object members sorted by name (bytewise), no whitespace, scalars as
//! serde_json writes them. What the ledger signs and checks entries in, and what a policy's
//! digest is taken over. Encoded into a `Vec`, compared against given bytes, or counted,
//! without building the encoding twice.

use std::io;

use serde_json::{Map, Value};

/// The canonical JSON of `value`.
pub fn encode(value: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(512);
    write_canonical(value, &mut out);
    out
}

/// Whether `bytes` are exactly the canonical JSON of `value`: compared as it is encoded,
/// without building the encoding.
pub fn is_encoding_of(value: &Value, bytes: &[u8]) -> bool {
    let mut compare = Compare {
        expected: bytes,
        at: 0,
        same: true,
    };
    write_canonical(value, &mut compare);
    compare.same && compare.at == bytes.len()
}

/// The length of the canonical JSON of `value`, without building it.
pub fn encoded_len(value: &Value) -> usize {
    let mut count = Count(0);
    write_canonical(value, &mut count);
    count.0
}

fn write_canonical(value: &Value, out: &mut impl io::Write) {
    match value {
        Value::Object(obj) => write_object(obj, out),
        Value::Array(items) => {
            put(out, b"[");
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    put(out, b",");
                }
                write_canonical(v, out);
            }
            put(out, b"]");
        }
        // The sinks below never fail, and a scalar always serializes.
        other => serde_json::to_writer(out, other).expect("a scalar serializes"),
    }
}

fn write_object(obj: &Map<String, Value>, out: &mut impl io::Write) {
    // Sorted here, whatever order the map keeps (serde_json's `preserve_order`); without
    // that feature its keys are already in bytewise order and nothing is collected.
    if obj.keys().is_sorted() {
        write_members(obj.iter(), out);
    } else {
        let mut members: Vec<(&String, &Value)> = obj.iter().collect();
        members.sort_unstable_by(|a, b| a.0.cmp(b.0));
        write_members(members.into_iter(), out);
    }
}

fn write_members<'a>(
    members: impl Iterator<Item = (&'a String, &'a Value)>,
    out: &mut impl io::Write,
) {
    put(out, b"{");
    for (i, (k, v)) in members.enumerate() {
        if i > 0 {
            put(out, b",");
        }
        // The sinks below never fail, and a string always serializes.
        serde_json::to_writer(&mut *out, k).expect("a string serializes");
        put(out, b":");
        write_canonical(v, out);
    }
    put(out, b"}");
}

/// Writes to one of the infallible sinks: a `Vec`, [`Compare`] or [`Count`].
fn put(out: &mut impl io::Write, bytes: &[u8]) {
    out.write_all(bytes).expect("the sinks never fail");
}

/// A sink that compares what is written with `expected`, from its start.
struct Compare<'a> {
    expected: &'a [u8],
    at: usize,
    same: bool,
}

impl io::Write for Compare<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.same {
            let end = self.at + buf.len();
            self.same = self.expected.get(self.at..end) == Some(buf);
            self.at = end;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A sink that counts the bytes written.
struct Count(usize);

impl io::Write for Count {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
