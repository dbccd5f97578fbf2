//! Where a byte offset of a TOML file is, for error messages that name the
//! file, line, column and dotted key: scenario, suite and claims files
//! (`scenario/`) and target manifests (`target/`) all locate errors here.

/// A position in a TOML text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Position {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// The dotted key defined there (`[table]` header joined with the key
    /// before `=`; for a value on a later line of a multi-line array, the
    /// key that opened it), or the table header when the line is one.
    pub key: Option<String>,
}

/// The position of byte `offset` in `text` (clamped to the text).
pub fn locate(text: &str, offset: usize) -> Position {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = text[line_start..offset].chars().count() + 1;
    let line_end = text[offset..].find('\n').map_or(text.len(), |i| offset + i);
    if let Some(h) = header(&text[line_start..line_end]) {
        return Position {
            line,
            column,
            key: Some(h),
        };
    }
    // The key on this line or, inside a multi-line array, the nearest line
    // above that has one (not past a table header).
    let mut key = None;
    for l in text[..line_end].lines().rev() {
        if header(l).is_some() {
            break;
        }
        if let Some(k) = key_of(l) {
            key = Some(k);
            break;
        }
    }
    let table = text[..line_start]
        .lines()
        .rev()
        .find_map(header)
        .filter(|t| !t.is_empty());
    let key = match (table, key) {
        (Some(t), Some(k)) => Some(format!("{t}.{k}")),
        (None, Some(k)) => Some(k),
        (Some(t), None) => Some(t),
        (None, None) => None,
    };
    Position { line, column, key }
}

/// The name in a `[table]` or `[[array]]` header line (nothing but a comment
/// after it), or None for any other line.
fn header(line: &str) -> Option<String> {
    let l = line.trim();
    let (inner, rest) = if let Some(r) = l.strip_prefix("[[") {
        r.split_once("]]")?
    } else {
        l.strip_prefix('[')?.split_once(']')?
    };
    let rest = rest.trim();
    (rest.is_empty() || rest.starts_with('#')).then(|| inner.trim().to_string())
}

/// The key a `key = value` line defines: bare, dotted or quoted; None for a
/// line of values (`"A=B",` in an array is not a key).
fn key_of(line: &str) -> Option<String> {
    let (k, _) = line.trim().split_once('=')?;
    let k = k.trim();
    if k.is_empty() || k.starts_with('#') || k.contains(['[', '{', ',']) {
        return None;
    }
    if k.contains('"') {
        let inner = k.strip_prefix('"')?.strip_suffix('"')?;
        return (!inner.contains('"')).then(|| inner.to_string());
    }
    Some(k.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str, needle: &str, plus: usize) -> (usize, usize, Option<String>) {
        let p = locate(text, text.find(needle).unwrap() + plus);
        (p.line, p.column, p.key)
    }

    #[test]
    fn lines_columns_and_dotted_keys() {
        let text = "name = \"x\"\n\n[load]\nmodel = \"closed\"\nconcurrency = [1]\n\n[[request]]\npath = \"/\"\n";
        assert_eq!(at(text, "name", 0), (1, 1, Some("name".into())));
        assert_eq!(
            at(text, "concurrency", 0),
            (5, 1, Some("load.concurrency".into()))
        );
        assert_eq!(at(text, "[1]", 1), (5, 16, Some("load.concurrency".into())));
        assert_eq!(at(text, "[[request]]", 0), (7, 1, Some("request".into())));
        assert_eq!(at(text, "path", 0), (8, 1, Some("request.path".into())));
    }

    #[test]
    fn multi_line_arrays_quoted_keys_and_values_with_equals() {
        let text = "[start]\n# a comment\nenv = [\n  \"A=B\",\n  [1, 2],\n  3,\n]\n\"odd key\" = 1\n[x] # note\ny = 2\n";
        assert_eq!(at(text, "\"A=B\"", 0).2, Some("start.env".into()));
        assert_eq!(at(text, "[1, 2]", 0).2, Some("start.env".into()));
        assert_eq!(at(text, "3,", 0), (6, 3, Some("start.env".into())));
        assert_eq!(at(text, "\"odd key\"", 0).2, Some("start.odd key".into()));
        assert_eq!(at(text, "[x]", 0).2, Some("x".into()));
        assert_eq!(at(text, "y = 2", 4).2, Some("x.y".into()));
    }

    #[test]
    fn offsets_past_the_end_or_inside_a_character_are_clamped() {
        let text = "é = 1\n";
        assert_eq!(locate(text, 1).line, 1);
        assert_eq!(locate(text, 1000).line, 2);
        assert_eq!(
            locate("", 5),
            Position {
                line: 1,
                column: 1,
                key: None
            }
        );
    }
}
