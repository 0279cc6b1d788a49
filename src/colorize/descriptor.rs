// SPDX-License-Identifier: MIT OR Apache-2.0

//! What retrieval knows of an image: one global embedding for the shortlist, and a small grid
//! of local descriptors for re-ranking it.
//!
//! A local descriptor is the encoder's deepest feature map (`features_s32`) at one grid cell,
//! L2-normalised and stored in 8 bits with one scale per cell. A photo keeps at most
//! `MAX_PHOTO_GRID` × `MAX_PHOTO_GRID` cells (average-pooled), so with EfficientNet-Lite0's 320
//! channels a photo costs at most 64 × (320 + 4) bytes = 20 736 bytes.

use super::index::{dot_i8, normalized, quantize};

/// Cells per side a library photo's grid is pooled to, at most.
pub const MAX_PHOTO_GRID: usize = 8;
/// Cells per side of a frame's grid, at most; the encoder's input (long side ≤ 448) gives 14.
pub const MAX_FRAME_GRID: usize = 16;

/// L2-normalised local descriptors in 8 bits, one row of `dimension` values per grid cell.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LocalFeatures {
    dimension: usize,
    values: Vec<i8>,
    scales: Vec<f32>,
}

impl LocalFeatures {
    /// No local descriptors (an encoder without `features_s32`): re-ranking falls back to the
    /// global embedding.
    pub fn empty(dimension: usize) -> Self {
        LocalFeatures {
            dimension,
            values: Vec::new(),
            scales: Vec::new(),
        }
    }

    /// From a feature map `[channels, height, width]` (row-major), average-pooled to at most
    /// `max_grid` cells per side.
    pub fn from_map(
        map: &[f32],
        channels: usize,
        height: usize,
        width: usize,
        max_grid: usize,
    ) -> Self {
        let mut features = LocalFeatures::empty(channels);
        if channels == 0 || height == 0 || width == 0 || map.len() != channels * height * width {
            return features;
        }
        let (rows, cols) = (height.min(max_grid), width.min(max_grid));
        let mut cell = vec![0.0f32; channels];
        for row in 0..rows {
            let (y0, y1) = (row * height / rows, (row + 1) * height / rows);
            for col in 0..cols {
                let (x0, x1) = (col * width / cols, (col + 1) * width / cols);
                for (c, value) in cell.iter_mut().enumerate() {
                    let plane = &map[c * height * width..(c + 1) * height * width];
                    let mut sum = 0.0;
                    for y in y0..y1 {
                        sum += plane[y * width + x0..y * width + x1].iter().sum::<f32>();
                    }
                    *value = sum / ((y1 - y0) * (x1 - x0)) as f32;
                }
                features.push_cell(&normalized(&cell));
            }
        }
        features
    }

    /// Rebuilds descriptors read back from an index file.
    pub fn from_parts(dimension: usize, values: Vec<i8>, scales: Vec<f32>) -> Option<Self> {
        (values.len() == dimension * scales.len()).then_some(LocalFeatures {
            dimension,
            values,
            scales,
        })
    }

    /// Adds `other`'s cells (the same image at another scale); cells of another width are not
    /// comparable and are left out.
    pub fn extend(&mut self, other: &LocalFeatures) {
        if other.dimension == self.dimension {
            self.values.extend_from_slice(&other.values);
            self.scales.extend_from_slice(&other.scales);
        }
    }

    fn push_cell(&mut self, cell: &[f32]) {
        let (quantized, scale) = quantize(cell);
        self.values.extend_from_slice(&quantized);
        self.scales.push(scale);
    }

    pub fn dimension(&self) -> usize {
        self.dimension
    }

    pub fn cells(&self) -> usize {
        self.scales.len()
    }

    pub fn values(&self) -> &[i8] {
        &self.values
    }

    pub fn scales(&self) -> &[f32] {
        &self.scales
    }

    fn cell(&self, i: usize) -> &[i8] {
        &self.values[i * self.dimension..(i + 1) * self.dimension]
    }

    /// How well `photo` explains this image: over this image's cells, the mean cosine of each
    /// cell's best match among the photo's cells (the local ranking of He et al.: a photo of
    /// the same place matches most of the frame somewhere, a photo of a merely similar kind of
    /// place matches it only loosely). `None` when either side has no descriptors or they
    /// differ in width.
    pub fn match_score(&self, photo: &LocalFeatures) -> Option<f32> {
        if self.cells() == 0 || photo.cells() == 0 || self.dimension != photo.dimension {
            return None;
        }
        let mut total = 0.0f32;
        for i in 0..self.cells() {
            let own = self.cell(i);
            let best = (0..photo.cells())
                .map(|j| photo.scales[j] * dot_i8(photo.cell(j), own) as f32)
                .fold(f32::NEG_INFINITY, f32::max);
            total += self.scales[i] * best;
        }
        Some(total / self.cells() as f32)
    }
}

/// A photo's or a frame's retrieval descriptors.
#[derive(Debug, Clone, PartialEq)]
pub struct Descriptor {
    /// L2-normalised global embedding.
    pub global: Vec<f32>,
    pub local: LocalFeatures,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `[channels, height, width]` map whose cell (y, x) points along channel `pick(y, x)`.
    fn map(
        channels: usize,
        height: usize,
        width: usize,
        pick: impl Fn(usize, usize) -> usize,
    ) -> Vec<f32> {
        let mut map = vec![0.0; channels * height * width];
        for y in 0..height {
            for x in 0..width {
                map[pick(y, x) * height * width + y * width + x] = 2.0;
            }
        }
        map
    }

    #[test]
    fn pools_to_the_bounded_grid_and_normalises() {
        let features = LocalFeatures::from_map(&map(4, 10, 3, |_, x| x), 4, 10, 3, 8);
        assert_eq!((features.cells(), features.dimension()), (24, 4));
        // Row 0 of the pooled grid, column 0: all of channel 0.
        assert_eq!(&features.values()[..4], &[127, 0, 0, 0]);
        assert!((features.scales()[0] - 1.0 / 127.0).abs() < 1e-7);
        assert_eq!(LocalFeatures::from_map(&[1.0; 3], 4, 1, 1, 8).cells(), 0);
    }

    #[test]
    fn a_photo_of_the_same_parts_scores_higher_than_one_of_other_parts() {
        let frame = LocalFeatures::from_map(&map(6, 2, 2, |y, x| y * 2 + x), 6, 2, 2, 16);
        let same = LocalFeatures::from_map(&map(6, 2, 3, |y, x| (y * 3 + x) % 4), 6, 2, 3, 8);
        let half = LocalFeatures::from_map(&map(6, 1, 2, |_, x| x + 1), 6, 1, 2, 8);
        let other = LocalFeatures::from_map(&map(6, 1, 2, |_, x| x + 4), 6, 1, 2, 8);
        assert_eq!(frame.match_score(&same), Some(1.0));
        assert_eq!(frame.match_score(&half), Some(0.5));
        assert_eq!(frame.match_score(&other), Some(0.0));
        assert_eq!(frame.match_score(&LocalFeatures::empty(6)), None);
        assert_eq!(
            frame.match_score(&LocalFeatures::from_map(&[1.0; 2], 2, 1, 1, 8)),
            None
        );
    }

    #[test]
    fn cells_of_another_scale_join_the_match() {
        let mut frame = LocalFeatures::from_map(&map(6, 1, 2, |_, x| x), 6, 1, 2, 16);
        let photo = LocalFeatures::from_map(&map(6, 1, 2, |_, x| x + 1), 6, 1, 2, 8);
        assert_eq!(frame.match_score(&photo), Some(0.5));
        frame.extend(&LocalFeatures::from_map(
            &map(6, 1, 2, |_, x| x + 1),
            6,
            1,
            2,
            16,
        ));
        assert_eq!(frame.cells(), 4);
        assert_eq!(frame.match_score(&photo), Some(0.75));
        frame.extend(&LocalFeatures::from_map(&[1.0; 2], 2, 1, 1, 8));
        assert_eq!(frame.cells(), 4);
    }

    #[test]
    fn parts_must_agree() {
        assert!(LocalFeatures::from_parts(2, vec![1, 2, 3], vec![0.1]).is_none());
        let back = LocalFeatures::from_parts(2, vec![1, 2], vec![0.5]).unwrap();
        assert_eq!(back.cells(), 1);
    }
}
