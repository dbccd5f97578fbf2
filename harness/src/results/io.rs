//! Reading and writing results files: atomic writes, version checks, clear errors.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::schema::{ResultsFile, SCHEMA_VERSION};

/// The file name of a run's results inside its directory.
pub const RESULTS_FILE_NAME: &str = "results.json";

/// Why a results file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum ResultsError {
    /// The file or directory could not be read.
    #[error("cannot read results {path}")]
    Read {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not JSON, or is truncated.
    #[error("results file {path} is not valid JSON (truncated or corrupt?)")]
    Corrupt {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: serde_json::Error,
    },
    /// The file has no schema version: not a claimbench results file.
    #[error("{path} is not a claimbench results file (no `schema_version` field)")]
    NotResults {
        /// The path.
        path: PathBuf,
    },
    /// The file was written by another schema version.
    #[error(
        "results file {path} has schema version {found}; this claimbench reads version {expected}. Re-run the measurement with this version, or use the claimbench that wrote it"
    )]
    Version {
        /// The path.
        path: PathBuf,
        /// Version in the file.
        found: u64,
        /// Version this build reads.
        expected: u32,
    },
    /// The JSON is well-formed but does not match the schema.
    #[error("results file {path} does not match schema version {SCHEMA_VERSION}")]
    Schema {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: serde_json::Error,
    },
    /// Writing failed.
    #[error("cannot write results {path}")]
    Write {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// Resolves a path given by the user: a results file, or a run directory
/// holding `results.json` (symlinks such as `results/latest` are followed).
pub fn resolve(path: &Path) -> PathBuf {
    if path.is_dir() {
        path.join(RESULTS_FILE_NAME)
    } else {
        path.to_path_buf()
    }
}

/// Reads a results file (or run directory), checking the schema version first
/// so that an old file fails with a message naming its version.
pub fn read(path: &Path) -> Result<ResultsFile, ResultsError> {
    let path = resolve(path);
    let bytes = fs::read(&path).map_err(|source| ResultsError::Read {
        path: path.clone(),
        source,
    })?;
    parse(&bytes, &path)
}

/// Parses the bytes of a results file; `path` is only used in errors.
pub fn parse(bytes: &[u8], path: &Path) -> Result<ResultsFile, ResultsError> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|source| ResultsError::Corrupt {
            path: path.to_path_buf(),
            source,
        })?;
    let found = value
        .get("schema_version")
        .and_then(|v| v.as_u64())
        .ok_or_else(|| ResultsError::NotResults {
            path: path.to_path_buf(),
        })?;
    if found != u64::from(SCHEMA_VERSION) {
        return Err(ResultsError::Version {
            path: path.to_path_buf(),
            found,
            expected: SCHEMA_VERSION,
        });
    }
    serde_json::from_value(value).map_err(|source| ResultsError::Schema {
        path: path.to_path_buf(),
        source,
    })
}

/// Writes `results` as pretty JSON to `path` atomically: a temporary file in
/// the same directory, fsynced, then renamed over the target. A reader never
/// sees a half-written file.
pub fn write(path: &Path, results: &ResultsFile) -> Result<(), ResultsError> {
    write_atomic(path, &to_json(results))
}

/// `results` as the JSON [`write`] writes: pretty-printed (two-space
/// indent, one member per line), except that an array holding only numbers
/// (or booleans and nulls) stays on one line, so a resource sample
/// `[t_ms, cpu_percent, rss_bytes, threads, processes]` takes one line, not
/// seven, and each measurement takes one line of its own (a diff of two
/// runs reads measurement by measurement; the file is a third smaller).
pub fn to_json(results: &ResultsFile) -> Vec<u8> {
    one_line_per_measurement(&pretty_rows(results).expect("results always serialize"))
}

/// Joins the lines of each element of the top-level `measurements` array of
/// a pretty-printed results file into one line. Pretty JSON never breaks a
/// line inside a string, so dropping each line's indent and newline keeps
/// every value as it was.
fn one_line_per_measurement(pretty: &[u8]) -> Vec<u8> {
    let text = std::str::from_utf8(pretty).expect("serde_json writes UTF-8");
    let mut out = String::with_capacity(text.len());
    let mut inside = false;
    for line in text.split_inclusive('\n') {
        if !inside {
            inside = line == "  \"measurements\": [\n";
            out.push_str(line);
            continue;
        }
        if line.starts_with("  ]") {
            inside = false;
            out.push_str(line);
        } else if line == "    }\n" || line == "    },\n" {
            out.push_str(line.trim_start());
        } else if line.starts_with("    {") && !line.starts_with("     ") {
            out.push_str("    {");
        } else {
            out.push_str(line.trim());
        }
    }
    out.into_bytes()
}

fn pretty_rows<T: serde::Serialize + ?Sized>(value: &T) -> serde_json::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(1 << 16);
    let mut ser = serde_json::Serializer::with_formatter(&mut out, RowsFormatter::default());
    value.serialize(&mut ser)?;
    out.push(b'\n');
    Ok(out)
}

/// serde_json's pretty layout with arrays of scalars (numbers, booleans,
/// nulls) kept on one line. An array is held back until its first element
/// shows whether it can stay on one line: a string, array or object in it
/// writes it out in the pretty layout from there on.
#[derive(Default)]
struct RowsFormatter {
    /// Nesting depth (indentation in steps of two spaces).
    depth: usize,
    /// Open arrays and objects, innermost last.
    open: Vec<Open>,
}

enum Open {
    /// An object; whether it has a member yet.
    Object(bool),
    /// An array written in the pretty layout; whether it has an element yet.
    Array(bool),
    /// An array of scalars so far: its elements, each written compactly.
    Row(Vec<Vec<u8>>),
}

impl RowsFormatter {
    fn indent<W: ?Sized + std::io::Write>(&self, w: &mut W) -> std::io::Result<()> {
        for _ in 0..self.depth {
            w.write_all(b"  ")?;
        }
        Ok(())
    }

    /// The element being written, when the innermost array is still a row.
    fn row_element(&mut self) -> Option<&mut Vec<u8>> {
        match self.open.last_mut() {
            Some(Open::Row(elements)) => elements.last_mut(),
            _ => None,
        }
    }

    /// Something other than a scalar starts inside the innermost array: if
    /// it was still a row, write what it held in the pretty layout and go on
    /// in that layout (the new element's separator and indent included).
    fn unrow<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        if let Some(Open::Row(elements)) = self.open.last_mut() {
            let elements = std::mem::take(elements);
            w.write_all(b"[")?;
            let n = elements.len();
            for (i, e) in elements.iter().enumerate() {
                w.write_all(if i == 0 { b"\n" } else { b",\n" })?;
                self.indent(w)?;
                // The last element is the one starting now (still empty).
                if i + 1 < n {
                    w.write_all(e)?;
                }
            }
            *self.open.last_mut().expect("an open array") = Open::Array(true);
        }
        Ok(())
    }
}

/// Writes a scalar into the row being collected, or straight out.
macro_rules! scalar {
    ($($name:ident($($arg:ident: $ty:ty),*);)*) => {$(
        fn $name<W: ?Sized + std::io::Write>(&mut self, w: &mut W $(, $arg: $ty)*) -> std::io::Result<()> {
            match self.row_element() {
                Some(buf) => serde_json::ser::CompactFormatter.$name(buf $(, $arg)*),
                None => serde_json::ser::CompactFormatter.$name(w $(, $arg)*),
            }
        }
    )*};
}

impl serde_json::ser::Formatter for RowsFormatter {
    scalar! {
        write_null();
        write_bool(v: bool);
        write_i8(v: i8);
        write_i16(v: i16);
        write_i32(v: i32);
        write_i64(v: i64);
        write_i128(v: i128);
        write_u8(v: u8);
        write_u16(v: u16);
        write_u32(v: u32);
        write_u64(v: u64);
        write_u128(v: u128);
        write_f32(v: f32);
        write_f64(v: f64);
        write_number_str(v: &str);
    }

    fn begin_string<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.unrow(w)?;
        w.write_all(b"\"")
    }

    fn write_raw_fragment<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        self.unrow(w)?;
        w.write_all(fragment.as_bytes())
    }

    fn begin_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.unrow(w)?;
        self.depth += 1;
        self.open.push(Open::Row(Vec::new()));
        Ok(())
    }

    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        match self.open.last_mut() {
            Some(Open::Row(elements)) => {
                elements.push(Vec::new());
                Ok(())
            }
            _ => {
                w.write_all(if first { b"\n" } else { b",\n" })?;
                self.indent(w)
            }
        }
    }

    fn end_array_value<W: ?Sized + std::io::Write>(&mut self, _w: &mut W) -> std::io::Result<()> {
        Ok(())
    }

    fn end_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.depth -= 1;
        match self.open.pop() {
            Some(Open::Row(elements)) => {
                w.write_all(b"[")?;
                for (i, e) in elements.iter().enumerate() {
                    if i > 0 {
                        w.write_all(b", ")?;
                    }
                    w.write_all(e)?;
                }
                w.write_all(b"]")
            }
            Some(Open::Array(has_value)) => {
                if has_value {
                    w.write_all(b"\n")?;
                    self.indent(w)?;
                }
                w.write_all(b"]")
            }
            _ => Ok(()),
        }
    }

    fn begin_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.unrow(w)?;
        self.depth += 1;
        self.open.push(Open::Object(false));
        w.write_all(b"{")
    }

    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        w.write_all(if first { b"\n" } else { b",\n" })?;
        self.indent(w)
    }

    fn begin_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        w.write_all(b": ")
    }

    fn end_object_value<W: ?Sized + std::io::Write>(&mut self, _w: &mut W) -> std::io::Result<()> {
        if let Some(Open::Object(has_value)) = self.open.last_mut() {
            *has_value = true;
        }
        Ok(())
    }

    fn end_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.depth -= 1;
        if let Some(Open::Object(true)) = self.open.pop() {
            w.write_all(b"\n")?;
            self.indent(w)?;
        }
        w.write_all(b"}")
    }
}

/// Writes bytes to `path` atomically (temp file + fsync + rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ResultsError> {
    let err = |source| ResultsError::Write {
        path: path.to_path_buf(),
        source,
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(err)?;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "results".into());
    let tmp = dir.join(format!(".{file_name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::schema::{Measurement, ResourceSample, ResourceUsage};

    #[test]
    fn arrays_of_numbers_stay_on_one_line_the_rest_is_pretty() {
        let v = serde_json::json!({
            "a": [[1, 2.5, 3], [4, 5.0, null]],
            "b": ["x", "y"],
            "c": [],
            "d": [1, "mixed", {"e": [true, false]}],
            "f": {},
            "g": [[], [[7]]]
        });
        let out = String::from_utf8(pretty_rows(&v).unwrap()).unwrap();
        let want = r#"{
  "a": [
    [1, 2.5, 3],
    [4, 5.0, null]
  ],
  "b": [
    "x",
    "y"
  ],
  "c": [],
  "d": [
    1,
    "mixed",
    {
      "e": [true, false]
    }
  ],
  "f": {},
  "g": [
    [],
    [
      [7]
    ]
  ]
}
"#;
        assert_eq!(out, want);
        let back: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(back, v);
        // Without such arrays it is exactly serde_json's pretty layout.
        let plain = serde_json::json!({"k": ["s", {"t": "u"}], "n": null, "o": {"p": 1}});
        assert_eq!(
            String::from_utf8(pretty_rows(&plain).unwrap()).unwrap(),
            serde_json::to_string_pretty(&plain).unwrap() + "\n"
        );
    }

    #[test]
    fn each_measurement_takes_one_line_and_reads_back() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/report/results.json");
        let results = read(&path).unwrap();
        assert!(results.measurements.len() > 1);
        let out = String::from_utf8(to_json(&results)).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        let start = lines
            .iter()
            .position(|l| *l == "  \"measurements\": [")
            .unwrap();
        for (i, m) in results.measurements.iter().enumerate() {
            let line = lines[start + 1 + i];
            assert!(line.starts_with("    {\"target\": \""), "{line}");
            let last = i + 1 == results.measurements.len();
            assert_eq!(line.ends_with("},"), !last, "{line}");
            let one: Measurement = serde_json::from_str(line.trim_end_matches(',')).unwrap();
            assert_eq!(
                serde_json::to_value(&one).unwrap(),
                serde_json::to_value(m).unwrap()
            );
        }
        assert_eq!(lines[start + 1 + results.measurements.len()], "  ],");
        // The rest stays pretty, and the whole file reads back unchanged.
        assert!(out.starts_with("{\n  \"schema_version\": "));
        let back = parse(out.as_bytes(), &path).unwrap();
        assert_eq!(
            serde_json::to_value(&back).unwrap(),
            serde_json::to_value(&results).unwrap()
        );
    }

    #[test]
    fn resource_samples_are_rows_and_older_objects_still_read() {
        let usage = ResourceUsage {
            interval_ms: 100,
            cpu_s: 0.2,
            cpu_percent_mean: 100.0,
            cpu_percent_peak: 150.0,
            rss_mean_bytes: 200,
            rss_peak_bytes: 300,
            threads_peak: 3,
            processes_peak: 2,
            samples: vec![
                ResourceSample {
                    t_ms: 100,
                    cpu_percent: 50.1,
                    rss_bytes: 100,
                    threads: 3,
                    processes: 2,
                },
                ResourceSample {
                    t_ms: 200,
                    cpu_percent: 150.0,
                    rss_bytes: 300,
                    threads: 3,
                    processes: 2,
                },
            ],
        };
        let out = String::from_utf8(pretty_rows(&usage).unwrap()).unwrap();
        assert!(
            out.contains(
                "\"samples\": [\n    [100, 50.1, 100, 3, 2],\n    [200, 150.0, 300, 3, 2]\n  ]"
            ),
            "{out}"
        );
        let back: ResourceUsage = serde_json::from_str(&out).unwrap();
        assert_eq!(back, usage);
        // Results written before the row form: one object per sample, seconds.
        let old = r#"{"interval_ms": 100, "cpu_s": 0.2, "cpu_percent_mean": 100.0,
            "cpu_percent_peak": 150.0, "rss_mean_bytes": 200, "rss_peak_bytes": 300,
            "threads_peak": 3, "processes_peak": 2, "samples": [
            {"t_s": 0.100401725, "cpu_percent": 50.1, "rss_bytes": 100, "threads": 3, "processes": 2},
            {"t_s": 0.2, "cpu_percent": 150.0, "rss_bytes": 300, "threads": 3, "processes": 2}]}"#;
        let old: ResourceUsage = serde_json::from_str(old).unwrap();
        assert_eq!(old, usage);
        // Neither form with a stray field or a missing number.
        assert!(serde_json::from_str::<ResourceSample>("[1, 2.0, 3, 4]").is_err());
        assert!(
            serde_json::from_str::<ResourceSample>(
                r#"{"t_s": 0.1, "cpu_percent": 1.0, "rss_bytes": 1, "threads": 1, "processes": 1, "x": 1}"#
            )
            .is_err()
        );
    }
}
