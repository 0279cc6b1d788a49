// SPDX-License-Identifier: MIT OR Apache-2.0

//! Lists the scenes of a video file as `scenecut` finds them.
//!
//!     cargo run --release --example scenes -- clip.mp4 [scenecut properties, e.g. window=20]

use std::process::ExitCode;
use std::time::Instant;

use gst::prelude::*;
use gstexemplar::scene_change::SceneChange;

fn run(path: &str, properties: &[String]) -> Result<(), String> {
    gst::init().map_err(|e| format!("cannot initialise GStreamer: {e}"))?;
    gstexemplar::plugin_register_static().map_err(|e| format!("cannot register plugin: {e}"))?;
    if !std::path::Path::new(path).is_file() {
        return Err(format!("{path}: no such file"));
    }
    let launch = format!(
        "filesrc name=src ! decodebin ! videoconvert ! scenecut {} ! fakesink",
        properties.join(" ")
    );
    let pipeline = gst::parse::launch(&launch)
        .map_err(|e| format!("cannot build the pipeline: {e}"))?
        .downcast::<gst::Pipeline>()
        .map_err(|_| "not a pipeline".to_string())?;
    pipeline
        .by_name("src")
        .ok_or("no file source")?
        .set_property("location", path);

    let started = Instant::now();
    pipeline
        .set_state(gst::State::Playing)
        .map_err(|e| format!("cannot start: {e}"))?;
    let bus = pipeline.bus().ok_or("pipeline without a bus")?;
    let mut scenes = 0u32;
    let mut result = Ok(());
    for message in bus.iter_timed(gst::ClockTime::NONE) {
        match message.view() {
            gst::MessageView::Element(e) => {
                if let Some(change) = e.structure().and_then(SceneChange::from_structure) {
                    scenes += 1;
                    let seconds = change.pts.map_or(f64::NAN, |t| t.nseconds() as f64 / 1e9);
                    println!(
                        "scene {:3} starts at frame {:5}  t = {:8.3} s  score {:6.2}  ({})",
                        change.scene,
                        change.frame,
                        seconds,
                        change.score,
                        change.kind.as_str()
                    );
                }
            }
            gst::MessageView::Eos(_) => break,
            gst::MessageView::Error(e) => {
                result = Err(format!(
                    "{}: {}",
                    e.src().map(|s| s.path_string()).unwrap_or_default(),
                    e.error()
                ));
                break;
            }
            _ => {}
        }
    }
    let position = pipeline.query_position::<gst::ClockTime>();
    pipeline
        .set_state(gst::State::Null)
        .map_err(|e| format!("cannot stop: {e}"))?;
    result?;
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "{scenes} scenes in {} of video, analysed in {elapsed:.2} s",
        position.map_or("?".to_string(), |p| p.to_string())
    );
    Ok(())
}

/// Lists the scenes of a video file as `scenecut` finds them, one line per scene.
#[derive(clap::Parser)]
struct Options {
    /// The video file (any format decodebin reads)
    video: String,
    /// scenecut properties as NAME=VALUE, e.g. window=20 gradual=false
    properties: Vec<String>,
}

fn main() -> ExitCode {
    let options = <Options as clap::Parser>::parse();
    match run(&options.video, &options.properties) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
