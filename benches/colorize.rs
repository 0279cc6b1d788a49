// SPDX-License-Identifier: MIT OR Apache-2.0

//! Figures for `exemplarcolorize` on this machine's CPU: whole-element frames per second, the
//! used-by pipeline's (`scenecut ! exemplarcolorize`) frames per second, the per-frame chain
//! stage by stage without a pipeline, index build photos per second, search and re-ranking
//! time over 1k and 10k photos, and the cost of a scene start.
//! Needs the generated media and models (`bash scripts/setup.sh`).
//!
//!     cargo bench --bench colorize

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use gst::prelude::*;
use gstexemplar::colorize::chain::{
    self, ChainSettings, FrameChain, Lightness, StageTimes, Target,
};
use gstexemplar::colorize::choice::{BelowMinScore, ChoiceSettings, ReferenceChooser};
use gstexemplar::colorize::color::{Colorimetry, LabToVideo, Matrix, Range, Transfer};
use gstexemplar::colorize::descriptor::{Descriptor, LocalFeatures};
use gstexemplar::colorize::index::{normalized, Index, PhotoKey};
use gstexemplar::colorize::inference::{self, Models, Provider, RenderModel, SessionOptions};
use gstexemplar::colorize::library;
use gstexemplar::colorize::render::{self, OutputLayout, OutputPlanes};
use gstexemplar::colorize::retrieval;
use gstexemplar::scenecut::learned;

/// The system allocator, counting what is allocated: the chain's figures say how many
/// allocations a frame makes in steady state, and how many of them are the model's.
struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);
static ALLOCATED_BYTES: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is passed on to the system allocator unchanged; only counters are added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        ALLOCATED_BYTES.fetch_add(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        ALLOCATED_BYTES.fetch_add(new_size, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations and bytes so far (all threads).
fn allocated() -> (usize, usize) {
    (
        ALLOCATIONS.load(Ordering::Relaxed),
        ALLOCATED_BYTES.load(Ordering::Relaxed),
    )
}

/// A chain's steady-state figures: time by stage, and allocations a frame, in all and within
/// the model's runs (ONNX Runtime's output tensors and what `Models::colorize` makes of them).
struct ChainFigures {
    times: StageTimes,
    allocations: (f64, f64),
    model_allocations: (f64, f64),
}

fn media() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("generated/media")
}

/// Where the whole-element figures' frames come from.
#[derive(Debug, Clone, Copy)]
enum Frames {
    /// `videotestsrc` draws each one in the pipeline's thread, so its drawing is part of the
    /// figure (on this project's machine about 7 ms a frame at 1920x1080, 31 ms at 3840x2160).
    Drawn,
    /// 25 frames drawn beforehand and pushed again and again by `appsrc`: the element's own
    /// cost, as behind a decoder on a thread of its own.
    Prerendered,
}

/// `count` frames of `videotestsrc`'s moving ball.
fn draw_frames(caps: &gst::Caps, count: u32) -> Vec<gst::Buffer> {
    let pipeline = gst::Pipeline::new();
    let source = gst::ElementFactory::make("videotestsrc")
        .property("num-buffers", count as i32)
        .property_from_str("pattern", "ball")
        .build()
        .expect("videotestsrc");
    let sink = gst_app::AppSink::builder().caps(caps).sync(false).build();
    pipeline
        .add_many([&source, sink.upcast_ref()])
        .expect("add");
    source.link(&sink).expect("link");
    pipeline.set_state(gst::State::Playing).expect("playing");
    let frames = std::iter::from_fn(|| sink.pull_sample().ok())
        .map(|sample| sample.buffer_owned().expect("a buffer"))
        .collect();
    pipeline.set_state(gst::State::Null).expect("null");
    frames
}

/// What runs before `exemplarcolorize`, and which output frames are timed.
#[derive(Debug, Clone, Copy)]
enum Upstream {
    /// Nothing: from the second frame out to the last (the first pays for choosing and
    /// encoding the reference).
    Nothing,
    /// `scenecut` with these properties, as in the used-by pipeline. With its default method
    /// it releases frames in bursts of `learned::STEP` as each of its model's windows runs:
    /// the figure is timed over whole bursts, from output frame `STEP / 2` on, before the end
    /// of the stream's drain.
    SceneCut(&'static str),
}

/// Output frames timed after `scenecut`: four bursts.
const SCENECUT_TIMED_FRAMES: usize = 4 * learned::STEP;

/// Frames per second reaching the sink, with the element's reference properties given as
/// `references` and `upstream` before it.
fn element_fps(
    width: u32,
    height: u32,
    frames: u32,
    references: &str,
    source: Frames,
    upstream: Upstream,
) -> f64 {
    let caps = gst::Caps::builder("video/x-raw")
        .field("format", "I420")
        .field("width", width as i32)
        .field("height", height as i32)
        .field("framerate", gst::Fraction::new(25, 1))
        .build();
    let head = match source {
        Frames::Drawn => format!("videotestsrc num-buffers={frames} pattern=ball"),
        Frames::Prerendered => "appsrc name=src format=time block=true".to_string(),
    };
    let scene_detection = match upstream {
        Upstream::Nothing => String::new(),
        Upstream::SceneCut(properties) => format!("scenecut {properties} !"),
    };
    let description = format!(
        "{head} ! capsfilter name=caps ! {scene_detection} exemplarcolorize {references} ! \
         video/x-raw,format=I420 ! fakesink name=out sync=false"
    );
    let pipeline = gst::parse::launch(&description)
        .expect("pipeline")
        .downcast::<gst::Pipeline>()
        .expect("a pipeline");
    pipeline
        .by_name("caps")
        .expect("capsfilter")
        .set_property("caps", &caps);
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
    let pusher = matches!(source, Frames::Prerendered).then(|| {
        let drawn = draw_frames(&caps, 25);
        let appsrc = pipeline
            .by_name("src")
            .expect("appsrc")
            .downcast::<gst_app::AppSrc>()
            .expect("an appsrc");
        appsrc.set_caps(Some(&caps));
        std::thread::spawn(move || {
            for (i, frame) in (0..frames as u64).zip(drawn.iter().cycle()) {
                let mut buffer = frame.copy();
                let timing = buffer.get_mut().expect("a new buffer is writable");
                timing.set_pts(gst::ClockTime::from_mseconds(40 * i));
                timing.set_duration(gst::ClockTime::from_mseconds(40));
                if appsrc.push_buffer(buffer).is_err() {
                    return;
                }
            }
            let _ = appsrc.end_of_stream();
        })
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
    if let Some(pusher) = pusher {
        pusher.join().expect("pusher");
    }
    let times = times.lock().unwrap();
    let (first, last) = match upstream {
        Upstream::Nothing => (1, times.len() - 1),
        Upstream::SceneCut(_) => (learned::STEP / 2, learned::STEP / 2 + SCENECUT_TIMED_FRAMES),
    };
    assert!(last < times.len(), "{} frames out", times.len());
    (last - first) as f64 / (times[last] - times[first]).as_secs_f64()
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
        models.empty_index(),
        |photo| retrieval::describe_photo(models, &photo.path),
        |_, _, _| {},
    );
    index.len() as f64 / started.elapsed().as_secs_f64()
}

/// Random descriptors of the element's sizes: a 1280-value embedding and, per photo, an 8x8 grid
/// of 320-value local descriptors (frames: 7x13, a 640x360 frame's grid).
struct RandomDescriptors(u32);

impl RandomDescriptors {
    fn value(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 17;
        self.0 ^= self.0 << 5;
        self.0 as f32 / u32::MAX as f32 - 0.5
    }

    fn descriptor(&mut self, rows: usize, cols: usize) -> Descriptor {
        let global = normalized(&(0..1280).map(|_| self.value()).collect::<Vec<f32>>());
        let map: Vec<f32> = (0..320 * rows * cols).map(|_| self.value()).collect();
        Descriptor {
            global,
            local: LocalFeatures::from_map(&map, 320, rows, cols, 16),
        }
    }

    /// Adds `entries` photos with 8x8 grids.
    fn fill(&mut self, index: &mut Index, entries: usize) {
        for i in 0..entries {
            let key = PhotoKey {
                path: PathBuf::from(format!("{i}.jpg")),
                size: 0,
                modified_secs: 0,
                modified_nanos: 0,
            };
            index.push(key, &self.descriptor(8, 8));
        }
    }
}

/// Milliseconds per (global search, search and re-ranking of `shortlist` candidates).
fn rank_ms(entries: usize, shortlist: usize) -> (f64, f64) {
    let mut random = RandomDescriptors(0x2545_f491);
    let mut index = Index::new([0; 32], 1280, 320);
    random.fill(&mut index, entries);
    let frames: Vec<Descriptor> = (0..20).map(|_| random.descriptor(7, 13)).collect();
    let time = |f: &dyn Fn(&Descriptor)| {
        for frame in &frames[..3] {
            f(frame);
        }
        let started = Instant::now();
        for frame in &frames {
            f(frame);
        }
        started.elapsed().as_secs_f64() * 1000.0 / frames.len() as f64
    };
    (
        time(&|frame| {
            std::hint::black_box(index.nearest(&frame.global));
        }),
        time(&|frame| {
            std::hint::black_box(retrieval::rank(&index, frame, shortlist));
        }),
    )
}

/// Milliseconds a scene start costs besides the frame itself: describing the frame (one encoder
/// run), choosing among a library of `entries` photos as the element does (ranking, scene
/// memory) and encoding the chosen reference.
fn scene_start_ms(models: &mut Models, entries: usize) -> f64 {
    let mut random = RandomDescriptors(0x1234_5678);
    let mut index = models.empty_index();
    random.fill(&mut index, entries);
    let (width, height) = (640, 360);
    let lightness: Vec<f32> = (0..width * height)
        .map(|i| ((i % width) as f32 / width as f32 * 100.0 + (i / width) as f32 * 0.1) % 100.0)
        .collect();
    let photo = library::load_photo(&media().join("refs/china.jpg"), retrieval::PHOTO_SHORT_SIDE)
        .expect("photo");
    let (w, h) = render::working_size(photo.width, photo.height, 256);
    // The element's defaults.
    let settings = ChoiceSettings {
        top_k: 1,
        candidates: retrieval::DEFAULT_CANDIDATES,
        scene_memory: true,
        scene_memory_threshold: 0.8,
        min_score: 0.0,
        below_min_score: BelowMinScore::KeepPrevious,
    };
    let mut chooser = ReferenceChooser::default();
    let mut scene = 0;
    let mut once = || {
        let frame =
            retrieval::describe_frame(models, &lightness, width, height, settings.shortlist())
                .expect("describe");
        std::hint::black_box(
            chooser
                .choose(scene, frame, &index, Path::new("/refs"), &settings)
                .expect("choose"),
        );
        scene += 1;
        let lab = retrieval::photo_lab(&photo, (w, h));
        std::hint::black_box(models.encode_reference(&lab, w, h).expect("encode"));
    };
    once();
    let started = Instant::now();
    for _ in 0..10 {
        once();
    }
    started.elapsed().as_secs_f64() * 100.0
}

/// Mean stage times and allocations of the per-frame chain on a `width × height` frame into
/// I420, with the element's defaults (inference size 256, one reference), after a warm-up frame;
/// frames written by `graph` (the render graph) where it is given.
fn chain_stages(
    models: &mut Models,
    width: usize,
    height: usize,
    graph: Option<RenderModel>,
) -> ChainFigures {
    let photo = library::load_photo(&media().join("refs/china.jpg"), retrieval::PHOTO_SHORT_SIDE)
        .expect("photo");
    let (w, h) = render::working_size(photo.width, photo.height, 256);
    let reference = models
        .encode_reference(&retrieval::photo_lab(&photo, (w, h)), w, h)
        .expect("encode");
    let lightness: Vec<f32> = (0..width * height)
        .map(|i| ((i % width) as f32 / width as f32 * 100.0 + (i / width) as f32 * 0.05) % 100.0)
        .collect();
    let convert = LabToVideo::new(Colorimetry {
        range: Range::Limited,
        matrix: Matrix::Bt709,
        transfer: Transfer::Bt709,
    });
    let (mut luma, mut cb, mut cr) = (
        vec![0u8; width * height],
        vec![0u8; width * height / 4],
        vec![0u8; width * height / 4],
    );
    let mut chain = FrameChain::default();
    chain.full.graph = graph;
    let mut total = StageTimes::default();
    let frames = 10;
    let (mut all, mut in_model) = ((0, 0), (0, 0));
    for frame in 0..=frames {
        let before = allocated();
        let mut planes = OutputPlanes {
            planes: vec![
                (&mut luma[..], width),
                (&mut cb[..], width / 2),
                (&mut cr[..], width / 2),
            ],
        };
        let times = chain
            .colorize(
                Lightness {
                    data: &lightness,
                    width,
                    height,
                },
                &[(&reference, 1.0)],
                |small, size, reference, with_confidence, out| {
                    let before = allocated();
                    let prediction = models.colorize(small, size, reference, with_confidence, out);
                    let after = allocated();
                    if frame > 0 {
                        in_model.0 += after.0 - before.0;
                        in_model.1 += after.1 - before.1;
                    }
                    prediction
                },
                ChainSettings {
                    inference_size: 256,
                    temporal_smoothing: 0.35,
                },
                Target {
                    layout: OutputLayout::Planar { sub_x: 2, sub_y: 2 },
                    convert: &convert,
                    planes: &mut planes,
                },
            )
            .expect("colorize");
        let after = allocated();
        if frame > 0 {
            all.0 += after.0 - before.0;
            all.1 += after.1 - before.1;
            total.resize += times.resize / frames;
            total.colorizer += times.colorizer / frames;
            total.render += times.render / frames;
            total.working_size = times.working_size;
        }
    }
    let per_frame = |(count, bytes): (usize, usize)| {
        (
            count as f64 / frames as f64,
            bytes as f64 / frames as f64 / 1e6,
        )
    };
    ChainFigures {
        times: total,
        allocations: per_frame(all),
        model_allocations: per_frame(in_model),
    }
}

/// Median milliseconds of a `learned::WINDOW`-frame run of the default folder's float32 and
/// int8 TransNetV2 on the CPU, run alternately in one loop so that both meet the same load.
fn transition_window_ms(dir: &Path) -> (f64, f64) {
    let options = SessionOptions {
        provider: Provider::Cpu,
        device_id: 0,
        strict: false,
        threads: 0,
    };
    let mut models = [
        inference::TRANSITION_MODEL_FILE,
        inference::TRANSITION_MODEL_INT8_FILE,
    ]
    .map(|file| {
        inference::TransitionModel::load(&dir.join(file), &options)
            .unwrap_or_else(|e| panic!("{e}"))
    });
    // A textured picture that moves, with a cut halfway.
    let frames: Vec<u8> = (0..learned::WINDOW)
        .flat_map(|f| {
            (0..learned::THUMBNAIL_PIXELS).flat_map(move |i| {
                let (x, y) = (i % learned::THUMBNAIL_WIDTH, i / learned::THUMBNAIL_WIDTH);
                let seed = if f < learned::WINDOW / 2 { 7 } else { 13 };
                let value = ((x * seed + y * 5 + f * 2) as u8) ^ ((x * y) as u8).rotate_left(3);
                [value; 3]
            })
        })
        .collect();
    let mut times = [Vec::new(), Vec::new()];
    for run in 0..9 {
        for (model, times) in models.iter_mut().zip(&mut times) {
            let start = Instant::now();
            model
                .predict(&frames, learned::THUMBNAIL_WIDTH, learned::THUMBNAIL_HEIGHT)
                .expect("transition model run");
            if run > 0 {
                times.push(start.elapsed().as_secs_f64() * 1e3);
            }
        }
    }
    let [float32, int8] = times.map(|mut times| {
        times.sort_by(f64::total_cmp);
        times[times.len() / 2]
    });
    (float32, int8)
}

fn main() {
    gst::init().expect("gst");
    gstexemplar::plugin_register_static().expect("plugin");
    println!(
        "exemplarcolorize on CPU, {} cores:",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let fixed = format!("reference={}", media().join("refs/china.jpg").display());
    let overlapped = format!("{fixed} overlap=on");
    let sizes = [(640, 360), (1280, 720), (1920, 1080), (3840, 2160)];
    for (w, h) in sizes {
        let frames = if w > 1920 { 40 } else { 120 };
        println!(
            "  whole element, {w}x{h} I420 -> I420: {:.1} frames/s with frames drawn \
             beforehand ({:.1} with overlap=on), {:.1} frames/s drawn by videotestsrc on the way",
            element_fps(w, h, frames, &fixed, Frames::Prerendered, Upstream::Nothing),
            element_fps(
                w,
                h,
                frames,
                &overlapped,
                Frames::Prerendered,
                Upstream::Nothing
            ),
            element_fps(w, h, frames, &fixed, Frames::Drawn, Upstream::Nothing)
        );
    }
    // The model's lookahead and the last burst's drain are left out of the timed frames.
    let frames = (learned::LOOKAHEAD + learned::STEP + SCENECUT_TIMED_FRAMES) as u32;
    for (w, h) in sizes {
        let fps = |colorize: &str, scenecut| {
            element_fps(
                w,
                h,
                frames,
                colorize,
                Frames::Prerendered,
                Upstream::SceneCut(scenecut),
            )
        };
        println!(
            "  used-by pipeline, scenecut ! exemplarcolorize, {w}x{h}, frames drawn beforehand: \
             {:.1} frames/s with scenecut's default method (its model in int8; {:.1} with \
             overlap=on, {:.1} with transition-precision=float32), {:.1} with method=rule \
             ({:.1} with overlap=on)",
            fps(&fixed, ""),
            fps(&overlapped, ""),
            fps(&fixed, "transition-precision=float32"),
            fps(&fixed, "method=rule"),
            fps(&overlapped, "method=rule")
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
            element_fps(
                640,
                360,
                120,
                &library,
                Frames::Prerendered,
                Upstream::Nothing
            )
        );
    }
    let _ = std::fs::remove_file(&index);
    let dir = inference::default_model_dir().unwrap_or_else(|e| panic!("{e}"));
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
    let cpu = SessionOptions {
        provider: Provider::Cpu,
        device_id: 0,
        strict: true,
        threads: 0,
    };
    for (width, height) in [(640, 360), (1280, 720), (1920, 1080), (3840, 2160)] {
        let figures = chain_stages(&mut models, width, height, None);
        let t = figures.times;
        let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
        let all = ms(t.resize) + ms(t.colorizer) + ms(t.render);
        println!(
            "  per-frame chain, {width}x{height} -> I420 (no pipeline): resize {:.1} ms, colorizer \
             {:.1} ms at {}x{}, upsample and write {:.1} ms: {all:.1} ms, {:.1} frames/s",
            ms(t.resize),
            ms(t.colorizer),
            t.working_size.0,
            t.working_size.1,
            ms(t.render),
            1e3 / all
        );
        println!(
            "    allocations a frame: {:.1} ({:.2} MB), of which in the model's run {:.1} \
             ({:.2} MB)",
            figures.allocations.0,
            figures.allocations.1,
            figures.model_allocations.0,
            figures.model_allocations.1
        );
        let i420 = OutputLayout::Planar { sub_x: 2, sub_y: 2 };
        if chain::graph_chroma(i420, (width, height), t.working_size).is_some() {
            let graph =
                RenderModel::load(&dir.join(inference::RENDER_FILE), &cpu).expect("render graph");
            let by_graph = chain_stages(&mut models, width, height, Some(graph));
            let (sw, sh) = t.working_size;
            println!(
                "    render=execution-provider, the render graph on ONNX Runtime's CPU \
                 provider: upsample and write {:.1} ms (the CPU's renderer {:.1} ms); on a GPU \
                 it would copy {:.1} MB in and {:.1} MB out a frame",
                ms(by_graph.times.render),
                ms(t.render),
                (4 * (width * height + 3 * sw * sh)) as f64 / 1e6,
                (width * height / 2) as f64 / 1e6
            );
        }
    }
    let (float32, int8) = transition_window_ms(&dir);
    println!(
        "  scenecut's TransNetV2, {}-frame window of {}x{} thumbnails (median of 8): float32 \
         {float32:.0} ms, int8 {int8:.0} ms ({:.2} times faster); a window every {} frames: \
         {:.1} and {:.1} ms a frame",
        learned::WINDOW,
        learned::THUMBNAIL_WIDTH,
        learned::THUMBNAIL_HEIGHT,
        float32 / int8,
        learned::STEP,
        float32 / learned::STEP as f64,
        int8 / learned::STEP as f64
    );
    println!(
        "  index build: {:.1} photos/s (decode, luminance, embed)",
        index_build(&mut models, 4)
    );
    // 100 000 photos' local descriptors would take 2 GiB: the figures stop at 10 000.
    for entries in [1_000, 10_000] {
        let (search, ranked) = rank_ms(entries, retrieval::DEFAULT_CANDIDATES);
        println!(
            "  over {entries:>6} photos: exact global search {search:.3} ms, with re-ranking of {} \
             candidates {ranked:.3} ms",
            retrieval::DEFAULT_CANDIDATES
        );
    }
    println!(
        "  scene start with 1 000 photos (describe frame, choose, encode reference): {:.1} ms",
        scene_start_ms(&mut models, 1_000)
    );
}
