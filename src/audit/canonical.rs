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
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

/// [`canonical_json`] of an object, without building a `Value` around it.
pub fn canonical_object(map: &Map<String, Value>) -> String {
    let mut out = String::new();
    write_object(map, &mut out);
    out
}

fn write_object(map: &Map<String, Value>, out: &mut String) {
    let mut members: Vec<(&String, &Value)> = map.iter().collect();
    members.sort_by(|a, b| a.0.cmp(b.0));
    out.push('{');
    for (i, (key, value)) in members.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_scalar(&Value::String(key.clone()), out);
        out.push(':');
        write_canonical(value, out);
    }
    out.push('}');
}

/// A string, number, bool or null as serde_json writes it. Serialising these cannot fail
/// (only maps with non-string keys can, and a `Value` has none).
fn write_scalar(value: &Value, out: &mut String) {
    if let Ok(text) = serde_json::to_string(value) {
        out.push_str(&text);
    }
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => write_object(map, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => write_scalar(scalar, out),
    }
}
