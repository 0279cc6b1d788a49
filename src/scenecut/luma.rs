// SPDX-License-Identifier: MIT OR Apache-2.0

//! Small luma images for analysis, and the difference between two of them.
//!
//! A frame's luma is box-averaged down to a fixed analysis width so that a 4K frame costs about
//! as much to compare as an SD one, and so that noise and fine texture average out before the
//! difference is taken.

use std::collections::VecDeque;
use std::fmt;

use super::detector::FrameDiffs;

/// Where the luma (or the colour components that make it) sits in a frame's first plane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LumaLayout {
    /// One byte of luma per pixel (GRAY8 and the planar / semi-planar YUV formats).
    Planar8,
    /// One little-endian 16-bit word per pixel holding `depth` significant low bits.
    Planar16 { depth: u32 },
    /// Packed YUV: luma byte at `offset`, then every `step` bytes (YUY2, UYVY).
    Packed8 { offset: usize, step: usize },
    /// Packed RGB: byte offsets of each component within a `step`-byte pixel.
    Rgb {
        r: usize,
        g: usize,
        b: usize,
        step: usize,
    },
}

impl LumaLayout {
    fn bytes_per_row(&self, width: usize) -> usize {
        match *self {
            LumaLayout::Planar8 => width,
            LumaLayout::Planar16 { .. } => 2 * width,
            LumaLayout::Packed8 { offset, step } => (width - 1) * step + offset + 1,
            LumaLayout::Rgb { r, g, b, step } => (width - 1) * step + r.max(g).max(b) + 1,
        }
    }
}

/// A borrowed first plane of a frame.
#[derive(Debug, Clone, Copy)]
pub struct LumaPlane<'a> {
    pub data: &'a [u8],
    pub stride: usize,
    pub width: usize,
    pub height: usize,
    pub layout: LumaLayout,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LumaError {
    /// The plane holds fewer bytes than its size and stride require.
    TooSmall { needed: usize, got: usize },
    /// Zero width or height, or a stride shorter than a row.
    BadGeometry {
        width: usize,
        height: usize,
        stride: usize,
    },
}

impl fmt::Display for LumaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LumaError::TooSmall { needed, got } => {
                write!(f, "plane has {got} bytes but its size needs {needed}")
            }
            LumaError::BadGeometry {
                width,
                height,
                stride,
            } => write!(
                f,
                "unusable plane geometry {width}x{height}, stride {stride}"
            ),
        }
    }
}

impl std::error::Error for LumaError {}

/// Size of the analysis image for a frame: `analysis_width` wide (never wider than the frame;
/// 0 keeps full size), height in proportion, at least 1x1.
pub fn analysis_size(width: usize, height: usize, analysis_width: usize) -> (usize, usize) {
    if analysis_width == 0 || analysis_width >= width {
        return (width, height);
    }
    let out_height = ((height * analysis_width + width / 2) / width).clamp(1, height);
    (analysis_width, out_height)
}

/// Box-averages a plane's luma down to an analysis image. Keeps its buffers from one frame to
/// the next, so the steady state allocates nothing.
#[derive(Debug, Default)]
pub struct Downscaler {
    /// Per input column, the sum of the current output row's input rows.
    column_sums: Vec<u32>,
    /// Per output column of the current row, the sum of its block (uniform blocks only).
    block_sums: Vec<u32>,
    /// Per output column, its first input column; one extra entry closes the last one.
    column_starts: Vec<usize>,
    geometry: (usize, usize),
}

impl Downscaler {
    /// Writes the `out_width × out_height` analysis image (8-bit, row-major) of `plane` to
    /// `out`, replacing what it held.
    pub fn run(
        &mut self,
        plane: &LumaPlane,
        out_width: usize,
        out_height: usize,
        out: &mut Vec<u8>,
    ) -> Result<(), LumaError> {
        let LumaPlane {
            data,
            stride,
            width,
            height,
            layout,
        } = *plane;
        if width == 0 || height == 0 || stride < layout.bytes_per_row(width) {
            return Err(LumaError::BadGeometry {
                width,
                height,
                stride,
            });
        }
        let needed = stride * (height - 1) + layout.bytes_per_row(width);
        if data.len() < needed {
            return Err(LumaError::TooSmall {
                needed,
                got: data.len(),
            });
        }
        let out_width = out_width.clamp(1, width);
        let out_height = out_height.clamp(1, height);
        let shift = match layout {
            LumaLayout::Planar16 { depth } => depth.clamp(8, 16) - 8,
            _ => 0,
        };
        if self.geometry != (width, out_width) {
            self.geometry = (width, out_width);
            self.column_starts = (0..=out_width).map(|x| x * width / out_width).collect();
            self.column_sums = vec![0; width];
        }

        // Most frames divide evenly into the analysis width (640 -> 320, 1920 -> 320): their
        // blocks share one width and one count, so each mean is a multiply, not a division (the
        // division was most of the analysis time).
        let block_width = width / out_width;
        let uniform = width % out_width == 0;
        out.clear();
        out.reserve(out_width * out_height);
        for out_y in 0..out_height {
            let y0 = out_y * height / out_height;
            let y1 = (out_y + 1) * height / out_height;
            let count = (y1 - y0) * block_width;
            if uniform && layout == LumaLayout::Planar8 && block_width <= 3 {
                // Narrow blocks: each row adds straight into its blocks' sums, which skips
                // the per-column pass.
                self.block_sums.clear();
                self.block_sums.resize(out_width, 0);
                for y in y0..y1 {
                    accumulate_blocks(
                        &data[y * stride..][..width],
                        block_width,
                        &mut self.block_sums,
                    );
                }
                RoundingDivisor::new(count, 255).divide_all(&self.block_sums, 0, out);
                continue;
            }
            self.column_sums.fill(0);
            for y in y0..y1 {
                accumulate_row(&data[y * stride..], width, layout, &mut self.column_sums);
            }
            if uniform && (255u64 << shift) * (count as u64) < 1 << 32 {
                self.block_sums.clear();
                self.block_sums.extend(
                    self.column_sums
                        .chunks_exact(block_width)
                        .map(|block| block.iter().sum::<u32>()),
                );
                RoundingDivisor::new(count, 255 << shift).divide_all(&self.block_sums, shift, out);
                continue;
            }
            for bounds in self.column_starts.windows(2) {
                let block = &self.column_sums[bounds[0]..bounds[1]];
                // A block sums at most 65535 × rows × columns: u64 cannot overflow.
                let sum: u64 = block.iter().map(|&v| v as u64).sum();
                let count = ((y1 - y0) * block.len()) as u64;
                out.push((((sum + count / 2) / count) >> shift).min(255) as u8);
            }
        }
        Ok(())
    }
}

/// Rounded division by one divisor as a multiply and a shift, exact over the sums it is built
/// for (Granlund and Montgomery): the per-pixel division was most of the analysis time.
#[derive(Debug, Clone, Copy)]
struct RoundingDivisor {
    count: u32,
    reciprocal: u64,
    exact: bool,
}

impl RoundingDivisor {
    /// For sums of `count` values of at most `max_value` each.
    fn new(count: usize, max_value: u32) -> Self {
        let count = count.clamp(1, u32::MAX as usize) as u32;
        // With reciprocal = ceil(2^32 / count), floor(n × reciprocal / 2^32) = floor(n / count)
        // for every n with n × count < 2^32.
        let largest = max_value as u64 * count as u64 + count as u64 / 2;
        RoundingDivisor {
            count,
            reciprocal: (1u64 << 32).div_ceil(count as u64),
            exact: largest
                .checked_mul(count as u64)
                .is_some_and(|p| p < 1 << 32),
        }
    }

    /// Appends `((sum + count / 2) / count) >> shift` of each sum, at most 255, to `out`.
    fn divide_all(&self, sums: &[u32], shift: u32, out: &mut Vec<u8>) {
        let half = (self.count / 2) as u64;
        let clamp = |mean: u64| ((mean >> shift).min(255)) as u8;
        if self.exact {
            let reciprocal = self.reciprocal;
            out.extend(
                sums.iter()
                    .map(|&sum| clamp(((sum as u64 + half) * reciprocal) >> 32)),
            );
        } else {
            let count = self.count as u64;
            out.extend(sums.iter().map(|&sum| clamp((sum as u64 + half) / count)));
        }
    }
}

/// Adds one 8-bit row into the sums of its blocks of 1, 2 or 3 pixels, each width its own loop
/// so that the compiler unrolls and vectorises it.
fn accumulate_blocks(row: &[u8], block_width: usize, sums: &mut [u32]) {
    fn fixed<const K: usize>(row: &[u8], sums: &mut [u32]) {
        for (sum, block) in sums.iter_mut().zip(row.chunks_exact(K)) {
            *sum += block.iter().map(|&v| v as u32).sum::<u32>();
        }
    }
    match block_width {
        1 => fixed::<1>(row, sums),
        2 => fixed::<2>(row, sums),
        _ => fixed::<3>(row, sums),
    }
}

/// Adds one row's luma to the per-column sums. Kept as simple indexed loops per layout so the
/// compiler vectorises the common planar case.
fn accumulate_row(row: &[u8], width: usize, layout: LumaLayout, sums: &mut [u32]) {
    match layout {
        LumaLayout::Planar8 => {
            for (sum, &v) in sums.iter_mut().zip(&row[..width]) {
                *sum += v as u32;
            }
        }
        LumaLayout::Planar16 { .. } => {
            for (sum, v) in sums.iter_mut().zip(row[..2 * width].chunks_exact(2)) {
                *sum += u16::from_le_bytes([v[0], v[1]]) as u32;
            }
        }
        LumaLayout::Packed8 { offset, step } => {
            for (x, sum) in sums.iter_mut().enumerate() {
                *sum += row[x * step + offset] as u32;
            }
        }
        LumaLayout::Rgb { r, g, b, step } => {
            for (x, sum) in sums.iter_mut().enumerate() {
                let p = &row[x * step..];
                // BT.601 luma weights in 1/256 units (77 + 150 + 29 = 256).
                *sum += (77 * p[r] as u32 + 150 * p[g] as u32 + 29 * p[b] as u32 + 128) >> 8;
            }
        }
    }
}

/// Mean of `|a - b|` over two analysis images of the same size, in 8-bit luma units.
pub fn mean_abs_diff(a: &[u8], b: &[u8]) -> f64 {
    debug_assert_eq!(a.len(), b.len());
    if a.is_empty() {
        return 0.0;
    }
    let total: u64 = a
        .chunks(4096)
        .zip(b.chunks(4096))
        .map(|(a, b)| {
            a.iter()
                .zip(b)
                .map(|(&x, &y)| x.abs_diff(y) as u32)
                .sum::<u32>() as u64
        })
        .sum();
    total as f64 / a.len() as f64
}

/// Pearson correlation of two images of the same size, given their levels: near 1 when one is
/// the other in other light (brighter, dimmer, more or less contrast); none when either is flat.
pub fn correlation(a: &[u8], a_levels: &Levels, b: &[u8], b_levels: &Levels) -> Option<f64> {
    if a.len() != b.len() || a.is_empty() || a_levels.spread < 0.5 || b_levels.spread < 0.5 {
        return None;
    }
    // 4096 products of two bytes fit a u32.
    let products: u64 = a
        .chunks(4096)
        .zip(b.chunks(4096))
        .map(|(a, b)| {
            a.iter()
                .zip(b)
                .map(|(&x, &y)| x as u32 * y as u32)
                .sum::<u32>() as u64
        })
        .sum();
    let covariance = products as f64 / a.len() as f64 - a_levels.mean * b_levels.mean;
    Some((covariance / (a_levels.spread * b_levels.spread)).clamp(-1.0, 1.0))
}

/// Brightness and contrast of an analysis image: fades show in the mean, dissolves as a dip in
/// the spread.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Levels {
    pub mean: f64,
    /// Standard deviation of the pixels around `mean`.
    pub spread: f64,
}

impl Levels {
    /// The levels of an 8-bit image; none for an empty one.
    pub fn of(image: &[u8]) -> Option<Levels> {
        if image.is_empty() {
            return None;
        }
        // Integer sums are exact, so the levels equal those of any exact summation; 4096
        // squares of 255 fit a u32, which lets the compiler vectorise each chunk.
        let (sum, sum_sq) = image.chunks(4096).fold((0u64, 0u64), |(s, q), chunk| {
            let chunk_sum: u32 = chunk.iter().map(|&v| v as u32).sum();
            let chunk_sq: u32 = chunk.iter().map(|&v| v as u32 * v as u32).sum();
            (s + chunk_sum as u64, q + chunk_sq as u64)
        });
        let n = image.len() as f64;
        let (sum, sum_sq) = (sum as f64, sum_sq as f64);
        let mean = sum / n;
        let spread = (sum_sq / n - mean * mean).max(0.0).sqrt();
        Some(Levels { mean, spread })
    }
}

/// Turns each frame of a run into what the rule reads: its analysis image compared with the
/// three before it, and its levels. Keeps its buffers, so the steady state allocates nothing.
#[derive(Debug, Default)]
pub struct Analyser {
    downscaler: Downscaler,
    /// The run's last analysis images, newest last, and their levels.
    recent: VecDeque<Vec<u8>>,
    recent_levels: VecDeque<Option<Levels>>,
    spare: Vec<u8>,
}

impl Analyser {
    /// Measures the next frame of the run, analysed at `analysis_width` (see `analysis_size`).
    pub fn measure(
        &mut self,
        plane: &LumaPlane,
        analysis_width: usize,
    ) -> Result<FrameDiffs, LumaError> {
        let (width, height) = analysis_size(plane.width, plane.height, analysis_width);
        let mut image = std::mem::take(&mut self.spare);
        if let Err(err) = self.downscaler.run(plane, width, height, &mut image) {
            self.spare = image;
            return Err(err);
        }
        let back = |k: usize| {
            (self.recent.len() >= k)
                .then(|| mean_abs_diff(&self.recent[self.recent.len() - k], &image))
        };
        let levels = Levels::of(&image);
        let correlation = self.recent.back().zip(self.recent_levels.back()).and_then(
            |(previous, previous_levels)| {
                correlation(
                    previous,
                    previous_levels.as_ref()?,
                    &image,
                    levels.as_ref()?,
                )
            },
        );
        let diffs = FrameDiffs {
            previous: back(1).unwrap_or(0.0),
            skip: [back(2), back(3)],
            levels,
            correlation,
        };
        if self.recent.len() == 3 {
            self.spare = self.recent.pop_front().unwrap_or_default();
            self.recent_levels.pop_front();
        }
        self.recent.push_back(image);
        self.recent_levels.push_back(levels);
        Ok(diffs)
    }

    /// Starts a new run: the next frame has nothing to be compared with.
    pub fn new_run(&mut self) {
        self.recent.clear();
        self.recent_levels.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_analyser_compares_each_frame_with_the_three_before_it_in_its_run() {
        fn measure(analyser: &mut Analyser, value: u8) -> FrameDiffs {
            let data = [value; 4];
            let plane = LumaPlane {
                data: &data,
                stride: 2,
                width: 2,
                height: 2,
                layout: LumaLayout::Planar8,
            };
            analyser.measure(&plane, 0).unwrap()
        }
        let mut analyser = Analyser::default();
        let first = measure(&mut analyser, 10);
        assert_eq!((first.previous, first.skip), (0.0, [None, None]));
        assert_eq!(
            first.levels,
            Some(Levels {
                mean: 10.0,
                spread: 0.0
            })
        );
        measure(&mut analyser, 20);
        measure(&mut analyser, 40);
        let fourth = measure(&mut analyser, 80);
        assert_eq!(
            (fourth.previous, fourth.skip),
            (40.0, [Some(60.0), Some(70.0)])
        );
        let fifth = measure(&mut analyser, 80);
        assert_eq!(
            (fifth.previous, fifth.skip),
            (0.0, [Some(40.0), Some(60.0)])
        );
        analyser.new_run();
        let restarted = measure(&mut analyser, 5);
        assert_eq!((restarted.previous, restarted.skip), (0.0, [None, None]));
    }

    #[test]
    fn correlation_sets_light_aside_and_sees_another_picture() {
        let picture: Vec<u8> = (0..400u32).map(|i| ((i * 37) % 200) as u8).collect();
        let brighter: Vec<u8> = picture
            .iter()
            .map(|&v| (v as f64 * 1.2 + 10.0) as u8)
            .collect();
        let other: Vec<u8> = (0..400u32).map(|i| ((i * 53 + 7) % 200) as u8).collect();
        let levels = |image: &[u8]| Levels::of(image).unwrap();
        let c = |a: &[u8], b: &[u8]| correlation(a, &levels(a), b, &levels(b)).unwrap();
        assert!(c(&picture, &picture) > 0.999_999);
        assert!(c(&picture, &brighter) > 0.999);
        assert!(c(&picture, &other).abs() < 0.2, "{}", c(&picture, &other));
        let flat = vec![90u8; 400];
        assert_eq!(
            correlation(&picture, &levels(&picture), &flat, &levels(&flat)),
            None
        );
    }

    #[test]
    fn levels_are_the_mean_and_standard_deviation() {
        assert_eq!(Levels::of(&[]), None);
        assert_eq!(
            Levels::of(&[10, 10, 30, 30]),
            Some(Levels {
                mean: 20.0,
                spread: 10.0
            })
        );
        assert_eq!(
            Levels::of(&[7; 9]),
            Some(Levels {
                mean: 7.0,
                spread: 0.0
            })
        );
    }

    fn small(plane: &LumaPlane, w: usize, h: usize) -> Result<Vec<u8>, LumaError> {
        let mut out = Vec::new();
        Downscaler::default().run(plane, w, h, &mut out)?;
        Ok(out)
    }

    #[test]
    fn analysis_size_keeps_aspect() {
        assert_eq!(analysis_size(1920, 1080, 320), (320, 180));
        assert_eq!(analysis_size(640, 360, 320), (320, 180));
        assert_eq!(analysis_size(200, 100, 320), (200, 100));
        assert_eq!(analysis_size(1920, 1080, 0), (1920, 1080));
        assert_eq!(analysis_size(7680, 1, 320), (320, 1));
        assert_eq!(analysis_size(1, 1, 320), (1, 1));
    }

    #[test]
    fn planar_box_average_with_padded_stride() {
        // 4x2 picture, stride 6 (two bytes of padding that must be ignored).
        let data = [10, 20, 30, 40, 255, 255, 50, 60, 70, 80, 255, 255];
        let plane = LumaPlane {
            data: &data,
            stride: 6,
            width: 4,
            height: 2,
            layout: LumaLayout::Planar8,
        };
        assert_eq!(small(&plane, 2, 1).unwrap(), vec![35, 55]);
        assert_eq!(
            small(&plane, 4, 2).unwrap(),
            data[..4]
                .iter()
                .chain(&data[6..10])
                .copied()
                .collect::<Vec<_>>()
        );
    }

    /// The box average by definition: each block's rounded mean, one division per block.
    fn naive_box_average(
        data: &[u8],
        stride: usize,
        size: (usize, usize),
        out: (usize, usize),
    ) -> Vec<u8> {
        let ((width, height), (out_width, out_height)) = (size, out);
        let mut image = Vec::new();
        for oy in 0..out_height {
            let rows = oy * height / out_height..(oy + 1) * height / out_height;
            for ox in 0..out_width {
                let columns = ox * width / out_width..(ox + 1) * width / out_width;
                let (mut sum, mut count) = (0u64, 0u64);
                for y in rows.clone() {
                    for x in columns.clone() {
                        sum += data[y * stride + x] as u64;
                        count += 1;
                    }
                }
                image.push(((sum + count / 2) / count) as u8);
            }
        }
        image
    }

    #[test]
    fn every_block_shape_equals_the_plain_box_average() {
        // Blocks of 1, 2 and 3 columns (rows added straight into block sums), 6 and 12
        // (per-column sums, uniform blocks) and uneven blocks (1000 -> 320).
        for (width, height) in [
            (320, 90),
            (640, 360),
            (960, 270),
            (1920, 540),
            (3840, 60),
            (1000, 333),
        ] {
            let stride = width + 7;
            let data: Vec<u8> = (0..stride * height)
                .map(|i: usize| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
                .collect();
            let plane = LumaPlane {
                data: &data,
                stride,
                width,
                height,
                layout: LumaLayout::Planar8,
            };
            let (w, h) = analysis_size(width, height, 320);
            assert_eq!(
                small(&plane, w, h).unwrap(),
                naive_box_average(&data, stride, (width, height), (w, h)),
                "{width}x{height}"
            );
        }
    }

    #[test]
    fn the_rounding_divisor_equals_division_wherever_it_claims_exactness() {
        for count in [1, 2, 3, 4, 5, 6, 7, 9, 12, 36, 144, 255, 1000, 4097] {
            let divisor = RoundingDivisor::new(count, 255);
            assert!(divisor.exact, "count {count}");
            let sums: Vec<u32> = (0..=255 * count as u32).collect();
            let mut out = Vec::new();
            divisor.divide_all(&sums, 0, &mut out);
            for (&sum, &mean) in sums.iter().zip(&out) {
                assert_eq!(
                    mean as u32,
                    (sum + count as u32 / 2) / count as u32,
                    "{sum} / {count}"
                );
            }
        }
        assert!(!RoundingDivisor::new(1 << 20, 255).exact);
    }

    #[test]
    fn sixteen_bit_and_ten_bit_scale_to_eight() {
        let gray16 = [0x00, 0x80, 0xff, 0xff];
        let plane = LumaPlane {
            data: &gray16,
            stride: 4,
            width: 2,
            height: 1,
            layout: LumaLayout::Planar16 { depth: 16 },
        };
        assert_eq!(small(&plane, 2, 1).unwrap(), vec![0x80, 0xff]);
        let ten = 1020u16.to_le_bytes();
        let plane = LumaPlane {
            data: &ten,
            stride: 2,
            width: 1,
            height: 1,
            layout: LumaLayout::Planar16 { depth: 10 },
        };
        assert_eq!(small(&plane, 1, 1).unwrap(), vec![255]);
    }

    #[test]
    fn packed_yuv_and_rgb_layouts() {
        // YUY2: Y0 U Y1 V
        let yuy2 = [100, 1, 200, 2];
        let plane = LumaPlane {
            data: &yuy2,
            stride: 4,
            width: 2,
            height: 1,
            layout: LumaLayout::Packed8 { offset: 0, step: 2 },
        };
        assert_eq!(small(&plane, 2, 1).unwrap(), vec![100, 200]);
        // UYVY: U Y0 V Y1
        let uyvy = [1, 100, 2, 200];
        let plane = LumaPlane {
            layout: LumaLayout::Packed8 { offset: 1, step: 2 },
            data: &uyvy,
            ..plane
        };
        assert_eq!(small(&plane, 2, 1).unwrap(), vec![100, 200]);
        // BGRx: pure red, then white.
        let bgrx = [0, 0, 255, 0, 255, 255, 255, 0];
        let plane = LumaPlane {
            data: &bgrx,
            stride: 8,
            width: 2,
            height: 1,
            layout: LumaLayout::Rgb {
                r: 2,
                g: 1,
                b: 0,
                step: 4,
            },
        };
        assert_eq!(small(&plane, 2, 1).unwrap(), vec![77, 255]);
    }

    #[test]
    fn short_buffers_and_bad_strides_are_errors() {
        let data = [0u8; 10];
        let plane = LumaPlane {
            data: &data,
            stride: 4,
            width: 4,
            height: 3,
            layout: LumaLayout::Planar8,
        };
        assert_eq!(
            small(&plane, 2, 2),
            Err(LumaError::TooSmall {
                needed: 12,
                got: 10
            })
        );
        let plane = LumaPlane { stride: 3, ..plane };
        assert!(matches!(
            small(&plane, 2, 2),
            Err(LumaError::BadGeometry { .. })
        ));
    }

    #[test]
    fn mean_abs_diff_is_symmetric_and_exact() {
        assert_eq!(mean_abs_diff(&[0, 10, 255, 7], &[10, 0, 0, 7]), 275.0 / 4.0);
        assert_eq!(mean_abs_diff(&[10, 0, 0, 7], &[0, 10, 255, 7]), 275.0 / 4.0);
        assert_eq!(mean_abs_diff(&[], &[]), 0.0);
    }
}
