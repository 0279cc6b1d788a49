// SPDX-License-Identifier: MIT OR Apache-2.0

//! Figures for `exemplarcolorize` on this machine's CPU: whole-element frames per second,
//! index build photos per second, and exact search time over 1k, 10k and 100k embeddings.
//! Needs the generated media and models (`bash scripts/setup.sh`).
//!
//!     cargo bench --bench colorize

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use gst::prelude::*;
use gstexemplar::colorize::index::{normalized, Index, PhotoKey};
use gstexemplar::colorize::inference::{self, Models, Provider, SessionOptions};
use gstexemplar::colorize::library;
use gstexemplar::colorize::retrieval;

fn media() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("generated/media")
}

/// Frames per second between the first and the last buffer reaching the sink, with the
/// element's reference properties given as `references`.
fn element_fps(width: u32, height: u32, frames: u32, references: &str) -> f64 {
    let description = format!(
        "videotestsrc num-buffers={frames} pattern=ball ! video/x-raw,format=I420,width={width},height={height},framerate=25/1 ! \
         exemplarcolorize {references} ! video/x-raw,format=I420 ! fakesink name=out sync=false"
    );
    let pipeline = gst::parse::launch(&description)
        .expect("pipeline")
        .downcast::<gst::Pipeline>()
        .expect("a pipeline");
    let times = Arc::new(Mutex::new(Vec::new()));
    let store = times.clone();
    pipeline
        .by_name("out")
        .expect("sink")
        .static_pad("sink")
        .expect("pad")
        .add_probe(gst::PadProbeType::BUFFER, move |_, _| {
            store.lock().unwrap().push(Instant::now());
            gst::PadProbeReturn::Ok
        });
    pipeline.set_state(gst::State::Playing).expect("playing");
    let bus = pipeline.bus().expect("bus");
    for message in bus.iter_timed(gst::ClockTime::NONE) {
        match message.view() {
            gst::MessageView::Eos(_) => break,
            gst::MessageView::Error(e) => panic!("{}", e.error()),
            _ => {}
        }
    }
    pipeline.set_state(gst::State::Null).expect("null");
    let times = times.lock().unwrap();
    // The first frame pays for choosing and encoding the reference: start after it.
    (times.len() - 2) as f64 / (times[times.len() - 1] - times[1]).as_secs_f64()
}

fn index_build(models: &mut Models, copies: usize) -> f64 {
    let refs = media().join("refs");
    let photos = library::scan(&refs).expect("refs").photos;
    let mut all = Vec::new();
    for copy in 0..copies {
        for photo in &photos {
            let mut key = photo.key.clone();
            key.path = PathBuf::from(format!("{copy}/{}", key.path.display()));
            all.push(library::Photo {
                path: photo.path.clone(),
                key,
            });
        }
    }
    let started = Instant::now();
    let (index, _) = library::update_index(
        None,
        &all,
        models.encoder_hash(),
        models.embedding_dimension(),
        |photo| retrieval::embed_photo(models, &photo.path),
        |_, _| {},
    );
    index.len() as f64 / started.elapsed().as_secs_f64()
}

fn search_ms(entries: usize, dimension: usize) -> f64 {
    let mut state = 0x2545_f491u32;
    let mut random = move || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        state as f32 / u32::MAX as f32 - 0.5
    };
    let mut index = Index::new([0; 32], dimension);
    for i in 0..entries {
        let embedding: Vec<f32> = (0..dimension).map(|_| random()).collect();
        index.push(
            PhotoKey {
                path: PathBuf::from(format!("{i}.jpg")),
                size: 0,
                modified_secs: 0,
                modified_nanos: 0,
            },
            &embedding,
        );
    }
    let queries: Vec<Vec<f32>> = (0..20)
        .map(|_| normalized(&(0..dimension).map(|_| random()).collect::<Vec<f32>>()))
        .collect();
    for q in &queries[..3] {
        std::hint::black_box(index.nearest(q));
    }
    let started = Instant::now();
    for q in &queries {
        std::hint::black_box(index.nearest(q));
    }
    started.elapsed().as_secs_f64() * 1000.0 / queries.len() as f64
}

fn main() {
    gst::init().expect("gst");
    gstexemplar::plugin_register_static().expect("plugin");
    println!(
        "exemplarcolorize on CPU, {} cores:",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let fixed = format!("reference={}", media().join("refs/china.jpg").display());
    for (w, h) in [(640, 360), (1280, 720)] {
        println!(
            "  whole element, {w}x{h} I420 -> I420: {:.1} frames/s",
            element_fps(w, h, 120, &fixed)
        );
    }
    let index = std::env::temp_dir().join(format!("colorize-bench-{}.index", std::process::id()));
    for top_k in [1, 2] {
        let library = format!(
            "refs={} index-location={} top-k={top_k}",
            media().join("refs").display(),
            index.display()
        );
        println!(
            "  whole element, 640x360 from the library, top-k={top_k}: {:.1} frames/s",
            element_fps(640, 360, 120, &library)
        );
    }
    let _ = std::fs::remove_file(&index);
    let dir = inference::default_model_dir().expect("models: run bash scripts/setup.sh");
    let mut models = Models::load(
        &dir.join(inference::ENCODER_FILE),
        &dir.join(inference::COLORIZER_FILE),
        &dir.join(inference::REFERENCE_FILE),
        &SessionOptions {
            provider: Provider::Cpu,
            device_id: 0,
            strict: false,
            threads: 0,
        },
    )
    .expect("models");
    println!(
        "  index build: {:.1} photos/s (decode, luminance, embed)",
        index_build(&mut models, 4)
    );
    for entries in [1_000, 10_000, 100_000] {
        println!(
            "  exact search over {entries:>6} x 1280: {:.3} ms",
            search_ms(entries, 1280)
        );
    }
}
