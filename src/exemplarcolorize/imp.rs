// SPDX-License-Identifier: MIT OR Apache-2.0

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Condvar, LazyLock, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::subclass::base_transform::{
    GenerateOutputSuccess, InputBuffer, PrepareOutputBufferSuccess,
};
use gst_base::subclass::prelude::*;
use gst_video::prelude::*;
use gst_video::subclass::prelude::*;

use super::{
    BelowMinScore, ColourInput, ExecutionProvider, Mode, Overlap, ReferenceChanged, Render,
};
use crate::colorize::chain::{
    ChainSettings, FrameChain, Lightness, Target, WorkingColour, WorkingSize,
};
use crate::colorize::choice::{
    self, Choice, ChoiceError, ChoiceSettings, Ranked, ReferenceCache, ReferenceChooser,
};
use crate::colorize::color::{self, Colorimetry, LabToVideo};
use crate::colorize::colour_input::{self, Component, DEFAULT_COLOUR_THRESHOLD};
use crate::colorize::index::{self, Index};
use crate::colorize::inference::{
    self, EncodedReference, Models, Provider, RenderModel, SessionOptions,
};
use crate::colorize::library::{self, Photo};
use crate::colorize::plan::{Plan, PlannedReference, PlannedScene};
use crate::colorize::render::{self, OutputLayout, OutputPlanes, Plane};
use crate::colorize::retrieval::{self, PHOTO_SHORT_SIDE};
use crate::colorize::temporal;
use crate::scene_change::SceneChange;

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "exemplarcolorize",
        gst::DebugColorFlags::empty(),
        Some("Exemplar-based colorization"),
    )
});

const DEFAULT_INFERENCE_SIZE: u32 = 256;
const DEFAULT_DEVICE_ID: i32 = 0;
const DEFAULT_THREADS: u32 = 0;
/// A 640x360 frame takes about 35 ms on two CPU cores and a scene's first frame about 100 ms
/// more (embedding, encoding the reference): this covers both with room to spare.
const DEFAULT_PROCESSING_LATENCY_MS: u32 = 150;
const DEFAULT_TEMPORAL_SMOOTHING: f64 = 0.35;
const DEFAULT_SCENE_MEMORY: bool = true;
const DEFAULT_SCENE_MEMORY_THRESHOLD: f64 = 0.8;
const DEFAULT_TOP_K: u32 = 1;
const DEFAULT_CANDIDATES: u32 = retrieval::DEFAULT_CANDIDATES as u32;
const MAX_CANDIDATES: u32 = 1000;
const DEFAULT_MIN_SCORE: f64 = 0.0;
/// Candidates named in `reference-changed` and logged, best first.
const REPORTED_CANDIDATES: usize = 3;
const MAX_TOP_K: u32 = 8;
/// Encoded references kept for scenes that come back to a photo: about 1.1 MB each at the
/// default inference size, so at most about 70 MB.
const CACHED_REFERENCES: usize = 64;
/// How often indexing saves the index built so far.
const INDEX_CHECKPOINT_INTERVAL: std::time::Duration = std::time::Duration::from_secs(10);

#[derive(Debug, Clone)]
struct Settings {
    refs: Option<String>,
    reference: Option<String>,
    index_location: Option<String>,
    models: ModelSettings,
    inference_size: u32,
    processing_latency_ms: u32,
    temporal_smoothing: f64,
    scene_memory: bool,
    scene_memory_threshold: f64,
    top_k: u32,
    candidates: u32,
    min_score: f64,
    below_min_score: BelowMinScore,
    fallback_reference: Option<String>,
    colour_input: ColourInput,
    colour_threshold: f64,
    mode: Mode,
    plan_location: Option<String>,
    overlap: Overlap,
    render: Render,
}

impl Settings {
    fn choice_settings(&self) -> ChoiceSettings {
        let below_min_score = match (self.below_min_score, &self.fallback_reference) {
            (BelowMinScore::Keep, _) => choice::BelowMinScore::KeepPrevious,
            (BelowMinScore::Fallback, Some(photo)) => {
                choice::BelowMinScore::Photo(PathBuf::from(photo))
            }
            _ => choice::BelowMinScore::Grey,
        };
        ChoiceSettings {
            top_k: self.top_k as usize,
            candidates: self.candidates as usize,
            scene_memory: self.scene_memory,
            scene_memory_threshold: self.scene_memory_threshold as f32,
            min_score: self.min_score,
            below_min_score,
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            refs: None,
            reference: None,
            index_location: None,
            models: ModelSettings {
                encoder_model: None,
                colorizer_model: None,
                colorizer_reference_model: None,
                execution_provider: ExecutionProvider::Auto,
                device_id: DEFAULT_DEVICE_ID,
                strict_provider: false,
                threads: DEFAULT_THREADS,
            },
            inference_size: DEFAULT_INFERENCE_SIZE,
            processing_latency_ms: DEFAULT_PROCESSING_LATENCY_MS,
            temporal_smoothing: DEFAULT_TEMPORAL_SMOOTHING,
            scene_memory: DEFAULT_SCENE_MEMORY,
            scene_memory_threshold: DEFAULT_SCENE_MEMORY_THRESHOLD,
            top_k: DEFAULT_TOP_K,
            candidates: DEFAULT_CANDIDATES,
            min_score: DEFAULT_MIN_SCORE,
            below_min_score: BelowMinScore::Keep,
            fallback_reference: None,
            colour_input: ColourInput::PassThrough,
            colour_threshold: DEFAULT_COLOUR_THRESHOLD,
            mode: Mode::Colorize,
            plan_location: None,
            overlap: Overlap::Auto,
            render: Render::Auto,
        }
    }
}

/// The settings the models are loaded with: a change to any of them in READY loads the models
/// again at the next start, as the properties promise.
#[derive(Debug, Clone, PartialEq)]
struct ModelSettings {
    encoder_model: Option<String>,
    colorizer_model: Option<String>,
    colorizer_reference_model: Option<String>,
    execution_provider: ExecutionProvider,
    device_id: i32,
    strict_provider: bool,
    threads: u32,
}

/// The models with the settings they were loaded with.
struct LoadedModels {
    models: Models,
    settings: ModelSettings,
}

/// Where references come from: a searched library, or one fixed photo.
enum References {
    /// Shared, so that a scene's ranking holds no lock.
    Library {
        root: PathBuf,
        index: Arc<Index>,
    },
    Fixed(PathBuf),
}

/// The references, as far as they are ready.
enum Library {
    /// Stopped, or a plan is followed.
    Closed,
    /// The library is being indexed on a thread of its own; the first scene waits for it.
    Indexing,
    Open(References),
    /// Indexing failed; its error is on the bus.
    Failed,
}

/// The thread indexing the library, and how to stop it.
struct Indexing {
    cancel: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

/// What the indexing thread needs, gathered at start.
struct IndexJob {
    refs: PathBuf,
    index_path: PathBuf,
    photos: Vec<Photo>,
    previous: Option<Index>,
    empty: Index,
    cancel: Arc<AtomicBool>,
}

/// One of the current scene's references.
struct SceneReference {
    path: PathBuf,
    /// Shared with the cache: a frame takes the scene's references without copying them.
    encoded: Arc<EncodedReference>,
    /// Whole-frame similarity to the scene's first frame, which weighs it against the others.
    similarity: f32,
}

/// The scene a frame to colour belongs to.
// Moved once a frame: boxing the chain would allocate where the copy costs nothing.
#[allow(clippy::large_enum_variant)]
enum FrameScene {
    /// The current one: its chain and references, taken from the state for the frame.
    Continues(FrameChain, Arc<[SceneReference]>),
    /// A new one, starting with this frame.
    Starts(u32),
}

/// A frame whose colours the worker infers while the frame before it is written out.
struct InFlight {
    input: gst::Buffer,
    frame: u64,
    lightness: Vec<f32>,
    layout: OutputLayout,
    luma_map: [u8; 256],
    convert: Arc<LabToVideo>,
    resize: Duration,
}

/// What the worker colours: a frame at working size, with the scene's colours so far and its
/// references.
struct WorkingJob {
    working: WorkingSize,
    colour: WorkingColour,
    references: Arc<[SceneReference]>,
    temporal_smoothing: f64,
}

/// A frame's colours at working size and the colorizer's time, or why they failed.
type Coloured = Result<(WorkingColour, Duration), String>;

/// What the worker gives back: the scene's colours, the frame's at working size, and the
/// colorizer's time or why it failed.
struct WorkingDone {
    working: WorkingSize,
    colour: WorkingColour,
    result: Result<Duration, String>,
}

/// The thread that infers a frame's colours while the element writes out the frame before it
/// (`overlap`), and the frames between them. One job at a time: the element waits for a
/// frame's colours before it sends the next frame.
struct Overlapping {
    /// Dropped first on drop, which ends the thread.
    jobs: Option<mpsc::SyncSender<WorkingJob>>,
    done: mpsc::Receiver<WorkingDone>,
    thread: Option<std::thread::JoinHandle<()>>,
    in_flight: Option<InFlight>,
    /// A frame written out in the same call as the in-flight frame before it, pushed next.
    ready: Option<gst::Buffer>,
}

impl Drop for Overlapping {
    fn drop(&mut self) {
        self.jobs = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// What a frame needs, decided as it arrives (`begin_frame`).
struct FrameStart {
    pts: Option<gst::ClockTime>,
    /// Its index since the stream started or was flushed.
    frame: u64,
    table: [f32; 256],
    /// The scene it starts, if it starts one.
    pending: Option<u32>,
    /// The followed plan's scene it starts, if it starts one.
    planned: Option<PlannedScene>,
    layout: OutputLayout,
    luma_map: [u8; 256],
    convert: Arc<LabToVideo>,
    input_colorimetry: Option<Colorimetry>,
    /// Its scene has colour of its own and `colour-input=pass-through` keeps it.
    passed_through: bool,
    /// How much colour it has, when its format has chroma.
    spread: Option<f64>,
    settings: ChainSettings,
    /// To be coloured: the buffer its lightness goes to and its scene. None: it leaves as it
    /// came.
    colouring: Option<(Vec<f32>, FrameScene)>,
}

/// Per-stream state.
struct State {
    in_info: Option<gst_video::VideoInfo>,
    /// The input's colorimetry, for passing colour input through to RGB output.
    input_colorimetry: Option<Colorimetry>,
    out_info: Option<gst_video::VideoInfo>,
    lightness_table: [f32; 256],
    luma_map: [u8; 256],
    /// Shared with the frame being coloured: its encoding table is 16 KB.
    convert: Option<Arc<LabToVideo>>,
    layout: OutputLayout,
    /// Input buffers received since the stream started or was flushed, including those QoS
    /// dropped before reaching the transform.
    received: u64,
    /// Set when the next frame starts a scene and needs its reference chosen.
    pending_scene: Option<u32>,
    scene: u32,
    /// Shared with the frames of the scene, which take it without copying.
    current: Arc<[SceneReference]>,
    /// What carries over between the frames of a scene; taken out while a frame is coloured.
    chain: FrameChain,
    /// The frame's lightness, a buffer kept from frame to frame (taken out while a frame is
    /// coloured), so that steady state allocates no frame-sized plane.
    lightness: Vec<f32>,
    /// Encoded references by path, so returning to a photo costs nothing.
    cache: ReferenceCache<EncodedReference>,
    /// Chooses the scenes' references, remembering the scenes since the stream started or was
    /// flushed.
    chooser: ReferenceChooser,
    /// The current scene has had a frame with colour: with `colour-input=pass-through` its
    /// frames leave untouched until the next scene.
    scene_in_colour: bool,
    /// The stream's first colour frame was reported (once per stream).
    colour_reported: bool,
    /// Input the element cannot take (caps it refuses, interlaced video) was explained (once
    /// per stream).
    unsupported_reported: bool,
    /// The references; a frame that needs them waits on `library_ready` while they are indexed.
    library: Library,
    /// The thread indexing the library, while it runs.
    indexing: Option<Indexing>,
    /// The plan being followed (`plan-location` in `mode=colorize`): it, not scene-change
    /// events, says where scenes start and what colours them.
    followed: Option<Arc<Plan>>,
    /// Index in the followed plan of the current scene.
    planned_scene: Option<usize>,
    /// The scenes chosen so far in `mode=plan`, written out at the end of the stream.
    planned: Vec<PlannedScene>,
    /// Frames overlap (`overlap`, decided at start): LATENCY counts a frame more.
    overlapped: bool,
    /// The overlap's worker and frames; taken out by the streaming thread while it works.
    overlapping: Option<Overlapping>,
    /// Who writes the frames (`render`, decided at start; back to the CPU if the graph fails),
    /// read by `active-render`.
    rendering: Render,
}

impl State {
    /// Index of the frame being processed: every buffer is counted on arrival, before QoS may
    /// drop it, so this is the latest one.
    fn frame(&self) -> u64 {
        self.received.saturating_sub(1)
    }
}

impl Default for State {
    fn default() -> Self {
        State {
            in_info: None,
            input_colorimetry: None,
            out_info: None,
            lightness_table: [0.0; 256],
            luma_map: std::array::from_fn(|i| i as u8),
            convert: None,
            layout: OutputLayout::Planar { sub_x: 2, sub_y: 2 },
            received: 0,
            pending_scene: Some(0),
            scene: 0,
            current: Arc::new([]),
            chain: FrameChain::default(),
            lightness: Vec::new(),
            cache: ReferenceCache::new(CACHED_REFERENCES),
            chooser: ReferenceChooser::default(),
            scene_in_colour: false,
            colour_reported: false,
            unsupported_reported: false,
            library: Library::Closed,
            indexing: None,
            followed: None,
            planned_scene: None,
            planned: Vec::new(),
            overlapped: false,
            overlapping: None,
            rendering: Render::Cpu,
        }
    }
}

pub struct ExemplarColorize {
    settings: Mutex<Settings>,
    state: Mutex<State>,
    /// Taken out while inference runs so that no lock is held meanwhile.
    models: Mutex<Option<LoadedModels>>,
    /// Signalled, under the state's lock, when the library opens or fails and when a wait for
    /// it is interrupted.
    library_ready: Condvar,
    /// A flush or a stop: a frame waiting for the library gives up.
    interrupted: AtomicBool,
}

impl Default for ExemplarColorize {
    fn default() -> Self {
        ExemplarColorize {
            settings: Mutex::default(),
            state: Mutex::default(),
            models: Mutex::default(),
            library_ready: Condvar::new(),
            interrupted: AtomicBool::new(false),
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn colorimetry(info: &gst_video::VideoInfo) -> Colorimetry {
    let c = info.colorimetry();
    let range = match c.range() {
        gst_video::VideoColorRange::Range0_255 => color::Range::Full,
        _ if info.format_info().is_rgb() => color::Range::Full,
        _ => color::Range::Limited,
    };
    let matrix = match c.matrix() {
        gst_video::VideoColorMatrix::Bt709 => color::Matrix::Bt709,
        gst_video::VideoColorMatrix::Bt2020 => color::Matrix::Bt2020,
        gst_video::VideoColorMatrix::Bt601 | gst_video::VideoColorMatrix::Smpte240m => {
            color::Matrix::Bt601
        }
        _ if info.height() >= 720 => color::Matrix::Bt709,
        _ => color::Matrix::Bt601,
    };
    let transfer = match c.transfer() {
        gst_video::VideoTransferFunction::Srgb => color::Transfer::Srgb,
        gst_video::VideoTransferFunction::Gamma22 => color::Transfer::Gamma22,
        gst_video::VideoTransferFunction::Gamma10 => color::Transfer::Linear,
        _ if info.format_info().is_rgb() => color::Transfer::Srgb,
        _ => color::Transfer::Bt709,
    };
    Colorimetry {
        range,
        matrix,
        transfer,
    }
}

fn output_layout(format: gst_video::VideoFormat) -> Option<OutputLayout> {
    use gst_video::VideoFormat as F;
    let rgb = |r, g, b, alpha, step| OutputLayout::Rgb {
        r,
        g,
        b,
        alpha,
        step,
    };
    Some(match format {
        F::I420 => OutputLayout::Planar { sub_x: 2, sub_y: 2 },
        F::Y444 => OutputLayout::Planar { sub_x: 1, sub_y: 1 },
        F::Nv12 => OutputLayout::SemiPlanar,
        F::Rgba => rgb(0, 1, 2, Some(3), 4),
        // The unused byte is written as if it were alpha: left alone, it would carry whatever
        // the buffer held before (the output differed from run to run).
        F::Rgbx => rgb(0, 1, 2, Some(3), 4),
        F::Bgrx => rgb(2, 1, 0, Some(3), 4),
        F::Rgb => rgb(0, 1, 2, None, 3),
        _ => return None,
    })
}

const SINK_FORMATS: &[gst_video::VideoFormat] = &[
    gst_video::VideoFormat::Gray8,
    gst_video::VideoFormat::I420,
    gst_video::VideoFormat::Nv12,
    gst_video::VideoFormat::Yv12,
    gst_video::VideoFormat::Y42b,
    gst_video::VideoFormat::Y444,
];
const SRC_YUV_FORMATS: &[gst_video::VideoFormat] = &[
    gst_video::VideoFormat::I420,
    gst_video::VideoFormat::Nv12,
    gst_video::VideoFormat::Y444,
];
const SRC_RGB_FORMATS: &[gst_video::VideoFormat] = &[
    gst_video::VideoFormat::Rgba,
    gst_video::VideoFormat::Rgbx,
    gst_video::VideoFormat::Bgrx,
    gst_video::VideoFormat::Rgb,
];

/// The luma plane of a frame (the grey plane of GRAY8).
fn luma_plane<'a>(
    frame: &'a gst_video::VideoFrameRef<&gst::BufferRef>,
) -> Result<Plane<'a>, gst::FlowError> {
    Ok(Plane {
        data: frame.plane_data(0).map_err(|_| gst::FlowError::Error)?,
        stride: frame.plane_stride()[0] as usize,
        width: frame.width() as usize,
        height: frame.height() as usize,
    })
}

/// A scene's encoded references, each with the weight of its match with the scene.
fn weighted_references(references: &[SceneReference]) -> Vec<(&EncodedReference, f32)> {
    references
        .iter()
        .map(|r| (&*r.encoded, r.similarity))
        .collect()
}

/// The Cb and Cr components of a YUV frame; `None` for grey formats.
fn chroma_components<'a>(
    frame: &'a gst_video::VideoFrameRef<&gst::BufferRef>,
) -> Option<(Component<'a>, Component<'a>)> {
    if frame.format_info().n_components() < 3 {
        return None;
    }
    let component = |c: u32| {
        Some(Component {
            data: frame.comp_data(c).ok()?,
            stride: frame.comp_stride(c) as usize,
            pixel_stride: frame.comp_pstride(c) as usize,
            width: frame.comp_width(c) as usize,
            height: frame.comp_height(c) as usize,
        })
    };
    Some((component(1)?, component(2)?))
}

/// The output frame's planes with their strides, the input's luma already copied into a YUV
/// layout's luma plane (through `luma_map`; RGB output has none).
fn output_planes<'a>(
    outframe: &'a mut gst_video::VideoFrameRef<&mut gst::BufferRef>,
    layout: OutputLayout,
    luma: Plane,
    luma_map: &[u8; 256],
) -> OutputPlanes<'a> {
    let n_planes = outframe.n_planes() as usize;
    let strides: Vec<usize> = outframe
        .plane_stride()
        .iter()
        .map(|&s| s as usize)
        .collect();
    let planes = outframe
        .planes_data_mut()
        .into_iter()
        .take(n_planes)
        .zip(strides)
        .collect();
    let mut out = OutputPlanes { planes };
    if !matches!(layout, OutputLayout::Rgb { .. }) {
        let stride = out.planes[0].1;
        render::copy_luma(luma, &mut *out.planes[0].0, stride, luma_map);
    }
    out
}

fn format_list(formats: &[gst_video::VideoFormat]) -> gst::List {
    gst::List::new(formats.iter().map(|f| f.to_str()))
}

impl ExemplarColorize {
    fn model_paths(settings: &Settings) -> Result<(PathBuf, PathBuf, PathBuf), String> {
        // A path the user set must exist: otherwise the first model loaded (maybe a sibling
        // derived from it) would be the one named in the error.
        let explicit = |property: &Option<String>, name: &str| {
            property.as_ref().map(PathBuf::from).map(|path| {
                if path.is_file() {
                    Ok(path)
                } else {
                    Err(format!(
                        "the {name} property names {}, which does not exist",
                        path.display()
                    ))
                }
            })
        };
        let encoder = explicit(&settings.models.encoder_model, "encoder-model").transpose()?;
        let colorizer =
            explicit(&settings.models.colorizer_model, "colorizer-model").transpose()?;
        let reference = explicit(
            &settings.models.colorizer_reference_model,
            "colorizer-reference-model",
        )
        .transpose()?;
        let encoder = match encoder {
            Some(path) => path,
            None => inference::default_model_dir()?.join(inference::ENCODER_FILE),
        };
        let colorizer = match colorizer {
            Some(path) => path,
            None => inference::default_model_dir()?.join(inference::COLORIZER_FILE),
        };
        let reference = reference.unwrap_or_else(|| {
            colorizer
                .parent()
                .unwrap_or(Path::new("."))
                .join(inference::REFERENCE_FILE)
        });
        Ok((encoder, colorizer, reference))
    }

    /// Loads the models unless they are loaded with the current settings already.
    fn load_models(&self) -> Result<(), gst::ErrorMessage> {
        let settings = lock(&self.settings).clone();
        let wanted = settings.models.clone();
        if lock(&self.models)
            .as_ref()
            .is_some_and(|loaded| loaded.settings == wanted)
        {
            return Ok(());
        }
        let (encoder, colorizer, reference) = Self::model_paths(&settings)
            .map_err(|msg| gst::error_msg!(gst::ResourceError::NotFound, ("{}", msg)))?;
        let options = SessionOptions {
            provider: settings.models.execution_provider.into(),
            device_id: settings.models.device_id,
            strict: settings.models.strict_provider,
            threads: settings.models.threads as usize,
        };
        let started = Instant::now();
        let models = Models::load(&encoder, &colorizer, &reference, &options)
            .map_err(|err| gst::error_msg!(gst::LibraryError::Init, ("{}", err)))?;
        if let Some(why) = &models.fallback {
            if settings.models.execution_provider == ExecutionProvider::Auto {
                gst::info!(CAT, imp = self, "running on CPU: {why}");
            } else {
                gst::element_imp_warning!(
                    self,
                    gst::LibraryError::Settings,
                    (
                        "Running on CPU instead of {:?}: {}",
                        settings.models.execution_provider,
                        why
                    )
                );
            }
        }
        let (_, runtime) = inference::environment()
            .map_err(|err| gst::error_msg!(gst::LibraryError::Init, ("{}", err)))?;
        gst::info!(
            CAT,
            imp = self,
            "models loaded in {:.0} ms on {} (runtime {}, encoder {}, colorizer {})",
            started.elapsed().as_secs_f64() * 1000.0,
            models.provider,
            runtime.display(),
            encoder.display(),
            colorizer.display()
        );
        *lock(&self.models) = Some(LoadedModels {
            models,
            settings: wanted,
        });
        Ok(())
    }

    /// Runs `f` with the models, holding no lock while it runs.
    fn with_models<R>(&self, f: impl FnOnce(&mut Models) -> R) -> Result<R, gst::FlowError> {
        let Some(mut loaded) = lock(&self.models).take() else {
            gst::element_imp_error!(self, gst::CoreError::Failed, ("The models are not loaded"));
            return Err(gst::FlowError::Error);
        };
        let result = f(&mut loaded.models);
        *lock(&self.models) = Some(loaded);
        Ok(result)
    }

    fn post_progress(&self, kind: gst::ProgressType, text: &str, percent: i32) {
        let message = gst::message::Progress::builder(kind, "index", text)
            .src(&*self.obj())
            .other_field("percent", percent)
            .build();
        let _ = self.obj().post_message(message);
    }

    /// Opens the reference library (or the fixed reference), bringing its index up to date.
    fn prepare_references(&self) -> Result<(), gst::ErrorMessage> {
        let settings = lock(&self.settings).clone();
        if let Some(reference) = &settings.reference {
            let path = PathBuf::from(reference);
            library::load_photo(&path, PHOTO_SHORT_SIDE).map_err(|err| {
                gst::error_msg!(
                    gst::ResourceError::OpenRead,
                    ("Cannot use reference photo {}: {}", path.display(), err)
                )
            })?;
            lock(&self.state).library = Library::Open(References::Fixed(path));
            return Ok(());
        }
        let Some(refs) = settings.refs.as_ref().map(PathBuf::from) else {
            return Err(gst::error_msg!(
                gst::ResourceError::NotFound,
                ("No references: set `refs` to a folder of colour photos or `reference` to one photo")
            ));
        };
        let scan = library::scan(&refs).map_err(|err| {
            gst::error_msg!(
                gst::ResourceError::OpenRead,
                ("Cannot read the refs folder {}: {}", refs.display(), err)
            )
        })?;
        for (path, why) in &scan.unreadable {
            gst::element_imp_warning!(
                self,
                gst::ResourceError::OpenRead,
                ("Skipping {}: {}", path.display(), why)
            );
        }
        if let Some(summary) = scan.unsupported_summary() {
            gst::element_imp_warning!(
                self,
                gst::ResourceError::OpenRead,
                (
                    "Skipping image files in {} that cannot be read: {} (convert them to JPEG, PNG, WebP or TIFF to use them)",
                    refs.display(),
                    summary
                )
            );
        }
        for folder in &scan.revisited_folders {
            gst::info!(
                CAT,
                imp = self,
                "not entering {} again: it links to a folder already scanned",
                folder.display()
            );
        }
        if scan.photos.is_empty() {
            return Err(gst::error_msg!(
                gst::ResourceError::NotFound,
                (
                    "The refs folder {} has no photos: put colour JPEG, PNG, WebP or TIFF photos in it (subfolders are searched too)",
                    refs.display()
                )
            ));
        }
        let index_path = settings
            .index_location
            .as_ref()
            .map(PathBuf::from)
            .unwrap_or_else(|| library::default_index_path(&refs));
        let previous = match library::read_index(&index_path) {
            Ok(index) => index,
            Err(err) => {
                gst::element_imp_warning!(
                    self,
                    gst::ResourceError::Read,
                    (
                        "Rebuilding the reference index {}: {}",
                        index_path.display(),
                        err
                    )
                );
                None
            }
        };
        let empty = self
            .with_models(|m| m.empty_index())
            .map_err(|_| gst::error_msg!(gst::CoreError::Failed, ("The models are not loaded")))?;
        let model_hash = *empty.model_hash();
        if let Some(previous) = &previous {
            if *previous.model_hash() != model_hash {
                gst::element_imp_warning!(
                    self,
                    gst::ResourceError::Read,
                    (
                        "The reference index {} was made with another encoder model: rebuilding it",
                        index_path.display()
                    )
                );
            }
        }
        // Embedding new photos can take minutes: a thread of its own does it, so the state
        // change returns, Progress messages reach the application as they are posted, and only
        // the first scene waits.
        let cancel = Arc::new(AtomicBool::new(false));
        let job = IndexJob {
            refs,
            index_path,
            photos: scan.photos,
            previous,
            empty,
            cancel: cancel.clone(),
        };
        // Posted here, before the state change returns, so that an application always sees
        // indexing start before anything else of it.
        self.post_progress(
            gst::ProgressType::Start,
            &format!("Indexing {} reference photos", job.photos.len()),
            0,
        );
        let element = self.obj().clone();
        // Held until the thread is recorded: it publishes the library under this lock, so it
        // cannot finish before it is known to be running.
        let mut state = lock(&self.state);
        state.library = Library::Indexing;
        let thread = std::thread::Builder::new()
            .name("exemplar-index".into())
            .spawn(move || {
                let imp = element.imp();
                let library = match imp.index_library(job) {
                    Ok(Some(references)) => Library::Open(references),
                    Ok(None) => Library::Closed,
                    Err(err) => {
                        imp.post_error_message(err);
                        Library::Failed
                    }
                };
                lock(&imp.state).library = library;
                imp.library_ready.notify_all();
            })
            .map_err(|err| {
                gst::error_msg!(
                    gst::CoreError::Failed,
                    ("Cannot start indexing the references: {}", err)
                )
            })?;
        state.indexing = Some(Indexing { cancel, thread });
        Ok(())
    }

    /// Brings the index up to date with the library's photos, saving it as it goes;
    /// `Ok(None)` when stopped meanwhile (what was embedded so far is saved for next time).
    fn index_library(&self, job: IndexJob) -> Result<Option<References>, gst::ErrorMessage> {
        let IndexJob {
            refs,
            index_path,
            photos,
            previous,
            empty,
            cancel,
        } = job;
        let total = photos.len();
        let started = Instant::now();
        let mut last_report = Instant::now();
        let describe = |photo: &Photo| {
            if cancel.load(Ordering::Relaxed) {
                return Err(library::PhotoError("indexing stopped".into()));
            }
            self.with_models(|m| retrieval::describe_photo(m, &photo.path))
                .map_err(|_| library::PhotoError("the models are not loaded".into()))?
        };
        let mut last_save = (Instant::now(), previous.as_ref().map_or(0, Index::len));
        let progress = |index: &Index, done: usize, total: usize| {
            if last_report.elapsed().as_millis() >= 500 || done == total {
                last_report = Instant::now();
                self.post_progress(
                    gst::ProgressType::Continue,
                    &format!("Indexed {done} of {total} reference photos"),
                    (100 * done / total.max(1)) as i32,
                );
            }
            // Interrupted (Ctrl-C, a crash), a large library loses at most this much work: the
            // next start takes the saved part and embeds the rest.
            if last_save.0.elapsed() >= INDEX_CHECKPOINT_INTERVAL
                && index.len() != last_save.1
                && done < total
            {
                match library::write_index(&index_path, index) {
                    Ok(()) => gst::debug!(
                        CAT,
                        imp = self,
                        "saved the index so far: {} photos, {done} of {total} looked at",
                        index.len()
                    ),
                    Err(err) => gst::debug!(CAT, imp = self, "cannot save the index yet: {err}"),
                }
                last_save = (Instant::now(), index.len());
            }
        };
        let (index, report) =
            library::update_index(previous.as_ref(), &photos, empty, describe, progress);
        if cancel.load(Ordering::Relaxed) {
            if report.embedded > 0 {
                if let Err(err) = library::write_index(&index_path, &index) {
                    gst::debug!(CAT, imp = self, "cannot save the index so far: {err}");
                }
            }
            gst::info!(
                CAT,
                imp = self,
                "indexing stopped after {} new photos",
                report.embedded
            );
            return Ok(None);
        }
        let seconds = started.elapsed().as_secs_f64();
        for (path, why) in &report.skipped {
            gst::element_imp_warning!(
                self,
                gst::ResourceError::Read,
                ("Skipping reference photo {}: {}", path.display(), why)
            );
        }
        gst::info!(
            CAT,
            imp = self,
            "index of {}: {} photos ({} embedded in {:.2} s, {:.1} photos/s; {} reused; {} skipped)",
            refs.display(),
            index.len(),
            report.embedded,
            seconds,
            report.embedded as f64 / seconds.max(1e-9),
            report.reused,
            report.skipped.len()
        );
        self.post_progress(
            gst::ProgressType::Complete,
            &format!("Indexed {} reference photos", index.len()),
            100,
        );
        if index.is_empty() {
            return Err(gst::error_msg!(
                gst::ResourceError::Read,
                (
                    "None of the {} photos in {} could be read: see the warnings for each",
                    total,
                    refs.display()
                )
            ));
        }
        if report.embedded > 0 || previous.as_ref() != Some(&index) {
            if let Err(err) = library::write_index(&index_path, &index) {
                gst::element_imp_warning!(
                    self,
                    gst::ResourceError::Write,
                    ("Cannot save the reference index to {}: {} (set index-location to a writable place to keep it between runs)", index_path.display(), err)
                );
            }
        }
        Ok(Some(References::Library {
            root: refs,
            index: Arc::new(index),
        }))
    }

    /// Waits until the library is open; an error when indexing failed (its message is on the
    /// bus already) and `Flushing` when a flush or a stop interrupts the wait.
    fn wait_for_library(&self) -> Result<(), gst::FlowError> {
        let mut state = lock(&self.state);
        loop {
            match &state.library {
                Library::Open(_) => return Ok(()),
                Library::Failed => return Err(gst::FlowError::Error),
                Library::Closed => {
                    drop(state);
                    gst::element_imp_error!(
                        self,
                        gst::CoreError::Failed,
                        ("The reference library is not open")
                    );
                    return Err(gst::FlowError::Error);
                }
                Library::Indexing if self.interrupted.load(Ordering::SeqCst) => {
                    return Err(gst::FlowError::Flushing)
                }
                Library::Indexing => {
                    gst::debug!(CAT, imp = self, "the first scene waits for the index");
                    state = self
                        .library_ready
                        .wait(state)
                        .unwrap_or_else(|poisoned| poisoned.into_inner());
                }
            }
        }
    }

    /// Stops a running indexing (saving what it has) and wakes a frame waiting for it.
    fn stop_indexing(&self) {
        self.interrupt_waits(true);
        let indexing = lock(&self.state).indexing.take();
        if let Some(Indexing { cancel, thread }) = indexing {
            cancel.store(true, Ordering::Relaxed);
            let _ = thread.join();
        }
    }

    fn interrupt_waits(&self, interrupted: bool) {
        // Under the lock, so that a waiter either sees the flag or is waiting for the signal.
        let _state = lock(&self.state);
        self.interrupted.store(interrupted, Ordering::SeqCst);
        self.library_ready.notify_all();
    }

    /// The reference photo for a scene starting with this frame's lightness: the one an earlier
    /// scene like it had, or else the nearest in the library.
    fn choose_references(
        &self,
        scene: u32,
        lightness: &[f32],
        width: usize,
        height: usize,
    ) -> Result<Choice, gst::FlowError> {
        self.wait_for_library()?;
        let library = match &lock(&self.state).library {
            Library::Open(References::Fixed(path)) => return Ok(Choice::fixed(path.clone())),
            Library::Open(References::Library { root, index }) => {
                Some((root.clone(), index.clone()))
            }
            _ => None,
        };
        let settings = lock(&self.settings).choice_settings();
        let started = Instant::now();
        let frame = self
            .with_models(|m| {
                retrieval::describe_frame(m, lightness, width, height, settings.shortlist())
            })?
            .map_err(|err| {
                gst::element_imp_error!(
                    self,
                    gst::LibraryError::Failed,
                    ("Embedding the frame failed: {}", err)
                );
                gst::FlowError::Error
            })?;
        // The chooser is taken out of the state while it works, so that no lock is held while
        // it ranks the library.
        let mut chooser = std::mem::take(&mut lock(&self.state).chooser);
        let choice = library.map(|(root, index)| {
            let choice = chooser.choose(scene, frame, &index, &root, &settings);
            gst::debug!(
                CAT,
                imp = self,
                "scene {scene}: ranked against {} photos in {:.1} ms",
                index.len(),
                started.elapsed().as_secs_f64() * 1000.0
            );
            choice
        });
        let frame_number = {
            let mut state = lock(&self.state);
            state.chooser = chooser;
            state.frame()
        };
        let choice = match choice {
            Some(Ok(choice)) => choice,
            Some(Err(ChoiceError::IndexDoesNotFit)) => {
                gst::element_imp_error!(
                    self,
                    gst::CoreError::Failed,
                    ("The reference index does not fit the encoder")
                );
                return Err(gst::FlowError::Error);
            }
            None => return Err(gst::FlowError::Error),
        };
        self.log_choice(scene, frame_number, &choice, &settings);
        Ok(choice)
    }

    /// Tells the story of a choice at debug level, and warns when the best photo was not
    /// trusted.
    fn log_choice(&self, scene: u32, frame: u64, choice: &Choice, settings: &ChoiceSettings) {
        if let Some((earlier, similarity)) = choice.most_similar {
            gst::debug!(
                CAT,
                imp = self,
                "scene {scene}: most similar earlier scene {earlier} (similarity {similarity:.4}, \
                 scene-memory {} at {:.2})",
                if settings.scene_memory { "on" } else { "off" },
                settings.scene_memory_threshold
            );
        }
        for (place, candidate) in choice.ranked.iter().enumerate() {
            gst::debug!(
                CAT,
                imp = self,
                "scene {scene}: candidate {place} {} score {:.4} (local {}, global {:.4})",
                candidate.path.display(),
                candidate.score,
                candidate
                    .local
                    .map_or_else(|| "none".to_string(), |l| format!("{l:.4}")),
                candidate.similarity
            );
        }
        let how = match choice.reused_from {
            Some(earlier) => format!("scene {scene} looks like scene {earlier}: reusing its"),
            None => format!("scene {scene}: best"),
        };
        if choice.confident {
            for (path, similarity) in choice.references.iter().flatten() {
                gst::debug!(
                    CAT,
                    imp = self,
                    "{how} reference {} at distance {:.4} (similarity {similarity:.4})",
                    path.display(),
                    index::distance(*similarity),
                );
            }
            return;
        }
        let what = match choice.references.as_deref() {
            None => "keeping the previous scene's reference".to_string(),
            Some([]) => "leaving the scene grey".to_string(),
            Some([(fallback, _), ..]) => {
                format!("using the fallback reference {}", fallback.display())
            }
        };
        let best = &choice.ranked[0];
        gst::element_imp_warning!(
            self,
            gst::StreamError::Decode,
            (
                "Scene {} (frame {}): the best reference {} scores {:.3}, below min-score {:.3}: {}",
                scene,
                frame,
                best.path.display(),
                best.score,
                settings.min_score,
                what
            )
        );
    }

    /// The photo's encoding, from the cache or made now; the inner error is a photo that cannot
    /// be read (any more), which the caller may work around.
    fn encode_reference(
        &self,
        path: &Path,
    ) -> Result<Result<Arc<EncodedReference>, library::PhotoError>, gst::FlowError> {
        if let Some(encoded) = lock(&self.state).cache.get(path) {
            return Ok(Ok(encoded));
        }
        let photo = match library::load_photo(path, PHOTO_SHORT_SIDE) {
            Ok(photo) => photo,
            Err(err) => return Ok(Err(err)),
        };
        let short_side = lock(&self.settings).inference_size as usize;
        let (w, h) = render::working_size(photo.width, photo.height, short_side);
        let lab = retrieval::photo_lab(&photo, (w, h));
        let encoded = self
            .with_models(|m| m.encode_reference(&lab, w, h))?
            .map(Arc::new)
            .map_err(|err| {
                gst::element_imp_error!(
                    self,
                    gst::LibraryError::Failed,
                    ("Encoding reference {} failed: {}", path.display(), err)
                );
                gst::FlowError::Error
            })?;
        lock(&self.state)
            .cache
            .insert(path.to_path_buf(), encoded.clone());
        Ok(Ok(encoded))
    }

    /// Encodes a scene's references. A photo that cannot be read any more (moved, deleted, a
    /// network share gone) is replaced by the next best candidate not already used, with a
    /// warning; `None` when no candidate can be read (the previous references stay).
    fn encode_references(
        &self,
        scene: u32,
        references: Vec<(PathBuf, f32)>,
        ranked: &[Ranked],
    ) -> Result<Option<Vec<SceneReference>>, gst::FlowError> {
        let spare: Vec<PathBuf> = ranked
            .iter()
            .filter(|candidate| references.iter().all(|(used, _)| *used != candidate.path))
            .map(|candidate| candidate.path.clone())
            .collect();
        let mut spare = spare.into_iter();
        let mut current = Vec::with_capacity(references.len());
        for (path, similarity) in references {
            let mut path = path;
            loop {
                match self.encode_reference(&path)? {
                    Ok(encoded) => {
                        current.push(SceneReference {
                            path,
                            encoded,
                            similarity,
                        });
                        break;
                    }
                    Err(why) => {
                        let next = spare.next();
                        gst::element_imp_warning!(
                            self,
                            gst::ResourceError::Read,
                            (
                                "Scene {}: reference photo {} cannot be read now ({}): {}",
                                scene,
                                path.display(),
                                why,
                                next.as_ref().map_or_else(
                                    || "keeping the previous scene's references".to_string(),
                                    |next| format!("using the next best, {}", next.display())
                                )
                            )
                        );
                        match next {
                            Some(next) => path = next,
                            None => return Ok(None),
                        }
                    }
                }
            }
        }
        Ok(Some(current))
    }

    /// Upstream offers caps the sink refuses: GStreamer then stops with a bare "not-negotiated",
    /// so say first (once per stream) what the element takes and what to put before it. A
    /// warning, not an error: an element may ask about caps it will not send.
    fn explain_unsupported_input(&self, caps: &gst::Caps) {
        let Some(format) = caps
            .structure(0)
            .filter(|s| caps.is_fixed() && s.name() == "video/x-raw")
            .and_then(|s| s.get::<&str>("format").ok())
            .map(gst_video::VideoFormat::from_string)
            .filter(|&format| format != gst_video::VideoFormat::Unknown)
        else {
            return;
        };
        if SINK_FORMATS.contains(&format)
            || std::mem::replace(&mut lock(&self.state).unsupported_reported, true)
        {
            return;
        }
        let info = gst_video::VideoFormatInfo::from_format(format);
        let depth = info.depth().first().copied().unwrap_or(8);
        gst::element_imp_warning!(
            self,
            gst::StreamError::Format,
            (
                "exemplarcolorize cannot take {} video ({}-bit{}): it reads 8-bit grey or YUV \
                 ({}). Put videoconvert before it (… ! videoconvert ! scenecut ! \
                 exemplarcolorize …), which converts to 8-bit I420; the output is 8-bit",
                format.to_str(),
                depth,
                if info.is_rgb() { " RGB" } else { "" },
                SINK_FORMATS
                    .iter()
                    .map(|f| f.to_str().as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        );
    }

    /// Says once per stream that the input has colour, and what becomes of it.
    fn report_colour_input(
        &self,
        frame: u64,
        scene: u32,
        spread: f64,
        mode: ColourInput,
        threshold: f64,
    ) {
        let what = match mode {
            ColourInput::PassThrough => {
                "scenes in colour pass through untouched. Set colour-input=colorize to recolour \
                 them, or raise colour-threshold if this is grey film with chroma noise"
            }
            ColourInput::Colorize => {
                "its colour is replaced by the references' (colour-input=colorize). Set \
                 colour-input=pass-through to keep it"
            }
        };
        gst::element_imp_warning!(
            self,
            gst::StreamError::Format,
            (
                "Frame {} (scene {}) already has colour (chroma spread {:.1}, colour-threshold \
                 {:.1}): {}",
                frame,
                scene,
                spread,
                threshold,
                what
            )
        );
    }

    /// A followed plan's references for a scene: a choice made earlier, in film order.
    fn planned_choice(&self, planned: &PlannedScene) -> Choice {
        let references: Vec<(PathBuf, f32)> = match &planned.references {
            Some(references) => references
                .iter()
                .map(|r| (r.path.clone(), r.similarity))
                .collect(),
            None => {
                gst::element_imp_warning!(
                    self,
                    gst::StreamError::Format,
                    (
                        "Scene {} of the plan started in colour when the plan was made and has \
                         no reference; here it is grey and stays grey. Make the plan from the \
                         same film with the same colour-input and colour-threshold",
                        planned.scene
                    )
                );
                Vec::new()
            }
        };
        Choice::given(references)
    }

    fn frame_outside_plan(&self, pts: Option<gst::ClockTime>) -> gst::FlowError {
        let location = lock(&self.settings)
            .plan_location
            .clone()
            .unwrap_or_default();
        gst::element_imp_error!(
            self,
            gst::StreamError::Failed,
            (
                "The frame at {} is not covered by the scene plan {}: the plan was made for \
                 another film, or the frame has no timestamp. Make the plan from this film with \
                 mode=plan",
                pts.map_or_else(|| "no timestamp".to_string(), |pts| pts.to_string()),
                location
            )
        );
        gst::FlowError::Error
    }

    /// Opens what `mode` and `plan-location` ask for: the plan to follow (no library is then
    /// searched), or nothing more.
    fn prepare_plan(&self) -> Result<bool, gst::ErrorMessage> {
        let (mode, location) = {
            let settings = lock(&self.settings);
            (settings.mode, settings.plan_location.clone())
        };
        match (mode, location) {
            (Mode::Plan, None) => Err(gst::error_msg!(
                gst::ResourceError::NotFound,
                ("mode=plan needs plan-location: the file to write the scene plan to")
            )),
            (Mode::Colorize, Some(location)) => {
                let plan = Plan::read(Path::new(&location)).map_err(|err| {
                    gst::error_msg!(
                        gst::ResourceError::OpenRead,
                        ("Cannot follow the scene plan {}: {}", location, err)
                    )
                })?;
                gst::info!(
                    CAT,
                    imp = self,
                    "following the scene plan {location}: {} scenes",
                    plan.scenes.len()
                );
                lock(&self.state).followed = Some(Arc::new(plan));
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// At the end of a `mode=plan` stream: writes the scenes chosen since it started (or was
    /// last flushed).
    fn write_plan(&self) {
        let location = {
            let settings = lock(&self.settings);
            match (settings.mode, &settings.plan_location) {
                (Mode::Plan, Some(location)) => PathBuf::from(location),
                _ => return,
            }
        };
        let scenes = std::mem::take(&mut lock(&self.state).planned);
        if scenes.is_empty() {
            gst::element_imp_error!(
                self,
                gst::StreamError::Failed,
                (
                    "The stream ended before its first frame: no scene plan written to {}",
                    location.display()
                )
            );
            return;
        }
        let count = scenes.len();
        let plan = Plan::new(scenes);
        match library::write_atomically(&location, plan.to_json().as_bytes()) {
            Ok(()) => gst::info!(
                CAT,
                imp = self,
                "wrote the scene plan {} ({count} scenes)",
                location.display()
            ),
            Err(err) => gst::element_imp_error!(
                self,
                gst::ResourceError::Write,
                (
                    "Cannot write the scene plan {}: {}. Choose a writable plan-location",
                    location.display(),
                    err
                )
            ),
        }
    }

    /// Loads the render graph onto the models' execution provider when `render` asks for it
    /// (`auto`: when the models run on a GPU; a graph the GPU would not take is not used there,
    /// the CPU's cores being faster at this work than the graph on them).
    fn load_render_graph(&self) -> Result<(), gst::ErrorMessage> {
        let settings = lock(&self.settings).clone();
        let provider = lock(&self.models)
            .as_ref()
            .map_or(inference::CPU_PROVIDER, |loaded| loaded.models.provider);
        let wanted = match settings.render {
            Render::Cpu => false,
            Render::ExecutionProvider => true,
            Render::Auto => provider != inference::CPU_PROVIDER,
        };
        if !wanted {
            gst::info!(
                CAT,
                imp = self,
                "render={:?} with the models on {provider}: full-size work on the CPU's cores",
                settings.render
            );
            return Ok(());
        }
        let (_, colorizer, _) = Self::model_paths(&settings)
            .map_err(|msg| gst::error_msg!(gst::ResourceError::NotFound, ("{}", msg)))?;
        let path = colorizer
            .parent()
            .unwrap_or(Path::new("."))
            .join(inference::RENDER_FILE);
        if settings.render == Render::Auto && !path.is_file() {
            gst::element_imp_warning!(
                self,
                gst::ResourceError::NotFound,
                (
                    "No render graph {} beside the colorizer: frames are written on the CPU. \
                     Run `bash scripts/setup.sh` to build it",
                    path.display()
                )
            );
            return Ok(());
        }
        let options = SessionOptions {
            provider: Provider::running(provider),
            device_id: settings.models.device_id,
            strict: settings.models.strict_provider,
            threads: settings.models.threads as usize,
        };
        let graph = RenderModel::load(&path, &options).map_err(|err| {
            gst::error_msg!(
                gst::LibraryError::Init,
                (
                    "Cannot load the render graph (render={:?}): {}",
                    settings.render,
                    err
                )
            )
        })?;
        if let Some(why) = &graph.fallback {
            if settings.render == Render::Auto {
                gst::element_imp_warning!(
                    self,
                    gst::LibraryError::Settings,
                    (
                        "The render graph cannot run on {}, frames are written on the CPU: {}",
                        provider,
                        why
                    )
                );
                return Ok(());
            }
            gst::element_imp_warning!(
                self,
                gst::LibraryError::Settings,
                (
                    "The render graph runs on the CPU instead of {}: {}",
                    provider,
                    why
                )
            );
        }
        gst::info!(
            CAT,
            imp = self,
            "render={:?}: frames written by {} on {}",
            settings.render,
            path.display(),
            graph.provider
        );
        let mut state = lock(&self.state);
        state.chain.full.graph = Some(graph);
        state.rendering = Render::ExecutionProvider;
        Ok(())
    }

    /// Reports that the render graph failed: the CPU wrote the frame, and writes the rest.
    fn render_graph_failed(&self, err: &inference::InferenceError) {
        lock(&self.state).rendering = Render::Cpu;
        gst::element_imp_warning!(
            self,
            gst::LibraryError::Failed,
            (
                "The render graph failed, frames are written on the CPU from now on: {}",
                err
            )
        );
    }

    /// Starts the overlap's worker when `overlap` asks for it (`auto`: when the models run on
    /// a GPU).
    fn start_overlapping(&self) -> Result<(), gst::ErrorMessage> {
        let setting = lock(&self.settings).overlap;
        let provider = lock(&self.models)
            .as_ref()
            .map_or(inference::CPU_PROVIDER, |loaded| loaded.models.provider);
        let overlapped = match setting {
            Overlap::On => true,
            Overlap::Off => false,
            Overlap::Auto => provider != inference::CPU_PROVIDER,
        };
        gst::info!(
            CAT,
            imp = self,
            "overlap={setting:?} with the models on {provider}: frames {}",
            if overlapped {
                "overlap (a frame's colours are inferred while the one before is written)"
            } else {
                "one after the other"
            }
        );
        if !overlapped {
            return Ok(());
        }
        let (jobs, job_queue) = mpsc::sync_channel::<WorkingJob>(1);
        let (finished, done) = mpsc::sync_channel(1);
        let element = self.obj().downgrade();
        let thread = std::thread::Builder::new()
            .name("exemplar-colorizer".into())
            .spawn(move || {
                for mut job in job_queue {
                    let started = Instant::now();
                    let result = match element.upgrade() {
                        Some(element) => element.imp().colour_job(&mut job),
                        None => Err("the element is gone".to_string()),
                    };
                    let done = WorkingDone {
                        working: job.working,
                        colour: job.colour,
                        result: result.map(|()| started.elapsed()),
                    };
                    if finished.send(done).is_err() {
                        break;
                    }
                }
            })
            .map_err(|err| {
                gst::error_msg!(
                    gst::CoreError::Failed,
                    ("Cannot start the colorizer's thread for overlap: {}", err)
                )
            })?;
        let mut state = lock(&self.state);
        state.overlapped = true;
        state.overlapping = Some(Overlapping {
            jobs: Some(jobs),
            done,
            thread: Some(thread),
            in_flight: None,
            ready: None,
        });
        Ok(())
    }

    /// The worker's part of a frame: the colorizer, the fusion, the temporal smoothing.
    fn colour_job(&self, job: &mut WorkingJob) -> Result<(), String> {
        let weighted = weighted_references(&job.references);
        self.with_models(|m| {
            job.working.colour(
                &mut job.colour,
                &weighted,
                |small, size, reference, with_confidence, out| {
                    m.colorize(small, size, reference, with_confidence, out)
                },
                job.temporal_smoothing,
            )
        })
        .map_err(|_| "the models are not loaded".to_string())?
        .map_err(|err| err.to_string())
    }

    /// `overlap`: colours the queued frame on the worker and writes out the frame before it
    /// meanwhile; a frame that is not coloured is written at once, after the one before it.
    fn generate_overlapped(
        &self,
        overlapping: &mut Overlapping,
    ) -> Result<GenerateOutputSuccess, gst::FlowError> {
        if let Some(ready) = overlapping.ready.take() {
            return Ok(GenerateOutputSuccess::Buffer(ready));
        }
        let Some(input) = self.take_queued_buffer() else {
            return Ok(GenerateOutputSuccess::NoOutput);
        };
        // The worker's scene colours come back first: starting a scene needs them and the models.
        let before = self.collect(overlapping)?;
        let (in_info, out_info) = self.negotiated()?;
        let inframe = gst_video::VideoFrameRef::from_buffer_ref_readable(input.as_ref(), &in_info)
            .map_err(|_| gst::FlowError::Error)?;
        let mut start = self.begin_frame(&inframe)?;
        let mut output = None;
        match start.colouring.take() {
            None => {
                drop(inframe);
                output = Some(self.write_output(
                    &input,
                    &in_info,
                    &out_info,
                    |inframe, outframe| self.leave_as_it_came(&start, inframe, outframe),
                )?);
            }
            Some((mut lightness, scene)) => {
                let (luma, mut chain, references) =
                    self.colouring_of(&inframe, &start, scene, &mut lightness)?;
                let frame = Lightness {
                    data: &lightness,
                    width: luma.width,
                    height: luma.height,
                };
                let started = Instant::now();
                let mut colour = std::mem::take(&mut chain.small);
                colour.size =
                    chain
                        .full
                        .shrink(frame, start.settings.inference_size, &mut colour.lightness);
                let resize = started.elapsed();
                let job = WorkingJob {
                    working: std::mem::take(&mut chain.working),
                    colour,
                    references,
                    temporal_smoothing: start.settings.temporal_smoothing,
                };
                lock(&self.state).chain = chain;
                let sent = overlapping
                    .jobs
                    .as_ref()
                    .is_some_and(|jobs| jobs.send(job).is_ok());
                if !sent {
                    return Err(self.colorizing_failed("the colorizer's thread ended"));
                }
                drop(inframe);
                overlapping.in_flight = Some(InFlight {
                    input,
                    frame: start.frame,
                    lightness,
                    layout: start.layout,
                    luma_map: start.luma_map,
                    convert: start.convert.clone(),
                    resize,
                });
            }
        }
        let Some(before) = before else {
            return Ok(output.map_or(
                GenerateOutputSuccess::NoOutput,
                GenerateOutputSuccess::Buffer,
            ));
        };
        let before = self.render_in_flight(before, &in_info, &out_info)?;
        overlapping.ready = output;
        Ok(GenerateOutputSuccess::Buffer(before))
    }

    /// What overlap adds to the latency: the frame it holds, one frame duration (nothing
    /// without overlap, or with a variable frame rate, which has no frame duration to count).
    fn overlap_latency(&self) -> gst::ClockTime {
        let state = lock(&self.state);
        let fps = state.in_info.as_ref().map(|info| info.fps());
        match fps {
            Some(fps) if state.overlapped && fps.numer() > 0 => gst::ClockTime::SECOND
                .mul_div_ceil(fps.denom() as u64, fps.numer() as u64)
                .unwrap_or(gst::ClockTime::ZERO),
            _ => gst::ClockTime::ZERO,
        }
    }

    fn negotiated(&self) -> Result<(gst_video::VideoInfo, gst_video::VideoInfo), gst::FlowError> {
        let state = lock(&self.state);
        match (&state.in_info, &state.out_info) {
            (Some(in_info), Some(out_info)) => Ok((in_info.clone(), out_info.clone())),
            _ => Err(gst::FlowError::NotNegotiated),
        }
    }

    /// Waits for the worker to finish the in-flight frame, if a frame is in flight; the
    /// scene's colours come back to the chain. Gives the frame with its colours and the
    /// colorizer's time, or why they failed.
    fn wait_for_worker(&self, overlapping: &mut Overlapping) -> Option<(InFlight, Coloured)> {
        let frame = overlapping.in_flight.take()?;
        let coloured = match overlapping.done.recv() {
            Ok(done) => {
                lock(&self.state).chain.working = done.working;
                done.result.map(|colorizer| (done.colour, colorizer))
            }
            Err(_) => Err("the colorizer's thread ended".to_string()),
        };
        Some((frame, coloured))
    }

    /// The in-flight frame with its colours, if a frame is in flight; a failure is an error
    /// on the bus.
    fn collect(
        &self,
        overlapping: &mut Overlapping,
    ) -> Result<Option<(InFlight, WorkingColour, Duration)>, gst::FlowError> {
        let Some((frame, coloured)) = self.wait_for_worker(overlapping) else {
            return Ok(None);
        };
        let (colour, colorizer) = coloured.map_err(|err| self.colorizing_failed(&err))?;
        Ok(Some((frame, colour, colorizer)))
    }

    /// Writes out a frame whose colours the worker inferred; its planes go back to the chain
    /// for the frames to come.
    fn render_in_flight(
        &self,
        (frame, colour, colorizer): (InFlight, WorkingColour, Duration),
        in_info: &gst_video::VideoInfo,
        out_info: &gst_video::VideoInfo,
    ) -> Result<gst::Buffer, gst::FlowError> {
        let mut chain = std::mem::take(&mut lock(&self.state).chain);
        let started = Instant::now();
        let written = self.write_output(&frame.input, in_info, out_info, |inframe, outframe| {
            let luma = luma_plane(inframe)?;
            let mut planes = output_planes(outframe, frame.layout, luma, &frame.luma_map);
            let failure = chain.full.render(
                Lightness {
                    data: &frame.lightness,
                    width: luma.width,
                    height: luma.height,
                },
                &colour,
                Target {
                    layout: frame.layout,
                    convert: &frame.convert,
                    planes: &mut planes,
                },
            );
            if let Some(err) = failure {
                self.render_graph_failed(&err);
            }
            Ok(())
        });
        let render = started.elapsed();
        let (sw, sh) = colour.size;
        {
            let mut state = lock(&self.state);
            chain.small = colour;
            state.chain = chain;
            state.lightness = frame.lightness;
        }
        gst::log!(
            CAT,
            imp = self,
            "frame {}: resize {:.1} ms, colorizer {:.1} ms at {sw}x{sh} (overlapped), upsample \
             and write {:.1} ms",
            frame.frame,
            frame.resize.as_secs_f64() * 1e3,
            colorizer.as_secs_f64() * 1e3,
            render.as_secs_f64() * 1e3
        );
        written
    }

    /// An output buffer for `input`, its metadata copied, its contents written by `write`.
    fn write_output(
        &self,
        input: &gst::Buffer,
        in_info: &gst_video::VideoInfo,
        out_info: &gst_video::VideoInfo,
        write: impl FnOnce(
            &gst_video::VideoFrameRef<&gst::BufferRef>,
            &mut gst_video::VideoFrameRef<&mut gst::BufferRef>,
        ) -> Result<(), gst::FlowError>,
    ) -> Result<gst::Buffer, gst::FlowError> {
        let PrepareOutputBufferSuccess::Buffer(mut output) =
            self.parent_prepare_output_buffer(InputBuffer::Readable(input.as_ref()))?
        else {
            // Never in place: the output differs from the input in format.
            return Err(gst::FlowError::Error);
        };
        {
            let inframe =
                gst_video::VideoFrameRef::from_buffer_ref_readable(input.as_ref(), in_info)
                    .map_err(|_| gst::FlowError::Error)?;
            let outbuf = output.get_mut().ok_or(gst::FlowError::Error)?;
            let mut outframe = gst_video::VideoFrameRef::from_buffer_ref_writable(outbuf, out_info)
                .map_err(|_| gst::FlowError::Error)?;
            write(&inframe, &mut outframe)?;
        }
        Ok(output)
    }

    /// Pushes the frames the overlap holds, in order, before what comes after them (an event,
    /// the end of the stream, a drain).
    fn drain_overlapped(&self) -> Result<(), gst::FlowError> {
        let Some(mut overlapping) = lock(&self.state).overlapping.take() else {
            return Ok(());
        };
        let held = (|| {
            let before = match self.collect(&mut overlapping)? {
                Some(before) => {
                    let (in_info, out_info) = self.negotiated()?;
                    Some(self.render_in_flight(before, &in_info, &out_info)?)
                }
                None => None,
            };
            Ok(before.into_iter().chain(overlapping.ready.take()))
        })();
        lock(&self.state).overlapping = Some(overlapping);
        for buffer in held? {
            self.obj().src_pad().push(buffer)?;
        }
        Ok(())
    }

    /// Drops the frames the overlap holds (a flush), once the worker is done with its frame.
    fn discard_overlapped(&self) {
        let Some(mut overlapping) = lock(&self.state).overlapping.take() else {
            return;
        };
        overlapping.ready = None;
        // What the frame came to does not matter any more, nor whether it failed.
        let _ = self.wait_for_worker(&mut overlapping);
        lock(&self.state).overlapping = Some(overlapping);
    }

    /// Decides, as a frame arrives, what it needs: the settings it is coloured with (taken
    /// once: a property changed meanwhile applies from the next frame), whether it starts a
    /// scene, and whether it is coloured or leaves as it came.
    fn begin_frame(
        &self,
        inframe: &gst_video::VideoFrameRef<&gst::BufferRef>,
    ) -> Result<FrameStart, gst::FlowError> {
        let input_chroma = chroma_components(inframe);
        let (colour_input, colour_threshold, settings, mode) = {
            let settings = lock(&self.settings);
            (
                settings.colour_input,
                settings.colour_threshold,
                ChainSettings {
                    inference_size: settings.inference_size as usize,
                    temporal_smoothing: settings.temporal_smoothing,
                },
                settings.mode,
            )
        };
        let pts = inframe.buffer().pts();
        let spread = input_chroma.map(|(cb, cr)| colour_input::chroma_spread(cb, cr));
        let has_colour = spread.is_some_and(|spread| spread >= colour_threshold);
        let (start, first_colour) = {
            let mut state = lock(&self.state);
            let convert = state.convert.clone().ok_or(gst::FlowError::NotNegotiated)?;
            let (pending, planned) = match state.followed.clone() {
                Some(plan) => {
                    let Some(index) = pts.and_then(|pts| plan.scene_at(pts.nseconds())) else {
                        drop(state);
                        return Err(self.frame_outside_plan(pts));
                    };
                    let restart = state.pending_scene.take().is_some();
                    if restart || state.planned_scene != Some(index) {
                        state.planned_scene = Some(index);
                        let planned = plan.scenes[index].clone();
                        (Some(planned.scene), Some(planned))
                    } else {
                        (None, None)
                    }
                }
                None => (state.pending_scene.take(), None),
            };
            if let (Some(scene), Mode::Plan) = (pending, mode) {
                let Some(pts) = pts else {
                    drop(state);
                    gst::element_imp_error!(
                        self,
                        gst::StreamError::Format,
                        ("mode=plan needs timestamped frames: scene {} starts at a frame without one", scene)
                    );
                    return Err(gst::FlowError::Error);
                };
                let frame = state.frame();
                state.planned.push(PlannedScene {
                    scene,
                    frame,
                    pts: pts.nseconds(),
                    references: None,
                });
            }
            if pending.is_some() {
                state.scene_in_colour = false;
            }
            state.scene_in_colour |= has_colour;
            let first_colour = (has_colour && !std::mem::replace(&mut state.colour_reported, true))
                .then(|| (state.frame(), pending.unwrap_or(state.scene)));
            let passed_through = colour_input == ColourInput::PassThrough
                && state.scene_in_colour
                && input_chroma.is_some()
                && state.input_colorimetry.is_some();
            // What colouring the frame works with, taken out for the time it takes so that no
            // lock is held meanwhile; a new scene's chain and references come after its start.
            let colouring = (!passed_through && mode == Mode::Colorize).then(|| {
                let lightness = std::mem::take(&mut state.lightness);
                let scene = match pending {
                    Some(scene) => FrameScene::Starts(scene),
                    None => FrameScene::Continues(
                        std::mem::take(&mut state.chain),
                        state.current.clone(),
                    ),
                };
                (lightness, scene)
            });
            let start = FrameStart {
                pts,
                frame: state.frame(),
                table: state.lightness_table,
                pending,
                planned,
                layout: state.layout,
                luma_map: state.luma_map,
                convert,
                input_colorimetry: state.input_colorimetry,
                passed_through,
                spread,
                settings,
                colouring,
            };
            (start, first_colour)
        };
        if let Some((frame, scene)) = first_colour {
            self.report_colour_input(
                frame,
                scene,
                spread.unwrap_or_default(),
                colour_input,
                colour_threshold,
            );
        }
        Ok(start)
    }

    /// Writes a frame that is not coloured as it came (its own colour, or none), after
    /// starting the scene it starts.
    fn leave_as_it_came(
        &self,
        start: &FrameStart,
        inframe: &gst_video::VideoFrameRef<&gst::BufferRef>,
        outframe: &mut gst_video::VideoFrameRef<&mut gst::BufferRef>,
    ) -> Result<(), gst::FlowError> {
        let luma = luma_plane(inframe)?;
        match start.pending {
            Some(scene) if start.passed_through => {
                // A scene that starts in colour needs no reference.
                let mut state = lock(&self.state);
                state.scene = scene;
                state.chain.start_scene();
                gst::debug!(
                    CAT,
                    imp = self,
                    "scene {scene} starts in colour (chroma spread {:.1}): passed through",
                    start.spread.unwrap_or_default()
                );
            }
            Some(scene) => {
                let mut lightness = Vec::new();
                render::lightness_plane(luma, &start.table, &mut lightness);
                let current = self.start_scene(
                    scene,
                    start.pts,
                    &lightness,
                    (luma.width, luma.height),
                    None,
                )?;
                if let Some(planned) = lock(&self.state).planned.last_mut() {
                    planned.references = Some(
                        current
                            .iter()
                            .map(|r| PlannedReference {
                                path: r.path.clone(),
                                similarity: r.similarity,
                            })
                            .collect(),
                    );
                }
            }
            None => {}
        }
        let mut out = output_planes(outframe, start.layout, luma, &start.luma_map);
        match (chroma_components(inframe), start.input_colorimetry) {
            (Some((cb, cr)), Some(colorimetry)) => {
                colour_input::write_input_colour(start.layout, luma, cb, cr, colorimetry, &mut out)
            }
            _ => render::write_grey(start.layout, luma, &start.table, &start.convert, &mut out),
        }
        Ok(())
    }

    /// What a frame to colour works with: its luma, its lightness (into `lightness`), and the
    /// chain and references of its scene, started here when the frame starts it.
    fn colouring_of<'a>(
        &self,
        inframe: &'a gst_video::VideoFrameRef<&gst::BufferRef>,
        start: &FrameStart,
        scene: FrameScene,
        lightness: &mut Vec<f32>,
    ) -> Result<(Plane<'a>, FrameChain, Arc<[SceneReference]>), gst::FlowError> {
        let luma = luma_plane(inframe)?;
        render::lightness_plane(luma, &start.table, lightness);
        let (chain, references) = match scene {
            FrameScene::Continues(chain, references) => (chain, references),
            FrameScene::Starts(scene) => {
                let references = self.start_scene(
                    scene,
                    start.pts,
                    lightness,
                    (luma.width, luma.height),
                    start.planned.as_ref(),
                )?;
                (std::mem::take(&mut lock(&self.state).chain), references)
            }
        };
        Ok((luma, chain, references))
    }

    fn colorizing_failed(&self, err: &str) -> gst::FlowError {
        gst::element_imp_error!(
            self,
            gst::LibraryError::Failed,
            ("Colorizing failed: {}", err)
        );
        gst::FlowError::Error
    }

    /// At a scene's first frame: picks (or takes from the followed plan) and encodes its
    /// references, announces them.
    fn start_scene(
        &self,
        scene: u32,
        pts: Option<gst::ClockTime>,
        lightness: &[f32],
        (width, height): (usize, usize),
        planned: Option<&PlannedScene>,
    ) -> Result<Arc<[SceneReference]>, gst::FlowError> {
        let Choice {
            references,
            reused_from,
            ranked,
            confident,
            ..
        } = match planned {
            Some(planned) => self.planned_choice(planned),
            None => self.choose_references(scene, lightness, width, height)?,
        };
        let current: Option<Arc<[SceneReference]>> = match references {
            Some(references) => self
                .encode_references(scene, references, &ranked)?
                .map(Into::into),
            None => None,
        };
        // Keeping the previous scene's references (`below-min-score=keep`, or no chosen photo
        // could be read).
        let current = current.unwrap_or_else(|| lock(&self.state).current.clone());
        let paths: Vec<PathBuf> = current.iter().map(|r| r.path.clone()).collect();
        let (frame, changed) = {
            let mut state = lock(&self.state);
            let changed = state.current.len() != current.len()
                || state
                    .current
                    .iter()
                    .zip(current.iter())
                    .any(|(a, b)| a.path != b.path)
                || scene == 0;
            state.current = current.clone();
            state.chain.start_scene();
            state.scene = scene;
            (state.frame(), changed)
        };
        let segment = self.obj().segment();
        let segment = segment.downcast_ref::<gst::ClockTime>();
        let running_time = pts.and_then(|pts| segment?.to_running_time(pts));
        let stream_time = pts.and_then(|pts| segment?.to_stream_time(pts));
        let paths: Vec<String> = paths
            .iter()
            .map(|path| path.to_string_lossy().into_owned())
            .collect();
        // A fixed reference has similarity 1: distance 0.
        let distance = current
            .first()
            .map_or(0.0, |r| index::distance(r.similarity) as f64);
        let score = ranked.first().map_or(0.0, |best| best.score as f64);
        let runner_up = ranked.get(1);
        let message = ReferenceChanged {
            scene,
            frame,
            pts,
            running_time,
            stream_time,
            reference: paths.first().cloned().unwrap_or_default(),
            distance,
            reused_from,
            references: paths,
            score,
            runner_up: runner_up.map(|second| second.path.to_string_lossy().into_owned()),
            margin: runner_up.map_or(0.0, |second| score - second.score as f64),
            candidates: ranked
                .iter()
                .take(REPORTED_CANDIDATES)
                .map(|c| (c.path.to_string_lossy().into_owned(), c.score as f64))
                .collect(),
            confident,
            changed,
        };
        gst::info!(
            CAT,
            imp = self,
            "scene {scene} from frame {frame}: reference {} (score {score:.4}, margin {:.4}, \
             distance {distance:.4}){}",
            if message.reference.is_empty() {
                "none (grey)"
            } else {
                &message.reference
            },
            message.margin,
            match message.references.get(1..) {
                Some(others) if !others.is_empty() => format!(", with {}", others.join(", ")),
                _ => String::new(),
            }
        );
        let _ = self.obj().post_message(
            gst::message::Element::builder(message.to_structure())
                .src(&*self.obj())
                .build(),
        );
        Ok(current)
    }
}

#[glib::object_subclass]
impl ObjectSubclass for ExemplarColorize {
    const NAME: &'static str = "GstExemplarColorize";
    type Type = super::ExemplarColorize;
    type ParentType = gst_video::VideoFilter;
}

impl ObjectImpl for ExemplarColorize {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            let path = |name: &'static str, nick: &'static str, blurb: &'static str| {
                glib::ParamSpecString::builder(name)
                    .nick(nick)
                    .blurb(blurb)
                    .mutable_ready()
                    .build()
            };
            vec![
                path(
                    "refs",
                    "Reference folder",
                    "Folder of colour photos (JPEG, PNG, WebP, TIFF; searched recursively, each folder once). At start every \
                     photo's embedding is indexed; at each scene change the nearest photo colours the scene",
                ),
                path(
                    "reference",
                    "Reference photo",
                    "One colour photo that colours every scene, bypassing retrieval (overrides refs)",
                ),
                path(
                    "index-location",
                    "Index location",
                    "File of the persistent retrieval index (default: a file named after the refs folder \
                     in the per-user cache folder, $XDG_CACHE_HOME or ~/.cache, under gst-exemplar/indexes; \
                     missing folders are created)",
                ),
                path(
                    "encoder-model",
                    "Encoder model",
                    "ONNX encoder (models/README.md); default: encoder.onnx from EXEMPLAR_MODEL_DIR, \
                     the installed data folder, or the source tree's generated/models",
                ),
                path(
                    "colorizer-model",
                    "Colorizer model",
                    "ONNX per-frame colorizer (models/README.md); default: colorizer.onnx beside the default encoder",
                ),
                path(
                    "colorizer-reference-model",
                    "Colorizer reference model",
                    "ONNX graph that encodes a reference once per scene; default: colorizer_reference.onnx \
                     beside the colorizer model",
                ),
                glib::ParamSpecEnum::builder_with_default("execution-provider", ExecutionProvider::Auto)
                    .nick("Execution provider")
                    .blurb(
                        "ONNX Runtime execution provider; an unavailable GPU provider falls back to CPU \
                         with a warning unless strict-provider is set",
                    )
                    .mutable_ready()
                    .build(),
                glib::ParamSpecInt::builder("device-id")
                    .nick("Device ID")
                    .blurb("GPU to run on with the cuda and tensorrt providers")
                    .minimum(0)
                    .maximum(64)
                    .default_value(DEFAULT_DEVICE_ID)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecBoolean::builder("strict-provider")
                    .nick("Strict provider")
                    .blurb("Fail instead of falling back to CPU when the requested GPU provider is unavailable")
                    .default_value(false)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt::builder("inference-size")
                    .nick("Inference size")
                    .blurb(
                        "Short side in pixels at which the colorizer runs; its chroma is upsampled to the \
                         frame guided by the frame's own luma. Larger is sharper and slower",
                    )
                    .minimum(64)
                    .maximum(2048)
                    .default_value(DEFAULT_INFERENCE_SIZE)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt::builder("threads")
                    .nick("Threads")
                    .blurb("ONNX Runtime intra-op threads (0 = one per core)")
                    .maximum(256)
                    .default_value(DEFAULT_THREADS)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecDouble::builder("temporal-smoothing")
                    .nick("Temporal smoothing")
                    .blurb(
                        "Weight (at most 0.5) of the previous frame's colours where the picture has \
                         not changed, so colours hold steady within a scene; the reference-driven \
                         prediction always weighs more, so errors cannot build up. 0 = off. \
                         Changeable while playing",
                    )
                    .minimum(0.0)
                    .maximum(temporal::MAX_STRENGTH)
                    .default_value(DEFAULT_TEMPORAL_SMOOTHING)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecBoolean::builder("scene-memory")
                    .nick("Scene memory")
                    .blurb(
                        "When a new scene looks like an earlier scene of the stream (a reverse shot, \
                         a return to a place), give it that scene's reference again so the same \
                         things keep their colours; reference-changed then says reused. \
                         Changeable while playing",
                    )
                    .default_value(DEFAULT_SCENE_MEMORY)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecDouble::builder("scene-memory-threshold")
                    .nick("Scene memory threshold")
                    .blurb(
                        "Cosine similarity of two scenes' first-frame embeddings from which they \
                         count as the same place. Changeable while playing",
                    )
                    .minimum(-1.0)
                    .maximum(1.0)
                    .default_value(DEFAULT_SCENE_MEMORY_THRESHOLD)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt::builder("top-k")
                    .nick("References per scene")
                    .blurb(
                        "How many of the nearest photos colour each scene. With more than one, every \
                         pixel takes its colours from the photos it matches best, weighed by how \
                         well each photo matches the whole frame, so a frame showing two subjects \
                         can take each from its own photo; each extra photo costs one more \
                         colorizer run per frame, and with more than one every run also \
                         computes the per-pixel match (about a sixth more on CPU). Changeable \
                         while playing, from the next scene",
                    )
                    .minimum(1)
                    .maximum(MAX_TOP_K)
                    .default_value(DEFAULT_TOP_K)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt::builder("candidates")
                    .nick("Candidates")
                    .blurb(
                        "Retrieval in two stages: the photos whose global embeddings are nearest \
                         the scene's first frame make a shortlist this long, then each is scored by \
                         how well its local descriptors match the frame's, everywhere in the frame, \
                         and the best wins. 1 = global embedding only. Changeable while playing, \
                         from the next scene",
                    )
                    .minimum(1)
                    .maximum(MAX_CANDIDATES)
                    .default_value(DEFAULT_CANDIDATES)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecDouble::builder("min-score")
                    .nick("Minimum score")
                    .blurb(
                        "A scene whose best candidate scores below this (the `score` of \
                         reference-changed) is not coloured from it: below-min-score decides \
                         instead, and a warning names the scene. 0 = always take the best. \
                         Changeable while playing",
                    )
                    .minimum(0.0)
                    .maximum(2.0)
                    .default_value(DEFAULT_MIN_SCORE)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecEnum::builder_with_default("below-min-score", BelowMinScore::Keep)
                    .nick("Below minimum score")
                    .blurb("What a scene gets when its best candidate scores below min-score. \
                            Changeable while playing")
                    .mutable_playing()
                    .build(),
                path(
                    "fallback-reference",
                    "Fallback reference",
                    "Colour photo for scenes whose best candidate scores below min-score, with \
                     below-min-score=fallback",
                ),
                glib::ParamSpecEnum::builder_with_default(
                    "colour-input",
                    ColourInput::PassThrough,
                )
                .nick("Colour input")
                .blurb(
                    "What scenes that already have colour get (a frame whose chroma spreads \
                     more than colour-threshold): pass-through leaves them as they came, from \
                     that frame to the end of its scene, with no reference chosen when the \
                     scene starts in colour; colorize replaces their colour like a grey \
                     scene's. Either way the stream's first colour frame is reported once as a \
                     warning. Changeable while playing",
                )
                .mutable_playing()
                .build(),
                glib::ParamSpecDouble::builder("colour-threshold")
                    .nick("Colour threshold")
                    .blurb(
                        "Chroma spread (root-mean-square distance of Cb, Cr from the frame's \
                         mean, in 8-bit code values) from which a frame has colour. Grey film \
                         decodes to 0 and film toned sepia or blue stays near 0 (its tint is \
                         the same all over); raise it for captures with chroma noise. \
                         Changeable while playing",
                    )
                    .minimum(0.0)
                    .maximum(128.0)
                    .default_value(DEFAULT_COLOUR_THRESHOLD)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecEnum::builder_with_default("mode", Mode::Colorize)
                    .nick("Mode")
                    .blurb(
                        "colorize colours every frame; plan only chooses each scene's \
                         references (scene memory, top-k, min-score and all) and writes them \
                         to plan-location at the end of the stream, frames leaving uncoloured: \
                         the fast first pass of a film coloured in parts (batch/colorize_batch.py)",
                    )
                    .mutable_ready()
                    .build(),
                path(
                    "plan-location",
                    "Scene plan",
                    "JSON scene plan: where mode=plan writes it, and what mode=colorize follows \
                     when it is set: scenes start at the frames it names (by timestamp) with \
                     the references it names, scene-change events and refs are not used, and \
                     any range of whole scenes is coloured as a pass over the whole film \
                     colours it",
                ),
                glib::ParamSpecEnum::builder_with_default("overlap", Overlap::Auto)
                    .nick("Overlap")
                    .blurb(
                        "Infer each frame's colours on a thread of the element's own while the \
                         frame before it is written out: the model's time and the full-size \
                         work's then overlap instead of adding up, for one frame more of latency \
                         (added to the LATENCY query). Frames keep their order; an event waits \
                         for the frame before it. Takes effect at the next start",
                    )
                    .mutable_ready()
                    .build(),
                glib::ParamSpecEnum::builder_with_default("render", Render::Auto)
                    .nick("Render on")
                    .blurb(
                        "Where each frame's full-size work runs, the guided upsampling of its \
                         chroma and the writing of its colour planes: the CPU's cores, or the \
                         render.onnx graph of the models folder on the models' execution \
                         provider, which then takes the frame's lightness and gives back its \
                         Cb, Cr planes. Both write the same colours (within one code value). \
                         Takes effect at the next start",
                    )
                    .mutable_ready()
                    .build(),
                glib::ParamSpecEnum::builder_with_default("active-render", Render::Cpu)
                    .nick("Active render")
                    .blurb(
                        "Whether the render graph writes the frames now: execution-provider \
                         while it is loaded for the frames it takes (YUV output whose chroma \
                         grid is at least the working size), cpu when the element's own code \
                         writes them all (what render chose at start; cpu again if the graph \
                         failed)",
                    )
                    .read_only()
                    .build(),
                glib::ParamSpecUInt::builder("processing-latency")
                    .nick("Processing latency")
                    .blurb(
                        "Milliseconds added to the LATENCY query for inference, so live pipelines \
                         leave the element time to work; raise it on slow machines or with a large \
                         inference-size. Changeable while playing",
                    )
                    .maximum(60_000)
                    .default_value(DEFAULT_PROCESSING_LATENCY_MS)
                    .mutable_playing()
                    .build(),
            ]
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut settings = lock(&self.settings);
        let string = || value.get::<Option<String>>().unwrap_or_default();
        match pspec.name() {
            "refs" => settings.refs = string(),
            "reference" => settings.reference = string(),
            "index-location" => settings.index_location = string(),
            "encoder-model" => settings.models.encoder_model = string(),
            "colorizer-model" => settings.models.colorizer_model = string(),
            "colorizer-reference-model" => settings.models.colorizer_reference_model = string(),
            "execution-provider" => {
                settings.models.execution_provider = value.get().unwrap_or(ExecutionProvider::Auto)
            }
            "device-id" => settings.models.device_id = value.get().unwrap_or(DEFAULT_DEVICE_ID),
            "strict-provider" => settings.models.strict_provider = value.get().unwrap_or(false),
            "inference-size" => {
                settings.inference_size = value.get().unwrap_or(DEFAULT_INFERENCE_SIZE)
            }
            "threads" => settings.models.threads = value.get().unwrap_or(DEFAULT_THREADS),
            "temporal-smoothing" => {
                settings.temporal_smoothing = value.get().unwrap_or(DEFAULT_TEMPORAL_SMOOTHING)
            }
            "scene-memory" => settings.scene_memory = value.get().unwrap_or(DEFAULT_SCENE_MEMORY),
            "top-k" => settings.top_k = value.get().unwrap_or(DEFAULT_TOP_K),
            "candidates" => settings.candidates = value.get().unwrap_or(DEFAULT_CANDIDATES),
            "min-score" => settings.min_score = value.get().unwrap_or(DEFAULT_MIN_SCORE),
            "below-min-score" => {
                settings.below_min_score = value.get().unwrap_or(BelowMinScore::Keep)
            }
            "fallback-reference" => settings.fallback_reference = string(),
            "mode" => settings.mode = value.get().unwrap_or(Mode::Colorize),
            "overlap" => settings.overlap = value.get().unwrap_or(Overlap::Auto),
            "render" => settings.render = value.get().unwrap_or(Render::Auto),
            "plan-location" => settings.plan_location = string(),
            "colour-input" => {
                settings.colour_input = value.get().unwrap_or(ColourInput::PassThrough)
            }
            "colour-threshold" => {
                settings.colour_threshold = value.get().unwrap_or(DEFAULT_COLOUR_THRESHOLD)
            }
            "scene-memory-threshold" => {
                settings.scene_memory_threshold =
                    value.get().unwrap_or(DEFAULT_SCENE_MEMORY_THRESHOLD)
            }
            "processing-latency" => {
                settings.processing_latency_ms =
                    value.get().unwrap_or(DEFAULT_PROCESSING_LATENCY_MS);
                drop(settings);
                let _ = self
                    .obj()
                    .post_message(gst::message::Latency::builder().src(&*self.obj()).build());
            }
            other => gst::warning!(CAT, imp = self, "no writable property {other}"),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        // Stream state, read without the settings' lock held.
        if pspec.name() == "active-render" {
            return lock(&self.state).rendering.to_value();
        }
        let settings = lock(&self.settings);
        match pspec.name() {
            "refs" => settings.refs.to_value(),
            "reference" => settings.reference.to_value(),
            "index-location" => settings.index_location.to_value(),
            "encoder-model" => settings.models.encoder_model.to_value(),
            "colorizer-model" => settings.models.colorizer_model.to_value(),
            "colorizer-reference-model" => settings.models.colorizer_reference_model.to_value(),
            "execution-provider" => settings.models.execution_provider.to_value(),
            "device-id" => settings.models.device_id.to_value(),
            "strict-provider" => settings.models.strict_provider.to_value(),
            "inference-size" => settings.inference_size.to_value(),
            "threads" => settings.models.threads.to_value(),
            "processing-latency" => settings.processing_latency_ms.to_value(),
            "temporal-smoothing" => settings.temporal_smoothing.to_value(),
            "scene-memory" => settings.scene_memory.to_value(),
            "top-k" => settings.top_k.to_value(),
            "candidates" => settings.candidates.to_value(),
            "min-score" => settings.min_score.to_value(),
            "below-min-score" => settings.below_min_score.to_value(),
            "fallback-reference" => settings.fallback_reference.to_value(),
            "mode" => settings.mode.to_value(),
            "overlap" => settings.overlap.to_value(),
            "render" => settings.render.to_value(),
            "plan-location" => settings.plan_location.to_value(),
            "colour-input" => settings.colour_input.to_value(),
            "colour-threshold" => settings.colour_threshold.to_value(),
            "scene-memory-threshold" => settings.scene_memory_threshold.to_value(),
            _ => pspec.default_value().clone(),
        }
    }
}

impl GstObjectImpl for ExemplarColorize {}

impl ElementImpl for ExemplarColorize {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static METADATA: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "Exemplar colorizer",
                "Filter/Effect/Video",
                "Colorizes black-and-white video from the nearest photo of a reference library, chosen \
                 again at every scene-change event; keeps the original luma",
                "gst-exemplar developers",
            )
        });
        Some(&*METADATA)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static PAD_TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            let sink = gst_video::VideoCapsBuilder::new()
                .format_list(SINK_FORMATS.iter().copied())
                .build();
            let src = gst_video::VideoCapsBuilder::new()
                .format_list(SRC_YUV_FORMATS.iter().chain(SRC_RGB_FORMATS).copied())
                .build();
            vec![
                gst::PadTemplate::new(
                    "src",
                    gst::PadDirection::Src,
                    gst::PadPresence::Always,
                    &src,
                )
                .expect("src template"),
                gst::PadTemplate::new(
                    "sink",
                    gst::PadDirection::Sink,
                    gst::PadPresence::Always,
                    &sink,
                )
                .expect("sink template"),
            ]
        });
        PAD_TEMPLATES.as_ref()
    }

    fn change_state(
        &self,
        transition: gst::StateChange,
    ) -> Result<gst::StateChangeSuccess, gst::StateChangeError> {
        if transition == gst::StateChange::NullToReady {
            if let Err(err) = self.load_models() {
                self.post_error_message(err);
                return Err(gst::StateChangeError);
            }
        }
        if transition == gst::StateChange::PausedToReady {
            // Before the pads deactivate: a frame waiting for the index holds the stream lock.
            self.interrupt_waits(true);
        }
        let result = self.parent_change_state(transition)?;
        if transition == gst::StateChange::ReadyToNull {
            *lock(&self.models) = None;
        }
        Ok(result)
    }
}

impl BaseTransformImpl for ExemplarColorize {
    const MODE: gst_base::subclass::BaseTransformMode =
        gst_base::subclass::BaseTransformMode::NeverInPlace;
    const PASSTHROUGH_ON_SAME_CAPS: bool = false;
    const TRANSFORM_IP_ON_PASSTHROUGH: bool = false;

    fn start(&self) -> Result<(), gst::ErrorMessage> {
        *lock(&self.state) = State::default();
        self.interrupt_waits(false);
        // Model properties changed in READY take effect here.
        self.load_models()?;
        self.load_render_graph()?;
        self.start_overlapping()?;
        if self.prepare_plan()? {
            return Ok(());
        }
        self.prepare_references()
    }

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        self.stop_indexing();
        // Its thread is joined outside the lock.
        let overlapping = lock(&self.state).overlapping.take();
        drop(overlapping);
        *lock(&self.state) = State::default();
        Ok(())
    }

    /// Counts every input buffer before QoS may drop it, so frame numbers match `scenecut`'s
    /// and a scene whose first frame was dropped starts at the next frame that is processed.
    fn submit_input_buffer(
        &self,
        is_discont: bool,
        inbuf: gst::Buffer,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        lock(&self.state).received += 1;
        self.parent_submit_input_buffer(is_discont, inbuf)
    }

    fn generate_output(&self) -> Result<GenerateOutputSuccess, gst::FlowError> {
        let Some(mut overlapping) = lock(&self.state).overlapping.take() else {
            return self.parent_generate_output();
        };
        let generated = self.generate_overlapped(&mut overlapping);
        lock(&self.state).overlapping = Some(overlapping);
        generated
    }

    fn transform_caps(
        &self,
        direction: gst::PadDirection,
        caps: &gst::Caps,
        filter: Option<&gst::Caps>,
    ) -> Option<gst::Caps> {
        let mut out = gst::Caps::new_empty();
        {
            let out = out.get_mut().expect("new caps are writable");
            for s in caps.iter() {
                let mut base = s.to_owned();
                base.remove_fields(["format", "colorimetry", "chroma-site"]);
                if direction == gst::PadDirection::Sink {
                    // YUV out keeps the input's colorimetry so the luma plane can be copied as is.
                    let mut yuv = s.to_owned();
                    yuv.remove_field("chroma-site");
                    // Grey carries no YUV colorimetry; GStreamer's grey is full range, so the
                    // YUV output says so and the luma still passes unchanged.
                    if s.get::<&str>("format").ok() == Some("GRAY8") && !s.has_field("colorimetry")
                    {
                        let full_range = gst_video::VideoColorimetry::new(
                            gst_video::VideoColorRange::Range0_255,
                            gst_video::VideoColorMatrix::Bt601,
                            gst_video::VideoTransferFunction::Bt709,
                            gst_video::VideoColorPrimaries::Bt709,
                        );
                        yuv.set("colorimetry", full_range.to_string());
                    }
                    yuv.set("format", format_list(SRC_YUV_FORMATS));
                    out.append_structure(yuv);
                    let mut rgb = base;
                    rgb.set("format", format_list(SRC_RGB_FORMATS));
                    out.append_structure(rgb);
                } else {
                    let mut sink = base;
                    sink.set("format", format_list(SINK_FORMATS));
                    out.append_structure(sink);
                }
            }
        }
        gst::debug!(
            CAT,
            imp = self,
            "transformed {caps} ({direction:?}) to {out}"
        );
        Some(match filter {
            Some(filter) => filter.intersect_with_mode(&out, gst::CapsIntersectMode::First),
            None => out,
        })
    }

    fn query(&self, direction: gst::PadDirection, query: &mut gst::QueryRef) -> bool {
        if direction == gst::PadDirection::Sink {
            match query.view_mut() {
                gst::QueryViewMut::AcceptCaps(q) => self.explain_unsupported_input(&q.caps_owned()),
                // Upstream wants its buffers back (a new allocation, a decoder's drain).
                gst::QueryViewMut::Drain(_) => {
                    if let Err(err) = self.drain_overlapped() {
                        gst::debug!(CAT, imp = self, "drain: {err:?}");
                    }
                }
                _ => {}
            }
        }
        if direction == gst::PadDirection::Src {
            if let gst::QueryViewMut::Latency(q) = query.view_mut() {
                let mut upstream = gst::query::Latency::new();
                if !self.obj().sink_pad().peer_query(&mut upstream) {
                    return false;
                }
                let (live, min, max) = upstream.result();
                let processing = gst::ClockTime::from_mseconds(
                    lock(&self.settings).processing_latency_ms as u64,
                );
                let held = self.overlap_latency();
                let ours = processing + held;
                gst::debug!(
                    CAT,
                    imp = self,
                    "upstream latency {min}, adding {processing} for inference and {held} for \
                     the frame overlap holds"
                );
                q.set(live, min + ours, max.map(|max| max + ours));
                return true;
            }
        }
        BaseTransformImplExt::parent_query(self, direction, query)
    }

    /// Among the formats downstream accepts, ours come in our order: I420 first keeps an
    /// encoder downstream on widely playable 4:2:0 (x264enc prefers 4:4:4, which many players
    /// refuse), and an explicit request for another format still gets it.
    fn fixate_caps(
        &self,
        direction: gst::PadDirection,
        caps: &gst::Caps,
        othercaps: gst::Caps,
    ) -> gst::Caps {
        if direction == gst::PadDirection::Sink {
            for format in SRC_YUV_FORMATS.iter().chain(SRC_RGB_FORMATS) {
                let only = gst::Caps::builder("video/x-raw")
                    .field("format", format.to_str())
                    .build();
                let preferred = othercaps.intersect_with_mode(&only, gst::CapsIntersectMode::First);
                if !preferred.is_empty() {
                    return self.parent_fixate_caps(direction, caps, preferred);
                }
            }
        }
        self.parent_fixate_caps(direction, caps, othercaps)
    }

    fn sink_event(&self, event: gst::Event) -> bool {
        // An event comes after the frames before it, also those the overlap holds.
        if event.is_serialized() && event.type_() != gst::EventType::FlushStop {
            if let Err(err) = self.drain_overlapped() {
                gst::debug!(CAT, imp = self, "{:?} before {:?}", err, event.type_());
            }
        }
        match event.view() {
            gst::EventView::CustomDownstream(_) => {
                if let Some(change) = SceneChange::from_event(&event) {
                    let mut state = lock(&self.state);
                    if state.followed.is_some() {
                        gst::debug!(
                            CAT,
                            imp = self,
                            "scene-change {} left to the followed plan",
                            change.scene
                        );
                    } else {
                        gst::debug!(
                            CAT,
                            imp = self,
                            "scene {} starts at the next frame",
                            change.scene
                        );
                        state.pending_scene = Some(change.scene);
                    }
                }
            }
            gst::EventView::FlushStart(_) => self.interrupt_waits(true),
            gst::EventView::FlushStop(_) => {
                self.discard_overlapped();
                self.interrupt_waits(false);
                let mut state = lock(&self.state);
                state.received = 0;
                state.pending_scene = Some(0);
                state.chooser.forget();
                state.planned.clear();
            }
            gst::EventView::Eos(_) => self.write_plan(),
            _ => {}
        }
        self.parent_sink_event(event)
    }
}

impl VideoFilterImpl for ExemplarColorize {
    fn set_info(
        &self,
        incaps: &gst::Caps,
        in_info: &gst_video::VideoInfo,
        outcaps: &gst::Caps,
        out_info: &gst_video::VideoInfo,
    ) -> Result<(), gst::LoggableError> {
        if in_info.interlace_mode() != gst_video::VideoInterlaceMode::Progressive {
            // Both fields of a moving picture in one frame comb at every edge that moves, and
            // the colours would follow the combs. Said once: negotiation is retried per buffer.
            if std::mem::replace(&mut lock(&self.state).unsupported_reported, true) {
                return Err(gst::loggable_error!(CAT, "interlaced input"));
            }
            gst::element_imp_error!(
                self,
                gst::StreamError::Format,
                (
                    "exemplarcolorize takes progressive video; this stream is interlaced \
                     (interlace-mode={}). Deinterlace first: … ! deinterlace ! scenecut ! \
                     exemplarcolorize …",
                    in_info.interlace_mode().to_str()
                )
            );
            return Err(gst::loggable_error!(CAT, "interlaced input"));
        }
        let layout = output_layout(out_info.format()).ok_or_else(|| {
            gst::loggable_error!(CAT, "unsupported output format {}", out_info.format())
        })?;
        let input = colorimetry(in_info);
        let output = colorimetry(out_info);
        gst::info!(
            CAT,
            imp = self,
            "{incaps} -> {outcaps}: input {input:?}, output {output:?}"
        );
        let mut state = lock(&self.state);
        let changed = state.in_info.as_ref().is_some_and(|i| i != in_info);
        state.lightness_table = input.lightness_table();
        // Same range: identity, so the luma plane is copied bit-exactly.
        state.luma_map = std::array::from_fn(|code| match (input.range, output.range) {
            (color::Range::Limited, color::Range::Full) => ((code as f32 - 16.0) * 255.0 / 219.0)
                .round()
                .clamp(0.0, 255.0) as u8,
            (color::Range::Full, color::Range::Limited) => {
                (16.0 + code as f32 * 219.0 / 255.0).round() as u8
            }
            _ => code as u8,
        });
        state.convert = Some(Arc::new(LabToVideo::new(output)));
        state.input_colorimetry = Some(input);
        state.layout = layout;
        state.in_info = Some(in_info.clone());
        state.out_info = Some(out_info.clone());
        if changed {
            state.pending_scene = Some(state.scene.wrapping_add(1));
        }
        Ok(())
    }

    fn transform_frame(
        &self,
        inframe: &gst_video::VideoFrameRef<&gst::BufferRef>,
        outframe: &mut gst_video::VideoFrameRef<&mut gst::BufferRef>,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        let mut start = self.begin_frame(inframe)?;
        let Some((mut lightness, scene)) = start.colouring.take() else {
            self.leave_as_it_came(&start, inframe, outframe)?;
            return Ok(gst::FlowSuccess::Ok);
        };
        let (luma, mut chain, references) =
            self.colouring_of(inframe, &start, scene, &mut lightness)?;
        let frame = Lightness {
            data: &lightness,
            width: luma.width,
            height: luma.height,
        };
        let weighted = weighted_references(&references);
        let mut planes = output_planes(outframe, start.layout, luma, &start.luma_map);
        let coloured = self.with_models(|m| {
            chain.colorize(
                frame,
                &weighted,
                |small, size, reference, with_confidence, out| {
                    m.colorize(small, size, reference, with_confidence, out)
                },
                start.settings,
                Target {
                    layout: start.layout,
                    convert: &start.convert,
                    planes: &mut planes,
                },
            )
        });
        {
            let mut state = lock(&self.state);
            state.chain = chain;
            state.lightness = lightness;
        }
        let times = coloured?.map_err(|err| self.colorizing_failed(&err.to_string()))?;
        if let Some(err) = &times.render_failure {
            self.render_graph_failed(err);
        }
        let (sw, sh) = times.working_size;
        gst::log!(
            CAT,
            imp = self,
            "frame {}: resize {:.1} ms, colorizer {:.1} ms at {sw}x{sh}, upsample and write {:.1} ms",
            lock(&self.state).frame(),
            times.resize.as_secs_f64() * 1e3,
            times.colorizer.as_secs_f64() * 1e3,
            times.render.as_secs_f64() * 1e3
        );
        Ok(gst::FlowSuccess::Ok)
    }
}
