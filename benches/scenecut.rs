// SPDX-License-Identifier: MIT OR Apache-2.0

//! Frames per second of `scenecut`'s per-frame analysis (box-averaged luma image, its
//! differences to the three before it and its levels, one step of the rule) on one core. Run with `cargo bench --bench scenecut`.

use std::hint::black_box;
use std::time::Instant;

use gstexemplar::scenecut::detector::{Config, Detector};
use gstexemplar::scenecut::luma::{analysis_size, Analyser, LumaLayout, LumaPlane};

/// A luma plane with texture that moves from frame to frame.
fn frames(width: usize, height: usize, count: usize) -> Vec<Vec<u8>> {
    (0..count)
        .map(|f| {
            (0..width * height)
                .map(|i| {
                    ((i % width) * 3 + (i / width) * 5 + f * 7) as u8 ^ (i as u8).rotate_left(3)
                })
                .collect()
        })
        .collect()
}

fn bench(label: &str, width: usize, height: usize, analysis_width: usize) {
    let input = frames(width, height, 8);
    let (aw, ah) = analysis_size(width, height, analysis_width);
    let mut analyser = Analyser::default();
    let mut detector = Detector::new(Config::default());
    let mut run = |iterations: usize| {
        for i in 0..iterations {
            let plane = LumaPlane {
                data: &input[i % input.len()],
                stride: width,
                width,
                height,
                layout: LumaLayout::Planar8,
            };
            let diffs = analyser
                .measure(&plane, analysis_width)
                .expect("valid plane");
            detector.push_frame(black_box(diffs));
            while let Some(decision) = detector.next_decision() {
                black_box(decision);
            }
        }
    };
    run(50);
    let iterations = (2_000_000_000 / (width * height)).clamp(200, 20_000);
    let start = Instant::now();
    run(iterations);
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "{label:<28} {width}x{height} -> {aw}x{ah}: {:>9.0} frames/s, {:.3} ms/frame",
        iterations as f64 / seconds,
        1000.0 * seconds / iterations as f64
    );
}

fn main() {
    // `cargo bench` passes --bench; any other argument is a filter we do not need.
    println!("scenecut analysis, I420 luma plane, one core:");
    bench("640x360 (analysis 320)", 640, 360, 320);
    bench("1920x1080 (analysis 320)", 1920, 1080, 320);
    bench("3840x2160 (analysis 320)", 3840, 2160, 320);
    bench("1920x1080 (full size)", 1920, 1080, 0);
}
