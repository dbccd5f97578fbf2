//! Chart SVGs side by side in one HTML page ([`share_text`]): the glyphs,
//! text runs and recurring words of every chart defined once for the page.

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Chart SVGs as [`GlyphSvg`](super::svg::GlyphSvg) writes them, made ready to sit side by side in
/// one HTML page: every glyph outline, every distinct text run and every
/// word that recurs in them is defined once for the page, in
/// [`SharedText::defs`], instead of once per chart. The same footer, axis
/// titles, tick labels and target names recur in every chart, so this is
/// most of a page's size.
#[derive(Clone, Debug, Default)]
pub struct SharedText {
    /// A hidden `<svg>` with the definitions (goes before the charts).
    pub defs: String,
    /// The charts, in the order given: without their own `<defs>`, each text
    /// run one `<use>` of its definition. A chart that is not in the form
    /// [`GlyphSvg`](super::svg::GlyphSvg) writes is kept as it was (with its own definitions).
    pub charts: Vec<Option<String>>,
}

/// A chart taken apart by [`parse_chart`].
struct ParsedChart<'a> {
    /// The `<svg ...>` start tag and `<title>`.
    head: &'a str,
    /// Glyph outlines: page id (`gr68`: regular glyph 68) and path data.
    glyphs: Vec<(String, &'a str)>,
    /// The drawing in order: shapes as written, or a text run.
    parts: Vec<Part<'a>>,
}

enum Part<'a> {
    Raw(&'a str),
    Run(Run),
}

/// What makes two text runs the same: label, scale, glyphs.
type RunKey = (String, String, Vec<(String, i64)>);

/// A text run, in page terms.
#[derive(Clone, PartialEq, Eq, Hash)]
struct Run {
    /// The `aria-label` (its text, escaped).
    label: String,
    /// From font units to pixels: `scale(..) translate(0 ..)`.
    scale: String,
    /// Each glyph: page id and x in font units.
    glyphs: Vec<(String, i64)>,
    /// Where it goes (`translate(x y)`, maybe a rotation) and its paint:
    /// not part of what is shared.
    place: String,
    paint: String,
}

impl Run {
    fn key(&self) -> RunKey {
        (self.label.clone(), self.scale.clone(), self.glyphs.clone())
    }

    /// The glyphs split into the words of the label (glyphs are the
    /// characters that are not white space); the whole run as one word if
    /// they do not match.
    fn words(&self) -> Vec<&[(String, i64)]> {
        let text = self
            .label
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&");
        let lens: Vec<usize> = text.split_whitespace().map(|w| w.chars().count()).collect();
        if lens.iter().sum::<usize>() != self.glyphs.len() {
            return vec![&self.glyphs[..]];
        }
        let mut rest = &self.glyphs[..];
        lens.into_iter()
            .filter(|&n| n > 0)
            .map(|n| {
                let (w, r) = rest.split_at(n);
                rest = r;
                w
            })
            .collect()
    }
}

/// A word's glyphs relative to its first.
fn word_key(w: &[(String, i64)]) -> Vec<(String, i64)> {
    w.iter().map(|(g, x)| (g.clone(), x - w[0].1)).collect()
}

/// Takes apart a chart in the form [`GlyphSvg`](super::svg::GlyphSvg) writes; None if it is not.
fn parse_chart(svg: &str) -> Option<ParsedChart<'_>> {
    let open = svg.find("<defs>\n")?;
    let close = svg.find("</defs>\n")?;
    // Definitions: local id -> the glyphs it stands for (x from its origin).
    let mut local: std::collections::HashMap<&str, Vec<(String, i64)>> =
        std::collections::HashMap::new();
    let mut glyphs = Vec::new();
    let mut defs = svg[open + "<defs>\n".len()..close].lines();
    let glyph_use = |line: &str| -> Option<(String, i64)> {
        let rest = line.strip_prefix("<use xlink:href=\"#")?;
        let (id, x) = rest.split_once("\" x=\"")?;
        Some((id.to_string(), x.strip_suffix("\"/>")?.parse().ok()?))
    };
    while let Some(line) = defs.next() {
        if let Some(rest) = line.strip_prefix("<path id=\"") {
            let (id, rest) = rest.split_once("\" d=\"")?;
            let d = rest.strip_suffix("\"/>")?;
            // The chart's 7-character prefix, then `r`/`b` and the number.
            let page_id = format!("g{}", id.get(7..)?);
            local.insert(id, vec![(page_id.clone(), 0)]);
            glyphs.push((page_id, d));
        } else {
            let id = line.strip_prefix("<g id=\"")?.strip_suffix("\">")?;
            let mut word = Vec::new();
            loop {
                let line = defs.next()?;
                if line == "</g>" {
                    break;
                }
                let (g, x) = glyph_use(line)?;
                word.push((local.get(g.as_str())?.first()?.0.clone(), x));
            }
            local.insert(id, word);
        }
    }
    let mut parts = Vec::new();
    let mut lines = svg[close + "</defs>\n".len()..].lines();
    while let Some(line) = lines.next() {
        let Some(attrs) = line
            .strip_prefix("<g aria-label=\"")
            .and_then(|a| a.strip_suffix("\">"))
        else {
            parts.push(Part::Raw(line));
            continue;
        };
        let (label, attrs) = attrs.split_once('"')?;
        let (paint, transform) = attrs.split_once(" transform=\"")?;
        let (place, scale) = transform.split_once(" scale(")?;
        let mut glyphs = Vec::new();
        loop {
            let line = lines.next()?;
            if line == "</g>" {
                break;
            }
            let (id, x) = glyph_use(line)?;
            for (g, dx) in local.get(id.as_str())? {
                glyphs.push((g.clone(), x + dx));
            }
        }
        parts.push(Part::Run(Run {
            label: label.to_string(),
            scale: format!("scale({scale}"),
            glyphs,
            place: place.to_string(),
            paint: paint.trim().to_string(),
        }));
    }
    Some(ParsedChart {
        head: &svg[..open],
        glyphs,
        parts,
    })
}

/// Builds the [`SharedText`] of `svgs` (None: a chart that could not be read).
pub fn share_text(svgs: &[Option<&str>]) -> SharedText {
    use std::collections::HashMap;
    let mut parsed: Vec<Option<ParsedChart<'_>>> = Vec::new();
    let mut glyphs: BTreeMap<String, &str> = BTreeMap::new();
    for svg in svgs {
        let mut p = svg.and_then(parse_chart);
        // The same glyph must have the same outline everywhere (it does:
        // one embedded font); a chart that disagrees keeps its own.
        if let Some(c) = &p
            && c.glyphs
                .iter()
                .any(|(id, d)| glyphs.get(id.as_str()).is_some_and(|known| known != d))
        {
            p = None;
        }
        if let Some(c) = &p {
            for (id, d) in &c.glyphs {
                glyphs.insert(id.clone(), d);
            }
        }
        parsed.push(p);
    }
    // Distinct runs in order of first use, and the words that recur in them.
    let mut runs: Vec<&Run> = Vec::new();
    let mut run_id: HashMap<RunKey, usize> = HashMap::new();
    for c in parsed.iter().flatten() {
        for part in &c.parts {
            if let Part::Run(r) = part {
                run_id.entry(r.key()).or_insert_with(|| {
                    runs.push(r);
                    runs.len() - 1
                });
            }
        }
    }
    let mut word_count: HashMap<Vec<(String, i64)>, usize> = HashMap::new();
    let mut word_order = Vec::new();
    for r in &runs {
        for w in r.words().into_iter().filter(|w| w.len() > 1) {
            let n = word_count.entry(word_key(w)).or_insert(0);
            if *n == 0 {
                word_order.push(word_key(w));
            }
            *n += 1;
        }
    }
    let mut defs =
        String::from("<svg class=\"glyphs\" aria-hidden=\"true\" focusable=\"false\"><defs>\n");
    for (id, d) in &glyphs {
        let _ = writeln!(defs, "<path id=\"{id}\" d=\"{d}\"/>");
    }
    let mut word_id: HashMap<Vec<(String, i64)>, usize> = HashMap::new();
    for w in word_order.into_iter().filter(|w| word_count[w] > 1) {
        let n = word_id.len();
        let _ = writeln!(defs, "<g id=\"w{n}\">");
        for (g, x) in &w {
            let _ = writeln!(defs, "<use href=\"#{g}\" x=\"{x}\"/>");
        }
        defs.push_str("</g>\n");
        word_id.insert(w, n);
    }
    for (n, r) in runs.iter().enumerate() {
        let _ = writeln!(
            defs,
            "<g id=\"t{n}\" aria-label=\"{}\" transform=\"{}\">",
            r.label, r.scale
        );
        for w in r.words() {
            match word_id.get(&word_key(w)).filter(|_| w.len() > 1) {
                Some(id) => {
                    let _ = writeln!(defs, "<use href=\"#w{id}\" x=\"{}\"/>", w[0].1);
                }
                None => {
                    for (g, x) in w {
                        let _ = writeln!(defs, "<use href=\"#{g}\" x=\"{x}\"/>");
                    }
                }
            }
        }
        defs.push_str("</g>\n");
    }
    defs.push_str("</defs></svg>\n");
    let charts = svgs
        .iter()
        .zip(&parsed)
        .map(|(svg, p)| {
            let Some(c) = p else {
                return svg.map(str::to_string);
            };
            let mut out = String::with_capacity(svg.map_or(0, str::len) / 4);
            out.push_str(c.head);
            for part in &c.parts {
                match part {
                    Part::Raw(line) => out.push_str(line),
                    Part::Run(r) => {
                        let n = run_id[&r.key()];
                        // `translate(x y)` alone becomes x and y.
                        let xy = r
                            .place
                            .strip_prefix("translate(")
                            .and_then(|p| p.strip_suffix(')'))
                            .and_then(|p| p.split_once(' '))
                            .filter(|(x, y)| !x.contains(')') && !y.contains(')'));
                        let place = match xy {
                            Some((x, y)) => format!("x=\"{x}\" y=\"{y}\""),
                            None => format!("transform=\"{}\"", r.place),
                        };
                        let _ = write!(out, "<use href=\"#t{n}\" {place} {}/>", r.paint);
                    }
                }
                out.push('\n');
            }
            Some(out)
        })
        .collect();
    SharedText { defs, charts }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::svg::tests::chart;

    /// Every glyph a document draws: (label, paint, where, glyph, x), in
    /// order, resolving `<use>`s of words, runs and glyphs; ids are mapped
    /// to the glyph's outline so that documents can be compared.
    fn placements(doc: &str) -> Vec<(String, String, String, String, i64)> {
        let mut defs: std::collections::HashMap<String, Vec<(String, i64)>> =
            std::collections::HashMap::new();
        let mut run_defs: std::collections::HashMap<String, (String, String)> =
            std::collections::HashMap::new();
        let attr = |line: &str, name: &str| -> Option<String> {
            let i = line.find(&format!(" {name}=\""))? + name.len() + 3;
            Some(line[i..].split('"').next()?.to_string())
        };
        let href = |line: &str| {
            attr(line, "href")
                .or_else(|| attr(line, "xlink:href"))
                .unwrap()[1..]
                .to_string()
        };
        let mut out = Vec::new();
        let lines = doc.lines();
        // The run being read: label, paint, transform, glyphs.
        type Open = (String, String, String, Vec<(String, i64)>);
        let mut current: Option<Open> = None;
        let mut def_id: Option<String> = None;
        for line in lines {
            if line.starts_with("<path id=") {
                defs.insert(
                    attr(line, "id").unwrap(),
                    vec![(attr(line, "d").unwrap(), 0)],
                );
            } else if line.starts_with("<g id=") {
                let id = attr(line, "id").unwrap();
                if let Some(label) = attr(line, "aria-label") {
                    run_defs.insert(id.clone(), (label, attr(line, "transform").unwrap()));
                }
                defs.insert(id.clone(), Vec::new());
                def_id = Some(id);
            } else if line.starts_with("<g aria-label=") {
                let t = attr(line, "transform").unwrap();
                let paint = format!("{:?} {:?}", attr(line, "fill"), attr(line, "opacity"));
                current = Some((attr(line, "aria-label").unwrap(), paint, t, Vec::new()));
            } else if line.starts_with("<use") {
                let id = href(line);
                let x: i64 = attr(line, "x").map_or(0, |x| x.parse().unwrap());
                let glyphs: Vec<(String, i64)> = defs[&id]
                    .iter()
                    .map(|(g, dx)| (g.clone(), x + dx))
                    .collect();
                if let Some((_, _, _, g)) = current.as_mut() {
                    g.extend(glyphs);
                } else if let Some(d) = def_id.as_ref() {
                    defs.get_mut(d).unwrap().extend(glyphs);
                } else {
                    // A run placed by one <use>.
                    let (label, scale) = run_defs[&id].clone();
                    let place = match attr(line, "transform") {
                        Some(t) => t,
                        None => format!(
                            "translate({} {})",
                            attr(line, "x").unwrap(),
                            attr(line, "y").unwrap()
                        ),
                    };
                    let paint = format!("{:?} {:?}", attr(line, "fill"), attr(line, "opacity"));
                    for (g, gx) in &defs[&id] {
                        out.push((
                            label.clone(),
                            paint.clone(),
                            format!("{place} {scale}"),
                            g.clone(),
                            *gx,
                        ));
                    }
                }
            } else if line == "</g>" {
                if let Some((label, paint, t, g)) = current.take() {
                    for (g, x) in g {
                        out.push((label.clone(), paint.clone(), t.clone(), g, x));
                    }
                }
                def_id = None;
            }
        }
        out
    }

    #[test]
    fn shared_text_draws_every_glyph_where_the_chart_did() {
        let a = chart("a", "node 24.1 · run 1");
        let b = chart("b", "node 24.1 · run 2 · 50% <less>");
        let shared = share_text(&[Some(&a), None, Some(&b), Some("<svg>not ours</svg>")]);
        assert_eq!(shared.charts[1], None);
        assert_eq!(shared.charts[3].as_deref(), Some("<svg>not ours</svg>"));
        for (orig, new) in [(&a, &shared.charts[0]), (&b, &shared.charts[2])] {
            let new = new.as_deref().unwrap();
            assert!(
                !new.contains("<defs>") && !new.contains("xlink:href"),
                "{new}"
            );
            let page = format!("{}{new}", shared.defs);
            let want = placements(orig);
            assert!(want.len() > 40, "{} glyphs", want.len());
            assert_eq!(placements(&page), want);
            // The shapes are as they were.
            let shapes = |d: &str| {
                d.lines()
                    .filter(|l| {
                        l.starts_with("<line")
                            || l.starts_with("<polyline")
                            || l.starts_with("<rect")
                            || l.starts_with("<g stroke")
                    })
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            };
            assert_eq!(shapes(new), shapes(orig));
        }
        // Each glyph, recurring word and distinct run is defined once for the page.
        let ids: Vec<&str> = shared
            .defs
            .split(" id=\"")
            .skip(1)
            .map(|s| s.split('"').next().unwrap())
            .collect();
        let mut unique = ids.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(ids.len(), unique.len());
        assert!(
            ids.iter().any(|i| i.starts_with('w')),
            "a shared word: {ids:?}"
        );
        // "node express" etc. are in both charts, defined once.
        assert_eq!(
            shared.defs.matches("aria-label=\"node express\"").count(),
            1
        );
    }
}
