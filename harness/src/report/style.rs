//! The look shared by every chart: the embedded font, one fixed colour per
//! target, sizes, and the provenance footer text.
//!
//! Owns presentation constants only; reads results, never writes them.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use plotters::style::{FontStyle, RGBColor};

use crate::results::schema::{Level, ResultsFile};
use crate::sys::describe_cpus;

/// The font family every chart asks for; registered with DejaVu Sans.
pub const FONT: &str = "sans-serif";

/// Registers the embedded DejaVu Sans (regular and bold) as `sans-serif`
/// for plotters' bitmap text, once per process. No system fontconfig needed.
/// Returns false when the font could not be registered (never expected).
pub fn register_fonts() -> bool {
    static DONE: OnceLock<bool> = OnceLock::new();
    *DONE.get_or_init(|| {
        plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular()).is_ok()
            && plotters::style::register_font(FONT, FontStyle::Bold, dejavu::sans::bold()).is_ok()
    })
}

/// Colour-blind-aware categorical palette (Tableau 10, yellow darkened for contrast on white).
pub const PALETTE: [RGBColor; 10] = [
    RGBColor(0x4E, 0x79, 0xA7),
    RGBColor(0xF2, 0x8E, 0x2B),
    RGBColor(0xE1, 0x57, 0x59),
    RGBColor(0x59, 0xA1, 0x4F),
    RGBColor(0xB0, 0x7A, 0xA1),
    RGBColor(0x76, 0xB7, 0xB2),
    RGBColor(0x9C, 0x75, 0x5F),
    RGBColor(0xB8, 0x86, 0x0B),
    RGBColor(0xFF, 0x6F, 0xA7),
    RGBColor(0x6B, 0x6B, 0x6B),
];

/// Text and grid greys.
pub const TEXT: RGBColor = RGBColor(0x22, 0x22, 0x22);
/// Footer text colour.
pub const MUTED: RGBColor = RGBColor(0x55, 0x55, 0x55);

/// Chart sizes in pixels (width, height).
pub const SIZE: (u32, u32) = (1100, 680);
/// Size of the two-panel timeline chart.
pub const TIMELINE_SIZE: (u32, u32) = (1100, 820);

/// Font sizes (plotters size units; about 0.8 px per unit of cap height).
pub const TITLE_PT: f64 = 26.0;
/// Axis description size.
pub const AXIS_PT: f64 = 20.0;
/// Tick label and legend size.
pub const LABEL_PT: f64 = 17.0;
/// Footer size.
pub const FOOTER_PT: f64 = 15.0;

/// FNV-1a, a fixed hash (std's hasher is randomly seeded per process).
fn fnv1a(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// One fixed colour per target id, the same in every chart of a report and,
/// as far as the palette allows, across reports: each id takes the palette
/// slot its hash picks, or the next free one (ids assigned in sorted order).
#[derive(Clone, Debug)]
pub struct Colours {
    by_target: BTreeMap<String, (RGBColor, usize)>,
}

/// A point marker shape, fixed per target like its colour, so lines stay
/// distinguishable in greyscale and for colour-blind readers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Marker {
    /// Filled circle.
    Circle,
    /// Filled square.
    Square,
    /// Filled triangle.
    Triangle,
    /// Filled diamond.
    Diamond,
    /// Diagonal cross.
    Cross,
}

/// Markers in slot order.
const MARKERS: [Marker; 5] = [
    Marker::Circle,
    Marker::Square,
    Marker::Triangle,
    Marker::Diamond,
    Marker::Cross,
];

impl Colours {
    /// Assigns colours to every target id.
    pub fn new<'a, I: IntoIterator<Item = &'a str>>(ids: I) -> Self {
        let mut ids: Vec<&str> = ids.into_iter().collect();
        ids.sort_unstable();
        ids.dedup();
        let mut taken = [false; PALETTE.len()];
        let mut by_target = BTreeMap::new();
        for (i, id) in ids.iter().enumerate() {
            let entry = if i < PALETTE.len() {
                let mut slot = (fnv1a(id) % PALETTE.len() as u64) as usize;
                while taken[slot] {
                    slot = (slot + 1) % PALETTE.len();
                }
                taken[slot] = true;
                (PALETTE[slot], slot)
            } else {
                // More targets than colours: reuse, darkened so they differ.
                let RGBColor(r, g, b) = PALETTE[i % PALETTE.len()];
                (RGBColor(r / 2, g / 2, b / 2), i)
            };
            by_target.insert((*id).to_string(), entry);
        }
        Self { by_target }
    }

    /// The colour of a target (grey for an unknown id).
    pub fn of(&self, target: &str) -> RGBColor {
        self.by_target
            .get(target)
            .map(|e| e.0)
            .unwrap_or(RGBColor(0x80, 0x80, 0x80))
    }

    /// The marker shape of a target (a circle for an unknown id). Targets
    /// in neighbouring palette slots get different shapes.
    pub fn marker(&self, target: &str) -> Marker {
        self.by_target
            .get(target)
            .map(|e| MARKERS[e.1 % MARKERS.len()])
            .unwrap_or(Marker::Circle)
    }

    /// The colour as CSS hex, for the HTML legend.
    pub fn css(&self, target: &str) -> String {
        let RGBColor(r, g, b) = self.of(target);
        format!("#{r:02x}{g:02x}{b:02x}")
    }
}

/// What a chart shows, for its footer.
#[derive(Clone, Debug, Default)]
pub struct Scope<'a> {
    /// Targets drawn (their versions are listed).
    pub targets: Vec<&'a str>,
    /// Scenario(s) drawn.
    pub scenario: Option<String>,
    /// Load level(s) drawn, human-readable.
    pub level: Option<String>,
}

/// A short label for a level value: `c=64`, `1000 req/s`.
pub fn level_label(level: &Level) -> String {
    let v = fmt_num(level.value);
    match level.model {
        crate::results::schema::LoadModelKind::Closed => format!("c={v}"),
        crate::results::schema::LoadModelKind::Open => format!("{v} req/s"),
    }
}

/// Numbers as a comma-separated list (`1, 16, 256`), for chart scopes.
pub fn fmt_list(vs: &[f64]) -> String {
    vs.iter()
        .map(|v| fmt_num(*v))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Formats a number without a useless fraction: `64`, `2.5`.
pub fn fmt_num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v:.2}")
    }
}

/// The provenance footer of a chart: date, run id, harness version and
/// commit, CPU model and split, versions of the targets shown, scenario and
/// level. Lines are wrapped to about `max_chars` characters.
pub fn footer_lines(results: &ResultsFile, scope: &Scope<'_>, max_chars: usize) -> Vec<String> {
    let tool = &results.tool;
    let commit = match (&tool.git_commit, tool.git_dirty) {
        (Some(c), Some(true)) => format!(" ({}, dirty)", short(c)),
        (Some(c), _) => format!(" ({})", short(c)),
        (None, _) => String::new(),
    };
    let h = &results.host;
    let split = format!(
        "generator CPUs {} / target CPUs {}",
        describe_cpus(&h.generator_cpus),
        describe_cpus(&h.target_cpus)
    );
    let mut parts = vec![
        format!(
            "{} · run {}",
            results.started_at.format("%Y-%m-%d %H:%M UTC"),
            results.run_id
        ),
        format!("{} {}{commit}", tool.name, tool.version),
        format!("{} ({} CPUs), {split}", h.cpu_model.trim(), h.logical_cpus),
    ];
    if let Some(s) = &scope.scenario {
        let mut p = format!("scenario {s}");
        if let Some(l) = &scope.level {
            p.push_str(&format!(", {l}"));
        }
        parts.push(p);
    }
    for id in &scope.targets {
        if let Some(t) = results.targets.iter().find(|t| t.id == *id) {
            let v: Vec<String> = t.versions.iter().map(|(k, v)| format!("{k} {v}")).collect();
            let workers = t
                .workers
                .map(|w| format!(", {w} workers"))
                .unwrap_or_default();
            if v.is_empty() {
                parts.push(format!("{id}: {}{workers}", t.server));
            } else {
                parts.push(format!("{id}: {}{workers}", v.join(", ")));
            }
        }
    }
    wrap(&parts, max_chars)
}

fn short(commit: &str) -> &str {
    commit.get(..10).unwrap_or(commit)
}

/// Joins parts with ` · ` into lines of at most `max_chars` (a part longer
/// than that gets its own line).
pub fn wrap(parts: &[String], max_chars: usize) -> Vec<String> {
    // A part longer than a line is broken at its spaces (a word longer than
    // a line stays whole: there is nowhere better to break it).
    let mut pieces: Vec<String> = Vec::new();
    for p in parts {
        if p.chars().count() <= max_chars {
            pieces.push(p.clone());
            continue;
        }
        let mut line = String::new();
        for word in p.split(' ') {
            if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > max_chars {
                pieces.push(std::mem::take(&mut line));
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
        if !line.is_empty() {
            pieces.push(line);
        }
    }
    let mut lines: Vec<String> = Vec::new();
    let mut cur = String::new();
    for p in &pieces {
        let add = if cur.is_empty() {
            p.chars().count()
        } else {
            p.chars().count() + 3
        };
        if !cur.is_empty() && cur.chars().count() + add > max_chars {
            lines.push(std::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push_str(" · ");
        }
        cur.push_str(p);
    }
    if !cur.is_empty() {
        lines.push(cur);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_are_fixed_and_distinct() {
        let a = Colours::new(["node-express", "python-fastapi", "python-django"]);
        let b = Colours::new([
            "python-django",
            "node-express",
            "python-fastapi",
            "rust-hyper",
        ]);
        let ids = ["node-express", "python-fastapi", "python-django"];
        let mut seen = std::collections::HashSet::new();
        for id in ids {
            assert!(seen.insert(a.css(id)), "colours must differ");
        }
        // A target's colour does not depend on the order given.
        let c = Colours::new(["python-fastapi", "python-django", "node-express"]);
        for id in ids {
            assert_eq!(a.css(id), c.css(id));
        }
        assert_eq!(b.of("rust-hyper"), b.of("rust-hyper"));
    }

    #[test]
    fn wrap_keeps_parts_whole() {
        let parts: Vec<String> = ["aaaa", "bbbb", "cccc"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(wrap(&parts, 11), vec!["aaaa · bbbb", "cccc"]);
        assert_eq!(wrap(&parts, 100), vec!["aaaa · bbbb · cccc"]);
    }

    #[test]
    fn a_part_longer_than_a_line_wraps_at_its_spaces() {
        let parts = vec![
            "scenario io-downstream c=256; io-sleep c=256; mixed r=100/s".to_string(),
            "node".to_string(),
        ];
        let lines = wrap(&parts, 24);
        assert!(lines.iter().all(|l| l.chars().count() <= 24), "{lines:?}");
        assert_eq!(
            lines.join(" ").replace(" · ", " "),
            format!("{} node", parts[0])
        );
    }
}
