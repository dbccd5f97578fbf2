//! A plotters SVG backend that draws text as glyph outlines of the embedded
//! DejaVu Sans font, so an SVG renders the same in every viewer, with or
//! without system fonts (plotters' own `SVGBackend` writes `<text>` elements
//! and leaves the font to the viewer).
//!
//! Each glyph used is defined once in `<defs>` (in font units) and placed with
//! `<use>`, and so is each word that recurs in a chart; every text run
//! carries its string in `aria-label`, so the text is still searchable and
//! read by screen readers. [`share_text`](super::svg_page::share_text) defines them once for a page of
//! several charts. Text geometry is [`super::glyphs`]', which the PNG side
//! uses too, so the SVG and the PNG of a chart line up.
//!
//! Owns nothing but SVG serialisation; knows nothing about results.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use ab_glyph::{Font, FontRef, GlyphId, OutlineCurve};
use plotters::prelude::DrawingBackend;
use plotters_backend::{
    BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingErrorKind, FontStyle,
};

pub use super::glyphs::FontError as SvgError;
use super::glyphs::{layout, place_text};

fn colour(c: BackendColor) -> String {
    let (r, g, b) = c.rgb;
    // #DDDDDD is #DDD.
    if [r, g, b].iter().all(|v| v >> 4 == v & 0xF) {
        format!("#{:X}{:X}{:X}", r & 0xF, g & 0xF, b & 0xF)
    } else {
        format!("#{r:02X}{g:02X}{b:02X}")
    }
}

/// The `opacity` attribute of a colour, or nothing when it is opaque.
fn opacity(c: BackendColor) -> Option<(&'static str, String)> {
    let a = (c.alpha * 1000.0).round() / 1000.0;
    (a < 1.0).then(|| ("opacity", format!("{a}")))
}

/// The `stroke-width` attribute, or nothing for SVG's default of 1.
fn stroke_width(w: u32) -> Option<(&'static str, String)> {
    (w != 1).then(|| ("stroke-width", w.to_string()))
}

/// Escapes text for an XML attribute or element body.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// A glyph of a text run: (bold, glyph id) and its x in font units.
type Glyph = ((bool, u16), i64);

/// What the body of a document holds, in drawing order.
enum Item {
    /// Shapes, as written.
    Shapes(String),
    /// A text run: its `<g ...>` start tag and its words (glyphs; x from
    /// the run's origin). Written in [`GlyphSvg::present`], once it is known
    /// which words recur.
    Text {
        head: String,
        words: Vec<Vec<Glyph>>,
    },
}

/// An SVG drawing backend writing into a String, with text as glyph paths.
///
/// The document: `<defs>` with each glyph used (a `<path>` in font units)
/// and each word of two or more glyphs that occurs more than once (a `<g>`
/// of glyph `<use>`s); then the drawing, where each text run is a `<g>`
/// labelled with its text (`aria-label`), scaled from font units, holding a
/// `<use>` per glyph or recurring word; consecutive shapes painted alike
/// share a `<g>` with the paint. [`share_text`](super::svg_page::share_text) relies on this form.
pub struct GlyphSvg<'a> {
    out: &'a mut String,
    size: (u32, u32),
    id_prefix: String,
    title: String,
    body: Vec<Item>,
    /// (bold, glyph id) -> path data in font units, y pointing down.
    glyphs: BTreeMap<(bool, u16), String>,
    /// Consecutive shapes painted alike, not yet written: their paint
    /// attributes and each shape's element without them.
    run: Option<(String, Vec<String>)>,
    saved: bool,
}

impl<'a> GlyphSvg<'a> {
    /// A new document of `size` pixels. `name` (e.g. the file stem) keeps
    /// glyph ids unique when several SVGs are inlined into one HTML page: ids
    /// start with a short hash of it. `title` becomes the SVG's `<title>` and
    /// accessible name.
    pub fn new(out: &'a mut String, size: (u32, u32), name: &str, title: &str) -> Self {
        // FNV-1a: fixed across runs, unlike std's hasher.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in name.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        let id_prefix = format!("g{:06x}", h & 0xff_ffff);
        Self {
            out,
            size,
            id_prefix,
            title: title.to_string(),
            body: Vec::new(),
            glyphs: BTreeMap::new(),
            run: None,
            saved: false,
        }
    }

    /// A glyph's outline as path data in whole font units, y pointing down:
    /// relative commands (`m`, `l`, `q`, `c`, `z`), which need fewer digits,
    /// and no line back to a contour's start where `z` draws it anyway.
    fn glyph_path(font: &FontRef<'static>, id: GlyphId) -> String {
        let Some(outline) = font.outline(id) else {
            return String::new();
        };
        let at = |p: ab_glyph::Point| (p.x.round() as i32, -(p.y.round() as i32));
        // Contours: start point and segments (command, points), absolute.
        type Segment = (char, Vec<(i32, i32)>);
        let mut contours: Vec<((i32, i32), Vec<Segment>)> = Vec::new();
        let mut last: Option<ab_glyph::Point> = None;
        for curve in &outline.curves {
            let (start, end, cmd, pts) = match *curve {
                OutlineCurve::Line(a, b) => (a, b, 'l', vec![at(b)]),
                OutlineCurve::Quad(a, b, c) => (a, c, 'q', vec![at(b), at(c)]),
                OutlineCurve::Cubic(a, b, c, e) => (a, e, 'c', vec![at(b), at(c), at(e)]),
            };
            if last != Some(start) {
                contours.push((at(start), Vec::new()));
            }
            if let Some((_, segments)) = contours.last_mut() {
                segments.push((cmd, pts));
            }
            last = Some(end);
        }
        let mut d = String::new();
        let mut cur = (0, 0);
        let numbers = |d: &mut String, cur: &mut (i32, i32), cmd: char, pts: &[(i32, i32)]| {
            d.push(cmd);
            for (i, &(x, y)) in pts.iter().enumerate() {
                for (j, v) in [x - cur.0, y - cur.1].into_iter().enumerate() {
                    // A minus sign separates numbers by itself.
                    if (i, j) != (0, 0) && v >= 0 {
                        d.push(' ');
                    }
                    let _ = write!(d, "{v}");
                }
            }
            *cur = *pts.last().unwrap_or(cur);
        };
        for (start, mut segments) in contours {
            if segments
                .last()
                .is_some_and(|(c, p)| *c == 'l' && p[..] == [start])
            {
                segments.pop();
            }
            numbers(&mut d, &mut cur, 'm', &[start]);
            for (cmd, pts) in &segments {
                numbers(&mut d, &mut cur, *cmd, pts);
            }
            // `z` goes back to the contour's start.
            d.push('z');
            cur = start;
        }
        d
    }

    /// One shape: `paint` (fill, stroke and their widths and joins, shared
    /// by a run of shapes) and `own` attributes (geometry, opacity). Shapes
    /// in a row with the same paint go into one `<g>` carrying it, so a grid
    /// of twenty lines states its colour once.
    fn shape(&mut self, name: &str, paint: &[(&str, String)], own: &[Option<(&str, String)>]) {
        let mut p = String::new();
        for (k, v) in paint {
            let _ = write!(p, " {k}=\"{}\"", xml_escape(v));
        }
        let mut e = format!("<{name}");
        for (k, v) in own.iter().flatten() {
            let _ = write!(e, " {k}=\"{}\"", xml_escape(v));
        }
        e.push_str("/>");
        match &mut self.run {
            Some((paint, shapes)) if *paint == p => shapes.push(e),
            _ => {
                self.flush_run();
                self.run = Some((p, vec![e]));
            }
        }
    }

    /// Writes the pending run of shapes: one shape with its paint inline,
    /// several in a `<g>` with the paint.
    fn flush_run(&mut self) {
        let Some((paint, shapes)) = self.run.take() else {
            return;
        };
        if !matches!(self.body.last(), Some(Item::Shapes(_))) {
            self.body.push(Item::Shapes(String::new()));
        }
        let Some(Item::Shapes(b)) = self.body.last_mut() else {
            return;
        };
        if let [one] = shapes.as_slice() {
            let (head, tail) = one.split_at(one.find([' ', '/']).unwrap_or(one.len()));
            let _ = writeln!(b, "{head}{paint}{tail}");
        } else {
            let _ = writeln!(b, "<g{paint}>");
            for e in &shapes {
                b.push_str(e);
                b.push('\n');
            }
            b.push_str("</g>\n");
        }
    }

    fn points<I: IntoIterator<Item = BackendCoord>>(path: I) -> String {
        let mut s = String::new();
        for (x, y) in path {
            let _ = write!(s, "{x},{y} ");
        }
        s.trim_end().to_string()
    }
}

impl DrawingBackend for GlyphSvg<'_> {
    type ErrorType = SvgError;

    fn get_size(&self) -> (u32, u32) {
        self.size
    }

    fn ensure_prepared(&mut self) -> Result<(), DrawingErrorKind<SvgError>> {
        Ok(())
    }

    fn present(&mut self) -> Result<(), DrawingErrorKind<SvgError>> {
        if self.saved {
            return Ok(());
        }
        self.flush_run();
        let (w, h) = self.size;
        let o = &mut *self.out;
        o.clear();
        let _ = write!(
            o,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" xmlns:xlink=\"http://www.w3.org/1999/xlink\" \
             width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"{t}\">\n\
             <title>{t}</title>\n<defs>\n",
            t = xml_escape(&self.title)
        );
        for ((bold, id), d) in &self.glyphs {
            let _ = writeln!(
                o,
                "<path id=\"{}{}{id}\" d=\"{d}\"/>",
                self.id_prefix,
                if *bold { "b" } else { "r" }
            );
        }
        // Words of two or more glyphs that occur more than once: defined
        // once, in order of first use.
        let relative = |w: &[Glyph]| -> Vec<Glyph> {
            let x0 = w[0].1;
            w.iter().map(|&(k, x)| (k, x - x0)).collect()
        };
        let mut count: std::collections::HashMap<Vec<Glyph>, usize> =
            std::collections::HashMap::new();
        let mut order: Vec<Vec<Glyph>> = Vec::new();
        for item in &self.body {
            if let Item::Text { words, .. } = item {
                for w in words.iter().filter(|w| w.len() > 1) {
                    let n = count.entry(relative(w)).or_insert(0);
                    if *n == 0 {
                        order.push(relative(w));
                    }
                    *n += 1;
                }
            }
        }
        let mut word_id: std::collections::HashMap<Vec<Glyph>, usize> =
            std::collections::HashMap::new();
        let p = &self.id_prefix;
        let glyph_use = |o: &mut String, ((bold, id), x): Glyph| {
            let _ = writeln!(
                o,
                "<use xlink:href=\"#{p}{}{id}\" x=\"{x}\"/>",
                if bold { "b" } else { "r" }
            );
        };
        for w in order.into_iter().filter(|w| count[w] > 1) {
            let n = word_id.len();
            let _ = writeln!(o, "<g id=\"{p}w{n}\">");
            for &g in &w {
                glyph_use(o, g);
            }
            o.push_str("</g>\n");
            word_id.insert(w, n);
        }
        o.push_str("</defs>\n");
        for item in &self.body {
            match item {
                Item::Shapes(s) => o.push_str(s),
                Item::Text { head, words } => {
                    o.push_str(head);
                    o.push('\n');
                    for w in words {
                        match word_id.get(&relative(w)).filter(|_| w.len() > 1) {
                            Some(n) => {
                                let _ =
                                    writeln!(o, "<use xlink:href=\"#{p}w{n}\" x=\"{}\"/>", w[0].1);
                            }
                            None => w.iter().for_each(|&g| glyph_use(o, g)),
                        }
                    }
                    o.push_str("</g>\n");
                }
            }
        }
        o.push_str("</svg>\n");
        self.saved = true;
        Ok(())
    }

    fn draw_pixel(
        &mut self,
        point: BackendCoord,
        color: BackendColor,
    ) -> Result<(), DrawingErrorKind<SvgError>> {
        if color.alpha == 0.0 {
            return Ok(());
        }
        self.shape(
            "rect",
            &[("fill", colour(color))],
            &[
                Some(("x", point.0.to_string())),
                Some(("y", point.1.to_string())),
                Some(("width", "1".into())),
                Some(("height", "1".into())),
                opacity(color),
            ],
        );
        Ok(())
    }

    fn draw_line<S: BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> Result<(), DrawingErrorKind<SvgError>> {
        if style.color().alpha == 0.0 {
            return Ok(());
        }
        let mut paint = vec![("stroke", colour(style.color()))];
        paint.extend(stroke_width(style.stroke_width()));
        self.shape(
            "line",
            &paint,
            &[
                Some(("x1", from.0.to_string())),
                Some(("y1", from.1.to_string())),
                Some(("x2", to.0.to_string())),
                Some(("y2", to.1.to_string())),
                opacity(style.color()),
            ],
        );
        Ok(())
    }

    fn draw_rect<S: BackendStyle>(
        &mut self,
        ul: BackendCoord,
        br: BackendCoord,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<SvgError>> {
        if style.color().alpha == 0.0 {
            return Ok(());
        }
        let c = colour(style.color());
        let paint = if fill {
            vec![("fill", c)]
        } else {
            vec![("fill", "none".to_string()), ("stroke", c)]
        };
        self.shape(
            "rect",
            &paint,
            &[
                Some(("x", ul.0.to_string())),
                Some(("y", ul.1.to_string())),
                Some(("width", (br.0 - ul.0).to_string())),
                Some(("height", (br.1 - ul.1).to_string())),
                opacity(style.color()),
            ],
        );
        Ok(())
    }

    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<SvgError>> {
        if style.color().alpha == 0.0 {
            return Ok(());
        }
        let path: Vec<BackendCoord> = path.into_iter().collect();
        if let [from, to] = path[..] {
            // A segment has no joins: a line says the same in fewer bytes.
            return self.draw_line(from, to, style);
        }
        let mut paint = vec![
            ("fill", "none".to_string()),
            ("stroke", colour(style.color())),
        ];
        paint.extend(stroke_width(style.stroke_width()));
        paint.push(("stroke-linejoin", "round".into()));
        self.shape(
            "polyline",
            &paint,
            &[Some(("points", Self::points(path))), opacity(style.color())],
        );
        Ok(())
    }

    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<SvgError>> {
        if style.color().alpha == 0.0 {
            return Ok(());
        }
        self.shape(
            "polygon",
            &[("fill", colour(style.color()))],
            &[Some(("points", Self::points(path))), opacity(style.color())],
        );
        Ok(())
    }

    fn draw_circle<S: BackendStyle>(
        &mut self,
        center: BackendCoord,
        radius: u32,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<SvgError>> {
        if style.color().alpha == 0.0 {
            return Ok(());
        }
        let c = colour(style.color());
        let paint = if fill {
            vec![("fill", c)]
        } else {
            let mut p = vec![("fill", "none".to_string()), ("stroke", c)];
            p.extend(stroke_width(style.stroke_width()));
            p
        };
        self.shape(
            "circle",
            &paint,
            &[
                Some(("cx", center.0.to_string())),
                Some(("cy", center.1.to_string())),
                Some(("r", radius.to_string())),
                opacity(style.color()),
            ],
        );
        Ok(())
    }

    fn estimate_text_size<TStyle: BackendTextStyle>(
        &self,
        text: &str,
        style: &TStyle,
    ) -> Result<(u32, u32), DrawingErrorKind<SvgError>> {
        let bold = matches!(style.style(), FontStyle::Bold);
        let (w, h) = layout(text, style.size(), bold).map_err(DrawingErrorKind::DrawingError)?;
        Ok((w.max(0) as u32, h.max(0) as u32))
    }

    fn draw_text<TStyle: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &TStyle,
        pos: BackendCoord,
    ) -> Result<(), DrawingErrorKind<SvgError>> {
        let color = style.color();
        if color.alpha == 0.0 || text.is_empty() {
            return Ok(());
        }
        let placed = place_text(text, style).map_err(DrawingErrorKind::DrawingError)?;
        let s = placed.px_per_unit;
        // One glyph per character that is not white space, in order, so the
        // text's words are runs of glyphs.
        let mut glyphs = placed.glyphs.iter();
        let mut words = Vec::new();
        for word in text.split_whitespace() {
            let mut w: Vec<Glyph> = Vec::new();
            for g in glyphs.by_ref().take(word.chars().count()) {
                let key = (placed.bold, g.id.0);
                self.glyphs
                    .entry(key)
                    .or_insert_with(|| Self::glyph_path(placed.font, g.id));
                w.push((key, (g.x / s).round() as i64));
            }
            if !w.is_empty() {
                words.push(w);
            }
        }
        // Every glyph of a run sits on the same baseline: one y for all.
        let baseline = placed.glyphs.first().map(|g| g.y).unwrap_or(0.0);
        let mut transform = format!("translate({} {})", pos.0, pos.1);
        if placed.rotate != 0 {
            let _ = write!(transform, " rotate({})", placed.rotate);
        }
        let _ = write!(transform, " scale({s:.6}) translate(0 {:.0})", baseline / s);
        self.flush_run();
        let alpha = opacity(color)
            .map(|(k, v)| format!(" {k}=\"{v}\""))
            .unwrap_or_default();
        let head = format!(
            "<g aria-label=\"{}\" fill=\"{}\"{alpha} transform=\"{transform}\">",
            xml_escape(text),
            colour(color),
        );
        self.body.push(Item::Text { head, words });
        Ok(())
    }
}

impl Drop for GlyphSvg<'_> {
    fn drop(&mut self) {
        let _ = self.present();
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use plotters::prelude::*;

    #[test]
    fn text_becomes_glyph_paths_with_a_label() {
        let mut out = String::new();
        {
            let root = GlyphSvg::new(&mut out, (200, 100), "t", "A <test>").into_drawing_area();
            root.fill(&WHITE).unwrap();
            root.draw(&Text::new(
                "Hello & go",
                (10, 10),
                ("sans-serif", 20).into_font(),
            ))
            .unwrap();
            root.present().unwrap();
        }
        assert!(out.starts_with("<svg "), "{out}");
        assert!(out.trim_end().ends_with("</svg>"));
        assert!(out.contains("aria-label=\"Hello &amp; go\""));
        assert!(out.contains("<title>A &lt;test&gt;</title>"));
        assert!(!out.contains("<text"), "no font-dependent text elements");
        // 'l' appears twice but is defined once.
        assert_eq!(out.matches("<path id=").count(), 6, "H e l o & g: {out}");
    }

    /// A chart with recurring words, a rotated label, translucent text,
    /// escaped characters, a grid and a line.
    pub(crate) fn chart(name: &str, footer: &str) -> String {
        let mut out = String::new();
        {
            let root = GlyphSvg::new(&mut out, (400, 300), name, name).into_drawing_area();
            root.fill(&WHITE).unwrap();
            let font = ("sans-serif", 15).into_font();
            for (i, t) in ["node express", "node fastapi", "0.5", "a < b & c"]
                .iter()
                .enumerate()
            {
                root.draw(&Text::new(*t, (10, 20 + 20 * i as i32), font.clone()))
                    .unwrap();
            }
            root.draw(&Text::new(
                "latency (ms)",
                (380, 150),
                font.clone().transform(FontTransform::Rotate90),
            ))
            .unwrap();
            root.draw(&Text::new(
                footer,
                (10, 280),
                font.clone().color(&BLACK.mix(0.5)),
            ))
            .unwrap();
            for y in [100, 150, 200] {
                root.draw(&PathElement::new(
                    vec![(10, y), (390, y)],
                    RGBColor(0xDD, 0xDD, 0xDD),
                ))
                .unwrap();
            }
            root.draw(&PathElement::new(
                vec![(10, 250), (100, 120), (200, 180)],
                Color::stroke_width(&RGBColor(0xE1, 0x57, 0x59), 2),
            ))
            .unwrap();
            root.present().unwrap();
        }
        out
    }

    #[test]
    fn recurring_words_are_defined_once_and_shapes_share_their_paint() {
        let svg = chart("c1", "node 24.1 · run 1");
        // "node" three times: one definition, three uses of it.
        assert_eq!(svg.matches("<g id=\"").count(), 1, "{svg}");
        let word = svg
            .split("<g id=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        assert_eq!(svg.matches(&format!("xlink:href=\"#{word}\"")).count(), 3);
        // Three grid segments: lines in one group with the shared colour.
        assert!(
            svg.contains(
                "<g stroke=\"#DDD\">\n<line x1=\"10\" y1=\"100\" x2=\"390\" y2=\"100\"/>\n"
            ),
            "{svg}"
        );
        assert!(svg.contains("<polyline fill=\"none\" stroke=\"#E15759\" stroke-width=\"2\""));
        assert!(!svg.contains("opacity=\"1\""), "opaque is the default");
        assert!(svg.contains("fill=\"#000\" opacity=\"0.5\""));
    }
}
