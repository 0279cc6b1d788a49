// SPDX-License-Identifier: MIT OR Apache-2.0

//! Helpers shared by the element test files.

#![allow(dead_code)] // each test file uses its own subset

use std::path::PathBuf;

use gst::prelude::*;

pub fn init() {
    use std::sync::Once;
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        gst::init().unwrap();
        gstexemplar::plugin_register_static().expect("registering the exemplar plugin");
    });
}

/// The generated media folder and its ground truth (see tools/make_media.py).
pub fn media() -> (PathBuf, serde_json::Value) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("generated/media");
    let meta = std::fs::read_to_string(dir.join("scenes.json")).unwrap_or_else(|err| {
        panic!(
            "{}: {err}. The test media are made by tools/make_media.py; run `bash scripts/test.sh`",
            dir.join("scenes.json").display()
        )
    });
    (dir, serde_json::from_str(&meta).unwrap())
}

/// Every message a pipeline posted until EOS or an error (or the timeout).
pub fn run_to_end(pipeline: &gst::Pipeline) -> Vec<gst::Message> {
    let bus = pipeline.bus().unwrap();
    let mut messages = Vec::new();
    if pipeline.set_state(gst::State::Playing).is_err() {
        messages.extend(std::iter::from_fn(|| bus.pop()));
        let _ = pipeline.set_state(gst::State::Null);
        return messages;
    }
    for message in bus.iter_timed(gst::ClockTime::from_seconds(300)) {
        let end = matches!(
            message.view(),
            gst::MessageView::Eos(_) | gst::MessageView::Error(_)
        );
        messages.push(message);
        if end {
            break;
        }
    }
    pipeline.set_state(gst::State::Null).unwrap();
    messages
}

pub fn launch(description: &str) -> gst::Pipeline {
    init();
    gst::parse::launch(description)
        .unwrap_or_else(|e| panic!("{description}: {e}"))
        .downcast::<gst::Pipeline>()
        .unwrap()
}

/// Structures of the element messages with this name, in order.
pub fn element_messages(messages: &[gst::Message], name: &str) -> Vec<gst::Structure> {
    messages
        .iter()
        .filter_map(|m| match m.view() {
            gst::MessageView::Element(e) => e
                .structure()
                .filter(|s| s.name() == name)
                .map(|s| s.to_owned()),
            _ => None,
        })
        .collect()
}

pub fn errors(messages: &[gst::Message]) -> Vec<String> {
    messages
        .iter()
        .filter_map(|m| match m.view() {
            gst::MessageView::Error(e) => Some(e.error().to_string()),
            _ => None,
        })
        .collect()
}

/// Takes `element` to `state`, which must fail, and returns the errors it posted on the way.
pub fn refused_state_change(element: &gst::Element, state: gst::State) -> Vec<String> {
    let bus = gst::Bus::new();
    element.set_bus(Some(&bus));
    assert!(
        element.set_state(state).is_err(),
        "{state:?} was not refused"
    );
    errors(&std::iter::from_fn(|| bus.pop()).collect::<Vec<_>>())
}

/// Whether one of `messages` contains every one of `needles`.
pub fn mentions(messages: &[String], needles: &[&str]) -> bool {
    messages
        .iter()
        .any(|m| needles.iter().all(|needle| m.contains(needle)))
}

pub fn warnings(messages: &[gst::Message]) -> Vec<String> {
    messages
        .iter()
        .filter_map(|m| match m.view() {
            gst::MessageView::Warning(w) => Some(w.error().to_string()),
            _ => None,
        })
        .collect()
}

pub fn has_eos(messages: &[gst::Message]) -> bool {
    messages
        .iter()
        .any(|m| matches!(m.view(), gst::MessageView::Eos(_)))
}

/// A fresh temporary folder for one test.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gstexemplar-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A private copy of the generated reference library (photos only), so a test owns its index.
pub fn copy_refs(name: &str) -> PathBuf {
    copy_library(name, "refs")
}

/// A fresh copy of the photos of the generated library `library` (a folder of the media).
pub fn copy_library(name: &str, library: &str) -> PathBuf {
    let (media, _) = media();
    let dir = temp_dir(name);
    for entry in std::fs::read_dir(media.join(library)).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "jpg") {
            std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
        }
    }
    dir
}

/// The folder where `cargo build` left libgstexemplar.so, next to the test binaries
/// (scripts/test.sh builds it before the tests), for tests that load it like applications do.
pub fn built_plugin_dir() -> PathBuf {
    let dir = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf();
    assert!(
        dir.join("libgstexemplar.so").is_file(),
        "run `cargo build` first"
    );
    dir
}

/// Runs gst-launch-1.0 with the plugin `cargo build` made and extra environment.
pub fn gst_launch(pipeline: &str, env: &[(&str, &str)]) -> std::process::Output {
    let mut command = std::process::Command::new("gst-launch-1.0");
    command
        .args(pipeline.split(' '))
        .env("GST_PLUGIN_PATH", built_plugin_dir());
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().unwrap()
}

/// Prerolls the pipeline in PAUSED, then seeks (flushing, accurate) to `position`.
pub fn preroll_and_seek(pipeline: &gst::Pipeline, position: gst::ClockTime) {
    pipeline.set_state(gst::State::Paused).unwrap();
    let bus = pipeline.bus().unwrap();
    assert!(bus
        .timed_pop_filtered(
            gst::ClockTime::from_seconds(60),
            &[gst::MessageType::AsyncDone, gst::MessageType::Error]
        )
        .is_some_and(|m| m.type_() == gst::MessageType::AsyncDone));
    pipeline
        .seek_simple(gst::SeekFlags::FLUSH | gst::SeekFlags::ACCURATE, position)
        .unwrap();
}
