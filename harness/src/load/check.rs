//! Response validation: does a body prove the work was done?

use super::plan::BodyCheck;

/// Whether `body` satisfies `check`. Cheap for [`BodyCheck::Any`].
pub fn body_ok(check: &BodyCheck, body: &[u8]) -> bool {
    match check {
        BodyCheck::Any => true,
        BodyCheck::Equals(want) => body == want.as_ref(),
        BodyCheck::Contains(needle) => memfind(body, needle.as_bytes()),
        BodyCheck::JsonField { pointer, value } => std::str::from_utf8(body)
            .ok()
            .and_then(|text| json_at(text, pointer))
            .is_some_and(|found| json_eq(&found, value)),
        BodyCheck::SseEvents(n) => sse_events(body) == Some(*n),
    }
}

/// The value at JSON `pointer` (RFC 6901) in `json`, or None when the
/// document is not valid JSON or has nothing there. Only the path to the
/// value is built: every other member is scanned (and so validated) as raw
/// text without allocating, which is what keeps checking a 10 KB echo cheap
/// for the generator (a full `Value` allocates every record).
fn json_at(json: &str, pointer: &str) -> Option<serde_json::Value> {
    use serde_json::value::RawValue;
    let Some(rest) = pointer.strip_prefix('/') else {
        return if pointer.is_empty() {
            serde_json::from_str(json).ok()
        } else {
            None
        };
    };
    let (token, tail) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let token = token.replace("~1", "/").replace("~0", "~");
    let inner: &RawValue = match json.trim_start().as_bytes().first()? {
        b'{' => {
            let members: Vec<(String, &RawValue)> = serde_json::from_str::<RawObject>(json).ok()?.0;
            // The last of duplicate keys wins, as in a full parse.
            members.into_iter().rev().find(|(k, _)| *k == token)?.1
        }
        b'[' => {
            let items: Vec<&RawValue> = serde_json::from_str(json).ok()?;
            if token.starts_with('+') || (token.len() > 1 && token.starts_with('0')) {
                return None;
            }
            items.get(token.parse::<usize>().ok()?)?
        }
        _ => {
            // A scalar has no members; still reject a document that is not JSON.
            serde_json::from_str::<&RawValue>(json).ok()?;
            return None;
        }
    };
    json_at(inner.get(), tail)
}

/// A JSON object as its members in order, each value kept as raw text.
struct RawObject<'a>(Vec<(String, &'a serde_json::value::RawValue)>);

impl<'de: 'a, 'a> serde::Deserialize<'de> for RawObject<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Members<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for Members<'a> {
            type Value = RawObject<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<M: serde::de::MapAccess<'de>>(
                self,
                mut m: M,
            ) -> Result<Self::Value, M::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) =
                    m.next_entry::<String, &'de serde_json::value::RawValue>()?
                {
                    out.push((k, v));
                }
                Ok(RawObject(out))
            }
        }
        d.deserialize_map(Members(std::marker::PhantomData))
    }
}

fn memfind(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

/// Numbers compare by value (1 == 1.0), everything else structurally.
fn json_eq(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

/// Counts `data:` events in an SSE body, checking they are numbered 0..n in order.
/// Returns None when an event is out of order.
fn sse_events(body: &[u8]) -> Option<usize> {
    let text = std::str::from_utf8(body).ok()?;
    let mut n = 0usize;
    for line in text.lines() {
        if let Some(data) = line.strip_prefix("data:") {
            let data = data.trim();
            if data.parse::<usize>().ok()? != n {
                return None;
            }
            n += 1;
        }
    }
    Some(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use serde_json::json;

    #[test]
    fn checks() {
        assert!(body_ok(&BodyCheck::Any, b""));
        assert!(body_ok(
            &BodyCheck::Equals(Bytes::from_static(b"Hello")),
            b"Hello"
        ));
        assert!(!body_ok(
            &BodyCheck::Equals(Bytes::from_static(b"Hello")),
            b"Hell"
        ));
        assert!(body_ok(&BodyCheck::Contains("ell".into()), b"Hello"));
        let fib = BodyCheck::JsonField {
            pointer: "/value".into(),
            value: json!(196418),
        };
        assert!(body_ok(&fib, br#"{"n":27,"value":196418}"#));
        assert!(body_ok(&fib, br#"{"n":27,"value":196418.0}"#));
        assert!(!body_ok(&fib, br#"{"n":27,"value":196417}"#));
        assert!(!body_ok(&fib, b"not json"));
        assert!(!body_ok(&fib, br#"{"n":27,"value":196418"#), "truncated");
        assert!(
            !body_ok(&fib, br#"{"n":27,"x":[1,],"value":196418}"#),
            "invalid elsewhere"
        );
        assert!(body_ok(
            &BodyCheck::SseEvents(3),
            b"data: 0\n\ndata: 1\n\ndata: 2\n\n"
        ));
        assert!(!body_ok(
            &BodyCheck::SseEvents(3),
            b"data: 0\n\ndata: 2\n\n"
        ));
        assert!(!body_ok(
            &BodyCheck::SseEvents(3),
            b"data: 0\n\ndata: 2\n\ndata: 1\n\n"
        ));
    }

    /// Every path of a document (and some that are not there) reads the
    /// same through `json_at` as through a full parse and `Value::pointer`.
    fn agrees_with_a_full_parse(doc: &serde_json::Value) {
        fn paths(v: &serde_json::Value, at: String, out: &mut Vec<String>) {
            out.push(at.clone());
            out.push(format!("{at}/missing"));
            match v {
                serde_json::Value::Object(m) => {
                    for (k, x) in m {
                        let k = k.replace('~', "~0").replace('/', "~1");
                        paths(x, format!("{at}/{k}"), out);
                    }
                }
                serde_json::Value::Array(a) => {
                    out.push(format!("{at}/{}", a.len()));
                    out.push(format!("{at}/01"));
                    for (i, x) in a.iter().enumerate() {
                        paths(x, format!("{at}/{i}"), out);
                    }
                }
                _ => {}
            }
        }
        let mut ps = Vec::new();
        paths(doc, String::new(), &mut ps);
        for text in [doc.to_string(), serde_json::to_string_pretty(doc).unwrap()] {
            for p in &ps {
                assert_eq!(json_at(&text, p).as_ref(), doc.pointer(p), "{p} in {text}");
            }
        }
    }

    #[test]
    fn json_pointers_agree_with_a_full_parse() {
        agrees_with_a_full_parse(&json!({
            "count": 134,
            "records": [{"id": 1, "tags": ["a", "b"]}, {"id": 2, "nested": {"x/y": 1, "m~n": [null, true]}}],
            "": {"empty key": 0.5},
            "unicode \u{e9}": "\"quoted\" \\ text"
        }));
        agrees_with_a_full_parse(&json!([1, [2, [3, {"a": []}]], {}]));
        agrees_with_a_full_parse(&json!(42));
    }

    proptest::proptest! {
        #[test]
        fn json_pointers_agree_on_random_documents(doc in arb_json()) {
            agrees_with_a_full_parse(&doc);
        }
    }

    fn arb_json() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            "[a-z~/ ]{0,4}".prop_map(serde_json::Value::from),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
                proptest::collection::btree_map("[a-z~/]{0,3}", inner, 0..4)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }
}
