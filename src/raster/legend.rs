//! Legends of renderings (WMS `GetLegendGraphic`): a colour bar with its
//! value range for colormap ramps, a class list for classified products,
//! and the channel mapping of colour composites.
//!
//! Text is drawn with an 8 × 8 bitmap font (ASCII; accents are dropped).

use super::colormap::Colormap;
use super::encode::Rgba;
use super::render::RenderParams;

/// Text colour.
const INK: [u8; 4] = [20, 20, 20, 255];
/// Outline of swatches and bars.
const EDGE: [u8; 4] = [90, 90, 90, 255];
/// Glyph cell size.
const GLYPH: usize = 8;
/// Height of one class or channel row.
const ROW: usize = 14;
/// Blank border.
const MARGIN: usize = 4;
/// Colour bar size.
const BAR: (usize, usize) = (16, 160);
/// Swatch size.
const SWATCH: usize = 12;

/// What a legend shows.
#[derive(Debug, Clone, PartialEq)]
pub enum Legend {
    /// A continuous colour bar from `min` (bottom) to `max` (top).
    Ramp {
        /// Title line.
        title: String,
        /// The ramp.
        colormap: Colormap,
        /// Value of the bottom colour (`None`: rescaled per image).
        min: Option<f64>,
        /// Value of the top colour.
        max: Option<f64>,
    },
    /// Swatches with labels (classes, or the channels of a composite).
    Entries {
        /// Title line.
        title: String,
        /// Label and colour of each row, top to bottom.
        entries: Vec<(String, [u8; 4])>,
    },
}

impl Legend {
    /// The legend of a rendering. `outputs` names its output bands (asset
    /// band names or the expression); `class_names` gives names of class
    /// values (from `classification:classes`), matched on the value's text.
    pub fn of(
        title: &str,
        params: &RenderParams,
        outputs: &[String],
        class_names: &[(f64, String)],
    ) -> Legend {
        let title = title.to_string();
        match params.colormap.as_ref().map(|(_, c)| c) {
            Some(c @ Colormap::Ramp(_)) => {
                let range = params.rescale.first().copied();
                Legend::Ramp {
                    title,
                    colormap: c.clone(),
                    min: range.map(|r| r.0),
                    max: range.map(|r| r.1),
                }
            }
            Some(Colormap::Discrete(classes)) => Legend::Entries {
                title,
                entries: classes
                    .iter()
                    .filter(|(_, colour)| colour[3] > 0)
                    .map(|(value, colour)| (class_label(value, class_names), colour))
                    .collect(),
            },
            Some(Colormap::Intervals(classes)) => Legend::Entries {
                title,
                entries: classes
                    .iter()
                    .filter(|(_, _, colour)| colour[3] > 0)
                    .map(|(lo, hi, colour)| (format!("{} - {}", number(lo), number(hi)), colour))
                    .collect(),
            },
            None if outputs.len() >= 3 => {
                let channels = [
                    ("R", [220, 30, 30, 255]),
                    ("G", [30, 170, 30, 255]),
                    ("B", [40, 70, 220, 255]),
                ];
                Legend::Entries {
                    title,
                    entries: channels
                        .iter()
                        .zip(outputs)
                        .map(|((name, colour), band)| (format!("{name}: {band}"), *colour))
                        .collect(),
                }
            }
            None => Legend::Entries {
                title,
                entries: outputs
                    .iter()
                    .map(|o| (o.clone(), [128, 128, 128, 255]))
                    .collect(),
            },
        }
    }

    fn labels(&self) -> Vec<String> {
        match self {
            Legend::Ramp { min, max, .. } => vec![
                max.map_or("high".into(), number),
                min.map_or("low".into(), number),
            ],
            Legend::Entries { entries, .. } => entries.iter().map(|(l, _)| l.clone()).collect(),
        }
    }

    fn title(&self) -> &str {
        match self {
            Legend::Ramp { title, .. } | Legend::Entries { title, .. } => title,
        }
    }

    /// The natural size (width, height) in pixels.
    pub fn size(&self) -> (usize, usize) {
        let label_chars = self
            .labels()
            .iter()
            .map(|l| ascii(l).len())
            .max()
            .unwrap_or(0);
        let title_w = ascii(self.title()).len() * GLYPH;
        let (body_w, body_h) = match self {
            Legend::Ramp { .. } => (BAR.0 + 6 + label_chars * GLYPH, BAR.1),
            Legend::Entries { entries, .. } => {
                (SWATCH + 6 + label_chars * GLYPH, entries.len().max(1) * ROW)
            }
        };
        (
            2 * MARGIN + body_w.max(title_w),
            2 * MARGIN + GLYPH + 6 + body_h,
        )
    }

    /// Draws the legend on `background` (transparent when `None`), at its
    /// natural size or stretched to `size`.
    pub fn draw(&self, size: Option<(usize, usize)>, background: Option<[u8; 3]>) -> Rgba {
        let (w, h) = self.size();
        let mut img = Rgba::transparent(w, h);
        if let Some([r, g, b]) = background {
            for p in img.data.chunks_exact_mut(4) {
                p.copy_from_slice(&[r, g, b, 255]);
            }
        }
        text(&mut img, MARGIN, MARGIN, self.title());
        let top = MARGIN + GLYPH + 6;
        match self {
            Legend::Ramp { colormap, .. } => {
                let x0 = MARGIN;
                for y in 0..BAR.1 {
                    // Top = index 255.
                    let index = 255 - (y * 255 / (BAR.1 - 1)) as u8;
                    let colour = colormap.ramp(index);
                    for x in x0..x0 + BAR.0 {
                        put(&mut img, x, top + y, colour);
                    }
                }
                frame(&mut img, x0, top, BAR.0, BAR.1);
                let labels = self.labels();
                let lx = x0 + BAR.0 + 6;
                text(&mut img, lx, top, &labels[0]);
                text(&mut img, lx, top + BAR.1 - GLYPH, &labels[1]);
            }
            Legend::Entries { entries, .. } => {
                for (k, (label, colour)) in entries.iter().enumerate() {
                    let y = top + k * ROW;
                    for yy in y..y + SWATCH {
                        for xx in MARGIN..MARGIN + SWATCH {
                            put(&mut img, xx, yy, *colour);
                        }
                    }
                    frame(&mut img, MARGIN, y, SWATCH, SWATCH);
                    text(&mut img, MARGIN + SWATCH + 6, y + 2, label);
                }
            }
        }
        match size {
            Some((tw, th)) if (tw, th) != (w, h) && tw > 0 && th > 0 => stretch(&img, tw, th),
            _ => img,
        }
    }
}

/// A class value's label: `3 forest loss` when named.
fn class_label(value: f64, names: &[(f64, String)]) -> String {
    match names.iter().find(|(v, _)| *v == value) {
        Some((_, name)) => format!("{} {name}", number(value)),
        None => number(value),
    }
}

/// A number without needless digits.
fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        let s = format!("{v:.4}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// Text as printable ASCII (accents dropped, others replaced by `?`).
fn ascii(s: &str) -> Vec<u8> {
    let s = s
        .replace('²', "2")
        .replace('³', "3")
        .replace('°', " deg")
        .replace(['–', '—'], "-");
    unaccent::unaccent(&s)
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c as u8
            } else {
                b'?'
            }
        })
        .collect()
}

fn put(img: &mut Rgba, x: usize, y: usize, colour: [u8; 4]) {
    if x < img.width && y < img.height {
        let k = (y * img.width + x) * 4;
        img.data[k..k + 4].copy_from_slice(&colour);
    }
}

fn frame(img: &mut Rgba, x: usize, y: usize, w: usize, h: usize) {
    for xx in x..x + w {
        put(img, xx, y, EDGE);
        put(img, xx, y + h - 1, EDGE);
    }
    for yy in y..y + h {
        put(img, x, yy, EDGE);
        put(img, x + w - 1, yy, EDGE);
    }
}

/// Draws one line of text with its top-left corner at (x, y).
pub fn text(img: &mut Rgba, x: usize, y: usize, s: &str) {
    draw_text(img, x, y, s, INK);
}

/// Draws one line of text in a colour.
pub fn draw_text(img: &mut Rgba, x: usize, y: usize, s: &str, colour: [u8; 4]) {
    for (k, c) in ascii(s).into_iter().enumerate() {
        let glyph = font8x8::legacy::BASIC_LEGACY[usize::from(c & 0x7f)];
        for (row, bits) in glyph.iter().enumerate() {
            for col in 0..GLYPH {
                if bits & (1 << col) != 0 {
                    put(img, x + k * GLYPH + col, y + row, colour);
                }
            }
        }
    }
}

/// Wraps text into lines of at most `width` pixels.
pub fn wrap(s: &str, width: usize) -> Vec<String> {
    let per_line = (width / GLYPH).max(1);
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in s.split_whitespace() {
        let mut word = word.to_string();
        while word.chars().count() > per_line {
            let head: String = word.chars().take(per_line).collect();
            word = word.chars().skip(per_line).collect();
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            lines.push(head);
        }
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > per_line {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(&word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// Line height of [`text`].
pub const LINE: usize = GLYPH + 2;

/// Nearest-neighbour resize.
fn stretch(img: &Rgba, w: usize, h: usize) -> Rgba {
    let mut out = Rgba::transparent(w, h);
    for y in 0..h {
        let sy = y * img.height / h;
        for x in 0..w {
            let sx = x * img.width / w;
            let s = (sy * img.width + sx) * 4;
            let d = (y * w + x) * 4;
            out.data[d..d + 4].copy_from_slice(&img.data[s..s + 4]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inked(img: &Rgba, x0: usize, y0: usize, w: usize, h: usize) -> usize {
        (y0..y0 + h)
            .flat_map(|y| (x0..x0 + w).map(move |x| (x, y)))
            .filter(|&(x, y)| {
                let k = (y * img.width + x) * 4;
                img.data[k..k + 4] == INK
            })
            .count()
    }

    #[test]
    fn ramp_legend_has_a_bar_from_min_to_max() {
        let params = RenderParams {
            colormap: Some(("viridis".into(), Colormap::named("viridis").unwrap())),
            rescale: vec![(0.0, 7.0)],
            ..Default::default()
        };
        let legend = Legend::of("LAI", &params, &["lai".into()], &[]);
        let (w, h) = legend.size();
        let img = legend.draw(None, None);
        assert_eq!((img.width, img.height), (w, h));
        let top = MARGIN + GLYPH + 6;
        let pixel = |x: usize, y: usize| {
            let k = (y * img.width + x) * 4;
            [
                img.data[k],
                img.data[k + 1],
                img.data[k + 2],
                img.data[k + 3],
            ]
        };
        let viridis = Colormap::named("viridis").unwrap();
        let near = |a: [u8; 4], b: [u8; 4]| a.iter().zip(b).all(|(x, y)| x.abs_diff(y) <= 6);
        assert!(near(pixel(MARGIN + 8, top + 1), viridis.ramp(255)));
        assert!(near(pixel(MARGIN + 8, top + BAR.1 - 2), viridis.ramp(0)));
        // The labels "7" (top) and "0" (bottom) are drawn right of the bar.
        let lx = MARGIN + BAR.0 + 6;
        assert!(inked(&img, lx, top, GLYPH, GLYPH) > 5);
        assert!(inked(&img, lx, top + BAR.1 - GLYPH, GLYPH, GLYPH) > 5);
        // Transparent background.
        assert_eq!(pixel(w - 1, h - 1)[3], 0);
    }

    #[test]
    fn classes_list_their_visible_colours_with_names() {
        let params = RenderParams {
            colormap: Some((
                "c".into(),
                Colormap::from_json(r#"{"0":[0,0,0,0],"1":[26,110,50],"3":[230,20,30]}"#).unwrap(),
            )),
            ..Default::default()
        };
        let legend = Legend::of("classes", &params, &[], &[(3.0, "forest loss".into())]);
        let Legend::Entries { entries, .. } = &legend else {
            panic!("{legend:?}")
        };
        assert_eq!(
            entries,
            &vec![
                ("1".to_string(), [26, 110, 50, 255]),
                ("3 forest loss".to_string(), [230, 20, 30, 255])
            ]
        );
        let img = legend.draw(Some((40, 30)), Some([255, 255, 255]));
        assert_eq!((img.width, img.height), (40, 30));
        assert!(img.is_opaque());
    }

    #[test]
    fn composites_show_their_channels() {
        let legend = Legend::of(
            "true colour",
            &RenderParams::default(),
            &["B04".into(), "B03".into(), "B02".into()],
            &[],
        );
        let Legend::Entries { entries, .. } = legend else {
            panic!()
        };
        assert_eq!(entries[0].0, "R: B04");
        assert_eq!(entries[2].0, "B: B02");
    }

    #[test]
    fn text_wraps_and_drops_accents() {
        assert_eq!(ascii("Pléiades →"), b"Pleiades ?".to_vec());
        assert_eq!(wrap("one two three", 64), vec!["one two", "three"]);
        assert_eq!(wrap("abcdefghijk", 32), vec!["abcd", "efgh", "ijk"]);
    }
}
