// SPDX-License-Identifier: MIT OR Apache-2.0

//! The example applications, run as a user would: `refindex` and `colorize` (progress, Ctrl-C,
//! report). `cargo test` builds the examples before running this file.

use std::path::{Path, PathBuf};
use std::process::Command;

use gstexemplar::colorize::index::Index;
use gstexemplar::colorize::library;

mod common;
use common::*;

/// Runs `command` and asserts that it succeeded, showing what it printed if not; returns its
/// standard output and standard error.
fn run_ok(command: &mut Command) -> (String, String) {
    let output = command.output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "{stdout}{stderr}");
    (stdout, stderr)
}

fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let tool = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples")
        .join(name);
    assert!(
        tool.is_file(),
        "{} (cargo test builds the examples)",
        tool.display()
    );
    tool
}

fn read_index(path: &Path) -> Index {
    Index::from_bytes(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn refindex_builds_the_index_ahead_of_time_and_answers_queries() {
    let refs = copy_refs("refindex");
    let tool = example("refindex");
    let (stdout, _) = run_ok(Command::new(&tool).arg("build").arg(&refs));
    assert!(stdout.contains("9 photos (9 embedded"), "{stdout}");
    assert_eq!(read_index(&library::default_index_path(&refs)).len(), 9);

    let (media, _) = media();
    let (stdout, _) = run_ok(
        Command::new(&tool)
            .arg("query")
            .arg(&refs)
            .arg(media.join("refs/flower.jpg")),
    );
    assert!(
        stdout.contains("9 photos (0 embedded") && stdout.contains("9 unchanged"),
        "{stdout}"
    );
    let answer = stdout.lines().last().unwrap();
    assert!(
        answer.contains("-> ")
            && answer.contains("flower.jpg (score ")
            && answer.contains("similarity 1.0000; runner-up "),
        "{answer}"
    );

    let bad = Command::new(&tool)
        .arg("query")
        .arg(&refs)
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.contains("required arguments were not provided") && stderr.contains("<IMAGES>"),
        "{stderr}"
    );
}

/// Whether an MP4 file plays to the end.
fn plays(path: &Path) -> bool {
    let pipeline = launch(&format!(
        "filesrc location={} ! decodebin ! fakesink",
        path.display()
    ));
    has_eos(&run_to_end(&pipeline))
}

#[test]
fn colorize_app_writes_video_and_report() {
    let (media, meta) = media();
    let refs = copy_refs("app");
    let output = refs.join("out.mp4");
    let report = refs.join("report.html");
    let (_, stderr) = run_ok(
        Command::new(example("colorize"))
            .arg(media.join("scenes_grey.mp4"))
            .arg(&refs)
            .arg(&output)
            .arg("--report")
            .arg(&report),
    );
    assert_eq!(stderr.matches("\rscene ").count(), 6, "{stderr}");
    assert_eq!(stderr.matches("  reference ").count(), 6, "{stderr}");
    assert!(stderr.contains("ETA"), "a progress bar: {stderr}");
    assert!(plays(&output));

    let html = std::fs::read_to_string(&report).unwrap();
    let scenes = meta["scenes"].as_array().unwrap();
    assert_eq!(
        html.matches("<section class=\"scene\"").count(),
        scenes.len()
    );
    assert_eq!(html.matches("<rect class=\"cut\"").count(), scenes.len());
    // Per scene: grey frame, reference, two colorized frames, and the best three candidates.
    assert_eq!(
        html.matches("<img src=\"data:image/jpeg;base64,").count(),
        7 * scenes.len()
    );
    assert_eq!(
        html.matches("<figure class=\"candidate\">").count(),
        3 * scenes.len()
    );
    assert!(
        html.contains("<tr><th>frames</th><td>238</td></tr>"),
        "totals"
    );
    assert!(html.contains("<tr><th>scenes</th><td>6</td></tr>"));
    for scene in scenes {
        assert!(html.contains(&format!(
            "reference <b>{}</b>",
            scene["reference"].as_str().unwrap()
        )));
    }
}

/// Runs `command` (its stdout and stderr piped), sends it SIGINT once `marker` has appeared on
/// `watched` (stdout or stderr), and returns its exit code and the rest of its stderr.
fn interrupt_after(command: &mut Command, watched: &str, marker: &str) -> (Option<i32>, String) {
    let mut child = command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let stream: &mut dyn std::io::Read = if watched == "stdout" {
        &mut stdout
    } else {
        &mut stderr
    };
    let mut seen = Vec::new();
    let mut buffer = [0u8; 256];
    while !String::from_utf8_lossy(&seen).contains(marker) {
        let n = stream.read(&mut buffer).unwrap();
        assert!(n > 0, "ended early: {}", String::from_utf8_lossy(&seen));
        seen.extend_from_slice(&buffer[..n]);
    }
    let status = Command::new("kill")
        .arg("-INT")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    let mut ignored = Vec::new();
    std::io::Read::read_to_end(&mut stdout, &mut ignored).unwrap();
    (child.wait().unwrap().code(), rest)
}

#[test]
fn colorize_app_finishes_a_playable_file_on_ctrl_c() {
    let (media, _) = media();
    let refs = copy_refs("app-interrupt");
    let output = refs.join("out.mp4");
    // Interrupt once frames are flowing: the first scene's reference was announced.
    let (code, rest) = interrupt_after(
        Command::new(example("colorize"))
            .arg(media.join("scenes_grey.mp4"))
            .arg(&refs)
            .arg(&output),
        "stderr",
        "  reference ",
    );
    assert_eq!(code, Some(130), "{rest}");
    assert!(
        rest.contains("interrupted: finishing the output file")
            && rest.contains(&format!(
                "interrupted: {} is finalised and playable, but ends at 00:",
                output.display()
            )),
        "{rest}"
    );
    assert!(
        plays(&output),
        "the interrupted output must be a playable MP4"
    );
}

#[test]
fn the_example_tools_print_their_help() {
    for (tool, words) in [
        (
            "colorize",
            &[
                "Usage: colorize",
                "<INPUT>",
                "<REFS>",
                "<OUTPUT>",
                "--report",
                "130 interrupted",
            ][..],
        ),
        (
            "scenes",
            &["Usage: scenes", "<VIDEO>", "[PROPERTIES]..."][..],
        ),
        ("refindex", &["Usage: refindex", "build", "query"][..]),
    ] {
        let (stdout, _) = run_ok(Command::new(example(tool)).arg("--help"));
        for word in words {
            assert!(
                stdout.contains(word),
                "{tool} --help lacks {word}: {stdout}"
            );
        }
    }
}

#[test]
fn colorize_app_exits_non_zero_with_a_clear_message() {
    let missing = Command::new(example("colorize"))
        .args(["/nonexistent.mp4", "/tmp", "/tmp/x.mp4"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent.mp4: no such file"));

    let (media, _) = media();
    let empty = temp_dir("app-empty-refs");
    let run = Command::new(example("colorize"))
        .arg(media.join("scenes_grey.mp4"))
        .arg(&empty)
        .arg(empty.join("out.mp4"))
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains("error: ") && stderr.contains("has no photos"),
        "{stderr}"
    );
}

#[test]
fn python_embeds_the_pipeline_through_gobject_introspection() {
    let (media, meta) = media();
    let refs = copy_refs("python");
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let plugin_dir = built_plugin_dir();
    let (stdout, _) = run_ok(
        Command::new("/usr/bin/python3")
            .arg(root.join("examples/colorize.py"))
            .arg(media.join("scenes_grey.mp4"))
            .arg(&refs)
            .arg(refs.join("out.mp4"))
            .env("GST_PLUGIN_PATH", &plugin_dir),
    );
    let scenes = meta["scenes"].as_array().unwrap();
    assert_eq!(
        stdout.matches(" starts at frame ").count(),
        scenes.len(),
        "{stdout}"
    );
    for scene in scenes {
        assert!(
            stdout.contains(&format!(
                "{} (distance",
                scene["reference"].as_str().unwrap()
            )),
            "{stdout}"
        );
    }
    assert!(plays(&refs.join("out.mp4")));
}

#[test]
fn python_example_finishes_a_playable_file_on_ctrl_c() {
    let (media, _) = media();
    let refs = copy_refs("python-interrupt");
    let output = refs.join("out.mp4");
    let (code, stderr) = interrupt_after(
        Command::new("/usr/bin/python3")
            .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/colorize.py"))
            .arg(media.join("scenes_grey.mp4"))
            .arg(&refs)
            .arg(&output)
            .env("GST_PLUGIN_PATH", built_plugin_dir()),
        "stdout",
        " gets reference ",
    );
    assert_eq!(code, Some(130), "{stderr}");
    assert!(
        stderr.contains("interrupted: finishing the output file")
            && stderr.contains("is finalised and playable, but ends at")
            && !stderr.contains("Traceback")
            && stderr.contains("Indexed 9 reference photos"),
        "{stderr}"
    );
    assert!(
        plays(&output),
        "the interrupted output must be a playable MP4"
    );
}

#[test]
fn live_pipeline_reports_its_latency() {
    let (stdout, _) = run_ok(Command::new(example("live")).args(["3", "320", "180"]));
    // videotestsrc 40 ms + scenecut 29 frames (1160 ms) + exemplarcolorize 150 ms + fakesink's
    // 20 ms processing deadline.
    assert!(
        stdout.contains("live: true, reported latency: 0:00:01.370000000"),
        "{stdout}"
    );
    assert!(stdout.contains("frames rendered: "), "{stdout}");
    println!("{stdout}");
}

#[test]
fn colorize_app_stops_cleanly_on_ctrl_c_while_indexing() {
    let (media, _) = media();
    // A library big enough that indexing lasts a few seconds: copies of the photos under other
    // names, each indexed anew.
    let refs = copy_refs("app-interrupt-indexing");
    let photos: Vec<PathBuf> = std::fs::read_dir(&refs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    for copy in 0..12 {
        for photo in &photos {
            let name = format!(
                "copy{copy}-{}",
                photo.file_name().unwrap().to_string_lossy()
            );
            std::fs::copy(photo, refs.join(name)).unwrap();
        }
    }
    let output = refs.join("out.mp4");
    let mut child = Command::new(example("colorize"))
        .arg(media.join("scenes_grey.mp4"))
        .arg(&refs)
        .arg(&output)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The sink opens the file before the library is indexed (elements start sink first).
    let started = std::time::Instant::now();
    while !output.exists() {
        assert!(
            started.elapsed().as_secs() < 60,
            "the output file never appeared"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let status = Command::new("kill")
        .arg("-INT")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("interrupted while indexing the reference library")
            && stderr.contains(&format!(
                "interrupted before the first frame: {} was not written",
                output.display()
            )),
        "{stderr}"
    );
    assert!(!output.exists(), "no empty output file is left behind");
}
