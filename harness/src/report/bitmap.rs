//! The PNG side: plotters' bitmap backend with its text drawing replaced by
//! the same glyph layout the SVG backend uses ([`super::svg`]), rasterised
//! with ab_glyph at sub-pixel positions and alpha-blended. plotters' own
//! bitmap text rounds every glyph to whole pixels, which leaves uneven gaps
//! ("pyth on") and misplaced punctuation at small sizes.
//!
//! Owns nothing but pixels; knows nothing about results.

use ab_glyph::{Font, PxScale, point};
use plotters::prelude::{BitMapBackend, DrawingBackend};
use plotters_backend::{
    BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingErrorKind,
};

use super::svg::{layout, place_text};

type Error = <BitMapBackend<'static> as DrawingBackend>::ErrorType;

/// A bitmap backend (PNG file) with embedded-font text.
pub struct GlyphBitmap<'a> {
    inner: BitMapBackend<'a>,
}

impl<'a> GlyphBitmap<'a> {
    /// A PNG of `size` pixels written to `path` when presented.
    pub fn new(path: &'a std::path::Path, size: (u32, u32)) -> Self {
        Self {
            inner: BitMapBackend::new(path, size),
        }
    }
}

fn font_error(e: super::svg::SvgError) -> DrawingErrorKind<Error> {
    DrawingErrorKind::FontError(Box::new(e))
}

impl DrawingBackend for GlyphBitmap<'_> {
    type ErrorType = Error;

    fn get_size(&self) -> (u32, u32) {
        self.inner.get_size()
    }

    fn ensure_prepared(&mut self) -> Result<(), DrawingErrorKind<Error>> {
        self.inner.ensure_prepared()
    }

    fn present(&mut self) -> Result<(), DrawingErrorKind<Error>> {
        self.inner.present()
    }

    fn draw_pixel(
        &mut self,
        point: BackendCoord,
        color: BackendColor,
    ) -> Result<(), DrawingErrorKind<Error>> {
        self.inner.draw_pixel(point, color)
    }

    fn draw_line<S: BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Error>> {
        self.inner.draw_line(from, to, style)
    }

    fn draw_rect<S: BackendStyle>(
        &mut self,
        ul: BackendCoord,
        br: BackendCoord,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<Error>> {
        self.inner.draw_rect(ul, br, style, fill)
    }

    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Error>> {
        self.inner.draw_path(path, style)
    }

    fn draw_circle<S: BackendStyle>(
        &mut self,
        center: BackendCoord,
        radius: u32,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<Error>> {
        self.inner.draw_circle(center, radius, style, fill)
    }

    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        vert: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Error>> {
        self.inner.fill_polygon(vert, style)
    }

    fn blit_bitmap(
        &mut self,
        pos: BackendCoord,
        size: (u32, u32),
        src: &[u8],
    ) -> Result<(), DrawingErrorKind<Error>> {
        self.inner.blit_bitmap(pos, size, src)
    }

    fn estimate_text_size<TStyle: BackendTextStyle>(
        &self,
        text: &str,
        style: &TStyle,
    ) -> Result<(u32, u32), DrawingErrorKind<Error>> {
        let bold = matches!(style.style(), plotters_backend::FontStyle::Bold);
        let (w, h) = layout(text, style.size(), bold).map_err(font_error)?;
        Ok((w.max(0) as u32, h.max(0) as u32))
    }

    fn draw_text<TStyle: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &TStyle,
        pos: BackendCoord,
    ) -> Result<(), DrawingErrorKind<Error>> {
        let color = style.color();
        if color.alpha == 0.0 || text.is_empty() {
            return Ok(());
        }
        let placed = place_text(text, style).map_err(font_error)?;
        let rot = |x: f32, y: f32| -> (f32, f32) {
            match placed.rotate {
                90 => (-y, x),
                180 => (-x, -y),
                270 => (y, -x),
                _ => (x, y),
            }
        };
        let scale = PxScale::from(placed.size);
        let mut pixels: Vec<(i32, i32, f32)> = Vec::new();
        for g in &placed.glyphs {
            let glyph = g.id.with_scale_and_position(scale, point(g.x, g.y));
            if let Some(outline) = placed.font.outline_glyph(glyph) {
                let b = outline.px_bounds();
                outline.draw(|gx, gy, c| {
                    if c > 0.0 {
                        // Pixel centre in local (unrotated) coordinates.
                        let (lx, ly) = rot(b.min.x + gx as f32 + 0.5, b.min.y + gy as f32 + 0.5);
                        pixels.push((
                            pos.0 + lx.floor() as i32,
                            pos.1 + ly.floor() as i32,
                            c.min(1.0),
                        ));
                    }
                });
            }
        }
        for (x, y, c) in pixels {
            self.inner.draw_pixel(
                (x, y),
                BackendColor {
                    alpha: color.alpha * f64::from(c),
                    rgb: color.rgb,
                },
            )?;
        }
        Ok(())
    }
}
