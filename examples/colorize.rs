// SPDX-License-Identifier: MIT OR Apache-2.0

//! Colorizes a black-and-white video file the way a playout or archive tool would embed the
//! plugin: the used-by pipeline in an application, with a progress bar, live scene and
//! reference announcements, Ctrl-C that finishes the file cleanly, and an optional report.
//!
//!     cargo run --release --example colorize -- old.mp4 photos/ colour.mp4 [--report report.html]
//!
//! Ctrl-C once sends EOS, so the MP4 is finalised and playable; twice stops at once.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gst::glib;
use gst::prelude::*;
use gstexemplar::exemplarcolorize::ReferenceChanged;
use gstexemplar::scene_change::SceneChange;

struct Options {
    input: PathBuf,
    refs: PathBuf,
    output: PathBuf,
    report: Option<PathBuf>,
}

fn parse(args: Vec<String>) -> Result<Options, String> {
    let mut positional = Vec::new();
    let mut report = None;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        if arg == "--report" {
            report = Some(PathBuf::from(
                args.next().ok_or("--report needs a file name")?,
            ));
        } else {
            positional.push(PathBuf::from(arg));
        }
    }
    let [input, refs, output]: [PathBuf; 3] = positional
        .try_into()
        .map_err(|_| "expected INPUT REFS OUTPUT".to_string())?;
    if !input.is_file() {
        return Err(format!("{}: no such file", input.display()));
    }
    if !refs.is_dir() {
        return Err(format!(
            "{}: not a folder of reference photos",
            refs.display()
        ));
    }
    Ok(Options {
        input,
        refs,
        output,
        report,
    })
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

fn run(options: &Options) -> Result<(), String> {
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
    {
        let pipeline = pipeline.downgrade();
        let main_loop = main_loop.clone();
        let interrupts = interrupts.clone();
        ctrlc::set_handler(move || {
            if interrupts.fetch_add(1, Ordering::SeqCst) == 0 {
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
    main_loop.run();
    let elapsed = started.elapsed().as_secs_f64();
    pipeline
        .set_state(gst::State::Null)
        .map_err(|e| format!("cannot stop: {e}"))?;
    eprintln!();
    result.lock().unwrap().clone()?;
    eprintln!("wrote {} in {elapsed:.1} s", options.output.display());
    if let Some(report) = &options.report {
        write_report(report, &messages.lock().unwrap(), options, elapsed)?;
        eprintln!("report: {}", report.display());
    }
    Ok(())
}

fn main() -> ExitCode {
    let options = match parse(std::env::args().skip(1).collect()) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("error: {message}");
            eprintln!("usage: colorize INPUT REFS OUTPUT [--report report.html]");
            return ExitCode::from(2);
        }
    };
    match run(&options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
