// SPDX-License-Identifier: MIT OR Apache-2.0

//! Arbitrary frame streams through scenecut's analysis and rule: any bytes become a rule
//! configuration, a frame size and a run of 8-bit frames. Checks that every frame is decided
//! exactly once, in order, never more than the lookahead late, and that nothing panics.
#![no_main]

use gstexemplar::scenecut::detector::{Config, Detector};
use gstexemplar::scenecut::luma::{Analyser, LumaLayout, LumaPlane};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 10 {
        return;
    }
    let config = Config {
        window: 2 + data[0] as usize % 40,
        window_ratio: 1.0 + data[1] as f64 / 16.0,
        confirm_ratio: 1.0 + data[2] as f64 / 16.0,
        confirm_radius: 1 + data[3] as usize % 20,
        min_scene_frames: data[4] as u64 % 16,
        flash_ratio: data[8] as f64 / 255.0,
        gradual: data[9] & 1 == 1,
    };
    let width = 1 + data[5] as usize % 24;
    let height = 1 + data[6] as usize % 16;
    let analysis_width = data[7] as usize % 12;
    let frames = &data[10..];
    let mut detector = Detector::new(config);
    let mut analyser = Analyser::default();
    let mut decided = 0u64;
    let mut pushed = 0u64;
    for frame in frames.chunks_exact(width * height) {
        let plane = LumaPlane {
            data: frame,
            stride: width,
            width,
            height,
            layout: LumaLayout::Planar8,
        };
        let diffs = analyser
            .measure(&plane, analysis_width)
            .expect("a whole frame is a valid plane");
        assert!((0.0..=255.0).contains(&diffs.previous));
        detector.push_frame(diffs);
        pushed += 1;
        while let Some(decision) = detector.next_decision() {
            assert_eq!(decision.frame, decided);
            decided += 1;
        }
        assert!(pushed - decided <= config.lookahead() as u64);
    }
    detector.finish();
    while let Some(decision) = detector.next_decision() {
        assert_eq!(decision.frame, decided);
        decided += 1;
    }
    assert_eq!(decided, pushed);
});
