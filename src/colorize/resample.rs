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

/// An axis's weights with the same number of taps for every output sample, stored flat, for the
/// inner loop along rows: shorter windows are moved left within the input and padded with
/// leading zero weights, which leave every sum as it was.
#[derive(Debug, Clone)]
struct Taps {
    taps: usize,
    starts: Vec<usize>,
    weights: Vec<f32>,
    /// Two taps whose windows follow one another: output `i` reads input `2i` and `2i + 1`.
    halving: bool,
}

impl Taps {
    fn new(axis: &AxisWeights, from: usize) -> Self {
        let taps = axis
            .weights
            .iter()
            .map(Vec::len)
            .max()
            .unwrap_or(1)
            .min(from);
        let mut starts = Vec::with_capacity(axis.starts.len());
        let mut weights = Vec::with_capacity(axis.starts.len() * taps);
        for (&first, window) in axis.starts.iter().zip(&axis.weights) {
            let start = first.min(from - taps);
            starts.push(start);
            let lead = first - start;
            weights.extend(std::iter::repeat_n(0.0, lead));
            weights.extend_from_slice(window);
            weights.extend(std::iter::repeat_n(0.0, taps - lead - window.len()));
        }
        let halving = taps == 2 && starts.iter().enumerate().all(|(i, &start)| start == 2 * i);
        Taps {
            taps,
            starts,
            weights,
            halving,
        }
    }

    /// The resampled `row` into `out`.
    fn apply(&self, row: &[f32], out: &mut [f32]) {
        let taps = self.taps;
        if taps == 2 && self.halving {
            // Exact halving (a 4:2:0 chroma grid's lightness): windows side by side, which
            // vectorises.
            for ((value, pair), weights) in out
                .iter_mut()
                .zip(row.chunks_exact(2))
                .zip(self.weights.chunks_exact(2))
            {
                *value = weights[0] * pair[0] + weights[1] * pair[1];
            }
            return;
        }
        if taps == 2 {
            // Linear interpolation and halving, the common cases, with the tap count known to
            // the compiler (the same sums: a sum's zero start changes no value).
            for ((value, &start), weights) in out
                .iter_mut()
                .zip(&self.starts)
                .zip(self.weights.chunks_exact(2))
            {
                let pair = &row[start..start + 2];
                *value = weights[0] * pair[0] + weights[1] * pair[1];
            }
            return;
        }
        for ((value, &start), weights) in out
            .iter_mut()
            .zip(&self.starts)
            .zip(self.weights.chunks_exact(taps))
        {
            *value = weights
                .iter()
                .zip(&row[start..start + taps])
                .map(|(w, v)| w * v)
                .sum();
        }
    }
}

/// Resizes planes of one size to another, row by row: an output row needs only the input rows
/// under it, so callers can produce rows where they use them (`row`) and split a plane into
/// bands of rows on several cores, with results that do not depend on the bands. (A shrinking
/// `resize_into` adds the input rows up in another order than `row`: the same sums to within a
/// rounding.)
#[derive(Debug, Clone)]
pub struct Resampler {
    from: (usize, usize),
    to: (usize, usize),
    horizontal: Taps,
    vertical: AxisWeights,
    /// The most input rows an output row is made of.
    vertical_taps: usize,
}

impl Resampler {
    /// `slot`'s resampler, made again only when the sizes changed: a stream's frames keep their
    /// weights.
    pub fn fitted(slot: &mut Option<Resampler>, from: (usize, usize), to: (usize, usize)) -> &Self {
        if slot
            .as_ref()
            .is_some_and(|resampler| (resampler.from, resampler.to) != (from, to))
        {
            *slot = None;
        }
        slot.get_or_insert_with(|| Resampler::new(from, to))
    }

    pub fn new(from: (usize, usize), to: (usize, usize)) -> Self {
        let vertical = AxisWeights::new(from.1, to.1);
        Resampler {
            from,
            to,
            horizontal: Taps::new(&AxisWeights::new(from.0, to.0), from.0),
            vertical_taps: vertical.weights.iter().map(Vec::len).max().unwrap_or(1),
            vertical,
        }
    }

    /// Output row `y` of the `from`-sized plane `src` into `out` (`to.0` samples); `rows`
    /// keeps the horizontally resampled input rows, so that the next output row reuses those it
    /// shares (when enlarging, each input row serves two or more output rows).
    pub fn row(&self, src: &[f32], y: usize, rows: &mut ResampledRows, out: &mut [f32]) {
        let (width, out_width) = (self.from.0, self.to.0);
        let start = self.vertical.starts[y];
        let weights = &self.vertical.weights[y];
        let slots = self.vertical_taps;
        let source = (src.as_ptr() as usize, src.len(), out_width);
        if rows.source != Some(source) || rows.held.len() != slots {
            rows.source = Some(source);
            rows.held.clear();
            rows.held.resize(slots, None);
            rows.data.resize(slots * out_width, 0.0);
        }
        for input_row in start..start + weights.len() {
            let slot = input_row % slots;
            if rows.held[slot] != Some(input_row) {
                self.horizontal.apply(
                    &src[input_row * width..(input_row + 1) * width],
                    &mut rows.data[slot * out_width..(slot + 1) * out_width],
                );
                rows.held[slot] = Some(input_row);
            }
        }
        out.fill(0.0);
        for (k, &w) in weights.iter().enumerate() {
            let slot = (start + k) % slots;
            let resampled = &rows.data[slot * out_width..(slot + 1) * out_width];
            for (value, &r) in out.iter_mut().zip(resampled) {
                *value += w * r;
            }
        }
    }

    /// The whole resized plane into `out` (`to.0 × to.1`), in bands of rows on the cores when
    /// it is large enough to pay for them.
    pub fn resize_into(&self, src: &[f32], out: &mut [f32]) {
        debug_assert_eq!(src.len(), self.from.0 * self.from.1);
        let out_width = self.to.0;
        // When rows shrink, each input row serves about one output row (`shrunk_row`); when
        // they grow, each serves several, and `row` resamples each input row once.
        let shrinking = self.from.1 > self.to.1;
        // The work is in reading the input: the bands follow its size, not the output's.
        in_row_bands(out, out_width, bands_for(src.len()), |first, band| {
            let mut rows = ResampledRows::default();
            let mut combined = Vec::new();
            for (k, row) in band.chunks_exact_mut(out_width).enumerate() {
                if shrinking {
                    self.shrunk_row(src, first + k, &mut combined, row);
                } else {
                    self.row(src, first + k, &mut rows, row);
                }
            }
        });
    }

    /// Output row `y` of a plane whose rows shrink, into `out`: the input rows under it added
    /// up first, along whole rows (which vectorises), into `combined`, and only their sum
    /// resampled along the row.
    fn shrunk_row(&self, src: &[f32], y: usize, combined: &mut Vec<f32>, out: &mut [f32]) {
        let width = self.from.0;
        let start = self.vertical.starts[y];
        combined.clear();
        combined.resize(width, 0.0);
        for (k, &w) in self.vertical.weights[y].iter().enumerate() {
            let input = &src[(start + k) * width..(start + k + 1) * width];
            for (sum, &v) in combined.iter_mut().zip(input) {
                *sum += w * v;
            }
        }
        self.horizontal.apply(combined, out);
    }
}

/// Horizontally resampled input rows of one plane, each in the slot its row number gives. The
/// plane is recognised by its address, not its content: keep one only while its plane is
/// unchanged (the callers here make one per band of rows of one frame).
#[derive(Debug, Default)]
pub struct ResampledRows {
    /// The plane (its address and length) and output width the rows belong to.
    source: Option<(usize, usize, usize)>,
    held: Vec<Option<usize>>,
    data: Vec<f32>,
}

/// Resizes a `width × height` plane to `out_width × out_height`.
pub fn resize(
    src: &[f32],
    width: usize,
    height: usize,
    out_width: usize,
    out_height: usize,
) -> Vec<f32> {
    let mut out = vec![0.0f32; out_width * out_height];
    Resampler::new((width, height), (out_width, out_height)).resize_into(src, &mut out);
    out
}

/// The cores planes are shared out over, asked once: the answer reads the process's CPU
/// affinity and cgroup limits, which is not work for every frame.
static CORES: std::sync::LazyLock<usize> =
    std::sync::LazyLock::new(|| std::thread::available_parallelism().map_or(1, |n| n.get().min(8)));

/// How many bands of rows a plane of `samples` is worked on in: one per core for planes large
/// enough to pay for starting the threads.
pub fn bands_for(samples: usize) -> usize {
    if samples < 200_000 {
        return 1;
    }
    *CORES
}

/// Runs `work(first_row, band)` on `bands` bands of whole rows of `plane` (`row_len` samples a
/// row), one band on this thread and the others on threads of their own.
pub fn in_row_bands<T: Send>(
    plane: &mut [T],
    row_len: usize,
    bands: usize,
    work: impl Fn(usize, &mut [T]) + Sync,
) {
    if plane.is_empty() || row_len == 0 {
        return;
    }
    let rows = plane.len() / row_len;
    let per_band = rows.div_ceil(bands.max(1)).max(1);
    on_threads(
        plane.chunks_mut(per_band * row_len).enumerate(),
        |(index, band)| work(index * per_band, band),
    );
}

/// Runs `work` on each of `items` at once: the last on this thread, the others on threads of
/// their own.
pub fn on_threads<T: Send>(items: impl IntoIterator<Item = T>, work: impl Fn(T) + Sync) {
    let work = &work;
    std::thread::scope(|scope| {
        let mut items = items.into_iter().peekable();
        while let Some(item) = items.next() {
            if items.peek().is_none() {
                work(item);
            } else {
                scope.spawn(move || work(item));
            }
        }
    });
}

/// Working space of `box_mean`, kept from frame to frame.
#[derive(Debug, Default)]
struct BoxScratch {
    /// Each column's sum over the current row's window.
    column_sums: Vec<f64>,
    /// Those sums as one row, with `radius` zeros on either side.
    padded: Vec<f32>,
    /// Sums of runs of the padded row, two buffers taking turns.
    runs: [Vec<f32>; 2],
    /// One over each column's window width.
    inverse_widths: Vec<f32>,
}

/// Mean over a `(2r+1)²` window clipped at the borders, into `out`.
fn box_mean(
    src: &[f32],
    size: (usize, usize),
    radius: usize,
    scratch: &mut BoxScratch,
    out: &mut Vec<f32>,
) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the processor supports AVX2, checked just above.
            return unsafe { box_mean_avx2(src, size, radius, scratch, out) };
        }
    }
    box_mean_portable(src, size, radius, scratch, out)
}

/// `box_mean` built for AVX2: the same operations in wider vectors, so the same values.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn box_mean_avx2(
    src: &[f32],
    size: (usize, usize),
    radius: usize,
    scratch: &mut BoxScratch,
    out: &mut Vec<f32>,
) {
    box_mean_portable(src, size, radius, scratch, out)
}

#[inline(always)]
fn box_mean_portable(
    src: &[f32],
    (width, height): (usize, usize),
    radius: usize,
    scratch: &mut BoxScratch,
    out: &mut Vec<f32>,
) {
    let BoxScratch {
        column_sums,
        padded,
        runs,
        inverse_widths,
    } = scratch;
    out.resize(src.len(), 0.0);
    if width == 0 {
        return;
    }
    inverse_widths.clear();
    inverse_widths.extend(
        (0..width)
            .map(|x| 1.0 / ((x + radius).min(width - 1) + 1 - x.saturating_sub(radius)) as f32),
    );
    padded.clear();
    padded.resize(width + 2 * radius, 0.0);
    // Down the columns, sliding sums in float64 (no drift over a tall plane), whole rows at a
    // time; along each row, sums of runs of 2, 4, 8, … samples put together into the window's
    // (`window_sums`). Every loop runs over a whole row, where it vectorises: a row's own
    // sliding sum would be one chain of dependent additions.
    column_sums.clear();
    column_sums.resize(width, 0.0);
    for row in src.chunks_exact(width).take(radius + 1) {
        for (sum, &v) in column_sums.iter_mut().zip(row) {
            *sum += v as f64;
        }
    }
    for (y, out) in out.chunks_exact_mut(width).enumerate() {
        for (p, &sum) in padded[radius..radius + width]
            .iter_mut()
            .zip(column_sums.iter())
        {
            *p = sum as f32;
        }
        window_sums(padded, 2 * radius + 1, runs, out);
        let inverse_height =
            1.0 / ((y + radius).min(height - 1) + 1 - y.saturating_sub(radius)) as f32;
        for (o, &inverse_width) in out.iter_mut().zip(inverse_widths.iter()) {
            *o *= inverse_width * inverse_height;
        }
        if y + radius + 1 < height {
            let add = &src[(y + radius + 1) * width..(y + radius + 2) * width];
            for (sum, &v) in column_sums.iter_mut().zip(add) {
                *sum += v as f64;
            }
        }
        if y >= radius {
            let remove = &src[(y - radius) * width..(y - radius + 1) * width];
            for (sum, &v) in column_sums.iter_mut().zip(remove) {
                *sum -= v as f64;
            }
        }
    }
}

/// `out[x]` = the sum of `row[x..x + window]` for every `x` of `out` (`row` is `window - 1`
/// longer), from the sums of runs of 1, 2, 4, … samples: one pass over the row for each bit of
/// `window`'s length and one for each bit set, instead of one for each of its samples.
#[inline(always)]
fn window_sums(row: &[f32], window: usize, runs: &mut [Vec<f32>; 2], out: &mut [f32]) {
    let n = out.len();
    let [current, next] = runs;
    current.clear();
    current.extend_from_slice(row);
    // `current[x]` is the sum of the `run` samples from `x`; `offset` is where the part of the
    // window not yet in `out` starts.
    let (mut run, mut offset, mut started) = (1, 0, false);
    loop {
        if window & run != 0 {
            let part = &current[offset..offset + n];
            if started {
                for (o, &v) in out.iter_mut().zip(part) {
                    *o += v;
                }
            } else {
                out.copy_from_slice(part);
                started = true;
            }
            offset += run;
        }
        if 2 * run > window {
            return;
        }
        next.clear();
        next.extend(current.iter().zip(&current[run..]).map(|(a, b)| a + b));
        std::mem::swap(current, next);
        run *= 2;
    }
}

/// Upsamples chroma predicted at low resolution to a high-resolution guide's grid, keeping the
/// guide's edges: the guided filter's local linear model `q = a·I + b` is fitted at low
/// resolution (He & Sun, "Fast Guided Filter", 2015) and its coefficients, not the chroma, are
/// interpolated, then applied to the full-resolution guide. It keeps its planes from frame to
/// frame: `prepare` fits it to each frame's guide.
#[derive(Default)]
pub struct GuidedUpsampler {
    low: (usize, usize),
    up: Option<Resampler>,
    radius: usize,
    eps: f32,
    mean_guide: Vec<f32>,
    var_guide: Vec<f32>,
    guide_low: Vec<f32>,
    squares: Vec<f32>,
    scratch: BoxScratch,
}

impl GuidedUpsampler {
    /// Fits the upsampler to a frame: `guide_low` is its guide at the prediction's resolution,
    /// values about 0..1.
    pub fn prepare(
        &mut self,
        guide_low: impl IntoIterator<Item = f32>,
        low: (usize, usize),
        high: (usize, usize),
        radius: usize,
        eps: f32,
    ) {
        Resampler::fitted(&mut self.up, low, high);
        (self.low, self.radius, self.eps) = (low, radius, eps);
        self.guide_low.clear();
        self.guide_low.extend(guide_low);
        box_mean(
            &self.guide_low,
            low,
            radius,
            &mut self.scratch,
            &mut self.mean_guide,
        );
        self.squares.clear();
        self.squares.extend(self.guide_low.iter().map(|v| v * v));
        box_mean(
            &self.squares,
            low,
            radius,
            &mut self.scratch,
            &mut self.var_guide,
        );
        for (square, mean) in self.var_guide.iter_mut().zip(&self.mean_guide) {
            *square -= mean * mean;
        }
    }

    /// The local linear model of one chroma channel at low resolution, averaged over each
    /// sample's windows (chroma ≈ gain·guide + offset), into `fit`.
    pub fn coefficients(&self, channel_low: &[f32], fit: &mut Coefficients) {
        let Coefficients {
            gain,
            offset,
            mean_p,
            mean_ip,
            scratch,
        } = fit;
        box_mean(channel_low, self.low, self.radius, scratch, mean_p);
        // The products go through `gain`, free until the gains are computed below.
        gain.clear();
        gain.extend(channel_low.iter().zip(&self.guide_low).map(|(p, i)| p * i));
        box_mean(gain, self.low, self.radius, scratch, mean_ip);
        let samples = channel_low.len();
        gain.resize(samples, 0.0);
        offset.resize(samples, 0.0);
        for ((gain, offset), (((&mean_ip, &mean_p), &mean_i), &var_i)) in
            gain.iter_mut().zip(offset.iter_mut()).zip(
                mean_ip
                    .iter()
                    .zip(mean_p.iter())
                    .zip(&self.mean_guide)
                    .zip(&self.var_guide),
            )
        {
            *gain = (mean_ip - mean_i * mean_p) / (var_i + self.eps);
            *offset = mean_p - *gain * mean_i;
        }
        // Averaged over the windows: the means go where the products were.
        box_mean(gain, self.low, self.radius, scratch, mean_ip);
        std::mem::swap(gain, mean_ip);
        box_mean(offset, self.low, self.radius, scratch, mean_p);
        std::mem::swap(offset, mean_p);
    }

    /// The guided filter at the prepared low resolution: `channel` replaced by its local linear
    /// model applied to the guide there.
    fn filter(&self, channel: &mut [f32], fit: &mut Coefficients) {
        self.coefficients(channel, fit);
        for (((value, gain), offset), guide) in channel
            .iter_mut()
            .zip(&fit.gain)
            .zip(&fit.offset)
            .zip(&self.guide_low)
        {
            *value = gain * guide + offset;
        }
    }

    /// Row `y` of the channel at high resolution into `out`, from its `coefficients` and the
    /// high-resolution guide's row `guide_row` (nothing before the first `prepare`).
    pub fn row(
        &self,
        coefficients: &Coefficients,
        y: usize,
        guide_row: &[f32],
        scratch: &mut UpsampleScratch,
        out: &mut [f32],
    ) {
        let Some(up) = &self.up else {
            return;
        };
        let width = up.to.0;
        scratch.gain.resize(width, 0.0);
        scratch.offset.resize(width, 0.0);
        up.row(
            &coefficients.gain,
            y,
            &mut scratch.gain_rows,
            &mut scratch.gain,
        );
        up.row(
            &coefficients.offset,
            y,
            &mut scratch.offset_rows,
            &mut scratch.offset,
        );
        for (((value, gain), offset), i) in out
            .iter_mut()
            .zip(&scratch.gain)
            .zip(&scratch.offset)
            .zip(guide_row)
        {
            *value = gain * i + offset;
        }
    }
}

/// He, Sun and Tang's guided filter ("Guided Image Filtering", 2010) at one resolution: a
/// chroma pair smoothed where its guide is flat and kept sharp along the guide's edges. The
/// colorizer's prediction gets it at working size when the graph leaves it to the caller
/// (models/README.md): its window means here (`box_mean`) take a few passes over whole rows,
/// where ONNX Runtime's CPU provider pools every window sample (about a fifth of the colorizer
/// graph's time). It keeps its planes from frame to frame.
pub struct GuidedFilter {
    radius: usize,
    eps: f32,
    model: GuidedUpsampler,
    fits: [Coefficients; 2],
}

impl GuidedFilter {
    /// Windows of `(2·radius + 1)²` samples, clipped at the borders; `eps` regularises the fit
    /// where the guide is flat.
    pub fn new(radius: usize, eps: f32) -> Self {
        GuidedFilter {
            radius,
            eps,
            model: GuidedUpsampler::default(),
            fits: Default::default(),
        }
    }

    pub fn radius(&self) -> usize {
        self.radius
    }

    pub fn eps(&self) -> f32 {
        self.eps
    }

    /// Filters both `channels` (`size` each) along `guide`'s edges (the same size, values
    /// about 0..1), one channel on this thread and the other on a thread of its own.
    pub fn apply(
        &mut self,
        guide: impl IntoIterator<Item = f32>,
        size: (usize, usize),
        channels: [&mut [f32]; 2],
    ) {
        self.model.prepare(guide, size, size, self.radius, self.eps);
        let model = &self.model;
        on_threads(
            channels.into_iter().zip(self.fits.iter_mut()),
            |(channel, fit)| model.filter(channel, fit),
        );
    }
}

/// A channel's guided-filter coefficients at low resolution, and the planes they are worked
/// out in, kept from frame to frame.
#[derive(Debug, Default)]
pub struct Coefficients {
    gain: Vec<f32>,
    offset: Vec<f32>,
    mean_p: Vec<f32>,
    mean_ip: Vec<f32>,
    scratch: BoxScratch,
}

/// What `GuidedUpsampler::row` works in, kept from row to row.
#[derive(Debug, Default)]
pub struct UpsampleScratch {
    gain_rows: ResampledRows,
    offset_rows: ResampledRows,
    gain: Vec<f32>,
    offset: Vec<f32>,
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
    fn a_large_plane_shrinks_in_bands_to_the_same_block_means() {
        // 400 000 samples: large enough to be shared out over the cores, in bands of rows
        // that must each land at their own place.
        let (width, height) = (1000, 400);
        let src: Vec<f32> = (0..width * height)
            .map(|k| ((k * 7919) % 1000) as f32)
            .collect();
        let out = resize(&src, width, height, width / 2, height / 2);
        for y in 0..height / 2 {
            for x in 0..width / 2 {
                let at = |dx, dy| src[(2 * y + dy) * width + 2 * x + dx];
                let mean = (at(0, 0) + at(1, 0) + at(0, 1) + at(1, 1)) / 4.0;
                assert!((out[y * width / 2 + x] - mean).abs() < 1e-3, "{x}, {y}");
            }
        }
    }

    #[test]
    fn window_sums_add_every_sample_of_each_window() {
        let row: Vec<f32> = (0..40).map(|k| ((k * 13) % 7) as f32).collect();
        let mut runs = Default::default();
        for window in 1..=row.len() {
            let mut out = vec![0.0; row.len() + 1 - window];
            window_sums(&row, window, &mut runs, &mut out);
            let expected: Vec<f32> = row.windows(window).map(|w| w.iter().sum()).collect();
            assert_eq!(out, expected, "window {window}");
        }
    }

    #[test]
    fn box_mean_clips_at_borders() {
        let mut out = Vec::new();
        let mut scratch = BoxScratch::default();
        box_mean(&[0.0, 3.0, 6.0, 9.0], (4, 1), 1, &mut scratch, &mut out);
        assert_eq!(out, vec![1.5, 3.0, 6.0, 7.5]);
        // Again with the scratch of a larger plane: only its own samples count.
        box_mean(&[2.0, 4.0], (1, 2), 1, &mut scratch, &mut out);
        assert_eq!(out, vec![3.0, 3.0]);
    }

    /// He et al.'s guided filter written out directly: every window's samples summed anew.
    fn guided_filter_by_definition(
        guide: &[f32],
        source: &[f32],
        (width, height): (usize, usize),
        radius: usize,
        eps: f64,
    ) -> Vec<f32> {
        let mean = |plane: &dyn Fn(usize) -> f64| -> Vec<f64> {
            (0..width * height)
                .map(|k| {
                    let (x, y) = (k % width, k / width);
                    let xs = x.saturating_sub(radius)..(x + radius + 1).min(width);
                    let ys = y.saturating_sub(radius)..(y + radius + 1).min(height);
                    let count = (xs.len() * ys.len()) as f64;
                    ys.flat_map(|y| xs.clone().map(move |x| y * width + x))
                        .map(plane)
                        .sum::<f64>()
                        / count
                })
                .collect()
        };
        let i = |k: usize| guide[k] as f64;
        let p = |k: usize| source[k] as f64;
        let (mean_i, mean_p) = (mean(&i), mean(&p));
        let mean_ii = mean(&|k| i(k) * i(k));
        let mean_ip = mean(&|k| i(k) * p(k));
        let a: Vec<f64> = (0..width * height)
            .map(|k| {
                (mean_ip[k] - mean_i[k] * mean_p[k]) / (mean_ii[k] - mean_i[k] * mean_i[k] + eps)
            })
            .collect();
        let b: Vec<f64> = (0..width * height)
            .map(|k| mean_p[k] - a[k] * mean_i[k])
            .collect();
        let (mean_a, mean_b) = (mean(&|k| a[k]), mean(&|k| b[k]));
        (0..width * height)
            .map(|k| (mean_a[k] * i(k) + mean_b[k]) as f32)
            .collect()
    }

    #[test]
    fn the_guided_filter_computes_its_definition() {
        // A guide with an edge and texture, two chroma planes with their own: windows clipped
        // at every border (radius 3 on a 23x17 plane), a second size with the same filter.
        let mut filter = GuidedFilter::new(3, 1e-3);
        for (width, height) in [(23, 17), (9, 30)] {
            let guide: Vec<f32> = (0..width * height)
                .map(|k| {
                    let (x, y) = (k % width, k / width);
                    (if x < width / 2 { 0.25 } else { 0.75 }) + 0.05 * ((x * 7 + y * 3) % 5) as f32
                })
                .collect();
            let a: Vec<f32> = (0..width * height)
                .map(|k| ((k * 37) % 101) as f32 - 50.0)
                .collect();
            let b: Vec<f32> = (0..width * height)
                .map(|k| 20.0 * (k as f32 * 0.3).sin())
                .collect();
            let expected = [&a, &b].map(|source| {
                guided_filter_by_definition(&guide, source, (width, height), 3, 1e-3)
            });
            let (mut got_a, mut got_b) = (a.clone(), b.clone());
            filter.apply(
                guide.iter().copied(),
                (width, height),
                [&mut got_a, &mut got_b],
            );
            for (got, expected) in [got_a, got_b].iter().zip(&expected) {
                for (k, (g, e)) in got.iter().zip(expected).enumerate() {
                    assert!(
                        (g - e).abs() < 1e-4,
                        "{width}x{height} sample {k}: {g} vs {e}"
                    );
                }
            }
        }
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
        let mut up = GuidedUpsampler::default();
        up.prepare(guide_low.iter().copied(), (lw, lh), (32, 16), 2, 1e-4);
        let guide_high: Vec<f32> = (0..32 * 16)
            .map(|k| if k % 32 < 16 { 0.2 } else { 0.8 })
            .collect();
        let mut coefficients = Coefficients::default();
        up.coefficients(&chroma_low, &mut coefficients);
        let mut scratch = UpsampleScratch::default();
        let mut out = vec![0.0; 32 * 16];
        for (y, row) in out.chunks_exact_mut(32).enumerate() {
            up.row(
                &coefficients,
                y,
                &guide_high[y * 32..(y + 1) * 32],
                &mut scratch,
                row,
            );
        }
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
