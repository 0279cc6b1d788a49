// SPDX-License-Identifier: MIT OR Apache-2.0

//! Several references for one scene. Fusing the k nearest photos in one attention lets a
//! distractor's colours leak into every pixel. Here each reference colours the frame on its own,
//! and each pixel then weighs the k predictions by `exp((c_i + s_i) / T)`: `c_i` is how well
//! the pixel matched reference `i` (the colorizer's confidence) and `s_i` how well the whole
//! frame matched it (the retrieval similarity). A reference far behind the best one on the whole
//! image needs a much better local match to contribute, so a single-subject scene keeps its one
//! reference while a frame showing two subjects takes each from its own photo.

use super::inference::Prediction;

/// Softmax temperature, the same scale as the colorizer's attention: 0.03 gained the most on
/// two-subject frames in the prototype (0.01 and 0.1 were close behind).
pub const TEMPERATURE: f32 = 0.03;

/// The a*, b* planes fused from `predictions` (all of one size) made with references whose
/// whole-frame similarities are `similarities`, each with its confidence when there are
/// several, into `a`, `b`. One prediction's planes are swapped with them as they are: every
/// plane is kept from frame to frame.
pub fn fuse_into(
    predictions: &mut [Prediction],
    similarities: &[f32],
    a: &mut Vec<f32>,
    b: &mut Vec<f32>,
) {
    debug_assert_eq!(predictions.len(), similarities.len());
    if let [only] = predictions {
        std::mem::swap(a, &mut only.a);
        std::mem::swap(b, &mut only.b);
        return;
    }
    let pixels = predictions.first().map_or(0, |p| p.a.len());
    a.resize(pixels, 0.0);
    b.resize(pixels, 0.0);
    let mut scores = vec![0.0f32; predictions.len()];
    for p in 0..pixels {
        for (score, (prediction, &similarity)) in
            scores.iter_mut().zip(predictions.iter().zip(similarities))
        {
            *score = prediction.confidence[p] + similarity;
        }
        let best = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut total = 0.0;
        let (mut sum_a, mut sum_b) = (0.0, 0.0);
        for (score, prediction) in scores.iter().zip(predictions.iter()) {
            let weight = ((score - best) / TEMPERATURE).exp();
            total += weight;
            sum_a += weight * prediction.a[p];
            sum_b += weight * prediction.b[p];
        }
        a[p] = sum_a / total;
        b[p] = sum_b / total;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fuse(mut predictions: Vec<Prediction>, similarities: &[f32]) -> (Vec<f32>, Vec<f32>) {
        let (mut a, mut b) = (vec![7.0; 3], Vec::new());
        fuse_into(&mut predictions, similarities, &mut a, &mut b);
        (a, b)
    }

    fn prediction(a: f32, b: f32, confidence: &[f32]) -> Prediction {
        Prediction {
            a: vec![a; confidence.len()],
            b: vec![b; confidence.len()],
            confidence: confidence.to_vec(),
        }
    }

    #[test]
    fn one_reference_is_used_as_it_is() {
        let only = prediction(10.0, -5.0, &[0.2, 0.9]);
        assert_eq!(
            fuse(vec![only], &[0.4]),
            (vec![10.0, 10.0], vec![-5.0, -5.0])
        );
    }

    #[test]
    fn each_region_takes_the_reference_it_matches() {
        // Left pixel matches the first photo much better, right pixel the second; the two
        // photos match the whole frame equally.
        let first = prediction(40.0, 0.0, &[0.9, 0.3]);
        let second = prediction(-40.0, 20.0, &[0.3, 0.9]);
        let (a, b) = fuse(vec![first, second], &[0.5, 0.5]);
        let w = (-0.6f32 / TEMPERATURE).exp();
        let expected = (40.0 - 40.0 * w) / (1.0 + w);
        assert!((a[0] - expected).abs() < 1e-3, "{a:?}");
        assert!((a[1] + expected).abs() < 1e-3, "{a:?}");
        assert!((b[0] - 20.0 * w / (1.0 + w)).abs() < 1e-3, "{b:?}");
    }

    #[test]
    fn a_photo_far_behind_on_the_whole_frame_does_not_leak_in() {
        // The second photo matches this pixel slightly better locally, but the whole frame
        // much worse (0.3 lower): its weight is exp((0.05 − 0.3) / 0.03) ≈ 2.4e-4.
        let first = prediction(30.0, 10.0, &[0.80]);
        let second = prediction(-30.0, -10.0, &[0.85]);
        let (a, _) = fuse(vec![first, second], &[0.7, 0.4]);
        let w = (-0.25f32 / TEMPERATURE).exp();
        assert!((a[0] - 30.0 * (1.0 - w) / (1.0 + w)).abs() < 1e-3, "{a:?}");
    }
}
