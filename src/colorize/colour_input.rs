// SPDX-License-Identifier: MIT OR Apache-2.0

//! Input that already has colour: telling it from grey film, and passing it through.
//!
//! Grey film decoded to YUV has neutral chroma (128 everywhere, or noise of a code value or
//! two from a capture); a monochrome film toned sepia or blue has chroma away from neutral but
//! the same all over the picture. Colour film has chroma that differs across the picture. So
//! what counts is the spread of the chroma around the frame's own mean chroma, not its distance
//! from neutral: toned film stays "grey" and is colorized.

use super::color::{Colorimetry, Range};
use super::render::{write_cbcr, write_rgb, OutputLayout, OutputPlanes, Plane};

/// Chroma spread (root-mean-square distance of (Cb, Cr) from the frame's mean, in 8-bit code
/// values) from which a frame counts as colour. Grey clips of the project's test media decode
/// to exactly 0; the colour originals of the same clips measured 5.9 at their least colourful
/// frame (a dim scene) and 15 in the median.
pub const DEFAULT_COLOUR_THRESHOLD: f64 = 3.0;

/// Every `SAMPLE_STEP`-th chroma sample in each direction is measured: enough to tell colour
/// from grey, and it keeps the test to a few thousand samples per HD frame.
const SAMPLE_STEP: usize = 4;

/// One chroma component of a frame: `width × height` samples, `pixel_stride` bytes apart in a
/// row (2 for NV12's interleaved plane), rows `stride` bytes apart.
#[derive(Debug, Clone, Copy)]
pub struct Component<'a> {
    pub data: &'a [u8],
    pub stride: usize,
    pub pixel_stride: usize,
    pub width: usize,
    pub height: usize,
}

impl Component<'_> {
    fn at(&self, x: usize, y: usize) -> u8 {
        self.data[y * self.stride + x * self.pixel_stride]
    }
}

/// How far a frame's chroma spreads around its own mean; 0 for grey or uniformly toned film.
pub fn chroma_spread(cb: Component, cr: Component) -> f64 {
    let (mut n, mut sum_b, mut sum_r, mut sum_squares) = (0u64, 0u64, 0u64, 0u64);
    for y in (0..cb.height.min(cr.height)).step_by(SAMPLE_STEP) {
        for x in (0..cb.width.min(cr.width)).step_by(SAMPLE_STEP) {
            let (b, r) = (cb.at(x, y) as u64, cr.at(x, y) as u64);
            n += 1;
            sum_b += b;
            sum_r += r;
            sum_squares += b * b + r * r;
        }
    }
    if n == 0 {
        return 0.0;
    }
    let n = n as f64;
    let (mean_b, mean_r) = (sum_b as f64 / n, sum_r as f64 / n);
    (sum_squares as f64 / n - mean_b * mean_b - mean_r * mean_r)
        .max(0.0)
        .sqrt()
}

/// Writes an input frame's own colour to the output planes, so a colour frame leaves the
/// element as it came (the luma plane of a YUV output is the caller's, as for colorized frames).
/// YUV output carries the input's colorimetry, so its chroma is copied, resampled only where
/// the subsampling differs (4:2:2 in, 4:2:0 out: neighbouring rows averaged); RGB output is
/// converted from Y'CbCr with the input's matrix and range.
pub fn write_input_colour(
    layout: OutputLayout,
    luma: Plane,
    cb: Component,
    cr: Component,
    colorimetry: Colorimetry,
    out: &mut OutputPlanes,
) {
    let (width, height) = (luma.width, luma.height);
    let (w, h) = layout.chroma_size(width, height);
    // The input chroma sample covering output chroma sample (x, y), averaged over the input
    // samples it spans when the output grid is coarser.
    let sample = |component: &Component, x: usize, y: usize| -> u8 {
        let (x0, x1) = span(x, w, component.width);
        let (y0, y1) = span(y, h, component.height);
        let mut total = 0u32;
        for yy in y0..y1 {
            for xx in x0..x1 {
                total += component.at(xx, yy) as u32;
            }
        }
        let count = ((x1 - x0) * (y1 - y0)) as u32;
        ((total + count / 2) / count) as u8
    };
    match layout {
        OutputLayout::Planar { .. } | OutputLayout::SemiPlanar => {
            write_cbcr(layout, (w, h), out, |x, y| {
                [sample(&cb, x, y), sample(&cr, x, y)]
            });
        }
        OutputLayout::Rgb { .. } => {
            let (kr, kb) = colorimetry.matrix.kr_kb();
            let (y_offset, y_scale, c_scale) = match colorimetry.range {
                Range::Limited => (16.0, 219.0, 224.0),
                Range::Full => (0.0, 255.0, 255.0),
            };
            write_rgb(layout, (width, height), out, |x, y| {
                let luma_value = (luma.data[y * luma.stride + x] as f32 - y_offset) / y_scale;
                let (cx, cy) = (x * cb.width / width, y * cb.height / height);
                let blue_difference = (cb.at(cx, cy) as f32 - 128.0) / c_scale;
                let red_difference = (cr.at(cx, cy) as f32 - 128.0) / c_scale;
                let red = luma_value + 2.0 * (1.0 - kr) * red_difference;
                let blue = luma_value + 2.0 * (1.0 - kb) * blue_difference;
                let green = (luma_value - kr * red - kb * blue) / (1.0 - kr - kb);
                let quantise = |v: f32| (v * 255.0 + 0.5).clamp(0.0, 255.0) as u8;
                [quantise(red), quantise(green), quantise(blue)]
            });
        }
    }
}

/// The input samples `[first, last)` that output sample `index` of `to` covers on an input
/// axis of `from` samples (at least one).
fn span(index: usize, to: usize, from: usize) -> (usize, usize) {
    let first = (index * from / to).min(from - 1);
    let last = ((index + 1) * from).div_ceil(to).clamp(first + 1, from);
    (first, last)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::colorize::color::{Matrix, Transfer};

    fn component(data: &[u8], width: usize, height: usize) -> Component<'_> {
        Component {
            data,
            stride: width,
            pixel_stride: 1,
            width,
            height,
        }
    }

    const BT601_LIMITED: Colorimetry = Colorimetry {
        range: Range::Limited,
        matrix: Matrix::Bt601,
        transfer: Transfer::Bt709,
    };

    #[test]
    fn grey_and_toned_frames_have_no_spread_colour_frames_do() {
        let neutral = [128u8; 64];
        assert_eq!(
            chroma_spread(component(&neutral, 8, 8), component(&neutral, 8, 8)),
            0.0
        );
        // Sepia: the same chroma everywhere, far from neutral.
        let (sepia_b, sepia_r) = ([110u8; 64], [150u8; 64]);
        assert_eq!(
            chroma_spread(component(&sepia_b, 8, 8), component(&sepia_r, 8, 8)),
            0.0
        );
        // Left half blue, right half red: sampled at x = 0 and 4, Cb 160/96, Cr 96/160.
        let cb: Vec<u8> = (0..64).map(|i| if i % 8 < 4 { 160 } else { 96 }).collect();
        let cr: Vec<u8> = (0..64).map(|i| if i % 8 < 4 { 96 } else { 160 }).collect();
        let spread = chroma_spread(component(&cb, 8, 8), component(&cr, 8, 8));
        assert!(
            (spread - (2.0f64 * 32.0 * 32.0).sqrt()).abs() < 1e-9,
            "{spread}"
        );
    }

    #[test]
    fn interleaved_chroma_is_read_at_its_pixel_stride() {
        // NV12-like: Cb, Cr interleaved; Cb varies, Cr does not.
        let row: Vec<u8> = (0..8)
            .flat_map(|x| [if x < 4 { 100 } else { 156 }, 128])
            .collect();
        let data: Vec<u8> = row.iter().copied().cycle().take(16 * 8).collect();
        let cb = Component {
            data: &data,
            stride: 16,
            pixel_stride: 2,
            width: 8,
            height: 8,
        };
        let cr = Component {
            data: &data[1..],
            ..cb
        };
        assert!((chroma_spread(cb, cr) - 28.0).abs() < 1e-9);
    }

    #[test]
    fn yuv_output_gets_the_input_chroma_resampled_to_its_grid() {
        // 4:2:2 input (2x4 chroma for a 4x4 frame) to 4:2:0 output (2x2): rows averaged.
        let luma = [50u8; 16];
        let cb = [10u8, 20, 30, 40, 50, 60, 70, 80];
        let cr = [200u8; 8];
        let (mut y, mut u, mut v) = ([0u8; 16], [0u8; 4], [0u8; 4]);
        let mut out = OutputPlanes {
            planes: vec![(&mut y[..], 4), (&mut u[..], 2), (&mut v[..], 2)],
        };
        write_input_colour(
            OutputLayout::Planar { sub_x: 2, sub_y: 2 },
            Plane {
                data: &luma,
                stride: 4,
                width: 4,
                height: 4,
            },
            component(&cb, 2, 4),
            component(&cr, 2, 4),
            BT601_LIMITED,
            &mut out,
        );
        assert_eq!(u, [20, 30, 60, 70]);
        assert_eq!(v, [200; 4]);
    }

    #[test]
    fn rgb_output_is_converted_with_the_input_matrix_and_range() {
        // BT.601 limited: Y 81, Cb 90, Cr 240 is red (R' 0.998 as Y 81 is 0.5 under 100 % red);
        // Y 235 with neutral chroma is white.
        let luma = [81u8, 235];
        let (cb, cr) = ([90u8, 128], [240u8, 128]);
        let mut image = [0u8; 8];
        let mut out = OutputPlanes {
            planes: vec![(&mut image[..], 8)],
        };
        write_input_colour(
            OutputLayout::Rgb {
                r: 0,
                g: 1,
                b: 2,
                alpha: Some(3),
                step: 4,
            },
            Plane {
                data: &luma,
                stride: 2,
                width: 2,
                height: 1,
            },
            component(&cb, 2, 1),
            component(&cr, 2, 1),
            BT601_LIMITED,
            &mut out,
        );
        assert_eq!(image, [254, 0, 0, 255, 255, 255, 255, 255]);
    }
}
