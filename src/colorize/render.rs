// SPDX-License-Identifier: MIT OR Apache-2.0

//! From a grey frame's luma to a colour frame: L* planes in, 8-bit video planes out.

use super::color::LabToVideo;
use super::resample::{
    bands_for, in_row_bands, on_threads, Coefficients, GuidedUpsampler, ResampledRows, Resampler,
    UpsampleScratch,
};

/// A borrowed 8-bit plane.
#[derive(Debug, Clone, Copy)]
pub struct Plane<'a> {
    pub data: &'a [u8],
    pub stride: usize,
    pub width: usize,
    pub height: usize,
}

/// L* of every pixel of a luma plane, through a per-code-value table, into `out` (resized to
/// the plane's size, so a buffer kept from frame to frame is not allocated again).
pub fn lightness_plane(luma: Plane, table: &[f32; 256], out: &mut Vec<f32>) {
    let samples = luma.width * luma.height;
    out.resize(samples, 0.0);
    in_row_bands(out, luma.width, bands_for(samples), |first, band| {
        for (k, row) in band.chunks_exact_mut(luma.width).enumerate() {
            let start = (first + k) * luma.stride;
            for (l, &code) in row.iter_mut().zip(&luma.data[start..start + luma.width]) {
                *l = table[code as usize];
            }
        }
    });
}

/// Size of the working image: short side `short_side` (never larger than the frame's), both
/// sides multiples of 16 so the models' stride-8 and stride-16 grids line up.
pub fn working_size(width: usize, height: usize, short_side: usize) -> (usize, usize) {
    let short = width.min(height).max(1);
    let target = short_side.min(short.max(16)) as f64;
    let scale = target / short as f64;
    let round16 = |v: f64| (((v / 16.0).round() as usize) * 16).max(16);
    (
        round16(width as f64 * scale),
        round16(height as f64 * scale),
    )
}

/// Size of an image for the retrieval encoder: short side `short_side` (224 is the encoder's
/// own), long side at most twice that.
pub fn embedding_size(width: usize, height: usize, short_side: usize) -> (usize, usize) {
    let short = width.min(height).max(1) as f64;
    let scale = short_side as f64 / short;
    let long = 2 * short_side;
    let w = ((width as f64 * scale).round() as usize).clamp(32, long);
    let h = ((height as f64 * scale).round() as usize).clamp(32, long);
    (w, h)
}

/// How the output frame stores colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputLayout {
    /// Luma plane, then Cb and Cr planes subsampled by `sub_x`, `sub_y` (I420: 2, 2; Y444: 1, 1).
    Planar { sub_x: usize, sub_y: usize },
    /// Luma plane, then one plane of interleaved Cb, Cr at 2x2 subsampling (NV12).
    SemiPlanar,
    /// Packed 8-bit R', G', B' at these byte offsets, `step` bytes a pixel; `alpha` is set to 255.
    Rgb {
        r: usize,
        g: usize,
        b: usize,
        alpha: Option<usize>,
        step: usize,
    },
}

impl OutputLayout {
    /// Chroma grid size for a `width × height` frame (full size for RGB).
    pub fn chroma_size(&self, width: usize, height: usize) -> (usize, usize) {
        let (sx, sy) = match *self {
            OutputLayout::Planar { sub_x, sub_y } => (sub_x, sub_y),
            OutputLayout::SemiPlanar => (2, 2),
            OutputLayout::Rgb { .. } => (1, 1),
        };
        (width.div_ceil(sx), height.div_ceil(sy))
    }
}

/// Output planes to write; `planes[0]` is luma for YUV layouts, the packed image for RGB.
pub struct OutputPlanes<'a> {
    pub planes: Vec<(&'a mut [u8], usize)>,
}

/// A frame and the chroma predicted for it at working size.
#[derive(Debug, Clone, Copy)]
pub struct Colouring<'a> {
    /// The frame's L*, `size`.
    pub lightness: &'a [f32],
    pub size: (usize, usize),
    /// Its L* at working size, `small`, and the a*, b* predicted there.
    pub small_lightness: &'a [f32],
    pub small: (usize, usize),
    pub a: &'a [f32],
    pub b: &'a [f32],
}

/// What a row of the output is computed in, kept from row to row of a band.
#[derive(Debug, Default)]
struct RowScratch {
    lightness_rows: ResampledRows,
    lightness: Vec<f32>,
    guide: Vec<f32>,
    a: Vec<f32>,
    b: Vec<f32>,
    a_rows: ResampledRows,
    b_rows: ResampledRows,
    a_upsample: UpsampleScratch,
    b_upsample: UpsampleScratch,
    /// The row's colours, before they are stored in the output's layout.
    row: Vec<[u8; 3]>,
}

/// Writes frames' colour, keeping from frame to frame what depends only on their sizes (the
/// resampling weights) and the planes it works in.
#[derive(Default)]
pub struct Renderer {
    to_chroma: Option<Resampler>,
    down: Option<Resampler>,
    upsampler: GuidedUpsampler,
    a_fit: Coefficients,
    b_fit: Coefficients,
    /// One per band of rows.
    bands: Vec<RowScratch>,
}

impl Renderer {
    /// Writes the colour planes of the output from `colouring` (for YUV layouts the luma plane
    /// is left to the caller, which copies the input's): a*, b* are upsampled to the output's
    /// chroma grid guided by the frame's own lightness, so colour edges follow the picture's
    /// edges, and converted row by row, bands of rows on the cores at once, with no full-size
    /// plane in between.
    pub fn write_colour(
        &mut self,
        layout: OutputLayout,
        colouring: Colouring,
        radius: usize,
        convert: &LabToVideo,
        out: &mut OutputPlanes,
    ) {
        let Colouring {
            lightness,
            size,
            small_lightness,
            small,
            a,
            b,
        } = colouring;
        let chroma = layout.chroma_size(size.0, size.1);
        let to_chroma = if chroma == size {
            None
        } else {
            Some(Resampler::fitted(&mut self.to_chroma, size, chroma))
        };
        let lightness_row = |scratch: &mut RowScratch, y: usize| {
            scratch.lightness.resize(chroma.0, 0.0);
            match to_chroma {
                Some(resampler) => resampler.row(
                    lightness,
                    y,
                    &mut scratch.lightness_rows,
                    &mut scratch.lightness,
                ),
                None => scratch
                    .lightness
                    .copy_from_slice(&lightness[y * size.0..(y + 1) * size.0]),
            }
        };
        let rgb = matches!(layout, OutputLayout::Rgb { .. });
        let colour_row = |scratch: &RowScratch, row: &mut [[u8; 3]]| {
            convert.row(rgb, &scratch.lightness, &scratch.a, &scratch.b, row)
        };
        if chroma.0 <= small.0 && chroma.1 <= small.1 {
            // The chroma grid is no finer than the prediction (4:2:0 output of a small frame):
            // area averaging loses nothing that a guide could restore.
            let down = Resampler::fitted(&mut self.down, small, chroma);
            write_rows(layout, chroma, out, &mut self.bands, |scratch, y, row| {
                lightness_row(scratch, y);
                scratch.a.resize(chroma.0, 0.0);
                scratch.b.resize(chroma.0, 0.0);
                down.row(a, y, &mut scratch.a_rows, &mut scratch.a);
                down.row(b, y, &mut scratch.b_rows, &mut scratch.b);
                colour_row(scratch, row);
            });
            return;
        }
        self.upsampler.prepare(
            small_lightness.iter().map(|l| l / 100.0),
            small,
            chroma,
            radius,
            1e-4,
        );
        let upsampler = &self.upsampler;
        let (a_model, b_model) = (&mut self.a_fit, &mut self.b_fit);
        // a* and b* are independent: each on a core of its own.
        std::thread::scope(|scope| {
            let a_done = scope.spawn(|| upsampler.coefficients(a, a_model));
            upsampler.coefficients(b, b_model);
            a_done
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        });
        let (a_model, b_model) = (&self.a_fit, &self.b_fit);
        write_rows(layout, chroma, out, &mut self.bands, |scratch, y, row| {
            lightness_row(scratch, y);
            scratch.guide.clear();
            scratch
                .guide
                .extend(scratch.lightness.iter().map(|l| l / 100.0));
            scratch.a.resize(chroma.0, 0.0);
            scratch.b.resize(chroma.0, 0.0);
            let RowScratch {
                guide,
                a,
                b,
                a_upsample,
                b_upsample,
                ..
            } = scratch;
            upsampler.row(a_model, y, guide, a_upsample, a);
            upsampler.row(b_model, y, guide, b_upsample, b);
            colour_row(scratch, row);
        });
    }
}

/// Writes a picture without colour: neutral chroma for YUV layouts (the luma plane is the
/// caller's), grey RGB of the frame's lightness.
pub fn write_grey(
    layout: OutputLayout,
    luma: Plane,
    lightness_table: &[f32; 256],
    convert: &LabToVideo,
    out: &mut OutputPlanes,
) {
    if let OutputLayout::Rgb { .. } = layout {
        let grey: [[u8; 3]; 256] =
            std::array::from_fn(|code| convert.rgb8(lightness_table[code], 0.0, 0.0));
        write_rgb(layout, (luma.width, luma.height), out, |x, y| {
            grey[luma.data[y * luma.stride + x] as usize]
        });
    } else {
        let neutral = convert.cbcr8(50.0, 0.0, 0.0);
        write_cbcr(
            layout,
            layout.chroma_size(luma.width, luma.height),
            out,
            |_, _| neutral,
        );
    }
}

/// Writes the packed image of an RGB layout, pixel by pixel from `rgb(x, y)` (opaque where it
/// has alpha); YUV layouts are left alone.
pub fn write_rgb(
    layout: OutputLayout,
    (w, h): (usize, usize),
    out: &mut OutputPlanes,
    rgb: impl Fn(usize, usize) -> [u8; 3] + Sync,
) {
    if let OutputLayout::Rgb { .. } = layout {
        write_rows(layout, (w, h), out, &mut Vec::new(), |_, y, row| {
            for (x, pixel) in row.iter_mut().enumerate() {
                *pixel = rgb(x, y);
            }
        });
    }
}

/// Writes the Cb, Cr planes of a YUV layout over its `chroma` grid, sample by sample from
/// `cbcr(x, y)`; RGB layouts have none and are left alone.
pub fn write_cbcr(
    layout: OutputLayout,
    (w, h): (usize, usize),
    out: &mut OutputPlanes,
    cbcr: impl Fn(usize, usize) -> [u8; 2] + Sync,
) {
    if !matches!(layout, OutputLayout::Rgb { .. }) {
        write_rows(layout, (w, h), out, &mut Vec::new(), |_, y, row| {
            for (x, pixel) in row.iter_mut().enumerate() {
                let [cb, cr] = cbcr(x, y);
                *pixel = [cb, cr, 0];
            }
        });
    }
}

/// Rows `first..first + rows` of the colour planes (Cb and Cr; interleaved CbCr; the packed
/// image), each with its stride.
struct RowBand<'a> {
    first: usize,
    rows: usize,
    planes: Vec<(&'a mut [u8], usize)>,
}

/// Writes the colour planes of a `w × h` grid (the chroma grid for YUV, the image for RGB) in
/// bands of rows, one per core for large planes: `fill(scratch, y, row)` gives row `y`'s
/// colours (Cb, Cr and an unused third value for YUV; R', G', B' for RGB). Each band works in
/// its own `scratch`, kept from row to row and, by the caller, from frame to frame.
fn write_rows(
    layout: OutputLayout,
    (w, h): (usize, usize),
    out: &mut OutputPlanes,
    scratch: &mut Vec<RowScratch>,
    fill: impl Fn(&mut RowScratch, usize, &mut [[u8; 3]]) + Sync,
) {
    let colour_planes = match layout {
        OutputLayout::Planar { .. } => 1..3,
        OutputLayout::SemiPlanar => 1..2,
        OutputLayout::Rgb { .. } => 0..1,
    };
    let mut rests: Vec<(&mut [u8], usize)> = out.planes[colour_planes]
        .iter_mut()
        .map(|(plane, stride)| (&mut **plane, *stride))
        .collect();
    let per_band = h.div_ceil(bands_for(w * h)).max(1);
    let mut bands = Vec::new();
    let mut first = 0;
    while first < h {
        let rows = per_band.min(h - first);
        let planes = rests
            .iter_mut()
            .map(|(rest, stride)| {
                let whole = std::mem::take(rest);
                let (band, tail) = whole.split_at_mut((rows * *stride).min(whole.len()));
                *rest = tail;
                (band, *stride)
            })
            .collect();
        bands.push(RowBand {
            first,
            rows,
            planes,
        });
        first += rows;
    }
    scratch.resize_with(bands.len(), RowScratch::default);
    on_threads(
        bands.into_iter().zip(scratch.iter_mut()),
        |(mut band, scratch)| {
            let mut row = std::mem::take(&mut scratch.row);
            row.resize(w, [0; 3]);
            for k in 0..band.rows {
                fill(scratch, band.first + k, &mut row);
                store_row(layout, &mut band.planes, k, &row);
            }
            scratch.row = row;
        },
    );
}

/// Stores row `k` of a band of the colour planes.
fn store_row(layout: OutputLayout, planes: &mut [(&mut [u8], usize)], k: usize, row: &[[u8; 3]]) {
    match layout {
        OutputLayout::Planar { .. } => {
            let (u, v) = planes.split_at_mut(1);
            let (u, u_stride) = (&mut *u[0].0, u[0].1);
            let (v, v_stride) = (&mut *v[0].0, v[0].1);
            let u = &mut u[k * u_stride..k * u_stride + row.len()];
            let v = &mut v[k * v_stride..k * v_stride + row.len()];
            for ((cb, cr), &[c_b, c_r, _]) in u.iter_mut().zip(v.iter_mut()).zip(row) {
                *cb = c_b;
                *cr = c_r;
            }
        }
        OutputLayout::SemiPlanar => {
            let (uv, stride) = (&mut *planes[0].0, planes[0].1);
            let uv = &mut uv[k * stride..k * stride + 2 * row.len()];
            for (pair, &[cb, cr, _]) in uv.chunks_exact_mut(2).zip(row) {
                pair[0] = cb;
                pair[1] = cr;
            }
        }
        OutputLayout::Rgb {
            r,
            g,
            b,
            alpha,
            step,
        } => {
            let (image, stride) = (&mut *planes[0].0, planes[0].1);
            let line = &mut image[k * stride..];
            for (x, &[red, green, blue]) in row.iter().enumerate() {
                let p = &mut line[x * step..];
                p[r] = red;
                p[g] = green;
                p[b] = blue;
                if let Some(alpha) = alpha {
                    p[alpha] = 255;
                }
            }
        }
    }
}

/// Copies a luma plane row by row (strides may differ), through `map` (identity when the input
/// and output ranges agree, so the copy is bit-exact).
pub fn copy_luma(src: Plane, dst: &mut [u8], dst_stride: usize, map: &[u8; 256]) {
    // The usual case, same range in and out, is a plain copy: 0.2 ms for a 1080p plane here
    // against 0.7 ms through the table.
    let identity = map.iter().enumerate().all(|(code, &v)| v as usize == code);
    for y in 0..src.height {
        let from = &src.data[y * src.stride..y * src.stride + src.width];
        let to = &mut dst[y * dst_stride..y * dst_stride + src.width];
        if identity {
            to.copy_from_slice(from);
        } else {
            for (t, &f) in to.iter_mut().zip(from) {
                *t = map[f as usize];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::colorize::color::{Colorimetry, Matrix, Range, Transfer};

    #[test]
    fn working_sizes_are_multiples_of_sixteen() {
        assert_eq!(working_size(640, 360, 256), (448, 256));
        assert_eq!(working_size(1920, 1080, 256), (448, 256));
        assert_eq!(working_size(360, 640, 256), (256, 448));
        // Never upscaled beyond the frame (apart from the 16-pixel minimum).
        assert_eq!(working_size(160, 90, 256), (160, 96));
        assert_eq!(working_size(1, 1, 256), (16, 16));
    }

    #[test]
    fn embedding_sizes_keep_aspect_within_bounds() {
        assert_eq!(embedding_size(640, 360, 224), (398, 224));
        assert_eq!(embedding_size(3000, 500, 224), (448, 224));
        assert_eq!(embedding_size(1, 1, 224), (224, 224));
        assert_eq!(embedding_size(640, 360, 160), (284, 160));
    }

    #[test]
    fn lightness_plane_reads_within_the_stride() {
        let data = [16u8, 235, 99, 99, 235, 16, 99, 99];
        let table = Colorimetry {
            range: Range::Limited,
            matrix: Matrix::Bt709,
            transfer: Transfer::Bt709,
        }
        .lightness_table();
        let plane = Plane {
            data: &data,
            stride: 4,
            width: 2,
            height: 2,
        };
        let mut l = vec![1.0; 9];
        lightness_plane(plane, &table, &mut l);
        assert_eq!(l.len(), 4);
        assert_eq!(l[0], 0.0);
        assert!((l[1] - 100.0).abs() < 1e-3);
        assert_eq!(l[2], l[1]);
        assert_eq!(l[3], 0.0);
    }

    #[test]
    fn writes_planar_semiplanar_and_rgb() {
        let convert = LabToVideo::new(Colorimetry {
            range: Range::Full,
            matrix: Matrix::Bt709,
            transfer: Transfer::Srgb,
        });
        // The chroma grid is the prediction's: its values go out as they are.
        let chroma = Colouring {
            lightness: &[50.0, 50.0],
            size: (2, 1),
            small_lightness: &[50.0, 50.0],
            small: (2, 1),
            a: &[0.0, 60.0],
            b: &[0.0, 40.0],
        };
        let mut luma = vec![7u8; 4];
        let mut u = [0u8; 2];
        let mut v = [0u8; 2];
        let mut planes = OutputPlanes {
            planes: vec![(&mut luma[..], 2), (&mut u[..], 2), (&mut v[..], 2)],
        };
        Renderer::default().write_colour(
            OutputLayout::Planar { sub_x: 1, sub_y: 1 },
            chroma,
            1,
            &convert,
            &mut planes,
        );
        assert_eq!((u[0], v[0]), (128, 128));
        assert!(v[1] > 150 && u[1] < 128);
        assert_eq!(luma, vec![7; 4], "luma is the caller's");

        // NV12 of a 4x2 frame: its 2x1 chroma grid is the prediction's.
        let mut luma = [0u8; 8];
        let mut uv = [0u8; 4];
        let mut planes = OutputPlanes {
            planes: vec![(&mut luma[..], 4), (&mut uv[..], 4)],
        };
        let nv12 = Colouring {
            lightness: &[50.0; 8],
            size: (4, 2),
            ..chroma
        };
        Renderer::default().write_colour(OutputLayout::SemiPlanar, nv12, 1, &convert, &mut planes);
        assert_eq!(&uv[..2], &[128, 128]);
        assert_eq!((uv[2], uv[3]), (u[1], v[1]));

        let mut rgba = [0u8; 8];
        let mut planes = OutputPlanes {
            planes: vec![(&mut rgba[..], 8)],
        };
        let layout = OutputLayout::Rgb {
            r: 0,
            g: 1,
            b: 2,
            alpha: Some(3),
            step: 4,
        };
        Renderer::default().write_colour(layout, chroma, 1, &convert, &mut planes);
        assert_eq!(&rgba[..4], &[119, 119, 119, 255]);
        assert!(rgba[4] > rgba[5] && rgba[4] > rgba[6] && rgba[7] == 255);
    }

    #[test]
    fn chroma_is_averaged_down_or_guided_up_to_the_output_grid() {
        let convert = LabToVideo::new(Colorimetry {
            range: Range::Full,
            matrix: Matrix::Bt709,
            transfer: Transfer::Srgb,
        });
        let colouring = Colouring {
            lightness: &[50.0; 8 * 4],
            size: (8, 4),
            small_lightness: &[50.0; 4 * 2],
            small: (4, 2),
            a: &[10.0, 10.0, 30.0, 30.0, 10.0, 10.0, 30.0, 30.0],
            b: &[-5.0; 8],
        };
        let left = convert.cbcr8(50.0, 10.0, -5.0);
        let right = convert.cbcr8(50.0, 30.0, -5.0);
        assert_ne!(left, right);
        let mut luma = [0u8; 32];
        // Finer than the prediction: guided upsampling. A flat guide keeps the local means
        // (smoothed twice over the radius): every row alike, Cr rising with a* from the left
        // edge to the right, strictly between the two sides' own colours.
        let (mut u, mut v) = ([0u8; 32], [0u8; 32]);
        let mut planes = OutputPlanes {
            planes: vec![(&mut luma[..], 8), (&mut u[..], 8), (&mut v[..], 8)],
        };
        let layout = OutputLayout::Planar { sub_x: 1, sub_y: 1 };
        Renderer::default().write_colour(layout, colouring, 1, &convert, &mut planes);
        for row in 1..4 {
            assert_eq!(u[row * 8..row * 8 + 8], u[..8], "row {row}");
            assert_eq!(v[row * 8..row * 8 + 8], v[..8], "row {row}");
        }
        assert!(
            v[..8].windows(2).all(|pair| pair[0] <= pair[1]),
            "{:?}",
            &v[..8]
        );
        assert!(
            left[1] < v[0] && v[7] < right[1],
            "{left:?} {:?} {right:?}",
            &v[..8]
        );
        // Coarser than the prediction: area average.
        let (mut u, mut v) = ([0u8; 2], [0u8; 2]);
        let mut planes = OutputPlanes {
            planes: vec![(&mut luma[..], 8), (&mut u[..], 2), (&mut v[..], 2)],
        };
        let layout = OutputLayout::Planar { sub_x: 4, sub_y: 4 };
        Renderer::default().write_colour(layout, colouring, 1, &convert, &mut planes);
        assert_eq!([u[0], v[0]], left);
        assert_eq!([u[1], v[1]], right);
    }

    #[test]
    fn a_renderer_kept_across_frames_writes_what_a_new_one_does() {
        let convert = LabToVideo::new(Colorimetry {
            range: Range::Limited,
            matrix: Matrix::Bt601,
            transfer: Transfer::Bt709,
        });
        let layout = OutputLayout::Planar { sub_x: 2, sub_y: 2 };
        // Frames of two sizes, the second size twice with other content, then the first
        // again: weights and planes kept from an earlier frame must not leak into a later one.
        let frame = |(width, height): (usize, usize), seed: usize| {
            let (sw, sh) = (width / 4, height / 4);
            let value = |k: usize, scale: usize| ((k * 7919 + seed * 104_729) % scale) as f32;
            let lightness: Vec<f32> = (0..width * height).map(|k| value(k, 100)).collect();
            let small_lightness: Vec<f32> = (0..sw * sh).map(|k| value(k, 100)).collect();
            let a: Vec<f32> = (0..sw * sh).map(|k| value(k, 80) - 40.0).collect();
            let b: Vec<f32> = (0..sw * sh).map(|k| 30.0 - value(k, 60)).collect();
            ((width, height), (sw, sh), lightness, small_lightness, a, b)
        };
        let frames = [
            frame((64, 48), 1),
            frame((96, 32), 2),
            frame((96, 32), 3),
            frame((64, 48), 4),
        ];
        let mut kept = Renderer::default();
        for (size, small, lightness, small_lightness, a, b) in &frames {
            let colouring = Colouring {
                lightness,
                size: *size,
                small_lightness,
                small: *small,
                a,
                b,
            };
            let write = |renderer: &mut Renderer| {
                let (cw, ch) = layout.chroma_size(size.0, size.1);
                let mut luma = vec![0u8; size.0 * size.1];
                let (mut u, mut v) = (vec![0u8; cw * ch], vec![0u8; cw * ch]);
                let mut planes = OutputPlanes {
                    planes: vec![(&mut luma[..], size.0), (&mut u[..], cw), (&mut v[..], cw)],
                };
                renderer.write_colour(layout, colouring, 2, &convert, &mut planes);
                (u, v)
            };
            let (u, v) = write(&mut kept);
            assert!(
                u.iter().any(|&c| c != u[0]),
                "the frame has colours to compare"
            );
            assert_eq!((u, v), write(&mut Renderer::default()), "{size:?}");
        }
    }

    #[test]
    fn copies_luma_bit_exactly_across_strides() {
        let src = [1u8, 2, 3, 0, 4, 5, 6, 0];
        let copy = |map: &[u8; 256]| {
            let mut dst = vec![9u8; 10];
            let plane = Plane {
                data: &src,
                stride: 4,
                width: 3,
                height: 2,
            };
            copy_luma(plane, &mut dst, 5, map);
            dst
        };
        let identity: [u8; 256] = std::array::from_fn(|i| i as u8);
        assert_eq!(copy(&identity), vec![1, 2, 3, 9, 9, 4, 5, 6, 9, 9]);
        // Another range: every byte through the map.
        let shifted: [u8; 256] = std::array::from_fn(|i| (i as u8).saturating_add(16));
        assert_eq!(copy(&shifted), vec![17, 18, 19, 9, 9, 20, 21, 22, 9, 9]);
    }
}
