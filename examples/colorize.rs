// SPDX-License-Identifier: MIT OR Apache-2.0

//! Colorizes a black-and-white video file the way a playout or archive tool would embed the
//! plugin: the used-by pipeline in an application, with a progress bar, live scene and
//! reference announcements, Ctrl-C that finishes the file cleanly, and an optional report.
//!
//!     cargo run --release --example colorize -- old.mp4 photos/ colour.mp4 [--report report.html]
//!
//! Ctrl-C once sends EOS, so the MP4 is finalised and playable; twice stops at once. Either
//! way the exit status is 130 and the last line says whether the output is complete, finalised
//! but cut short, or unusable.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gst::glib;
use gst::prelude::*;
use gstexemplar::exemplarcolorize::ReferenceChanged;
use gstexemplar::scene_change::SceneChange;

/// Colorizes a black-and-white video file from a folder of colour photos.
#[derive(clap::Parser)]
#[command(
    after_help = "Ctrl-C once finishes the output file (it stays playable, cut short); \
twice stops at once (the MP4 is then unusable). Exit status: 0 done, 1 error, 2 usage, 130 interrupted."
)]
struct Options {
    /// The black-and-white video (any format decodebin reads)
    #[arg(value_parser = existing_file)]
    input: PathBuf,
    /// Folder of colour reference photos (JPEG, PNG, WebP, TIFF)
    #[arg(value_parser = existing_folder)]
    refs: PathBuf,
    /// The colour MP4 to write
    output: PathBuf,
    /// Also write an HTML report of the run here
    #[arg(long)]
    report: Option<PathBuf>,
}

fn existing_file(value: &str) -> Result<PathBuf, String> {
    let path = PathBuf::from(value);
    path.is_file()
        .then_some(path)
        .ok_or_else(|| format!("{value}: no such file"))
}

fn existing_folder(value: &str) -> Result<PathBuf, String> {
    let path = PathBuf::from(value);
    path.is_dir()
        .then_some(path)
        .ok_or_else(|| format!("{value}: not a folder of reference photos"))
}

/// How a run ended when it did not fail.
enum Outcome {
    Complete,
    /// Ctrl-C once: the output was finalised up to this position.
    Finalised(Option<gst::ClockTime>),
    /// Ctrl-C twice: the output was not finalised.
    Unfinished,
    /// Ctrl-C before any frame was processed (while the library was indexed).
    NothingWritten,
}

fn clock(t: Option<gst::ClockTime>) -> String {
    t.map_or("--:--".into(), |t| {
        format!("{:02}:{:02}", t.seconds() / 60, t.seconds() % 60)
    })
}

/// One line of progress: bar, position / duration, and the time left at the current pace.
fn progress_line(
    position: Option<gst::ClockTime>,
    duration: Option<gst::ClockTime>,
    elapsed: Duration,
) -> String {
    let fraction = match (position, duration) {
        (Some(p), Some(d)) if d > gst::ClockTime::ZERO => {
            (p.nseconds() as f64 / d.nseconds() as f64).min(1.0)
        }
        _ => 0.0,
    };
    let filled = (fraction * 30.0).round() as usize;
    let eta = if fraction > 0.01 {
        format!(
            "{:.0} s",
            elapsed.as_secs_f64() * (1.0 - fraction) / fraction
        )
    } else {
        "?".into()
    };
    format!(
        "\r[{}{}] {:3.0}% {} / {}  ETA {eta}   ",
        "#".repeat(filled),
        ".".repeat(30 - filled),
        fraction * 100.0,
        clock(position),
        clock(duration)
    )
}

fn write_report(
    report: &Path,
    messages: &[String],
    options: &Options,
    elapsed: f64,
) -> Result<(), String> {
    let log = report.with_extension("messages.log");
    std::fs::write(&log, messages.join("\n")).map_err(|e| format!("{}: {e}", log.display()))?;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let python = root.join(".venv/bin/python");
    let status = std::process::Command::new(&python)
        .arg(root.join("tools/report.py"))
        .arg("--messages")
        .arg(&log)
        .arg("--grey")
        .arg(&options.input)
        .arg("--colour")
        .arg(&options.output)
        .arg("--elapsed")
        .arg(format!("{elapsed:.3}"))
        .arg("--out")
        .arg(report)
        .status()
        .map_err(|e| {
            format!(
                "cannot run {} (run scripts/setup.sh): {e}",
                python.display()
            )
        })?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("writing the report failed ({status})"))
    }
}

fn run(options: &Options) -> Result<Outcome, String> {
    gst::init().map_err(|e| format!("cannot initialise GStreamer: {e}"))?;
    gstexemplar::plugin_register_static()
        .map_err(|e| format!("cannot register the plugin: {e}"))?;
    let pipeline = gst::parse::launch(
        "filesrc name=src ! decodebin ! videoconvert ! scenecut ! exemplarcolorize name=colorize ! \
         videoconvert ! x264enc ! mp4mux ! filesink name=sink",
    )
    .map_err(|e| format!("cannot build the pipeline: {e}"))?
    .downcast::<gst::Pipeline>()
    .map_err(|_| "not a pipeline")?;
    let by_name = |name: &str| pipeline.by_name(name).ok_or(format!("no element {name}"));
    by_name("src")?.set_property("location", &options.input);
    by_name("colorize")?.set_property("refs", &options.refs);
    by_name("sink")?.set_property("location", &options.output);

    let main_loop = glib::MainLoop::new(None, false);
    let interrupts = Arc::new(AtomicU32::new(0));
    // Until the pipeline plays, the element is indexing the library inside the state change:
    // there is nothing to finish, so Ctrl-C stops there.
    let playing = Arc::new(AtomicBool::new(false));
    {
        let pipeline = pipeline.downgrade();
        let main_loop = main_loop.clone();
        let interrupts = interrupts.clone();
        let playing = playing.clone();
        let output = options.output.clone();
        ctrlc::set_handler(move || {
            let first = interrupts.fetch_add(1, Ordering::SeqCst) == 0;
            if !playing.load(Ordering::SeqCst) {
                if first {
                    eprintln!(
                        "\ninterrupted while indexing the reference library: stopping when the \
                         index is saved (Ctrl-C again to quit at once and lose it)"
                    );
                } else {
                    eprintln!("\nstopped at once: {} was not written", output.display());
                    let _ = std::fs::remove_file(&output);
                    std::process::exit(130);
                }
            } else if first {
                eprintln!(
                    "\ninterrupted: finishing the output file (Ctrl-C again to stop at once)"
                );
                if let Some(pipeline) = pipeline.upgrade() {
                    pipeline.send_event(gst::event::Eos::new());
                }
            } else {
                main_loop.quit();
            }
        })
        .map_err(|e| format!("cannot handle Ctrl-C: {e}"))?;
    }

    let result: Arc<Mutex<Result<(), String>>> = Arc::new(Mutex::new(Ok(())));
    let messages = Arc::new(Mutex::new(Vec::new()));
    let bus = pipeline.bus().ok_or("pipeline without a bus")?;
    let _watch = {
        let main_loop = main_loop.clone();
        let result = result.clone();
        let messages = messages.clone();
        bus.add_watch(move |_, message| {
            match message.view() {
                gst::MessageView::Element(e) => {
                    if let Some(s) = e.structure() {
                        if let Some(change) = SceneChange::from_structure(s) {
                            eprintln!(
                                "\rscene {} at frame {} ({}, score {:.2})                        ",
                                change.scene,
                                change.frame,
                                clock(change.pts),
                                change.score
                            );
                            messages.lock().unwrap().push(s.to_string());
                        } else if let Some(change) = ReferenceChanged::from_structure(s) {
                            let reused = change
                                .reused_from
                                .map(|earlier| format!(", as scene {earlier}"))
                                .unwrap_or_default();
                            eprintln!(
                                "\r  reference {} (distance {:.3}{reused})                        ",
                                change.reference, change.distance
                            );
                            messages.lock().unwrap().push(s.to_string());
                        }
                    }
                }
                gst::MessageView::Progress(p) => {
                    let (_, _, text) = p.get();
                    eprint!("\r{text}          ");
                }
                gst::MessageView::Warning(w) => eprintln!("\rwarning: {}", w.error()),
                gst::MessageView::Error(e) => {
                    let source = e.src().map(|s| s.name().to_string()).unwrap_or_default();
                    *result.lock().unwrap() = Err(format!(
                        "{source}: {}{}",
                        e.error(),
                        e.debug().map(|d| format!(" ({d})")).unwrap_or_default()
                    ));
                    main_loop.quit();
                }
                gst::MessageView::Eos(_) => main_loop.quit(),
                _ => {}
            }
            glib::ControlFlow::Continue
        })
        .map_err(|e| format!("cannot watch the bus: {e}"))?
    };

    let started = Instant::now();
    let _progress = {
        let pipeline = pipeline.downgrade();
        glib::timeout_add_local(Duration::from_millis(500), move || {
            let Some(pipeline) = pipeline.upgrade() else {
                return glib::ControlFlow::Break;
            };
            let line = progress_line(
                pipeline.query_position::<gst::ClockTime>(),
                pipeline.query_duration::<gst::ClockTime>(),
                started.elapsed(),
            );
            eprint!("{line}");
            let _ = std::io::stderr().flush();
            glib::ControlFlow::Continue
        })
    };

    if let Err(err) = pipeline.set_state(gst::State::Playing) {
        // The element posted the reason on the bus; read it before giving up.
        let reason = bus
            .iter()
            .find_map(|m| match m.view() {
                gst::MessageView::Error(e) => Some(e.error().to_string()),
                _ => None,
            })
            .unwrap_or_else(|| err.to_string());
        let _ = pipeline.set_state(gst::State::Null);
        return Err(reason);
    }
    playing.store(true, Ordering::SeqCst);
    if interrupts.load(Ordering::SeqCst) > 0 {
        let _ = pipeline.set_state(gst::State::Null);
        let _ = std::fs::remove_file(&options.output);
        return Ok(Outcome::NothingWritten);
    }
    main_loop.run();
    let elapsed = started.elapsed().as_secs_f64();
    let position = pipeline.query_position::<gst::ClockTime>();
    pipeline
        .set_state(gst::State::Null)
        .map_err(|e| format!("cannot stop: {e}"))?;
    eprintln!();
    result.lock().unwrap().clone()?;
    let outcome = match interrupts.load(Ordering::SeqCst) {
        0 => Outcome::Complete,
        1 => Outcome::Finalised(position),
        _ => return Ok(Outcome::Unfinished),
    };
    eprintln!("wrote {} in {elapsed:.1} s", options.output.display());
    if let Some(report) = &options.report {
        write_report(report, &messages.lock().unwrap(), options, elapsed)?;
        eprintln!("report: {}", report.display());
    }
    Ok(outcome)
}

fn main() -> ExitCode {
    let options = <Options as clap::Parser>::parse();
    let output = options.output.display();
    match run(&options) {
        Ok(Outcome::Complete) => ExitCode::SUCCESS,
        Ok(Outcome::Finalised(position)) => {
            eprintln!(
                "interrupted: {output} is finalised and playable, but ends at {}",
                clock(position)
            );
            ExitCode::from(130)
        }
        Ok(Outcome::Unfinished) => {
            eprintln!(
                "stopped at once: {output} is partial and not finalised, so players cannot read \
                 it; delete it and run again"
            );
            ExitCode::from(130)
        }
        Ok(Outcome::NothingWritten) => {
            eprintln!("interrupted before the first frame: {output} was not written");
            ExitCode::from(130)
        }
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
