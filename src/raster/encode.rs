//! Encoding RGBA pixels as PNG, JPEG or WebP.

use super::error::{RasterError, Result};
use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::codecs::webp::WebPEncoder;
use image::{ExtendedColorType, ImageEncoder};

/// Output image formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum Format {
    /// PNG with fast compression; RGB when every pixel is opaque, RGBA otherwise.
    #[default]
    Png,
    /// JPEG (quality 85); transparent pixels become black.
    Jpeg,
    /// Lossless WebP, with alpha.
    Webp,
}

impl Format {
    /// Parses a file extension or a media type (`png`, `jpg`, `jpeg`,
    /// `webp`, `image/png`, …).
    pub fn parse(s: &str) -> Result<Format> {
        let s = s.trim().to_ascii_lowercase();
        Ok(match s.strip_prefix("image/").unwrap_or(&s) {
            "png" => Format::Png,
            "jpg" | "jpeg" => Format::Jpeg,
            "webp" => Format::Webp,
            other => {
                return Err(RasterError::param(format!(
                    "format '{other}' is not one of png, jpg, jpeg, webp"
                )));
            }
        })
    }

    /// The media type.
    pub fn media_type(self) -> &'static str {
        match self {
            Format::Png => "image/png",
            Format::Jpeg => "image/jpeg",
            Format::Webp => "image/webp",
        }
    }

    /// The usual file extension.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Png => "png",
            Format::Jpeg => "jpg",
            Format::Webp => "webp",
        }
    }
}

/// An RGBA image, 4 bytes per pixel, rows top to bottom.
#[derive(Debug, Clone, PartialEq)]
pub struct Rgba {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// `width × height × 4` bytes.
    pub data: Vec<u8>,
}

impl Rgba {
    /// A fully transparent image.
    pub fn transparent(width: usize, height: usize) -> Rgba {
        Rgba {
            width,
            height,
            data: vec![0; width * height * 4],
        }
    }

    /// True when no pixel has any opacity.
    pub fn is_empty(&self) -> bool {
        self.data.chunks_exact(4).all(|p| p[3] == 0)
    }

    /// True when every pixel is fully opaque.
    pub fn is_opaque(&self) -> bool {
        self.data.chunks_exact(4).all(|p| p[3] == 255)
    }

    /// Number of pixels with some opacity.
    pub fn filled(&self) -> usize {
        self.data.chunks_exact(4).filter(|p| p[3] != 0).count()
    }

    /// Paints `other` where this image is still fully transparent ("first
    /// opaque wins", the mosaic rule); returns the number of pixels filled.
    pub fn fill_from(&mut self, other: &Rgba) -> usize {
        let mut filled = 0;
        for (dst, src) in self
            .data
            .chunks_exact_mut(4)
            .zip(other.data.chunks_exact(4))
        {
            if dst[3] == 0 && src[3] != 0 {
                dst.copy_from_slice(src);
                filled += 1;
            }
        }
        filled
    }

    /// [`Rgba::fill_from`] for a smaller image placed at column `x0`, row `y0`.
    pub fn fill_from_at(&mut self, other: &Rgba, x0: usize, y0: usize) -> usize {
        let mut filled = 0;
        for row in 0..other.height.min(self.height.saturating_sub(y0)) {
            let width = other.width.min(self.width.saturating_sub(x0));
            let dst = &mut self.data[((y0 + row) * self.width + x0) * 4..][..width * 4];
            let src = &other.data[row * other.width * 4..][..width * 4];
            for (d, s) in dst.chunks_exact_mut(4).zip(src.chunks_exact(4)) {
                if d[3] == 0 && s[3] != 0 {
                    d.copy_from_slice(s);
                    filled += 1;
                }
            }
        }
        filled
    }

    /// Draws `top` over this image ("source over", straight alpha), its
    /// alpha first multiplied by `opacity` (0..=1). Both images have the
    /// same size; extra pixels of a larger `top` are ignored.
    pub fn draw_over(&mut self, top: &Rgba, opacity: f64) {
        let k = (opacity.clamp(0.0, 1.0) * 255.0).round() as u32;
        for (dst, src) in self.data.chunks_exact_mut(4).zip(top.data.chunks_exact(4)) {
            let sa = u32::from(src[3]) * k; // 0..=255²
            if sa == 0 {
                continue;
            }
            if sa == 255 * 255 || dst[3] == 0 {
                dst.copy_from_slice(&[src[0], src[1], src[2], (sa / 255) as u8]);
                continue;
            }
            // out_a = sa + da (1 - sa); colours weighted by their share.
            let da = u32::from(dst[3]) * (255 * 255 - sa) / 255; // 0..=255²
            let oa = sa + da;
            for c in 0..3 {
                dst[c] = ((u32::from(src[c]) * sa + u32::from(dst[c]) * da + oa / 2) / oa) as u8;
            }
            dst[3] = ((oa + 127) / 255) as u8;
        }
    }

    /// Multiplies the alpha of every pixel by `opacity` (0..=1).
    pub fn fade(&mut self, opacity: f64) {
        let k = opacity.clamp(0.0, 1.0);
        for p in self.data.chunks_exact_mut(4) {
            p[3] = (f64::from(p[3]) * k).round() as u8;
        }
    }
}

fn rgb_of(image: &Rgba, background: [u8; 3]) -> Vec<u8> {
    let mut rgb = Vec::with_capacity(image.width * image.height * 3);
    for p in image.data.chunks_exact(4) {
        if p[3] == 255 {
            rgb.extend_from_slice(&p[..3]);
        } else {
            // Composite over the background.
            let a = u32::from(p[3]);
            for c in 0..3 {
                let v = (u32::from(p[c]) * a + u32::from(background[c]) * (255 - a) + 127) / 255;
                rgb.push(v as u8);
            }
        }
    }
    rgb
}

/// Encodes an image. `background` is used where the format has no alpha
/// (JPEG) or when `transparent` is false (the image is composited over it
/// and written without alpha).
pub fn encode(
    image: &Rgba,
    format: Format,
    transparent: bool,
    background: [u8; 3],
) -> Result<Vec<u8>> {
    let (w, h) = (image.width as u32, image.height as u32);
    if image.data.len() != image.width * image.height * 4 {
        return Err(RasterError::Internal(
            "image buffer of the wrong size".into(),
        ));
    }
    let mut out = Vec::with_capacity(image.data.len() / 3);
    let opaque = !transparent || image.is_opaque();
    let failed =
        |e: image::ImageError| RasterError::Internal(format!("cannot encode the image: {e}"));
    match format {
        Format::Png => {
            let encoder =
                PngEncoder::new_with_quality(&mut out, CompressionType::Fast, FilterType::Adaptive);
            if opaque {
                encoder
                    .write_image(&rgb_of(image, background), w, h, ExtendedColorType::Rgb8)
                    .map_err(failed)?;
            } else {
                encoder
                    .write_image(&image.data, w, h, ExtendedColorType::Rgba8)
                    .map_err(failed)?;
            }
        }
        Format::Jpeg => {
            JpegEncoder::new_with_quality(&mut out, 85)
                .write_image(&rgb_of(image, background), w, h, ExtendedColorType::Rgb8)
                .map_err(failed)?;
        }
        Format::Webp => {
            let encoder = WebPEncoder::new_lossless(&mut out);
            if opaque {
                encoder
                    .write_image(&rgb_of(image, background), w, h, ExtendedColorType::Rgb8)
                    .map_err(failed)?;
            } else {
                encoder
                    .write_image(&image.data, w, h, ExtendedColorType::Rgba8)
                    .map_err(failed)?;
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gradient() -> Rgba {
        let mut img = Rgba::transparent(64, 32);
        for (k, p) in img.data.chunks_exact_mut(4).enumerate() {
            let (x, y) = (k % 64, k / 64);
            p.copy_from_slice(&[
                (x * 4) as u8,
                (y * 8) as u8,
                100,
                if x < 8 { 0 } else { 255 },
            ]);
        }
        img
    }

    #[test]
    fn formats_parse_and_round_trip() {
        assert_eq!(Format::parse("JPG").unwrap(), Format::Jpeg);
        assert_eq!(Format::parse("image/webp").unwrap(), Format::Webp);
        assert!(Format::parse("gif").is_err());
        let img = gradient();
        for format in [Format::Png, Format::Jpeg, Format::Webp] {
            let bytes = encode(&img, format, true, [0, 0, 0]).unwrap();
            let decoded = image::load_from_memory(&bytes).unwrap().to_rgba8();
            assert_eq!(decoded.dimensions(), (64, 32), "{format:?}");
            let p = decoded.get_pixel(40, 20).0;
            if format == Format::Jpeg {
                assert!((i32::from(p[0]) - 160).abs() < 12, "{p:?}");
                assert_eq!(p[3], 255);
            } else {
                assert_eq!(p, [160, 160, 100, 255], "{format:?}");
                assert_eq!(decoded.get_pixel(2, 2).0[3], 0, "{format:?} keeps alpha");
            }
        }
    }

    #[test]
    fn opaque_png_is_rgb_and_background_fills() {
        let img = gradient();
        let bytes = encode(&img, Format::Png, false, [255, 0, 0]).unwrap();
        let decoded = image::load_from_memory(&bytes).unwrap();
        assert_eq!(decoded.color(), image::ColorType::Rgb8);
        assert_eq!(decoded.to_rgb8().get_pixel(1, 1).0, [255, 0, 0]);
    }

    #[test]
    fn mosaic_fill_keeps_first_opaque() {
        let mut a = Rgba::transparent(2, 1);
        a.data[..4].copy_from_slice(&[1, 2, 3, 255]);
        let mut b = Rgba::transparent(2, 1);
        b.data.copy_from_slice(&[9, 9, 9, 255, 7, 7, 7, 255]);
        assert_eq!(a.fill_from(&b), 1);
        assert_eq!(a.data, vec![1, 2, 3, 255, 7, 7, 7, 255]);
        assert!(a.is_opaque());
    }

    #[test]
    fn draw_over_blends_with_opacity() {
        let mut base = Rgba::transparent(3, 1);
        base.data
            .copy_from_slice(&[200, 0, 0, 255, 200, 0, 0, 255, 0, 0, 0, 0]);
        let mut top = Rgba::transparent(3, 1);
        top.data
            .copy_from_slice(&[0, 0, 200, 255, 0, 0, 0, 0, 0, 0, 200, 255]);
        base.draw_over(&top, 0.5);
        // Half blue over opaque red: an even mix, still opaque.
        assert_eq!(&base.data[..4], &[100, 0, 100, 255]);
        // Transparent top leaves the base alone.
        assert_eq!(&base.data[4..8], &[200, 0, 0, 255]);
        // Over nothing: the top's colour at half opacity.
        assert_eq!(&base.data[8..], &[0, 0, 200, 128]);
        let mut full = base.clone();
        full.draw_over(&top, 1.0);
        assert_eq!(&full.data[..4], &[0, 0, 200, 255]);
    }
}
