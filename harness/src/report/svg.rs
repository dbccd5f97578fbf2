//! A plotters SVG backend that draws text as glyph outlines of the embedded
//! DejaVu Sans font, so an SVG renders the same in every viewer, with or
//! without system fonts (plotters' own `SVGBackend` writes `<text>` elements
//! and leaves the font to the viewer).
//!
//! Each glyph used is defined once in `<defs>` (in font units) and placed with
//! `<use>`; every text run carries its string in `aria-label`, so the text is
//! still searchable and read by screen readers. Text geometry (advance, kerning,
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
    format!("#{r:02X}{g:02X}{b:02X}")
}

fn opacity(c: BackendColor) -> String {
    format!("{}", (c.alpha * 1000.0).round() / 1000.0)
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

/// An SVG drawing backend writing into a String, with text as glyph paths.
pub struct GlyphSvg<'a> {
    out: &'a mut String,
    size: (u32, u32),
    id_prefix: String,
    title: String,
    body: String,
    /// (bold, glyph id) -> path data in font units, y pointing down.
    glyphs: BTreeMap<(bool, u16), String>,
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
            body: String::new(),
            glyphs: BTreeMap::new(),
            saved: false,
        }
    }

    fn glyph_path(font: &FontRef<'static>, id: GlyphId) -> String {
        let mut d = String::new();
        let Some(outline) = font.outline(id) else {
            return d;
        };
        let mut last: Option<ab_glyph::Point> = None;
        let p = |d: &mut String, pt: ab_glyph::Point| {
            let _ = write!(d, "{} {}", pt.x.round() as i32, -(pt.y.round() as i32));
        };
        for curve in &outline.curves {
            let (start, end) = match *curve {
                OutlineCurve::Line(a, b) => (a, b),
                OutlineCurve::Quad(a, _, c) => (a, c),
                OutlineCurve::Cubic(a, _, _, d) => (a, d),
            };
            if last != Some(start) {
                if last.is_some() {
                    d.push('Z');
                }
                d.push('M');
                p(&mut d, start);
            }
            match *curve {
                OutlineCurve::Line(_, b) => {
                    d.push('L');
                    p(&mut d, b);
                }
                OutlineCurve::Quad(_, b, c) => {
                    d.push('Q');
                    p(&mut d, b);
                    d.push(' ');
                    p(&mut d, c);
                }
                OutlineCurve::Cubic(_, b, c, e) => {
                    d.push('C');
                    p(&mut d, b);
                    d.push(' ');
                    p(&mut d, c);
                    d.push(' ');
                    p(&mut d, e);
                }
            }
            last = Some(end);
        }
        if last.is_some() {
            d.push('Z');
        }
        d
    }

    fn tag(&mut self, name: &str, attrs: &[(&str, String)]) {
        let b = &mut self.body;
        b.push('<');
        b.push_str(name);
        for (k, v) in attrs {
            let _ = write!(b, " {k}=\"{}\"", xml_escape(v));
        }
        b.push_str("/>\n");
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
        o.push_str("</defs>\n");
        o.push_str(&self.body);
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
        self.tag(
            "rect",
            &[
                ("x", point.0.to_string()),
                ("y", point.1.to_string()),
                ("width", "1".into()),
                ("height", "1".into()),
                ("opacity", opacity(color)),
                ("fill", colour(color)),
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
        self.tag(
            "line",
            &[
                ("opacity", opacity(style.color())),
                ("stroke", colour(style.color())),
                ("stroke-width", style.stroke_width().to_string()),
                ("x1", from.0.to_string()),
                ("y1", from.1.to_string()),
                ("x2", to.0.to_string()),
                ("y2", to.1.to_string()),
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
        let (f, s) = if fill {
            (c, "none".to_string())
        } else {
            ("none".to_string(), c)
        };
        self.tag(
            "rect",
            &[
                ("x", ul.0.to_string()),
                ("y", ul.1.to_string()),
                ("width", (br.0 - ul.0).to_string()),
                ("height", (br.1 - ul.1).to_string()),
                ("opacity", opacity(style.color())),
                ("fill", f),
                ("stroke", s),
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
        self.tag(
            "polyline",
            &[
                ("fill", "none".into()),
                ("opacity", opacity(style.color())),
                ("stroke", colour(style.color())),
                ("stroke-width", style.stroke_width().to_string()),
                ("stroke-linejoin", "round".into()),
                ("points", Self::points(path)),
            ],
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
        self.tag(
            "polygon",
            &[
                ("opacity", opacity(style.color())),
                ("fill", colour(style.color())),
                ("points", Self::points(path)),
            ],
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
        let (f, s) = if fill {
            (c, "none".to_string())
        } else {
            ("none".to_string(), c)
        };
        self.tag(
            "circle",
            &[
                ("cx", center.0.to_string()),
                ("cy", center.1.to_string()),
                ("r", radius.to_string()),
                ("opacity", opacity(style.color())),
                ("fill", f),
                ("stroke", s),
                ("stroke-width", style.stroke_width().to_string()),
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
        let tag = if placed.bold { "b" } else { "r" };
        let mut uses = String::new();
        for g in &placed.glyphs {
            let key = (placed.bold, g.id.0);
            self.glyphs
                .entry(key)
                .or_insert_with(|| Self::glyph_path(placed.font, g.id));
            let _ = writeln!(
                uses,
                "<use xlink:href=\"#{}{tag}{}\" x=\"{:.0}\"/>",
                self.id_prefix,
                g.id.0,
                g.x / s,
            );
        }
        // Every glyph of a run sits on the same baseline: one y for all.
        let baseline = placed.glyphs.first().map(|g| g.y).unwrap_or(0.0);
        let mut transform = format!("translate({} {})", pos.0, pos.1);
        if placed.rotate != 0 {
            let _ = write!(transform, " rotate({})", placed.rotate);
        }
        let _ = write!(transform, " scale({s:.6}) translate(0 {:.0})", baseline / s);
        let _ = write!(
            self.body,
            "<g aria-label=\"{}\" fill=\"{}\" opacity=\"{}\" transform=\"{transform}\">\n{uses}</g>\n",
            xml_escape(text),
            colour(color),
            opacity(color),
        );
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
}
