//! Response validation: does a body prove the work was done?

use super::plan::BodyCheck;

/// Whether `body` satisfies `check`. Cheap for [`BodyCheck::Any`].
pub fn body_ok(check: &BodyCheck, body: &[u8]) -> bool {
    match check {
        BodyCheck::Any => true,
        BodyCheck::Equals(want) => body == want.as_ref(),
        BodyCheck::Contains(needle) => memfind(body, needle.as_bytes()),
        BodyCheck::JsonField { pointer, value } => {
            serde_json::from_slice::<serde_json::Value>(body)
                .ok()
                .and_then(|v| v.pointer(pointer).map(|found| json_eq(found, value)))
                .unwrap_or(false)
        }
        BodyCheck::SseEvents(n) => sse_events(body) == Some(*n),
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
}
