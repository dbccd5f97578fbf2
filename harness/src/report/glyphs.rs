//! Text as glyphs of the embedded DejaVu Sans, laid out once for both chart
//! backends: [`layout`] (a text's box, which plotters lays labels out by)
//! and [`place_text`] (each glyph's position, anchored and rotated as
//! plotters anchors text). The SVG side ([`super::svg`]) writes the glyphs
//! as paths, the PNG side ([`super::bitmap`]) rasterises them, so the two
//! files of a chart line up.

use std::sync::OnceLock;

use ab_glyph::{Font, FontRef, GlyphId, ScaleFont};
use plotters_backend::text_anchor::{HPos, VPos};
use plotters_backend::{BackendTextStyle, FontStyle, FontTransform};

/// The embedded font could not be used (it is parsed once, at first use).
#[derive(Debug, thiserror::Error)]
#[error("SVG backend: {0}")]
pub struct FontError(String);

struct Fonts {
    regular: FontRef<'static>,
    bold: FontRef<'static>,
}

impl Fonts {
    fn get(&'static self, bold: bool) -> &'static FontRef<'static> {
        if bold { &self.bold } else { &self.regular }
    }
}

fn fonts() -> Result<&'static Fonts, FontError> {
    static FONTS: OnceLock<Option<Fonts>> = OnceLock::new();
    FONTS
        .get_or_init(|| {
            Some(Fonts {
                regular: FontRef::try_from_slice(dejavu::sans::regular()).ok()?,
                bold: FontRef::try_from_slice(dejavu::sans::bold()).ok()?,
            })
        })
        .as_ref()
        .ok_or_else(|| FontError("the embedded DejaVu Sans font could not be parsed".into()))
}

/// Width and height in pixels of `text` at `size`: the width is the sum of
/// advances and kerning, the height plotters' own estimate (size / 1.24),
/// so plotters lays out labels the same way for both backends.
pub(crate) fn layout(text: &str, size: f64, bold: bool) -> Result<(i32, i32), FontError> {
    let font = fonts()?.get(bold);
    let scaled = font.as_scaled(size as f32);
    let width = pen(&scaled, text).last().map_or(0.0, |p| p.x + p.advance);
    Ok((width.ceil() as i32, (size / 1.24) as i32))
}

/// A glyph on the pen's path: the character, its glyph, its x (kerning
/// with the previous glyph applied) and its advance, in pixels.
struct PenStep {
    c: char,
    id: GlyphId,
    x: f32,
    advance: f32,
}

/// The pen's path through `text`: advances with kerning, the one loop both
/// [`layout`] and [`place_text`] use.
fn pen<'a, F: Font>(
    scaled: &'a ab_glyph::PxScaleFont<&'a F>,
    text: &'a str,
) -> impl Iterator<Item = PenStep> + 'a {
    let mut x = 0f32;
    let mut prev: Option<GlyphId> = None;
    text.chars().map(move |c| {
        let id = scaled.glyph_id(c);
        if let Some(p) = prev {
            x += scaled.kern(p, id);
        }
        prev = Some(id);
        let step = PenStep {
            c,
            id,
            x,
            advance: scaled.h_advance(id),
        };
        x += step.advance;
        step
    })
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
) -> Result<PlacedText, FontError> {
    let size = style.size();
    let bold = matches!(style.style(), FontStyle::Bold);
    let font = fonts()?.get(bold);
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
    let glyphs = pen(&scaled, text)
        .filter(|p| !p.c.is_whitespace())
        .map(|p| PlacedGlyph {
            id: p.id,
            x: dx + p.x,
            y: baseline,
        })
        .collect();
    Ok(PlacedText {
        font,
        bold,
        size: size as f32,
        px_per_unit: scaled.h_scale_factor(),
        rotate,
        glyphs,
    })
}
