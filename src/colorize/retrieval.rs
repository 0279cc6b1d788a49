// SPDX-License-Identifier: MIT OR Apache-2.0

//! Turning photos and frames into what the models take: retrieval embeddings of luminance,
//! and Lab images of references.

use std::path::Path;

use super::color;
use super::inference::{InferenceError, Models};
use super::library::{self, PhotoError, RgbPhoto};
use super::render;
use super::resample::resize;

/// Photos are decoded to at most this short side: enough for retrieval and for the working
/// resolutions that matter, and it bounds memory per photo.
pub const PHOTO_SHORT_SIDE: u32 = 720;

/// The retrieval embedding of a grey image given as L* (`width × height`).
pub fn embed_lightness(
    models: &mut Models,
    lightness: &[f32],
    width: usize,
    height: usize,
) -> Result<Vec<f32>, InferenceError> {
    let (w, h) = render::embedding_size(width, height);
    models.embed(&resize(lightness, width, height, w, h), w, h)
}

/// The retrieval embedding of a colour photo's luminance only, so it compares with grey frames.
pub fn embed_photo(models: &mut Models, path: &Path) -> Result<Vec<f32>, PhotoError> {
    let photo = library::load_photo(path, PHOTO_SHORT_SIDE)?;
    let lightness: Vec<f32> = photo
        .pixels
        .iter()
        .map(|&p| color::srgb8_to_lab(p)[0])
        .collect();
    embed_lightness(models, &lightness, photo.width, photo.height)
        .map_err(|e| PhotoError(format!("embedding failed: {e}")))
}

/// A photo's L*, a*, b* planes one after the other, resized to `size`.
pub fn photo_lab(photo: &RgbPhoto, size: (usize, usize)) -> Vec<f32> {
    let mut planes: [Vec<f32>; 3] = std::array::from_fn(|_| Vec::with_capacity(photo.pixels.len()));
    for &pixel in &photo.pixels {
        let lab = color::srgb8_to_lab(pixel);
        for (plane, value) in planes.iter_mut().zip(lab) {
            plane.push(value);
        }
    }
    let mut out = Vec::with_capacity(3 * size.0 * size.1);
    for plane in &planes {
        out.extend(resize(plane, photo.width, photo.height, size.0, size.1));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn photo_lab_is_planar_and_resized() {
        let photo = RgbPhoto {
            width: 2,
            height: 1,
            pixels: vec![[255, 255, 255], [255, 0, 0]],
        };
        let lab = photo_lab(&photo, (1, 1));
        assert_eq!(lab.len(), 3);
        let red = color::srgb8_to_lab([255, 0, 0]);
        assert!((lab[0] - (100.0 + red[0]) / 2.0).abs() < 1e-3);
        assert!((lab[1] - red[1] / 2.0).abs() < 1e-2);
    }
}
