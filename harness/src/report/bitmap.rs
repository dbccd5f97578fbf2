//! The PNG side: plotters' bitmap backend with its text drawing replaced by
//! the same glyph layout the SVG backend uses ([`super::glyphs`]), rasterised
//! with ab_glyph at sub-pixel positions and alpha-blended. plotters' own
//! bitmap text rounds every glyph to whole pixels, which leaves uneven gaps
//! ("pyth on") and misplaced punctuation at small sizes.
//!
//! The pixels are drawn into memory and written by [`encode_png`]: a chart
//! has a few hundred colours at most (its series colours and the
//! anti-aliased shades of text and lines on white), so it is stored as an
//! indexed PNG, losslessly, in under a third of the bytes of plotters' RGB
//! file.
//!
//! Owns nothing but pixels; knows nothing about results.

use ab_glyph::{Font, PxScale, point};
use plotters::prelude::{BitMapBackend, DrawingBackend};
use plotters_backend::{
    BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingErrorKind,
};

use super::glyphs::{FontError, layout, place_text};

type Error = <BitMapBackend<'static> as DrawingBackend>::ErrorType;

/// A bitmap backend (RGB pixels in memory) with embedded-font text.
pub struct GlyphBitmap<'a> {
    inner: BitMapBackend<'a>,
}

impl<'a> GlyphBitmap<'a> {
    /// Draws into `rgb`: `size.0 * size.1` pixels, 3 bytes each, row by row.
    pub fn with_buffer(rgb: &'a mut [u8], size: (u32, u32)) -> Self {
        Self {
            inner: BitMapBackend::with_buffer(rgb, size),
        }
    }
}

/// Encodes RGB pixels (`size.0 * size.1 * 3` bytes, row by row) as a PNG,
/// losslessly and compactly: with at most 256 distinct colours (every chart
/// so far) as 8-bit indexed colour, unfiltered (filters only blur the runs of
/// equal indices that deflate finds), otherwise as RGB with adaptive
/// filtering; best compression either way.
pub fn encode_png(rgb: &[u8], size: (u32, u32)) -> Result<Vec<u8>, png::EncodingError> {
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, size.0, size.1);
    enc.set_depth(png::BitDepth::Eight);
    enc.set_compression(png::Compression::Best);
    match palette(rgb) {
        Some((palette, indices)) => {
            enc.set_color(png::ColorType::Indexed);
            enc.set_palette(palette);
            enc.set_filter(png::FilterType::NoFilter);
            enc.set_adaptive_filter(png::AdaptiveFilterType::NonAdaptive);
            enc.write_header()?.write_image_data(&indices)?;
        }
        None => {
            enc.set_color(png::ColorType::Rgb);
            enc.set_adaptive_filter(png::AdaptiveFilterType::Adaptive);
            enc.write_header()?.write_image_data(rgb)?;
        }
    }
    Ok(out)
}

/// The palette (RGB triples, in order of first use) and one index per pixel,
/// or None when there are more than 256 colours.
fn palette(rgb: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let mut index: std::collections::HashMap<[u8; 3], u8> = std::collections::HashMap::new();
    let mut palette = Vec::new();
    let mut indices = Vec::with_capacity(rgb.len() / 3);
    let mut last: Option<([u8; 3], u8)> = None;
    for px in rgb.chunks_exact(3) {
        let c = [px[0], px[1], px[2]];
        // Most pixels repeat their left neighbour: skip the lookup.
        let i = match last {
            Some((l, i)) if l == c => i,
            _ => match index.get(&c) {
                Some(&i) => i,
                None => {
                    let i = u8::try_from(index.len()).ok()?;
                    index.insert(c, i);
                    palette.extend_from_slice(&c);
                    i
                }
            },
        };
        last = Some((c, i));
        indices.push(i);
    }
    Some((palette, indices))
}

fn font_error(e: FontError) -> DrawingErrorKind<Error> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(png_bytes: &[u8]) -> (png::OutputInfo, Vec<u8>) {
        let mut dec = png::Decoder::new(png_bytes);
        dec.set_transformations(png::Transformations::EXPAND);
        let mut reader = dec.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).unwrap();
        buf.truncate(info.buffer_size());
        (info, buf)
    }

    #[test]
    fn few_colours_are_indexed_many_are_rgb_both_lossless() {
        let (w, h) = (40u32, 30u32);
        let few: Vec<u8> = (0..w * h)
            .flat_map(|i| {
                let v = (i % 7 * 30) as u8;
                [v, 255 - v, 128]
            })
            .collect();
        let bytes = encode_png(&few, (w, h)).unwrap();
        let (info, pixels) = decode(&bytes);
        assert_eq!((info.width, info.height), (w, h));
        assert_eq!(
            info.color_type,
            png::ColorType::Rgb,
            "indexed, expanded on decoding"
        );
        assert_eq!(pixels, few);
        assert!(bytes.windows(4).any(|c| c == b"PLTE"), "an indexed PNG");

        let many: Vec<u8> = (0..w * h)
            .flat_map(|i| [(i % 256) as u8, (i / 256) as u8, 7])
            .collect();
        let bytes = encode_png(&many, (w, h)).unwrap();
        assert!(
            !bytes.windows(4).any(|c| c == b"PLTE"),
            "more than 256 colours: RGB"
        );
        assert_eq!(decode(&bytes).1, many);
    }
}
