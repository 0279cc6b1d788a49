// SPDX-License-Identifier: MIT OR Apache-2.0

//! Arbitrary frame streams through scenecut's analysis, rule and rule/model combination: any
//! bytes become a rule configuration, a method, a frame size and a run of 8-bit frames (whose
//! first bytes also stand for the model's probabilities). Checks that every frame is decided
//! exactly once, in order, never more than the lookahead late, and that nothing panics.
#![no_main]

use gstexemplar::scenecut::detector::{Config, Detector};
use gstexemplar::scenecut::learned::{Combiner, Method, Probabilities, LOOKAHEAD};
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
        lighting_correlation: (data[9] >> 1) as f64 / 127.0,
    };
    let method = [Method::Rule, Method::Learned, Method::Hybrid][(data[9] >> 6) as usize % 3];
    let mut combiner = Combiner::new(method, config.min_scene_frames);
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
        combiner.push_picture(diffs.levels, frame);
        // The model judges frames in whole windows; here, each frame as it comes.
        let byte = |k: usize| frame[k % frame.len()] as f32 / 255.0;
        combiner.push_model(
            pushed,
            &[Probabilities {
                transition: byte(0),
                any: byte(1),
            }],
        );
        pushed += 1;
        while let Some(decision) = detector.next_decision() {
            combiner.push_rule(decision);
        }
        while let Some(decision) = combiner.next_decision() {
            assert_eq!(decision.frame, decided);
            decided += 1;
        }
        assert!(pushed - decided <= (config.lookahead().max(LOOKAHEAD) + 1) as u64);
    }
    detector.finish();
    combiner.finish();
    while let Some(decision) = detector.next_decision() {
        combiner.push_rule(decision);
    }
    while let Some(decision) = combiner.next_decision() {
        assert_eq!(decision.frame, decided);
        decided += 1;
    }
    assert_eq!(decided, pushed);
});
