// SPDX-License-Identifier: MIT OR Apache-2.0

//! From a grey frame's luma to a colour frame: L* planes in, 8-bit video planes out.

use super::color::LabToVideo;
use super::resample::{resize, GuidedUpsampler};

/// A borrowed 8-bit plane.
#[derive(Debug, Clone, Copy)]
pub struct Plane<'a> {
    pub data: &'a [u8],
    pub stride: usize,
    pub width: usize,
    pub height: usize,
}

/// L* of every pixel of a luma plane, through a per-code-value table.
pub fn lightness_plane(luma: Plane, table: &[f32; 256]) -> Vec<f32> {
    let mut out = Vec::with_capacity(luma.width * luma.height);
    for y in 0..luma.height {
        let row = &luma.data[y * luma.stride..y * luma.stride + luma.width];
        out.extend(row.iter().map(|&v| table[v as usize]));
    }
    out
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

/// Everything the output needs from one prediction: L* at chroma resolution and the upsampled
/// a*, b* there.
pub struct Chroma {
    pub width: usize,
    pub height: usize,
    pub lightness: Vec<f32>,
    pub a: Vec<f32>,
    pub b: Vec<f32>,
}

/// Upsamples predicted a*, b* (`small` size) to the output's chroma grid, guided by the
/// frame's own lightness so colour edges follow the picture's edges.
pub fn upsample_chroma(
    lightness: &[f32],
    size: (usize, usize),
    small_lightness: &[f32],
    small: (usize, usize),
    ab: (&[f32], &[f32]),
    chroma: (usize, usize),
    radius: usize,
) -> Chroma {
    let lightness_chroma = if chroma == size {
        lightness.to_vec()
    } else {
        resize(lightness, size.0, size.1, chroma.0, chroma.1)
    };
    let (a, b) = if chroma.0 <= small.0 && chroma.1 <= small.1 {
        // The chroma grid is no finer than the prediction (4:2:0 output of a small frame):
        // area averaging loses nothing that a guide could restore.
        (
            resize(ab.0, small.0, small.1, chroma.0, chroma.1),
            resize(ab.1, small.0, small.1, chroma.0, chroma.1),
        )
    } else {
        let guide_high: Vec<f32> = lightness_chroma.iter().map(|l| l / 100.0).collect();
        let guide_low: Vec<f32> = small_lightness.iter().map(|l| l / 100.0).collect();
        let upsampler = GuidedUpsampler::new(&guide_low, small, chroma, radius, 1e-4);
        // a* and b* are independent: each on a core of its own.
        std::thread::scope(|scope| {
            let a = scope.spawn(|| upsampler.upsample(ab.0, &guide_high));
            let b = upsampler.upsample(ab.1, &guide_high);
            let a = a
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (a, b)
        })
    };
    Chroma {
        width: chroma.0,
        height: chroma.1,
        a,
        b,
        lightness: lightness_chroma,
    }
}

/// Writes the colour planes of the output; for YUV layouts the luma plane is left to the
/// caller (it copies the input's).
pub fn write_colour(
    layout: OutputLayout,
    chroma: &Chroma,
    convert: &LabToVideo,
    out: &mut OutputPlanes,
) {
    let (w, h) = (chroma.width, chroma.height);
    let sample = |k: usize| (chroma.lightness[k], chroma.a[k], chroma.b[k]);
    if let OutputLayout::Rgb { .. } = layout {
        write_rgb(layout, (w, h), out, |x, y| {
            let (l, a, b) = sample(y * w + x);
            convert.rgb8(l, a, b)
        });
    } else {
        write_cbcr(layout, (w, h), out, |x, y| {
            let (l, a, b) = sample(y * w + x);
            convert.cbcr8(l, a, b)
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
    rgb: impl Fn(usize, usize) -> [u8; 3],
) {
    let OutputLayout::Rgb {
        r,
        g,
        b,
        alpha,
        step,
    } = layout
    else {
        return;
    };
    let stride = out.planes[0].1;
    let image = &mut *out.planes[0].0;
    for y in 0..h {
        for x in 0..w {
            let [red, green, blue] = rgb(x, y);
            let p = &mut image[y * stride + x * step..];
            p[r] = red;
            p[g] = green;
            p[b] = blue;
            if let Some(alpha) = alpha {
                p[alpha] = 255;
            }
        }
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
    match layout {
        OutputLayout::Planar { .. } => {
            let (first, rest) = out.planes.split_at_mut(2);
            let (u, u_stride) = (&mut *first[1].0, first[1].1);
            let (v, v_stride) = (&mut *rest[0].0, rest[0].1);
            let bands = bands_for(w * h);
            let rows = h.div_ceil(bands);
            let cbcr = &cbcr;
            std::thread::scope(|scope| {
                let mut u = &mut u[..];
                let mut v = &mut v[..];
                for band in 0..bands {
                    let (y0, y1) = (band * rows, ((band + 1) * rows).min(h));
                    if y0 >= y1 {
                        break;
                    }
                    let (u_band, u_rest) = u.split_at_mut(((y1 - y0) * u_stride).min(u.len()));
                    let (v_band, v_rest) = v.split_at_mut(((y1 - y0) * v_stride).min(v.len()));
                    u = u_rest;
                    v = v_rest;
                    let mut work = move || {
                        for y in y0..y1 {
                            for x in 0..w {
                                let [cb, cr] = cbcr(x, y);
                                u_band[(y - y0) * u_stride + x] = cb;
                                v_band[(y - y0) * v_stride + x] = cr;
                            }
                        }
                    };
                    if band + 1 == bands {
                        work();
                    } else {
                        scope.spawn(work);
                    }
                }
            });
        }
        OutputLayout::SemiPlanar => {
            let stride = out.planes[1].1;
            let uv = &mut *out.planes[1].0;
            for y in 0..h {
                for x in 0..w {
                    let [cb, cr] = cbcr(x, y);
                    uv[y * stride + 2 * x] = cb;
                    uv[y * stride + 2 * x + 1] = cr;
                }
            }
        }
        OutputLayout::Rgb { .. } => {}
    }
}

/// The cores the planes are written with, asked once: the answer reads the process's CPU
/// affinity and cgroup limits, which is not work for every frame.
static CORES: std::sync::LazyLock<usize> =
    std::sync::LazyLock::new(|| std::thread::available_parallelism().map_or(1, |n| n.get().min(8)));

/// How many threads a plane of `samples` is written with: one per core for planes large enough
/// to pay for starting them.
fn bands_for(samples: usize) -> usize {
    if samples < 200_000 {
        return 1;
    }
    *CORES
}

/// Copies a luma plane row by row (strides may differ), through `map` (identity when the input
/// and output ranges agree, so the copy is bit-exact).
pub fn copy_luma(src: Plane, dst: &mut [u8], dst_stride: usize, map: &[u8; 256]) {
    for y in 0..src.height {
        let from = &src.data[y * src.stride..y * src.stride + src.width];
        let to = &mut dst[y * dst_stride..y * dst_stride + src.width];
        for (t, &f) in to.iter_mut().zip(from) {
            *t = map[f as usize];
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
        let l = lightness_plane(plane, &table);
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
        let chroma = Chroma {
            width: 2,
            height: 1,
            lightness: vec![50.0, 50.0],
            a: vec![0.0, 60.0],
            b: vec![0.0, 40.0],
        };
        let mut luma = vec![7u8; 4];
        let mut u = [0u8; 2];
        let mut v = [0u8; 2];
        let mut planes = OutputPlanes {
            planes: vec![(&mut luma[..], 2), (&mut u[..], 2), (&mut v[..], 2)],
        };
        write_colour(
            OutputLayout::Planar { sub_x: 1, sub_y: 1 },
            &chroma,
            &convert,
            &mut planes,
        );
        assert_eq!((u[0], v[0]), (128, 128));
        assert!(v[1] > 150 && u[1] < 128);
        assert_eq!(luma, vec![7; 4], "luma is the caller's");

        let mut luma = [0u8; 2];
        let mut uv = [0u8; 4];
        let mut planes = OutputPlanes {
            planes: vec![(&mut luma[..], 2), (&mut uv[..], 4)],
        };
        write_colour(OutputLayout::SemiPlanar, &chroma, &convert, &mut planes);
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
        write_colour(layout, &chroma, &convert, &mut planes);
        assert_eq!(&rgba[..4], &[119, 119, 119, 255]);
        assert!(rgba[4] > rgba[5] && rgba[4] > rgba[6] && rgba[7] == 255);
    }

    #[test]
    fn chroma_is_averaged_down_or_guided_up_to_the_output_grid() {
        let lightness = vec![50.0f32; 8 * 4];
        let small_lightness = vec![50.0f32; 4 * 2];
        let a = [10.0f32, 10.0, 30.0, 30.0, 10.0, 10.0, 30.0, 30.0];
        let b = [-5.0f32; 8];
        // Finer than the prediction: guided upsampling (a flat guide keeps local means).
        let up = upsample_chroma(
            &lightness,
            (8, 4),
            &small_lightness,
            (4, 2),
            (&a, &b),
            (8, 4),
            1,
        );
        assert_eq!((up.width, up.height, up.a.len()), (8, 4, 32));
        assert!(up.b.iter().all(|v| (v + 5.0).abs() < 1e-4));
        assert!(up.a[0] < up.a[7]);
        // Coarser than the prediction: area average.
        let down = upsample_chroma(
            &lightness,
            (8, 4),
            &small_lightness,
            (4, 2),
            (&a, &b),
            (2, 1),
            1,
        );
        assert_eq!(down.a, vec![10.0, 30.0]);
        assert_eq!(down.lightness, vec![50.0, 50.0]);
    }

    #[test]
    fn copies_luma_bit_exactly_across_strides() {
        let src = [1u8, 2, 3, 0, 4, 5, 6, 0];
        let mut dst = vec![9u8; 10];
        let identity: [u8; 256] = std::array::from_fn(|i| i as u8);
        copy_luma(
            Plane {
                data: &src,
                stride: 4,
                width: 3,
                height: 2,
            },
            &mut dst,
            5,
            &identity,
        );
        assert_eq!(dst, vec![1, 2, 3, 9, 9, 4, 5, 6, 9, 9]);
    }
}
