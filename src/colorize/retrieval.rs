// SPDX-License-Identifier: MIT OR Apache-2.0

//! Turning photos and frames into what the models take (retrieval descriptors of luminance,
//! Lab images of references), and ranking a library's photos for a frame.

use std::path::Path;

use super::color;
use super::descriptor::{Descriptor, MAX_FRAME_GRID, MAX_PHOTO_GRID};
use super::index::Index;
use super::inference::{InferenceError, Models};
use super::library::{self, PhotoError, RgbPhoto};
use super::render;
use super::resample::resize;

/// Photos are decoded to at most this short side: enough for retrieval and for the working
/// resolutions that matter, and it bounds memory per photo.
pub const PHOTO_SHORT_SIDE: u32 = 720;

/// Short side at which photos and frames are described: the encoder's own input size.
const EMBEDDING_SHORT_SIDE: usize = 224;

/// Short side of a frame's second, coarser set of local descriptors. A film frame often shows
/// its subject larger than a photo of the same place does (a closer view, the start of a
/// zoom out), so the frame's cells are also taken at a smaller scale, where they meet the
/// photo's at a like size. Measured: on the retrieval benchmark's same-place protocol the
/// element picks the same 34 of 45 photos with and without it (a Python prototype: 36 and 37
/// of 46); on the demo clip it turns the zoom-out scene from a wrong photo (by 0.002) to the
/// right one (by 0.004). It costs one more encoder run, at 284x160 for 16:9, per scene start.
const FRAME_COARSE_SHORT_SIDE: usize = 160;

/// The retrieval descriptor of a frame given as L* (`width × height`), for `rank` with this
/// `shortlist`: the global embedding at the encoder's size, local descriptors at that size and,
/// when there is a shortlist to re-rank, at a coarser one.
pub fn describe_frame(
    models: &mut Models,
    lightness: &[f32],
    width: usize,
    height: usize,
    shortlist: usize,
) -> Result<Descriptor, InferenceError> {
    let describe_at = |models: &mut Models, short_side| {
        describe_lightness(models, lightness, width, height, MAX_FRAME_GRID, short_side)
    };
    let mut frame = describe_at(models, EMBEDDING_SHORT_SIDE)?;
    if shortlist > 1 && frame.local.cells() > 0 {
        let coarse = describe_at(models, FRAME_COARSE_SHORT_SIDE)?;
        frame.local.extend(&coarse.local);
    }
    Ok(frame)
}

fn describe_lightness(
    models: &mut Models,
    lightness: &[f32],
    width: usize,
    height: usize,
    max_grid: usize,
    short_side: usize,
) -> Result<Descriptor, InferenceError> {
    let (w, h) = render::embedding_size(width, height, short_side);
    models.describe(&resize(lightness, width, height, w, h), w, h, max_grid)
}

/// The retrieval descriptor of a colour photo's luminance only, so it compares with grey frames.
pub fn describe_photo(models: &mut Models, path: &Path) -> Result<Descriptor, PhotoError> {
    let photo = library::load_library_photo(path, PHOTO_SHORT_SIDE)?;
    let lightness = photo_lightness(&photo);
    describe_lightness(
        models,
        &lightness,
        photo.width,
        photo.height,
        MAX_PHOTO_GRID,
        EMBEDDING_SHORT_SIDE,
    )
    .map_err(|e| PhotoError(format!("embedding failed: {e}")))
}

/// Weight of the global cosine beside the local match score in the re-ranking score: the local
/// score decides among photos of the same kind of place, the global one keeps a photo that
/// matches some cells closely but is of another kind (and colour) from winning. Measured on the
/// retrieval benchmark's same-place protocol (46 scenes) through the element: weights 0.5, 1, 2,
/// 3 and 4 gave 34, 33, 34, 34 and 34 right; colour PSNR 20.72, 20.91, 21.24, 21.24 and 21.24 dB
/// (global retrieval alone: 32 right, 21.20 dB).
pub const GLOBAL_WEIGHT: f32 = 2.0;

/// Shortlist length for re-ranking: on the retrieval benchmark's same-place protocol the
/// right photo was among the 20 globally nearest for 45 of 46 scenes (among the 10 nearest
/// for 42) in the Python prototype, and re-ranking 20 costs a few milliseconds.
pub const DEFAULT_CANDIDATES: usize = 20;

/// One photo of the shortlist, scored.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    pub entry: usize,
    /// Cosine similarity of the global embeddings (stage 1).
    pub similarity: f32,
    /// Mean best-match cosine of the frame's local descriptors in the photo's; `None` when
    /// either has none.
    pub local: Option<f32>,
    /// What the candidates are ranked by: `local + GLOBAL_WEIGHT × similarity`, or the
    /// similarity alone when there is no local score.
    pub score: f32,
}

/// Stage 1 takes the `shortlist` nearest photos by global embedding, stage 2 re-ranks them by
/// their local match with the frame; best first (the earlier entry first among equals).
/// A shortlist of 1 is plain global retrieval.
pub fn rank(index: &Index, frame: &Descriptor, shortlist: usize) -> Vec<Candidate> {
    let mut candidates: Vec<Candidate> = index
        .nearest_k(&frame.global, shortlist.max(1))
        .into_iter()
        .map(|m| {
            let local = frame.local.match_score(index.local(m.entry));
            Candidate {
                entry: m.entry,
                similarity: m.similarity,
                local,
                score: local.map_or(m.similarity, |l| l + GLOBAL_WEIGHT * m.similarity),
            }
        })
        .collect();
    candidates.sort_by(|x, y| y.score.total_cmp(&x.score).then(x.entry.cmp(&y.entry)));
    candidates
}

/// A photo's L* plane: the grey it shows, as frames are compared.
pub fn photo_lightness(photo: &RgbPhoto) -> Vec<f32> {
    photo
        .pixels
        .iter()
        .map(|&p| color::srgb8_to_lab(p)[0])
        .collect()
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
    use crate::colorize::descriptor::LocalFeatures;

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

    fn photo_key(name: &str) -> super::super::index::PhotoKey {
        super::super::index::PhotoKey {
            path: name.into(),
            size: 1,
            modified_secs: 0,
            modified_nanos: 0,
        }
    }

    /// A `[2, 1, cells]` map whose cells point at these angles in the plane.
    fn local(angles: &[f32]) -> LocalFeatures {
        let mut map: Vec<f32> = angles.iter().map(|a| a.cos()).collect();
        map.extend(angles.iter().map(|a| a.sin()));
        LocalFeatures::from_map(&map, 2, 1, angles.len(), 8)
    }

    #[test]
    fn re_ranking_lets_the_local_match_overturn_the_global_order() {
        let mut index = Index::new([0; 32], 2, 2);
        // Globally nearest, locally unlike the frame.
        index.push(
            photo_key("look-alike.jpg"),
            &Descriptor {
                global: vec![1.0, 0.1],
                local: local(&[1.5, 1.5]),
            },
        );
        // Globally second, locally the same parts.
        index.push(
            photo_key("same-place.jpg"),
            &Descriptor {
                global: vec![1.0, 0.3],
                local: local(&[0.0, 0.7]),
            },
        );
        // Far away globally: never shortlisted with a shortlist of 2.
        index.push(
            photo_key("far.jpg"),
            &Descriptor {
                global: vec![-1.0, 0.0],
                local: local(&[0.0, 0.7]),
            },
        );
        let frame = Descriptor {
            global: vec![1.0, 0.0],
            local: local(&[0.0, 0.7]),
        };
        let global_only = rank(&index, &frame, 1);
        assert_eq!(global_only.len(), 1);
        assert_eq!(global_only[0].entry, 0);
        let ranked = rank(&index, &frame, 2);
        assert_eq!(
            ranked.iter().map(|c| c.entry).collect::<Vec<_>>(),
            vec![1, 0]
        );
        let best = ranked[0];
        assert!((best.local.unwrap() - 1.0).abs() < 1e-3);
        assert!(
            (best.score - (best.local.unwrap() + GLOBAL_WEIGHT * best.similarity)).abs() < 1e-6
        );
        assert_eq!(rank(&index, &frame, 10).len(), 3);
    }

    #[test]
    fn without_local_descriptors_the_global_order_stands() {
        let mut index = Index::new([0; 32], 2, 2);
        index.push(
            photo_key("a.jpg"),
            &Descriptor {
                global: vec![1.0, 0.2],
                local: LocalFeatures::empty(2),
            },
        );
        index.push(
            photo_key("b.jpg"),
            &Descriptor {
                global: vec![1.0, 0.4],
                local: LocalFeatures::empty(2),
            },
        );
        let frame = Descriptor {
            global: vec![1.0, 0.0],
            local: local(&[0.0]),
        };
        let ranked = rank(&index, &frame, 5);
        assert_eq!(
            ranked.iter().map(|c| c.entry).collect::<Vec<_>>(),
            vec![0, 1]
        );
        assert_eq!(ranked[0].local, None);
        assert_eq!(ranked[0].score, ranked[0].similarity);
    }
}
