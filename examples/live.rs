// SPDX-License-Identifier: MIT OR Apache-2.0

//! A live source through `scenecut ! exemplarcolorize` into a clock-synchronised sink: prints
//! the latency the pipeline reports and how many frames reached the sink late or were dropped.
//!
//!     cargo run --release --example live -- [seconds] [width height]
//!
//! The pipeline is `videotestsrc is-live=true ! scenecut method=rule ! exemplarcolorize ! fakesink
//! sync=true` (the rule: the least latency)
//! with a moving pattern whose colour pattern changes every few seconds (so there are cuts).

use std::process::ExitCode;
use std::time::Duration;

use gst::prelude::*;

fn run(seconds: u64, width: u32, height: u32) -> Result<(), String> {
    gst::init().map_err(|e| e.to_string())?;
    gstexemplar::plugin_register_static().map_err(|e| e.to_string())?;
    let reference =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("generated/media/refs/flower.jpg");
    let description = format!(
        "videotestsrc name=src is-live=true pattern=ball ! \
         video/x-raw,format=I420,width={width},height={height},framerate=25/1 ! \
         scenecut method=rule ! exemplarcolorize reference={} ! fakesink name=sink sync=true qos=true",
        reference.display()
    );
    let pipeline = gst::parse::launch(&description)
        .map_err(|e| e.to_string())?
        .downcast::<gst::Pipeline>()
        .map_err(|_| "not a pipeline")?;
    let source = pipeline.by_name("src").ok_or("no source")?;
    let sink = pipeline.by_name("sink").ok_or("no sink")?;
    pipeline
        .set_state(gst::State::Playing)
        .map_err(|e| e.to_string())?;
    let bus = pipeline.bus().ok_or("no bus")?;
    let mut late = 0u64;
    let mut max_lateness = 0i64;
    let started = std::time::Instant::now();
    let mut switched = false;
    while started.elapsed() < Duration::from_secs(seconds) {
        // A cut every few seconds: the ball pattern changes colour scheme.
        if !switched && started.elapsed() > Duration::from_secs(seconds / 2) {
            source.set_property_from_str("pattern", "smpte");
            switched = true;
        }
        if let Some(message) = bus.timed_pop(gst::ClockTime::from_mseconds(100)) {
            match message.view() {
                gst::MessageView::Qos(qos) => {
                    late += 1;
                    let (jitter, _, _) = qos.values();
                    max_lateness = max_lateness.max(jitter);
                }
                gst::MessageView::Error(e) => return Err(e.error().to_string()),
                _ => {}
            }
        }
    }
    let mut query = gst::query::Latency::new();
    let latency = pipeline.query(&mut query).then(|| query.result());
    let stats = sink.property::<gst::Structure>("stats");
    pipeline
        .set_state(gst::State::Null)
        .map_err(|e| e.to_string())?;
    let (live, min, _) = latency.ok_or("the pipeline did not answer the latency query")?;
    println!("live: {live}, reported latency: {min}");
    println!(
        "frames rendered: {}, dropped: {}, QoS (late) messages: {late}, largest lateness: {:.1} ms",
        stats.get::<u64>("rendered").unwrap_or(0),
        stats.get::<u64>("dropped").unwrap_or(0),
        max_lateness as f64 / 1e6
    );
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let seconds = args.first().copied().unwrap_or(10);
    let (width, height) = match args[..] {
        [_, w, h] => (w as u32, h as u32),
        _ => (640, 360),
    };
    match run(seconds, width, height) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
