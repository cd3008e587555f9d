//! One canonical JSON form for everything that is hashed: the local ledger's records and the
//! service's request rows. A hash over JSON must not depend on how a map happens to order
//! its members.

use serde_json::{Map, Value};

/// JSON with every object's members sorted by key (byte order of their UTF-8), no
/// whitespace, strings and numbers as `serde_json` writes them. The sort is done here, not
/// left to `serde_json`'s map type: with its `preserve_order` feature (which any crate in
/// the build can switch on) a map keeps insertion order, and a hash over that would change
/// with the order fields were written in.
pub fn canonical_json(value: &Value) -> String {
    let mut out = Vec::new();
    write_canonical(value, &mut out);
    into_string(out)
}

/// [`canonical_json`] of an object, without building a `Value` around it.
pub fn canonical_object(map: &Map<String, Value>) -> String {
    let mut out = Vec::with_capacity(512);
    write_object(map, &mut out);
    into_string(out)
}

/// Everything written is serde_json's output and ASCII punctuation: valid UTF-8.
fn into_string(out: Vec<u8>) -> String {
    String::from_utf8_lossy(&out).into_owned()
}

fn write_object(map: &Map<String, Value>, out: &mut Vec<u8>) {
    let mut members: Vec<(&String, &Value)> = map.iter().collect();
    members.sort_unstable_by(|a, b| a.0.cmp(b.0));
    out.push(b'{');
    for (i, (key, value)) in members.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_scalar(key.as_str(), out);
        out.push(b':');
        write_canonical(value, out);
    }
    out.push(b'}');
}

/// A string, number, bool or null as serde_json writes it. Writing these into memory
/// cannot fail (only maps with non-string keys can, and a `Value` has none).
fn write_scalar<T: serde::Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) {
    let _ = serde_json::to_writer(&mut *out, value);
}

fn write_canonical(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Object(map) => write_object(map, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out);
            }
            out.push(b']');
        }
        scalar => write_scalar(scalar, out),
    }
}
