//! A plotters SVG backend that draws text as glyph outlines of the embedded
//! DejaVu Sans font, so an SVG renders the same in every viewer, with or
//! without system fonts (plotters' own `SVGBackend` writes `<text>` elements
//! and leaves the font to the viewer).
//!
//! Each glyph used is defined once in `<defs>` (in font units) and placed with
//! `<use>`, and so is each word that recurs in a chart; every text run
//! carries its string in `aria-label`, so the text is still searchable and
//! read by screen readers. [`share_text`] defines them once for a page of
//! several charts. Text geometry (advance, kerning,
//! baseline, anchors, rotation) follows plotters' bitmap text drawing, so the
//! SVG and the PNG of a chart line up.
//!
//! Owns nothing but SVG serialisation; knows nothing about results.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::OnceLock;

use ab_glyph::{Font, FontRef, GlyphId, OutlineCurve, ScaleFont};
use plotters::prelude::DrawingBackend;
use plotters_backend::text_anchor::{HPos, VPos};
use plotters_backend::{
    BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingErrorKind, FontStyle,
    FontTransform,
};

/// The error type of [`GlyphSvg`]: drawing into a String cannot fail, but the
/// font could (in theory) be unusable.
#[derive(Debug, thiserror::Error)]
#[error("SVG backend: {0}")]
pub struct SvgError(String);

struct Fonts {
    regular: FontRef<'static>,
    bold: FontRef<'static>,
}

fn fonts() -> Result<&'static Fonts, SvgError> {
    static FONTS: OnceLock<Option<Fonts>> = OnceLock::new();
    FONTS
        .get_or_init(|| {
            Some(Fonts {
                regular: FontRef::try_from_slice(dejavu::sans::regular()).ok()?,
                bold: FontRef::try_from_slice(dejavu::sans::bold()).ok()?,
            })
        })
        .as_ref()
        .ok_or_else(|| SvgError("the embedded DejaVu Sans font could not be parsed".into()))
}

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
/// share a `<g>` with the paint. [`share_text`] relies on this form.
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

/// Width and height in pixels of `text` at `size`: the width is the sum of
/// advances and kerning, the height plotters' own estimate (size / 1.24),
/// so plotters lays out labels the same way for both backends.
pub(crate) fn layout(text: &str, size: f64, bold: bool) -> Result<(i32, i32), SvgError> {
    let f = fonts()?;
    let font = if bold { &f.bold } else { &f.regular };
    let scaled = font.as_scaled(size as f32);
    let mut x = 0f32;
    let mut prev = None;
    for c in text.chars() {
        let id = scaled.glyph_id(c);
        if let Some(p) = prev {
            x += scaled.kern(p, id);
        }
        x += scaled.h_advance(id);
        prev = Some(id);
    }
    Ok((x.ceil() as i32, (size / 1.24) as i32))
}

/// One glyph placed: its id and its origin on the baseline, in pixels
/// relative to the text's anchor point, before rotation.
pub(crate) struct PlacedGlyph {
    pub(crate) id: GlyphId,
    pub(crate) x: f32,
    pub(crate) y: f32,
}

/// A text run laid out for drawing.
pub(crate) struct PlacedText {
    pub(crate) font: &'static FontRef<'static>,
    pub(crate) bold: bool,
    /// Pixel size given to ab_glyph (ascent - descent in pixels).
    pub(crate) size: f32,
    /// Pixels per font unit.
    pub(crate) px_per_unit: f32,
    /// Clockwise rotation in degrees: 0, 90, 180 or 270.
    pub(crate) rotate: i32,
    pub(crate) glyphs: Vec<PlacedGlyph>,
}

/// Lays out `text` for `style`: sub-pixel advances with kerning, anchored
/// like plotters anchors text (its box is `layout`'s width and height), with
/// the capital letters centred in that box.
pub(crate) fn place_text<S: BackendTextStyle>(
    text: &str,
    style: &S,
) -> Result<PlacedText, SvgError> {
    let size = style.size();
    let bold = matches!(style.style(), FontStyle::Bold);
    let f = fonts()?;
    let font: &'static FontRef<'static> = if bold { &f.bold } else { &f.regular };
    let scaled = font.as_scaled(size as f32);
    let (width, height) = layout(text, size, bold)?;
    let (width, height) = (width as f32, height as f32);
    let dx = match style.anchor().h_pos {
        HPos::Left => 0.0,
        HPos::Right => -width,
        HPos::Center => -width / 2.0,
    };
    let top = match style.anchor().v_pos {
        VPos::Top => 0.0,
        VPos::Center => -height / 2.0,
        VPos::Bottom => -height,
    };
    // Cap height of DejaVu Sans is 0.729 em; centre it in the box.
    let cap = 0.729 * font.units_per_em().unwrap_or(2048.0) * scaled.h_scale_factor();
    let baseline = top + (height + cap) / 2.0;
    let rotate = match style.transform() {
        FontTransform::None => 0,
        FontTransform::Rotate90 => 90,
        FontTransform::Rotate180 => 180,
        FontTransform::Rotate270 => 270,
    };
    let mut glyphs = Vec::new();
    let mut x = 0f32;
    let mut prev: Option<GlyphId> = None;
    for c in text.chars() {
        let id = scaled.glyph_id(c);
        if let Some(p) = prev {
            x += scaled.kern(p, id);
        }
        prev = Some(id);
        if !c.is_whitespace() {
            glyphs.push(PlacedGlyph {
                id,
                x: dx + x,
                y: baseline,
            });
        }
        x += scaled.h_advance(id);
    }
    Ok(PlacedText {
        font,
        bold,
        size: size as f32,
        px_per_unit: scaled.h_scale_factor(),
        rotate,
        glyphs,
    })
}

/// Chart SVGs as [`GlyphSvg`] writes them, made ready to sit side by side in
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
    /// [`GlyphSvg`] writes is kept as it was (with its own definitions).
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

/// Takes apart a chart in the form [`GlyphSvg`] writes; None if it is not.
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
    fn chart(name: &str, footer: &str) -> String {
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
