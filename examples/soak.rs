// SPDX-License-Identifier: MIT OR Apache-2.0

//! Soak test: many frames through `scenecut ! exemplarcolorize` with a cut every few seconds,
//! sampling the process's resident memory along the way. Prints the curve and the growth
//! after warm-up.
//!
//!     cargo run --release --example soak -- [frames] [width height] [property=value ...]
//!
//! Default 50 000 frames at 320x180 into `fakesink sync=false`; `property=value` arguments go
//! to `exemplarcolorize` (for example `scene-memory=false`).

use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use gst::prelude::*;

fn resident_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn run(frames: u64, width: u32, height: u32, properties: &str) -> Result<(), String> {
    gst::init().map_err(|e| e.to_string())?;
    gstexemplar::plugin_register_static().map_err(|e| e.to_string())?;
    let refs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("generated/media/refs");
    let description = format!(
        "videotestsrc name=src num-buffers={frames} pattern=ball ! \
         video/x-raw,format=I420,width={width},height={height},framerate=25/1 ! \
         scenecut ! exemplarcolorize refs={} {properties} ! fakesink name=sink sync=false",
        refs.display()
    );
    let pipeline = gst::parse::launch(&description)
        .map_err(|e| e.to_string())?
        .downcast::<gst::Pipeline>()
        .map_err(|_| "not a pipeline")?;
    let source = pipeline.by_name("src").ok_or("no source")?;
    let count = Arc::new(AtomicU64::new(0));
    let counter = count.clone();
    // Every 250 frames the test pattern changes: a cut, so references keep being chosen.
    let patterns = [
        "ball", "smpte", "snow", "pinwheel", "spokes", "gradient", "colors", "circular",
    ];
    pipeline
        .by_name("sink")
        .ok_or("no sink")?
        .static_pad("sink")
        .ok_or("no pad")?
        .add_probe(gst::PadProbeType::BUFFER, move |_, _| {
            counter.fetch_add(1, Ordering::Relaxed);
            gst::PadProbeReturn::Ok
        });
    pipeline
        .set_state(gst::State::Playing)
        .map_err(|e| e.to_string())?;
    let bus = pipeline.bus().ok_or("no bus")?;
    let started = Instant::now();
    let mut samples = Vec::new();
    let mut next_sample = 0;
    let mut last_switch = 0;
    loop {
        let done = count.load(Ordering::Relaxed);
        if done >= next_sample {
            samples.push((done, resident_kib(), started.elapsed().as_secs_f64()));
            println!(
                "frames {:>6}  rss {:>7} KiB  {:>6.1} s",
                done,
                samples.last().unwrap().1,
                samples.last().unwrap().2
            );
            next_sample += frames / 20;
        }
        if done / 250 != last_switch {
            last_switch = done / 250;
            source.set_property_from_str(
                "pattern",
                patterns[(last_switch as usize) % patterns.len()],
            );
        }
        if let Some(message) = bus.timed_pop(gst::ClockTime::from_mseconds(100)) {
            match message.view() {
                gst::MessageView::Eos(_) => break,
                gst::MessageView::Error(e) => return Err(e.error().to_string()),
                _ => {}
            }
        }
    }
    let done = count.load(Ordering::Relaxed);
    samples.push((done, resident_kib(), started.elapsed().as_secs_f64()));
    pipeline
        .set_state(gst::State::Null)
        .map_err(|e| e.to_string())?;
    let warm = samples
        .iter()
        .find(|s| s.0 >= frames / 10)
        .copied()
        .unwrap_or(samples[0]);
    let last = *samples.last().unwrap();
    let peak = samples.iter().map(|s| s.1).max().unwrap_or(0);
    println!(
        "{done} frames in {:.0} s ({:.1} frames/s); rss after warm-up ({} frames) {} KiB, at the end {} KiB, peak {} KiB, growth {:+} KiB",
        last.2,
        done as f64 / last.2,
        warm.0,
        warm.1,
        last.1,
        peak,
        last.1 as i64 - warm.1 as i64
    );
    if done != frames {
        return Err(format!("{done} of {frames} frames reached the sink"));
    }
    Ok(())
}

fn main() -> ExitCode {
    let (properties, numbers): (Vec<String>, Vec<String>) =
        std::env::args().skip(1).partition(|a| a.contains('='));
    let args: Vec<u64> = numbers.iter().filter_map(|a| a.parse().ok()).collect();
    let frames = args.first().copied().unwrap_or(50_000);
    let (width, height) = match args[..] {
        [_, w, h] => (w as u32, h as u32),
        _ => (320, 180),
    };
    match run(frames, width, height, &properties.join(" ")) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
