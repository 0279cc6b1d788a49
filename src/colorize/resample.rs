// SPDX-License-Identifier: MIT OR Apache-2.0

//! Resampling of single-channel f32 planes (row-major), and guided upsampling of chroma.

/// Per output sample of one axis: the first input index and the weights from there on.
#[derive(Debug, Clone)]
struct AxisWeights {
    starts: Vec<usize>,
    weights: Vec<Vec<f32>>,
}

impl AxisWeights {
    /// Area averaging when shrinking (every input sample counts by its overlap), linear
    /// interpolation between sample centres when growing.
    fn new(from: usize, to: usize) -> Self {
        let scale = from as f64 / to as f64;
        let mut starts = Vec::with_capacity(to);
        let mut weights = Vec::with_capacity(to);
        for o in 0..to {
            if scale > 1.0 {
                let x0 = o as f64 * scale;
                let x1 = x0 + scale;
                let first = x0.floor() as usize;
                let last = (x1.ceil() as usize).min(from);
                let w: Vec<f32> = (first..last)
                    .map(|i| ((x1.min(i as f64 + 1.0) - x0.max(i as f64)) / scale) as f32)
                    .collect();
                starts.push(first);
                weights.push(w);
            } else {
                let centre = ((o as f64 + 0.5) * scale - 0.5).clamp(0.0, (from - 1) as f64);
                let first = (centre.floor() as usize).min(from.saturating_sub(2));
                let fraction = (centre - first as f64) as f32;
                starts.push(first);
                weights.push(if from == 1 {
                    vec![1.0]
                } else {
                    vec![1.0 - fraction, fraction]
                });
            }
        }
        AxisWeights { starts, weights }
    }
}

/// Resizes a `width × height` plane to `out_width × out_height`.
pub fn resize(
    src: &[f32],
    width: usize,
    height: usize,
    out_width: usize,
    out_height: usize,
) -> Vec<f32> {
    debug_assert_eq!(src.len(), width * height);
    let horizontal = AxisWeights::new(width, out_width);
    let vertical = AxisWeights::new(height, out_height);
    let mut rows = vec![0.0f32; out_width * height];
    for y in 0..height {
        let row = &src[y * width..(y + 1) * width];
        let out = &mut rows[y * out_width..(y + 1) * out_width];
        for (o, value) in out.iter_mut().enumerate() {
            let start = horizontal.starts[o];
            *value = horizontal.weights[o]
                .iter()
                .enumerate()
                .map(|(k, w)| w * row[start + k])
                .sum();
        }
    }
    let mut out = vec![0.0f32; out_width * out_height];
    for (o, out_row) in out.chunks_exact_mut(out_width).enumerate() {
        let start = vertical.starts[o];
        for (k, &w) in vertical.weights[o].iter().enumerate() {
            let row = &rows[(start + k) * out_width..(start + k + 1) * out_width];
            for (value, &r) in out_row.iter_mut().zip(row) {
                *value += w * r;
            }
        }
    }
    out
}

/// Mean over a `(2r+1)²` window clipped at the borders, with sliding sums (O(1) a pixel).
fn box_mean(src: &[f32], width: usize, height: usize, radius: usize) -> Vec<f32> {
    let mut horizontal = vec![0.0f32; src.len()];
    for (row, out) in src
        .chunks_exact(width)
        .zip(horizontal.chunks_exact_mut(width))
    {
        let mut sum: f64 = row[..(radius + 1).min(width)]
            .iter()
            .map(|&v| v as f64)
            .sum();
        for x in 0..width {
            let count = (x + radius).min(width - 1) + 1 - x.saturating_sub(radius);
            out[x] = (sum / count as f64) as f32;
            if x + radius + 1 < width {
                sum += row[x + radius + 1] as f64;
            }
            if x >= radius {
                sum -= row[x - radius] as f64;
            }
        }
    }
    let mut out = vec![0.0f32; src.len()];
    let mut sums = vec![0.0f64; width];
    for row in horizontal.chunks_exact(width).take(radius + 1) {
        for (sum, &v) in sums.iter_mut().zip(row) {
            *sum += v as f64;
        }
    }
    for y in 0..height {
        let count = ((y + radius).min(height - 1) + 1 - y.saturating_sub(radius)) as f64;
        for (o, &sum) in out[y * width..(y + 1) * width].iter_mut().zip(&sums) {
            *o = (sum / count) as f32;
        }
        if y + radius + 1 < height {
            let add = &horizontal[(y + radius + 1) * width..(y + radius + 2) * width];
            for (sum, &v) in sums.iter_mut().zip(add) {
                *sum += v as f64;
            }
        }
        if y >= radius {
            let remove = &horizontal[(y - radius) * width..(y - radius + 1) * width];
            for (sum, &v) in sums.iter_mut().zip(remove) {
                *sum -= v as f64;
            }
        }
    }
    out
}

/// Upsamples chroma predicted at low resolution to a high-resolution guide's grid, keeping the
/// guide's edges: the guided filter's local linear model `q = a·I + b` is fitted at low
/// resolution (He & Sun, "Fast Guided Filter", 2015) and its coefficients, not the chroma, are
/// interpolated, then applied to the full-resolution guide.
pub struct GuidedUpsampler {
    low: (usize, usize),
    high: (usize, usize),
    radius: usize,
    eps: f32,
    mean_guide: Vec<f32>,
    var_guide: Vec<f32>,
    guide_low: Vec<f32>,
}

impl GuidedUpsampler {
    /// `guide_low` is the guide at the chroma's resolution, values about 0..1.
    pub fn new(
        guide_low: &[f32],
        low: (usize, usize),
        high: (usize, usize),
        radius: usize,
        eps: f32,
    ) -> Self {
        let (w, h) = low;
        let mean_guide = box_mean(guide_low, w, h, radius);
        let squares: Vec<f32> = guide_low.iter().map(|v| v * v).collect();
        let var_guide = box_mean(&squares, w, h, radius)
            .iter()
            .zip(&mean_guide)
            .map(|(sq, m)| sq - m * m)
            .collect();
        GuidedUpsampler {
            low,
            high,
            radius,
            eps,
            mean_guide,
            var_guide,
            guide_low: guide_low.to_vec(),
        }
    }

    /// One chroma channel at low resolution -> at high resolution, given the high guide.
    pub fn upsample(&self, channel_low: &[f32], guide_high: &[f32]) -> Vec<f32> {
        let (w, h) = self.low;
        let mean_p = box_mean(channel_low, w, h, self.radius);
        let products: Vec<f32> = channel_low
            .iter()
            .zip(&self.guide_low)
            .map(|(p, i)| p * i)
            .collect();
        let mean_ip = box_mean(&products, w, h, self.radius);
        let mut a = vec![0.0f32; w * h];
        let mut b = vec![0.0f32; w * h];
        for k in 0..w * h {
            a[k] = (mean_ip[k] - self.mean_guide[k] * mean_p[k]) / (self.var_guide[k] + self.eps);
            b[k] = mean_p[k] - a[k] * self.mean_guide[k];
        }
        let a = box_mean(&a, w, h, self.radius);
        let b = box_mean(&b, w, h, self.radius);
        let (hw, hh) = self.high;
        let a = resize(&a, w, h, hw, hh);
        let b = resize(&b, w, h, hw, hh);
        a.iter()
            .zip(&b)
            .zip(guide_high)
            .map(|((a, b), i)| a * i + b)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shrinking_averages_areas() {
        let src = [1.0, 3.0, 5.0, 7.0, 2.0, 4.0, 6.0, 8.0];
        assert_eq!(resize(&src, 4, 2, 2, 1), vec![2.5, 6.5]);
        // A non-integer factor weighs partial overlaps: 3 -> 2 covers 1.5 samples each.
        let out = resize(&[0.0, 3.0, 6.0], 3, 1, 2, 1);
        assert_eq!(out, vec![1.0, 5.0]);
    }

    #[test]
    fn growing_interpolates_between_centres() {
        let out = resize(&[0.0, 4.0], 2, 1, 4, 1);
        assert_eq!(out, vec![0.0, 1.0, 3.0, 4.0]);
        assert_eq!(resize(&[7.0], 1, 1, 3, 2), vec![7.0; 6]);
    }

    #[test]
    fn same_size_is_identity() {
        let src: Vec<f32> = (0..12).map(|v| v as f32).collect();
        assert_eq!(resize(&src, 4, 3, 4, 3), src);
    }

    #[test]
    fn box_mean_clips_at_borders() {
        let out = box_mean(&[0.0, 3.0, 6.0, 9.0], 4, 1, 1);
        assert_eq!(out, vec![1.5, 3.0, 6.0, 7.5]);
    }

    #[test]
    fn guided_upsampling_keeps_the_guides_edge() {
        // Low resolution: a blurry chroma ramp across a step edge in the guide.
        let (lw, lh) = (8, 4);
        let guide_low: Vec<f32> = (0..lw * lh)
            .map(|k| if k % lw < 4 { 0.2 } else { 0.8 })
            .collect();
        let chroma_low: Vec<f32> = (0..lw * lh)
            .map(|k| if k % lw < 4 { -20.0 } else { 30.0 })
            .collect();
        let up = GuidedUpsampler::new(&guide_low, (lw, lh), (32, 16), 2, 1e-4);
        let guide_high: Vec<f32> = (0..32 * 16)
            .map(|k| if k % 32 < 16 { 0.2 } else { 0.8 })
            .collect();
        let out = up.upsample(&chroma_low, &guide_high);
        let bilinear = resize(&chroma_low, lw, lh, 32, 16);
        let truth = |x: usize| if x < 16 { -20.0 } else { 30.0 };
        for y in 0..16 {
            for x in 0..32 {
                let error = (out[y * 32 + x] - truth(x)).abs();
                let bilinear_error = (bilinear[y * 32 + x] - truth(x)).abs();
                if (14..18).contains(&x) {
                    // Next to the edge, far closer to the truth than interpolated chroma.
                    assert!(
                        error < bilinear_error / 3.0,
                        "x {x}: {error} vs {bilinear_error}"
                    );
                } else {
                    assert!(error < 0.05, "x {x}: {}", out[y * 32 + x]);
                }
            }
        }
    }
}
