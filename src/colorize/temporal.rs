// SPDX-License-Identifier: MIT OR Apache-2.0

//! Temporal stabilisation of predicted chroma within a scene.
//!
//! Each frame's a*, b* are predicted from the scene's reference alone. Small frame changes can
//! still move the attention and make colours flicker. Where a pixel's lightness has not changed
//! since the previous frame, its chroma is blended with the previous frame's:
//! `c = (1 − w)·predicted + w·previous`, `w = strength·exp(−(ΔL*/σ)²)`, `strength ≤ 0.5`. The
//! prediction always weighs at least as much as the past, and a past value's weight decays as
//! `strengthⁿ` over n frames, so errors cannot build up; at a scene change the past is dropped.

/// ΔL* (in L* units) at which a pixel counts as changed: blending fades out around it.
const SIGMA_L: f32 = 4.0;
/// The largest weight the previous frame can have.
pub const MAX_STRENGTH: f64 = 0.5;

/// The previous frame's lightness and blended chroma at working resolution.
#[derive(Debug, Clone, Default)]
pub struct Previous {
    lightness: Vec<f32>,
    a: Vec<f32>,
    b: Vec<f32>,
}

impl Previous {
    /// Blends `a`, `b` (predicted for `lightness`) with the previous frame in place, then keeps
    /// the result for the next frame. A size change starts afresh.
    pub fn stabilise(&mut self, strength: f64, lightness: &[f32], a: &mut [f32], b: &mut [f32]) {
        let strength = strength.clamp(0.0, MAX_STRENGTH) as f32;
        if strength > 0.0 && self.lightness.len() == lightness.len() {
            for k in 0..lightness.len() {
                let change = (lightness[k] - self.lightness[k]) / SIGMA_L;
                let w = strength * (-change * change).exp();
                a[k] = (1.0 - w) * a[k] + w * self.a[k];
                b[k] = (1.0 - w) * b[k] + w * self.b[k];
            }
        }
        self.lightness.clear();
        self.lightness.extend_from_slice(lightness);
        self.a.clear();
        self.a.extend_from_slice(a);
        self.b.clear();
        self.b.extend_from_slice(b);
    }

    /// Forgets the past (a new scene, a flush).
    pub fn clear(&mut self) {
        self.lightness.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unchanged_pixels_blend_and_changed_pixels_keep_the_prediction() {
        let mut previous = Previous::default();
        let mut a = vec![10.0, 10.0];
        let mut b = vec![0.0, 0.0];
        previous.stabilise(0.5, &[50.0, 50.0], &mut a, &mut b);
        assert_eq!(
            a,
            vec![10.0, 10.0],
            "nothing to blend with on the first frame"
        );
        let mut a = vec![20.0, 20.0];
        let mut b = vec![4.0, 4.0];
        previous.stabilise(0.5, &[50.0, 90.0], &mut a, &mut b);
        assert_eq!((a[0], b[0]), (15.0, 2.0), "same lightness: half and half");
        assert!(
            (a[1] - 20.0).abs() < 1e-6,
            "lightness changed by 40: prediction only"
        );
    }

    #[test]
    fn the_past_fades_geometrically_so_errors_cannot_build_up() {
        let mut previous = Previous::default();
        let (mut a, mut b) = (vec![100.0], vec![0.0]);
        previous.stabilise(0.5, &[50.0], &mut a, &mut b);
        // From now on the prediction is 0: the old 100 must fade by half every frame.
        for n in 1..=10 {
            let (mut a, mut b) = (vec![0.0], vec![0.0]);
            previous.stabilise(0.9, &[50.0], &mut a, &mut b);
            assert!(
                (a[0] - 100.0 * 0.5f32.powi(n)).abs() < 1e-3,
                "{n}: {}",
                a[0]
            );
        }
    }

    #[test]
    fn clearing_or_resizing_starts_afresh_and_zero_strength_is_off() {
        let mut previous = Previous::default();
        let (mut a, mut b) = (vec![8.0], vec![8.0]);
        previous.stabilise(0.5, &[50.0], &mut a, &mut b);
        previous.clear();
        let (mut a, mut b) = (vec![2.0], vec![2.0]);
        previous.stabilise(0.5, &[50.0], &mut a, &mut b);
        assert_eq!(a, vec![2.0]);
        let (mut a, mut b) = (vec![4.0, 4.0], vec![4.0, 4.0]);
        previous.stabilise(0.5, &[50.0, 50.0], &mut a, &mut b);
        assert_eq!(a, vec![4.0, 4.0]);
        let (mut a, mut b) = (vec![6.0, 6.0], vec![6.0, 6.0]);
        previous.stabilise(0.0, &[50.0, 50.0], &mut a, &mut b);
        assert_eq!(a, vec![6.0, 6.0]);
    }
}
