// SPDX-License-Identifier: MIT OR Apache-2.0

//! Colour science between video samples and CIE L*a*b* (D65), without GStreamer types.
//!
//! A grey video frame only has luma `Y'`. With `R' = G' = B' = E'Y`, its relative luminance is
//! the transfer function's decoding of `E'Y`, and its CIE lightness L* follows. Going back, the
//! predicted a*, b* join that L*; the colour is turned into linear RGB (BT.709 / sRGB
//! primaries, D65), encoded with the stream's transfer function and, for YUV output, into
//! Cb/Cr with the stream's matrix and range.

/// Quantisation range of 8-bit video samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Range {
    /// Luma 16..235, chroma 16..240.
    Limited,
    /// 0..255.
    Full,
}

/// Y'CbCr matrix: the luma weights of R' and B'.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Matrix {
    Bt601,
    Bt709,
    Bt2020,
}

impl Matrix {
    pub fn kr_kb(self) -> (f32, f32) {
        match self {
            Matrix::Bt601 => (0.299, 0.114),
            Matrix::Bt709 => (0.2126, 0.0722),
            Matrix::Bt2020 => (0.2627, 0.0593),
        }
    }
}

/// Opto-electronic transfer function of the signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transfer {
    /// BT.709 / BT.601 / BT.2020 camera curve.
    Bt709,
    Srgb,
    /// Pure power 2.2.
    Gamma22,
    Linear,
}

impl Transfer {
    /// Encoded value (0..1) to linear light (0..1).
    pub fn decode(self, v: f32) -> f32 {
        let v = v.clamp(0.0, 1.0);
        match self {
            Transfer::Bt709 => {
                if v < 0.081 {
                    v / 4.5
                } else {
                    ((v + 0.099) / 1.099).powf(1.0 / 0.45)
                }
            }
            Transfer::Srgb => srgb_decode(v),
            Transfer::Gamma22 => v.powf(2.2),
            Transfer::Linear => v,
        }
    }

    /// Linear light (0..1) to encoded value (0..1).
    pub fn encode(self, l: f32) -> f32 {
        let l = l.clamp(0.0, 1.0);
        match self {
            Transfer::Bt709 => {
                if l < 0.018 {
                    4.5 * l
                } else {
                    1.099 * l.powf(0.45) - 0.099
                }
            }
            Transfer::Srgb => srgb_encode(l),
            Transfer::Gamma22 => l.powf(1.0 / 2.2),
            Transfer::Linear => l,
        }
    }
}

pub fn srgb_decode(v: f32) -> f32 {
    if v <= 0.04045 {
        v / 12.92
    } else {
        ((v + 0.055) / 1.055).powf(2.4)
    }
}

pub fn srgb_encode(l: f32) -> f32 {
    if l <= 0.003_130_8 {
        12.92 * l
    } else {
        1.055 * l.powf(1.0 / 2.4) - 0.055
    }
}

const EPSILON: f32 = 216.0 / 24389.0;
const KAPPA: f32 = 24389.0 / 27.0;

/// Relative luminance (0..1) to CIE L* (0..100).
pub fn lightness(y: f32) -> f32 {
    if y > EPSILON {
        116.0 * y.cbrt() - 16.0
    } else {
        KAPPA * y
    }
}

/// CIE L* (0..100) to relative luminance (0..1).
pub fn luminance(l: f32) -> f32 {
    let fy = (l + 16.0) / 116.0;
    let cube = fy * fy * fy;
    if cube > EPSILON {
        cube
    } else {
        l / KAPPA
    }
}

/// The stream's colorimetry, as far as the colorizer needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Colorimetry {
    pub range: Range,
    pub matrix: Matrix,
    pub transfer: Transfer,
}

impl Colorimetry {
    /// L* of every 8-bit luma code value.
    pub fn lightness_table(&self) -> [f32; 256] {
        let mut table = [0.0; 256];
        for (code, l) in table.iter_mut().enumerate() {
            let normalised = match self.range {
                Range::Limited => (code as f32 - 16.0) / 219.0,
                Range::Full => code as f32 / 255.0,
            };
            *l = lightness(self.transfer.decode(normalised));
        }
        table
    }
}

/// Turns (L*, a*, b*) into 8-bit video samples for one stream's colorimetry.
#[derive(Debug, Clone)]
pub struct LabToVideo {
    colorimetry: Colorimetry,
    /// Transfer encoding of linear light sampled at `ENCODE_STEPS + 1` points.
    encode_table: Box<[f32; ENCODE_STEPS + 1]>,
}

const ENCODE_STEPS: usize = 4096;

/// D65 white point.
const WHITE: [f32; 3] = [0.950_47, 1.0, 1.088_83];

/// XYZ to linear sRGB / BT.709 RGB.
const XYZ_TO_RGB: [[f32; 3]; 3] = [
    [3.240_454_2, -1.537_138_5, -0.498_531_4],
    [-0.969_266, 1.876_010_8, 0.041_556],
    [0.055_643_4, -0.204_025_9, 1.057_225_2],
];

impl LabToVideo {
    pub fn new(colorimetry: Colorimetry) -> Self {
        let mut encode_table = Box::new([0.0; ENCODE_STEPS + 1]);
        for (i, value) in encode_table.iter_mut().enumerate() {
            *value = colorimetry.transfer.encode(i as f32 / ENCODE_STEPS as f32);
        }
        LabToVideo {
            colorimetry,
            encode_table,
        }
    }

    fn encode(&self, linear: f32) -> f32 {
        let (index, fraction) = Self::encode_position(linear);
        self.encode_at(index, fraction)
    }

    /// Where `linear` falls in the encoding table: the entry below it and the fraction of the
    /// way to the next. Free of look-ups, so that a block's worth vectorises (an `i32` cast:
    /// cheaper than to `usize`, the same value for the clamped 0..=4096).
    #[inline(always)]
    fn encode_position(linear: f32) -> (i32, f32) {
        let position = linear.clamp(0.0, 1.0) * ENCODE_STEPS as f32;
        let index = (position as i32).min(ENCODE_STEPS as i32 - 1);
        (index, position - index as f32)
    }

    #[inline(always)]
    fn encode_at(&self, index: i32, fraction: f32) -> f32 {
        // Always 0..=4095 already; the bound lets the look-ups go without checks.
        let index = (index as u32 as usize).min(ENCODE_STEPS - 1);
        self.encode_table[index] * (1.0 - fraction) + self.encode_table[index + 1] * fraction
    }

    /// Linear R, G, B of (L*, a*, b*), before the transfer function (free of table look-ups,
    /// so that a row's worth of it vectorises).
    #[inline(always)]
    fn linear(l: f32, a: f32, b: f32) -> [f32; 3] {
        let fy = (l + 16.0) / 116.0;
        let fx = fy + a / 500.0;
        let fz = fy - b / 200.0;
        let inverse = |f: f32| {
            let cube = f * f * f;
            if cube > EPSILON {
                cube
            } else {
                (116.0 * f - 16.0) / KAPPA
            }
        };
        let xyz = [
            WHITE[0] * inverse(fx),
            WHITE[1] * luminance(l),
            WHITE[2] * inverse(fz),
        ];
        XYZ_TO_RGB.map(|row| row[0] * xyz[0] + row[1] * xyz[1] + row[2] * xyz[2])
    }

    /// Non-linear R'G'B' in 0..1, clipped to the gamut.
    pub fn rgb(&self, l: f32, a: f32, b: f32) -> [f32; 3] {
        Self::linear(l, a, b).map(|v| self.encode(v))
    }

    /// 8-bit R', G', B' (full range, as RGB video formats carry).
    pub fn rgb8(&self, l: f32, a: f32, b: f32) -> [u8; 3] {
        Self::quantise_rgb(self.rgb(l, a, b))
    }

    #[inline(always)]
    fn quantise_rgb(rgb: [f32; 3]) -> [u8; 3] {
        rgb.map(|v| (v * 255.0 + 0.5) as u8)
    }

    /// The transfer function's encoding at `0, 1/4096, …, 1`, which the conversion interpolates
    /// linearly.
    pub fn encode_table(&self) -> &[f32] {
        &self.encode_table[..]
    }

    /// Cb, Cr in code values about 0 (before the offset of 128) as weights of R', G', B', and
    /// the largest code value of the stream's range: the conversion `cbcr8` makes, as a matrix.
    pub fn cbcr_weights(&self) -> ([[f32; 3]; 2], f32) {
        let (kr, kb) = self.colorimetry.matrix.kr_kb();
        let kg = 1.0 - kr - kb;
        let (scale, max) = self.range_scale();
        let cb = scale / (2.0 * (1.0 - kb));
        let cr = scale / (2.0 * (1.0 - kr));
        (
            [
                [-kr * cb, -kg * cb, (1.0 - kb) * cb],
                [(1.0 - kr) * cr, -kg * cr, -kb * cr],
            ],
            max,
        )
    }

    /// Chroma's scale and largest code value in the stream's range.
    fn range_scale(&self) -> (f32, f32) {
        match self.colorimetry.range {
            Range::Limited => (224.0, 240.0),
            Range::Full => (255.0, 255.0),
        }
    }

    /// 8-bit Cb, Cr in the stream's matrix and range.
    pub fn cbcr8(&self, l: f32, a: f32, b: f32) -> [u8; 2] {
        self.quantise_cbcr(self.rgb(l, a, b))
    }

    /// `quantise_cbcr` of a block of pixels into `out` (Cb, Cr, 0): the codes in one loop, the
    /// bytes in another, both of which vectorise.
    #[inline(always)]
    fn quantise_cbcr_block<const N: usize>(&self, encoded: &[[f32; 3]; N], out: &mut [[u8; 3]]) {
        let mut codes = [[0.0f32; 2]; N];
        for (&encoded, codes) in encoded.iter().zip(codes.iter_mut()) {
            *codes = self.cbcr_codes(encoded);
        }
        // Within 0..=255 already: through `i32` the conversion vectorises.
        for (&[cb, cr], out) in codes.iter().zip(out) {
            *out = [cb as i32 as u8, cr as i32 as u8, 0];
        }
    }

    #[inline(always)]
    fn quantise_cbcr(&self, encoded: [f32; 3]) -> [u8; 2] {
        self.cbcr_codes(encoded).map(|code| code as u8)
    }

    /// Cb, Cr of an encoded R'G'B' pixel in the stream's matrix and range, rounded and clamped
    /// but not yet bytes: the one formula of `quantise_cbcr` and `quantise_cbcr_block`.
    #[inline(always)]
    fn cbcr_codes(&self, [r, g, bl]: [f32; 3]) -> [f32; 2] {
        let (kr, kb) = self.colorimetry.matrix.kr_kb();
        let y = kr * r + (1.0 - kr - kb) * g + kb * bl;
        let cb = (bl - y) / (2.0 * (1.0 - kb));
        let cr = (r - y) / (2.0 * (1.0 - kr));
        let (scale, max) = self.range_scale();
        let quantise = |c: f32| (128.0 + c * scale + 0.5).clamp(0.0, max);
        [quantise(cb), quantise(cr)]
    }

    /// A row of (L*, a*, b*) samples to 8-bit video: `out[x]` gets R', G', B' (`rgb`) or Cb,
    /// Cr and 0, exactly as `rgb8` and `cbcr8` give them, in blocks whose arithmetic
    /// vectorises.
    pub fn row(&self, rgb: bool, l: &[f32], a: &[f32], b: &[f32], out: &mut [[u8; 3]]) {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the processor supports AVX2, checked just above.
                return unsafe { self.row_avx2(rgb, l, a, b, out) };
            }
        }
        self.row_portable(rgb, l, a, b, out)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn row_avx2(&self, rgb: bool, l: &[f32], a: &[f32], b: &[f32], out: &mut [[u8; 3]]) {
        self.row_portable(rgb, l, a, b, out)
    }

    #[inline(always)]
    fn row_portable(&self, rgb: bool, l: &[f32], a: &[f32], b: &[f32], out: &mut [[u8; 3]]) {
        const BLOCK: usize = 32;
        let video = |encoded: [f32; 3]| {
            if rgb {
                Self::quantise_rgb(encoded)
            } else {
                let [cb, cr] = self.quantise_cbcr(encoded);
                [cb, cr, 0]
            }
        };
        let mut linear = [[0.0f32; 3]; BLOCK];
        let mut index = [0i32; 3 * BLOCK];
        let mut fraction = [0.0f32; 3 * BLOCK];
        let mut encoded = [[0.0f32; 3]; BLOCK];
        let blocks = l
            .chunks_exact(BLOCK)
            .zip(a.chunks_exact(BLOCK))
            .zip(b.chunks_exact(BLOCK))
            .zip(out.chunks_exact_mut(BLOCK));
        let done = blocks.len() * BLOCK;
        for (((l, a), b), out) in blocks {
            for (((value, &l), &a), &b) in linear.iter_mut().zip(l).zip(a).zip(b) {
                *value = Self::linear(l, a, b);
            }
            // The transfer function in two passes: the table positions (vectorised), then
            // the look-ups.
            for ((index, fraction), &linear) in index
                .iter_mut()
                .zip(fraction.iter_mut())
                .zip(linear.as_flattened())
            {
                (*index, *fraction) = Self::encode_position(linear);
            }
            for ((encoded, &index), &fraction) in encoded
                .as_flattened_mut()
                .iter_mut()
                .zip(&index)
                .zip(&fraction)
            {
                *encoded = self.encode_at(index, fraction);
            }
            if rgb {
                for (&encoded, out) in encoded.iter().zip(out) {
                    *out = Self::quantise_rgb(encoded);
                }
            } else {
                self.quantise_cbcr_block(&encoded, out);
            }
        }
        for (((&l, &a), &b), out) in l[done..]
            .iter()
            .zip(&a[done..])
            .zip(&b[done..])
            .zip(&mut out[done..])
        {
            *out = video(self.rgb(l, a, b));
        }
    }
}

/// CIE L*a*b* of an 8-bit sRGB pixel (photos are sRGB).
pub fn srgb8_to_lab(rgb: [u8; 3]) -> [f32; 3] {
    let linear = rgb.map(|v| srgb_decode(v as f32 / 255.0));
    let x = 0.412_456_4 * linear[0] + 0.357_576_1 * linear[1] + 0.180_437_5 * linear[2];
    let y = 0.212_672_9 * linear[0] + 0.715_152_2 * linear[1] + 0.072_175 * linear[2];
    let z = 0.019_333_9 * linear[0] + 0.119_192 * linear[1] + 0.950_304_1 * linear[2];
    let f = |t: f32| {
        if t > EPSILON {
            t.cbrt()
        } else {
            (KAPPA * t + 16.0) / 116.0
        }
    };
    let (fx, fy, fz) = (f(x / WHITE[0]), f(y / WHITE[1]), f(z / WHITE[2]));
    [116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)]
}

/// The encoder's input value for a grey of lightness `l`: sRGB grey mapped to [-1, 1].
pub fn lightness_to_encoder_input(l: f32) -> f32 {
    srgb_encode(luminance(l)) * 2.0 - 1.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lightness_round_trips() {
        for l in [0.0, 1.0, 8.0, 8.1, 50.0, 99.0, 100.0] {
            assert!((lightness(luminance(l)) - l).abs() < 1e-3, "{l}");
        }
        assert!((lightness(1.0) - 100.0).abs() < 1e-4);
        assert_eq!(lightness(0.0), 0.0);
    }

    #[test]
    fn limited_and_full_range_tables_span_black_to_white() {
        let limited = Colorimetry {
            range: Range::Limited,
            matrix: Matrix::Bt709,
            transfer: Transfer::Bt709,
        };
        let table = limited.lightness_table();
        assert_eq!(table[16], 0.0);
        assert!((table[235] - 100.0).abs() < 1e-3);
        assert_eq!(table[0], 0.0, "footroom clips to black");
        assert_eq!(table[255], table[235], "headroom clips to white");
        let full = Colorimetry {
            range: Range::Full,
            ..limited
        };
        let table = full.lightness_table();
        assert_eq!(table[0], 0.0);
        assert!((table[255] - 100.0).abs() < 1e-3);
        assert!(table.windows(2).all(|w| w[1] > w[0]));
    }

    #[test]
    fn srgb_lab_matches_reference_values() {
        // Reference values from the CIE formulas (D65, 2°).
        let red = srgb8_to_lab([255, 0, 0]);
        assert!(
            (red[0] - 53.24).abs() < 0.05
                && (red[1] - 80.09).abs() < 0.1
                && (red[2] - 67.20).abs() < 0.1,
            "{red:?}"
        );
        let white = srgb8_to_lab([255, 255, 255]);
        assert!((white[0] - 100.0).abs() < 0.01 && white[1].abs() < 0.01 && white[2].abs() < 0.01);
    }

    #[test]
    fn lab_back_to_srgb() {
        let srgb = Colorimetry {
            range: Range::Full,
            matrix: Matrix::Bt709,
            transfer: Transfer::Srgb,
        };
        let convert = LabToVideo::new(srgb);
        for rgb in [[255u8, 0, 0], [12, 200, 90], [128, 128, 128], [3, 4, 250]] {
            let [l, a, b] = srgb8_to_lab(rgb);
            let back = convert.rgb8(l, a, b);
            for c in 0..3 {
                assert!(
                    (back[c] as i32 - rgb[c] as i32).abs() <= 1,
                    "{rgb:?} -> {back:?}"
                );
            }
        }
    }

    #[test]
    fn grey_has_neutral_chroma_in_both_ranges() {
        for range in [Range::Limited, Range::Full] {
            let convert = LabToVideo::new(Colorimetry {
                range,
                matrix: Matrix::Bt601,
                transfer: Transfer::Bt709,
            });
            assert_eq!(convert.cbcr8(40.0, 0.0, 0.0), [128, 128]);
        }
        let convert = LabToVideo::new(Colorimetry {
            range: Range::Limited,
            matrix: Matrix::Bt709,
            transfer: Transfer::Bt709,
        });
        // Saturated red: Cr high, Cb low, within the limited range.
        let [cb, cr] = convert.cbcr8(53.24, 80.09, 67.20);
        assert!(
            (221..=240).contains(&cr) && (16..110).contains(&cb),
            "{cb} {cr}"
        );
    }

    #[test]
    fn a_row_converts_exactly_as_its_samples_do() {
        // 75 samples: two whole blocks and a remainder, across the gamut and beyond it.
        let l: Vec<f32> = (0..75).map(|k| (k * 37 % 101) as f32).collect();
        let a: Vec<f32> = (0..75).map(|k| (k * 53 % 241) as f32 - 120.0).collect();
        let b: Vec<f32> = (0..75).map(|k| (k * 29 % 201) as f32 - 100.0).collect();
        for colorimetry in [
            Colorimetry {
                range: Range::Limited,
                matrix: Matrix::Bt709,
                transfer: Transfer::Bt709,
            },
            Colorimetry {
                range: Range::Full,
                matrix: Matrix::Bt601,
                transfer: Transfer::Srgb,
            },
        ] {
            let convert = LabToVideo::new(colorimetry);
            let mut yuv = vec![[0u8; 3]; 75];
            let mut rgb = vec![[0u8; 3]; 75];
            convert.row(false, &l, &a, &b, &mut yuv);
            convert.row(true, &l, &a, &b, &mut rgb);
            for k in 0..75 {
                let [cb, cr] = convert.cbcr8(l[k], a[k], b[k]);
                assert_eq!(yuv[k], [cb, cr, 0], "{k}");
                assert_eq!(rgb[k], convert.rgb8(l[k], a[k], b[k]), "{k}");
            }
        }
    }

    #[test]
    fn encoder_input_spans_minus_one_to_one() {
        assert_eq!(lightness_to_encoder_input(0.0), -1.0);
        assert!((lightness_to_encoder_input(100.0) - 1.0).abs() < 1e-5);
    }
}
