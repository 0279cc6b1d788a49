// SPDX-License-Identifier: MIT OR Apache-2.0

//! The models behind `exemplarcolorize`, run through ONNX Runtime (loaded at run time).
//!
//! Where things are found, first match wins:
//! - ONNX Runtime: `ORT_DYLIB_PATH`; `<datadir>/onnxruntime/libonnxruntime.so*` of an installed
//!   plugin; the project's `.venv` (`onnxruntime` wheel) for a build from the source tree;
//!   `libonnxruntime.so.1` on the system's library path.
//! - Models: the element's properties; `EXEMPLAR_MODEL_DIR`; `<datadir>/models` of an installed
//!   plugin; `generated/models` of the source tree the plugin was built from.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use ort::session::Session;
use ort::value::TensorRef;
use sha2::{Digest, Sha256};

use super::color::LabToVideo;
use super::descriptor::{Descriptor, LocalFeatures};
use super::render::Colouring;
use super::resample::GuidedFilter;

/// Where meson installed the plugin's data, baked in at build time (see tools/cargo_wrapper.py).
const INSTALLED_DATADIR: Option<&str> = option_env!("EXEMPLAR_INSTALLED_DATADIR");
const INSTALLED_LIBDIR: Option<&str> = option_env!("EXEMPLAR_INSTALLED_LIBDIR");
const SOURCE_TREE: &str = env!("CARGO_MANIFEST_DIR");

pub const ENCODER_FILE: &str = "encoder.onnx";
pub const COLORIZER_FILE: &str = "colorizer.onnx";
pub const REFERENCE_FILE: &str = "colorizer_reference.onnx";
/// The encoder's optional dense map that re-ranking reads.
const LOCAL_FEATURES: &str = "features_s32";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InferenceError(pub String);

impl fmt::Display for InferenceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InferenceError {}

impl From<ort::Error> for InferenceError {
    fn from(err: ort::Error) -> Self {
        InferenceError(err.to_string())
    }
}

/// Candidate ONNX Runtime libraries, in search order.
pub fn runtime_candidates() -> Vec<PathBuf> {
    let mut candidates = Vec::new();
    if let Some(path) = std::env::var_os("ORT_DYLIB_PATH") {
        candidates.push(PathBuf::from(path));
    }
    if let Some(libdir) = INSTALLED_LIBDIR {
        candidates.extend(matching_files(
            &Path::new(libdir).join("onnxruntime"),
            "libonnxruntime.so",
        ));
    }
    let lib = Path::new(SOURCE_TREE).join(".venv/lib");
    if let Ok(pythons) = std::fs::read_dir(&lib) {
        let mut pythons: Vec<_> = pythons.flatten().map(|e| e.path()).collect();
        pythons.sort();
        for python in pythons {
            candidates.extend(matching_files(
                &python.join("site-packages/onnxruntime/capi"),
                "libonnxruntime.so",
            ));
        }
    }
    candidates.push(PathBuf::from("libonnxruntime.so.1"));
    candidates
}

fn matching_files(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix))
        })
        .collect();
    found.sort();
    found
}

/// What to do about missing models, for a packaged install and for a source checkout.
fn model_advice() -> String {
    let packaged = INSTALLED_DATADIR.map_or(String::new(), |datadir| {
        format!(
            "an installed plugin expects them in {}/models (reinstall the package, or run \
             `meson install` again from a checkout where `bash scripts/setup.sh` has built them); ",
            datadir
        )
    });
    format!(
        "{packaged}a source checkout builds them with `bash scripts/setup.sh`; or set \
         EXEMPLAR_MODEL_DIR to a folder with {ENCODER_FILE}, {COLORIZER_FILE} and {REFERENCE_FILE}, \
         or the encoder-model and colorizer-model properties"
    )
}

/// The default folder of the models. An explicit `EXEMPLAR_MODEL_DIR` is the user's choice:
/// used or refused with the reason, never passed over. Otherwise the first of the installed
/// data folder and the source tree's `generated/models` that holds an encoder.
pub fn default_model_dir() -> Result<PathBuf, String> {
    if let Some(dir) = std::env::var_os("EXEMPLAR_MODEL_DIR") {
        let dir = PathBuf::from(dir);
        if dir.join(ENCODER_FILE).is_file() {
            return Ok(dir);
        }
        return Err(format!(
            "EXEMPLAR_MODEL_DIR names {}, which has no {ENCODER_FILE}: point it at a folder \
             with {ENCODER_FILE}, {COLORIZER_FILE} and {REFERENCE_FILE}, or unset it to use the \
             default models",
            dir.display()
        ));
    }
    let mut candidates = Vec::new();
    if let Some(datadir) = INSTALLED_DATADIR {
        candidates.push(Path::new(datadir).join("models"));
    }
    candidates.push(Path::new(SOURCE_TREE).join("generated/models"));
    candidates
        .iter()
        .find(|dir| dir.join(ENCODER_FILE).is_file())
        .cloned()
        .ok_or_else(|| {
            format!(
                "no default models: searched {}; {}",
                candidates
                    .iter()
                    .map(|d| d.display().to_string())
                    .collect::<Vec<_>>()
                    .join(" and "),
                model_advice()
            )
        })
}

static ENVIRONMENT: OnceLock<(ort::environment::Environment, PathBuf)> = OnceLock::new();
static ENVIRONMENT_INIT: Mutex<()> = Mutex::new(());

/// The process's one ONNX Runtime environment, loading the library on first use. ONNX Runtime
/// allows one environment per process, so every element instance shares it.
pub fn environment() -> Result<&'static (ort::environment::Environment, PathBuf), InferenceError> {
    if let Some(env) = ENVIRONMENT.get() {
        return Ok(env);
    }
    let _guard = ENVIRONMENT_INIT.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(env) = ENVIRONMENT.get() {
        return Ok(env);
    }
    let candidates = runtime_candidates();
    // An explicit ORT_DYLIB_PATH is the user's choice: use it or say why not, never another.
    let path = match std::env::var_os("ORT_DYLIB_PATH") {
        Some(explicit) => {
            let path = PathBuf::from(explicit);
            if !path.is_file() {
                return Err(InferenceError(format!(
                    "ORT_DYLIB_PATH names {}, which does not exist: point it at \
                     libonnxruntime.so.1.* from the onnxruntime Python wheel (1.31 or newer), \
                     with an absolute path",
                    path.display()
                )));
            }
            path
        }
        None => candidates
            .iter()
            .find(|p| p.components().count() == 1 || p.is_file())
            .cloned()
            .unwrap_or_else(|| PathBuf::from("libonnxruntime.so.1")),
    };
    let searched = || {
        let mut places = vec!["ORT_DYLIB_PATH (unset)".to_string()];
        if let Some(libdir) = INSTALLED_LIBDIR {
            places.push(format!("{libdir}/onnxruntime"));
        }
        places.push(format!(
            "{}",
            Path::new(SOURCE_TREE)
                .join(".venv/lib/python*/site-packages/onnxruntime/capi")
                .display()
        ));
        places.push("libonnxruntime.so.1 on the library path".to_string());
        places.join(", ")
    };
    let builder = std::panic::catch_unwind(|| ort::init_from(&path))
        .map_err(|_| {
            InferenceError(format!(
                "loading ONNX Runtime from {} panicked",
                path.display()
            ))
        })?
        .map_err(|err| {
            let how = if std::env::var_os("ORT_DYLIB_PATH").is_some() {
                "it is what ORT_DYLIB_PATH names".to_string()
            } else {
                format!(
                    "searched, in order, until the first that exists: {}",
                    searched()
                )
            };
            InferenceError(format!(
                "cannot load ONNX Runtime from {}: {err} ({how}). Install it with \
                 `pip install 'onnxruntime>=1.31'` and set ORT_DYLIB_PATH to the absolute path \
                 of its onnxruntime/capi/libonnxruntime.so.1.*",
                path.display()
            ))
        })?;
    let environment = builder.with_name("gst-exemplar").build().map_err(|err| {
        InferenceError(format!(
            "ONNX Runtime from {} did not start: {err}. It must be version 1.31 or newer",
            path.display()
        ))
    })?;
    Ok(ENVIRONMENT.get_or_init(|| (environment, path)))
}

/// Which execution provider runs the models.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    /// CUDA when this build and the runtime have it, else CPU.
    Auto,
    Cpu,
    Cuda,
    TensorRt,
}

/// The name a session reports when the CPU runs it (a GPU provider's when one does).
pub const CPU_PROVIDER: &str = "cpu";
/// The names a session reports when CUDA or TensorRT runs it.
pub const CUDA_PROVIDER: &str = "cuda";
pub const TENSORRT_PROVIDER: &str = "tensorrt";

impl Provider {
    /// The provider a session reported by name: what another graph asks for to run where
    /// that session runs.
    pub fn running(name: &str) -> Provider {
        match name {
            CUDA_PROVIDER => Provider::Cuda,
            TENSORRT_PROVIDER => Provider::TensorRt,
            _ => Provider::Cpu,
        }
    }

    /// Whether sessions asked for this provider may run on a GPU: never in a build without a
    /// GPU provider.
    pub fn may_use_gpu(self) -> bool {
        cfg!(any(feature = "cuda", feature = "tensorrt")) && self != Provider::Cpu
    }
}

#[derive(Debug, Clone)]
pub struct SessionOptions {
    pub provider: Provider,
    pub device_id: i32,
    /// A GPU provider that cannot be had is an error instead of a fallback to CPU.
    pub strict: bool,
    /// Intra-op threads; 0 lets ONNX Runtime choose.
    pub threads: usize,
}

/// Whether a session's threads spin between the operators of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Spinning {
    /// Spin within a run, stop the moment it ends: for graphs of many small operators run
    /// once a frame.
    WithinRuns,
    /// Sleep whenever there is no work: for a model whose long runs may overlap another
    /// session's on other threads, where spinning would take the cores the other one needs.
    Never,
}

/// How the shapes of a session's inputs vary, which decides how cuDNN picks its convolution
/// algorithms on CUDA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shapes {
    /// One shape for a whole stream (the per-frame colorizer): the exhaustive search on its
    /// first run pays for itself over the stream's frames.
    PerStream,
    /// A new shape for almost every photo (indexing, encoding references): an exhaustive search
    /// for each would cost more than it saves (48 s to index 80 photos on an H200, against
    /// seconds on a CPU), so cuDNN's heuristic picks the algorithm without timing them.
    PerPhoto,
}

/// What GPU arithmetic a session's results may come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Precision {
    /// ONNX Runtime's choice, TF32 products where the GPU has them: the colour models, whose
    /// outputs are looked at, not compared.
    Default,
    /// Float32 throughout: the transition model, whose probabilities meet thresholds chosen
    /// on the CPU's float32 results, and the render graph, whose colours are the CPU
    /// renderer's to within a rounding.
    Float32,
}

/// Runs `f` (a session's run) with subnormal floats flushed to zero on the calling thread, as
/// they are on ONNX Runtime's own pool threads (`with_flush_to_zero`), then gives the thread its
/// own flags back. ONNX Runtime sets the flags of one calling thread only, the one that made the
/// session, and a thread inherits its flags from the thread that started it: whether a
/// GStreamer streaming thread had them depended on what the application had run before
/// (GStreamer's shared thread pool starts its threads from one thread, started once). Without
/// them the colorizer graph took 25 instead of 18 ms a frame at 448x256, the calling thread's
/// share of the softmax meeting subnormals.
fn subnormals_flushed<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        /// Gives the thread its MXCSR back, also if `f` panics.
        struct Restore(u32);
        impl Drop for Restore {
            fn drop(&mut self) {
                mxcsr::set(self.0);
            }
        }
        let saved = mxcsr::get();
        let _restore = Restore(saved);
        mxcsr::set(saved | mxcsr::FLUSH);
        f()
    }
    #[cfg(not(target_arch = "x86_64"))]
    f()
}

/// The calling thread's SSE control and status register.
#[cfg(target_arch = "x86_64")]
mod mxcsr {
    /// Flush-to-zero (subnormal results) and denormals-are-zero (subnormal inputs).
    pub const FLUSH: u32 = (1 << 15) | (1 << 6);

    pub fn get() -> u32 {
        let mut value = 0u32;
        // SAFETY: `stmxcsr` writes 4 bytes to a valid, aligned u32.
        unsafe {
            std::arch::asm!("stmxcsr [{}]", in(reg) &mut value, options(nostack, preserves_flags));
        }
        value
    }

    /// Callers change only the two flush bits, which no Rust code of this crate relies on (the
    /// code run meanwhile is ONNX Runtime's, which asks for them).
    pub fn set(value: u32) {
        // SAFETY: `ldmxcsr` reads 4 bytes from a valid, aligned u32.
        unsafe {
            std::arch::asm!("ldmxcsr [{}]", in(reg) &value, options(nostack, readonly, preserves_flags));
        }
    }
}

/// Builds a session, registering the requested GPU provider when it can. Returns the session,
/// the provider that runs it and, when it fell back to CPU, why.
fn build_session(
    model: &Path,
    options: &SessionOptions,
    spinning: Spinning,
    shapes: Shapes,
    precision: Precision,
) -> Result<(Session, &'static str, Option<String>), InferenceError> {
    let (environment, _) = environment()?;
    if !model.is_file() {
        return Err(InferenceError(format!(
            "model file {} does not exist: run `bash scripts/setup.sh` (it builds the default \
             models) or set the element's model properties",
            model.display()
        )));
    }
    // Subnormal floats are flushed to zero: the colorizer's sharp attention (softmax at
    // temperature 0.03) underflows into them on ordinary frames, and each costs the CPU a slow
    // assist — 30 ms a frame instead of 22 ms at 448x256 on 2 cores, for weights below 1e-38
    // that change no output sample. Spinning within runs: waking from sleep for each of the
    // colorizer's operators cost 2-3 ms a frame; stopping the moment a run ends keeps the
    // threads from burning a core between frames and from taking it from the element's own
    // row bands (spinning past the run made 1080p frames 25 % slower).
    let mut builder = Session::builder(environment)?
        .with_intra_op_spinning(spinning == Spinning::WithinRuns)
        .map_err(|e| InferenceError(e.to_string()))?
        .with_config_entry("session.force_spinning_stop", "1")
        .map_err(|e| InferenceError(e.to_string()))?
        .with_flush_to_zero()
        .map_err(|e| InferenceError(e.to_string()))?;
    if options.threads > 0 {
        builder = builder
            .with_intra_threads(options.threads)
            .map_err(|e| InferenceError(e.to_string()))?;
    }
    let (provider, fallback) = register_provider(&mut builder, options, shapes, precision)?;
    let session = builder
        .commit_from_file(model)
        .map_err(|err| InferenceError(format!("cannot load model {}: {err}", model.display())))?;
    Ok((session, provider, fallback))
}

#[cfg(any(feature = "cuda", feature = "tensorrt"))]
fn register_provider(
    builder: &mut ort::session::builder::SessionBuilder,
    options: &SessionOptions,
    shapes: Shapes,
    precision: Precision,
) -> Result<(&'static str, Option<String>), InferenceError> {
    let attempt: Option<(&'static str, ort::ep::ExecutionProviderDispatch)> = match options.provider
    {
        Provider::Cpu => None,
        #[cfg(feature = "cuda")]
        Provider::Auto | Provider::Cuda => Some((
            CUDA_PROVIDER,
            ort::ep::CUDA::default()
                .with_device_id(options.device_id)
                .with_conv_algorithm_search(match shapes {
                    Shapes::PerStream => ort::ep::cuda::ConvAlgorithmSearch::Exhaustive,
                    Shapes::PerPhoto => ort::ep::cuda::ConvAlgorithmSearch::Heuristic,
                })
                .with_tf32(precision == Precision::Default)
                .build()
                .error_on_failure(),
        )),
        #[cfg(feature = "tensorrt")]
        Provider::TensorRt => Some((
            TENSORRT_PROVIDER,
            ort::ep::TensorRT::default()
                .with_device_id(options.device_id)
                .build()
                .error_on_failure(),
        )),
        // Reachable when only one of the two GPU features is enabled.
        #[allow(unreachable_patterns)]
        other => return unavailable(other, options.strict),
    };
    let Some((name, provider)) = attempt else {
        return Ok((CPU_PROVIDER, None));
    };
    match provider.register(builder) {
        Ok(()) => Ok((name, None)),
        Err(err) => {
            let why = format!("the {name} execution provider failed: {err}");
            // `auto` asks for a GPU only when there is one: falling back is its normal case.
            if options.strict && options.provider != Provider::Auto {
                Err(InferenceError(why))
            } else {
                Ok((CPU_PROVIDER, Some(why)))
            }
        }
    }
}

#[cfg(not(any(feature = "cuda", feature = "tensorrt")))]
fn register_provider(
    _builder: &mut ort::session::builder::SessionBuilder,
    options: &SessionOptions,
    _shapes: Shapes,
    _precision: Precision,
) -> Result<(&'static str, Option<String>), InferenceError> {
    match options.provider {
        Provider::Cpu | Provider::Auto => Ok((CPU_PROVIDER, None)),
        other => unavailable(other, options.strict),
    }
}

fn unavailable(
    provider: Provider,
    strict: bool,
) -> Result<(&'static str, Option<String>), InferenceError> {
    let why = format!(
        "this build of the plugin has no {provider:?} support: rebuild with \
         `cargo build --release --features {}`",
        if provider == Provider::TensorRt {
            "tensorrt"
        } else {
            "cuda"
        }
    );
    if strict {
        Err(InferenceError(why))
    } else {
        Ok((CPU_PROVIDER, Some(why)))
    }
}

/// One expected input or output of a model: its name and rank.
struct Port {
    name: &'static str,
    rank: usize,
}

fn check_ports(
    model: &Path,
    kind: &str,
    actual: &[ort::value::Outlet],
    expected: &[Port],
) -> Result<(), InferenceError> {
    let describe = |outlets: &[ort::value::Outlet]| {
        outlets
            .iter()
            .map(|o| match o.dtype() {
                ort::value::ValueType::Tensor { shape, .. } => {
                    format!("{}{:?}", o.name(), &shape[..])
                }
                other => format!("{} ({other:?})", o.name()),
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    for port in expected {
        let found = actual.iter().find(|o| o.name() == port.name);
        let rank = found.and_then(|o| match o.dtype() {
            ort::value::ValueType::Tensor { shape, .. } => Some(shape.len()),
            _ => None,
        });
        if rank != Some(port.rank) {
            let wanted = expected
                .iter()
                .map(|p| format!("{} (rank {})", p.name, p.rank))
                .collect::<Vec<_>>()
                .join(", ");
            return Err(InferenceError(format!(
                "model {} does not fit the {kind} contract: expected {wanted}; it has {}. See models/README.md",
                model.display(),
                describe(actual)
            )));
        }
    }
    Ok(())
}

/// `build_session` for a graph whose inputs and outputs must fit `ports` (inputs, outputs), the
/// contract of a `kind` of model.
fn build_checked_session(
    path: &Path,
    options: &SessionOptions,
    (spinning, shapes, precision): (Spinning, Shapes, Precision),
    kind: &str,
    [inputs, outputs]: [&[Port]; 2],
) -> Result<(Session, &'static str, Option<String>), InferenceError> {
    let built = build_session(path, options, spinning, shapes, precision)?;
    check_ports(path, kind, built.0.inputs(), inputs)?;
    check_ports(path, kind, built.0.outputs(), outputs)?;
    Ok(built)
}

/// The three graphs, ready to run. `run` needs `&mut`, so the element owns one `Models`.
pub struct Models {
    encoder: Session,
    reference: Session,
    colorizer: Session,
    encoder_hash: [u8; 32],
    embedding_dimension: usize,
    /// Channels of the encoder's `features_s32`, 0 when it has none (no re-ranking).
    local_dimension: usize,
    /// Whether the colorizer takes `with_confidence` (and skips the confidence's work when not
    /// asked). Optional: a colorizer without it always computes its confidence.
    confidence_switch: bool,
    /// The guided filter its chroma still needs, when the colorizer's metadata leaves it to
    /// the caller; none for a colorizer whose chroma comes out finished.
    guided_filter: Option<GuidedFilter>,
    /// The provider that runs the models ("cpu", "cuda", "tensorrt").
    pub provider: &'static str,
    /// Why a requested GPU provider was not used, if it was not.
    pub fallback: Option<String>,
}

/// The colorizer's output for one frame and one reference, at working resolution.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Prediction {
    pub a: Vec<f32>,
    pub b: Vec<f32>,
    /// Per pixel, the cosine similarity of its best match in the reference; empty unless asked
    /// for.
    pub confidence: Vec<f32>,
}

/// A reference photo's features, computed once per scene.
#[derive(Debug, Clone)]
pub struct EncodedReference {
    features: (Vec<i64>, Vec<f32>),
    ab: (Vec<i64>, Vec<f32>),
}

fn sha256_file(path: &Path) -> Result<[u8; 32], InferenceError> {
    let bytes = std::fs::read(path)
        .map_err(|e| InferenceError(format!("cannot read model {}: {e}", path.display())))?;
    Ok(Sha256::digest(&bytes).into())
}

/// The fixed size of dimension 1 (channels) of a session's tensor output of this rank, if it
/// has that output.
fn output_channels(session: &Session, name: &str, rank: usize) -> Option<usize> {
    session
        .outputs()
        .iter()
        .find(|o| o.name() == name)
        .and_then(|o| match o.dtype() {
            ort::value::ValueType::Tensor { shape, .. } if shape.len() == rank => {
                shape.get(1).copied()
            }
            _ => None,
        })
        .filter(|&c| c > 0)
        .map(|c| c as usize)
}

fn output(
    outputs: &ort::session::SessionOutputs<'_>,
    name: &str,
) -> Result<(Vec<i64>, Vec<f32>), InferenceError> {
    let (shape, data) = output_view(outputs, name)?;
    Ok((shape.to_vec(), data.to_vec()))
}

/// A float output's shape and values, where the run left them.
fn output_view<'a>(
    outputs: &'a ort::session::SessionOutputs<'_>,
    name: &str,
) -> Result<(&'a [i64], &'a [f32]), InferenceError> {
    let value = outputs
        .get(name)
        .ok_or_else(|| InferenceError(format!("the model produced no `{name}`")))?;
    let (shape, data) = value.try_extract_tensor::<f32>()?;
    Ok((shape, data))
}

impl Models {
    pub fn load(
        encoder: &Path,
        colorizer: &Path,
        reference: &Path,
        options: &SessionOptions,
    ) -> Result<Self, InferenceError> {
        let (encoder_session, provider, fallback) = build_session(
            encoder,
            options,
            Spinning::WithinRuns,
            Shapes::PerPhoto,
            Precision::Default,
        )?;
        check_ports(
            encoder,
            "encoder",
            encoder_session.inputs(),
            &[Port {
                name: "image",
                rank: 4,
            }],
        )?;
        check_ports(
            encoder,
            "encoder",
            encoder_session.outputs(),
            &[Port {
                name: "embedding",
                rank: 2,
            }],
        )?;
        let embedding_dimension =
            output_channels(&encoder_session, "embedding", 2).ok_or_else(|| {
                InferenceError(format!(
                    "model {}: `embedding` must have a fixed width [N, D]",
                    encoder.display()
                ))
            })?;
        // Optional: without it retrieval still works, on the global embedding alone.
        let local_dimension = output_channels(&encoder_session, LOCAL_FEATURES, 4).unwrap_or(0);
        let (reference_session, _, _) = build_session(
            reference,
            options,
            Spinning::WithinRuns,
            Shapes::PerPhoto,
            Precision::Default,
        )?;
        check_ports(
            reference,
            "colorizer reference",
            reference_session.inputs(),
            &[Port {
                name: "reference_lab",
                rank: 4,
            }],
        )?;
        check_ports(
            reference,
            "colorizer reference",
            reference_session.outputs(),
            &[
                Port {
                    name: "reference_features",
                    rank: 3,
                },
                Port {
                    name: "reference_ab",
                    rank: 3,
                },
            ],
        )?;
        let (colorizer_session, _, _) = build_session(
            colorizer,
            options,
            Spinning::WithinRuns,
            Shapes::PerStream,
            Precision::Default,
        )?;
        check_ports(
            colorizer,
            "colorizer",
            colorizer_session.inputs(),
            &[
                Port {
                    name: "target_l",
                    rank: 4,
                },
                Port {
                    name: "reference_features",
                    rank: 3,
                },
                Port {
                    name: "reference_ab",
                    rank: 3,
                },
            ],
        )?;
        check_ports(
            colorizer,
            "colorizer",
            colorizer_session.outputs(),
            &[
                Port {
                    name: "ab",
                    rank: 4,
                },
                Port {
                    name: "confidence",
                    rank: 4,
                },
            ],
        )?;
        let confidence_switch = colorizer_session
            .inputs()
            .iter()
            .any(|input| input.name() == CONFIDENCE_SWITCH);
        let guided_filter = guided_filter_left_to_caller(colorizer, &colorizer_session)?;
        Ok(Models {
            encoder_hash: sha256_file(encoder)?,
            encoder: encoder_session,
            reference: reference_session,
            colorizer: colorizer_session,
            embedding_dimension,
            local_dimension,
            confidence_switch,
            guided_filter,
            provider,
            fallback,
        })
    }

    pub fn encoder_hash(&self) -> [u8; 32] {
        self.encoder_hash
    }

    pub fn embedding_dimension(&self) -> usize {
        self.embedding_dimension
    }

    pub fn local_dimension(&self) -> usize {
        self.local_dimension
    }

    /// An empty retrieval index for this encoder's descriptors.
    pub fn empty_index(&self) -> super::index::Index {
        super::index::Index::new(
            self.encoder_hash,
            self.embedding_dimension,
            self.local_dimension,
        )
    }

    /// The retrieval descriptor of a grey image given as L* (0..100), `width × height`: its
    /// L2-normalised embedding and its local descriptors pooled to at most `max_grid` cells per
    /// side, from one run of the encoder.
    pub fn describe(
        &mut self,
        lightness: &[f32],
        width: usize,
        height: usize,
        max_grid: usize,
    ) -> Result<Descriptor, InferenceError> {
        let plane: Vec<f32> = lightness
            .iter()
            .map(|&l| super::color::lightness_to_encoder_input(l))
            .collect();
        let mut image = Vec::with_capacity(plane.len() * 3);
        for _ in 0..3 {
            image.extend_from_slice(&plane);
        }
        let input = TensorRef::from_array_view(([1usize, 3, height, width], &image[..]))?;
        let outputs = subnormals_flushed(|| self.encoder.run(ort::inputs!["image" => input]))?;
        let (_, embedding) = output(&outputs, "embedding")?;
        let local = match self.local_dimension {
            0 => LocalFeatures::empty(0),
            channels => {
                let (shape, map) = output(&outputs, LOCAL_FEATURES)?;
                match shape[..] {
                    [1, c, h, w] if c as usize == channels && h > 0 && w > 0 => {
                        LocalFeatures::from_map(&map, channels, h as usize, w as usize, max_grid)
                    }
                    _ => {
                        return Err(InferenceError(format!(
                            "the encoder returned `{LOCAL_FEATURES}` of shape {shape:?}, expected \
                             [1, {channels}, h, w]"
                        )))
                    }
                }
            }
        };
        Ok(Descriptor {
            global: super::index::normalized(&embedding),
            local,
        })
    }

    /// Runs the reference graph on a photo given as planar L*, a*, b* (`3 × height × width`).
    pub fn encode_reference(
        &mut self,
        lab: &[f32],
        width: usize,
        height: usize,
    ) -> Result<EncodedReference, InferenceError> {
        let input = TensorRef::from_array_view(([1usize, 3, height, width], lab))?;
        let outputs =
            subnormals_flushed(|| self.reference.run(ort::inputs!["reference_lab" => input]))?;
        Ok(EncodedReference {
            features: output(&outputs, "reference_features")?,
            ab: output(&outputs, "reference_ab")?,
        })
    }

    /// Predicts a*, b* planes (`height × width` each) for a frame's L* at the same size and,
    /// `with_confidence`, the confidence plane (which only fusing several references needs; it
    /// costs the default colorizer a second product), into `out`, whose planes are kept from
    /// frame to frame.
    pub fn colorize(
        &mut self,
        lightness: &[f32],
        (width, height): (usize, usize),
        reference: &EncodedReference,
        with_confidence: bool,
        out: &mut Prediction,
    ) -> Result<(), InferenceError> {
        let target = TensorRef::from_array_view(([1usize, 1, height, width], lightness))?;
        let features =
            TensorRef::from_array_view((&reference.features.0[..], &reference.features.1[..]))?;
        let ab = TensorRef::from_array_view((&reference.ab.0[..], &reference.ab.1[..]))?;
        let switch = [with_confidence];
        let mut inputs = ort::inputs![
            "target_l" => target,
            "reference_features" => features,
            "reference_ab" => ab,
        ];
        if self.confidence_switch {
            inputs.push((
                CONFIDENCE_SWITCH.into(),
                TensorRef::from_array_view(((), &switch[..]))?.into(),
            ));
        }
        let outputs = subnormals_flushed(|| self.colorizer.run(inputs))?;
        let (shape, values) = output_view(&outputs, "ab")?;
        if shape != [1, 2, height as i64, width as i64] {
            return Err(InferenceError(format!(
                "the colorizer returned `ab` of shape {shape:?}, expected [1, 2, {height}, {width}]"
            )));
        }
        let (a, b) = values.split_at(width * height);
        out.a.clear();
        out.a.extend_from_slice(a);
        out.b.clear();
        out.b.extend_from_slice(b);
        if let Some(filter) = &mut self.guided_filter {
            // The guide of the colorizer's contract: the frame's L* over 100.
            filter.apply(
                lightness.iter().map(|l| l / 100.0),
                (width, height),
                [&mut out.a, &mut out.b],
            );
        }
        out.confidence.clear();
        if with_confidence {
            let (shape, confidence) = output_view(&outputs, "confidence")?;
            if shape != [1, 1, height as i64, width as i64] {
                return Err(InferenceError(format!(
                    "the colorizer returned `confidence` of shape {shape:?}, expected [1, 1, {height}, {width}]"
                )));
            }
            out.confidence.extend_from_slice(confidence);
        }
        Ok(())
    }
}

/// The colorizer's optional boolean input that asks for its `confidence` output.
const CONFIDENCE_SWITCH: &str = "with_confidence";

/// Keys of a colorizer's metadata that leave the guided filter of its `ab` to the caller
/// (models/README.md): the filter's radius in samples, and its ε.
const GUIDED_FILTER_RADIUS: &str = "guided_filter_radius";
const GUIDED_FILTER_EPS: &str = "guided_filter_eps";

/// The guided filter a colorizer's metadata asks the caller for.
fn guided_filter_left_to_caller(
    path: &Path,
    session: &Session,
) -> Result<Option<GuidedFilter>, InferenceError> {
    let metadata = session.metadata()?;
    let settings = guided_filter_settings(
        metadata.custom(GUIDED_FILTER_RADIUS),
        metadata.custom(GUIDED_FILTER_EPS),
    )
    .map_err(|what| {
        InferenceError(format!(
            "model {}: {what}; a colorizer that leaves the guided filter to the caller says so \
             with a whole radius of 1 to 64 in `{GUIDED_FILTER_RADIUS}` and a positive ε in \
             `{GUIDED_FILTER_EPS}` (models/README.md)",
            path.display()
        ))
    })?;
    Ok(settings.map(|(radius, eps)| GuidedFilter::new(radius, eps)))
}

/// The guided filter's radius and ε from the values of its two metadata keys: both or neither.
fn guided_filter_settings(
    radius: Option<String>,
    eps: Option<String>,
) -> Result<Option<(usize, f32)>, String> {
    match (radius, eps) {
        (None, None) => Ok(None),
        (Some(radius), Some(eps)) => {
            let parsed_radius = radius
                .trim()
                .parse::<usize>()
                .ok()
                .filter(|r| (1..=64).contains(r))
                .ok_or_else(|| format!("`{GUIDED_FILTER_RADIUS}` is {radius:?}"))?;
            let parsed_eps = eps
                .trim()
                .parse::<f32>()
                .ok()
                .filter(|e| e.is_finite() && *e > 0.0)
                .ok_or_else(|| format!("`{GUIDED_FILTER_EPS}` is {eps:?}"))?;
            Ok(Some((parsed_radius, parsed_eps)))
        }
        _ => Err("its metadata has one of the guided filter's keys without the other".into()),
    }
}

/// File name of the shot-boundary model in the models folder.
pub const TRANSITION_MODEL_FILE: &str = "transnetv2.onnx";
/// The same model with its spatial convolutions in int8 (models/README.md): about 1.8 times
/// faster on a CPU, its probabilities within 0.032 of the float graph's on the project's clips.
pub const TRANSITION_MODEL_INT8_FILE: &str = "transnetv2_int8.onnx";

/// TransNetV2 (`scenecut`'s learned and hybrid methods): windows of 48x27 RGB frames to
/// per-frame transition probabilities.
pub struct TransitionModel {
    session: Session,
    /// The provider that runs it ("cpu", "cuda", "tensorrt").
    pub provider: &'static str,
    /// Why a requested GPU provider was not used, if it was not.
    pub fallback: Option<String>,
}

impl TransitionModel {
    /// Loads the model with `options`' provider. Its windows' shape changes at the end of a
    /// stream, so cuDNN picks its algorithms without timing them, and it computes in float32
    /// on a GPU too.
    pub fn load(path: &Path, options: &SessionOptions) -> Result<Self, InferenceError> {
        let port = |name, rank| Port { name, rank };
        let (session, provider, fallback) = build_checked_session(
            path,
            options,
            (Spinning::Never, Shapes::PerPhoto, Precision::Float32),
            "transition model",
            [
                &[port("frames", 5)],
                &[port("transition", 2), port("transition_any", 2)],
            ],
        )?;
        Ok(TransitionModel {
            session,
            provider,
            fallback,
        })
    }

    /// Probabilities for each of `frames`' `height × width` RGB thumbnails: (transition,
    /// part of a transition).
    pub fn predict(
        &mut self,
        frames: &[u8],
        width: usize,
        height: usize,
    ) -> Result<Vec<(f32, f32)>, InferenceError> {
        let count = frames.len() / (width * height * 3);
        let input = TensorRef::from_array_view(([1usize, count, height, width, 3], frames))?;
        let outputs = subnormals_flushed(|| self.session.run(ort::inputs!["frames" => input]))?;
        let (shape, transition) = output(&outputs, "transition")?;
        let (_, any) = output(&outputs, "transition_any")?;
        if shape != [1, count as i64] || any.len() != count {
            return Err(InferenceError(format!(
                "the transition model returned shape {shape:?}, expected [1, {count}]"
            )));
        }
        Ok(transition.into_iter().zip(any).collect())
    }
}

/// File name of the full-size render graph in the models folder (models/render.py).
pub const RENDER_FILE: &str = "render.onnx";

/// The chain's full-size end as a graph (guided upsampling of a*, b*, conversion to Cb, Cr), so
/// that a GPU execution provider runs it beside the colorizer instead of the CPU's cores. It
/// computes what `render::Renderer` computes; the element uses it where `render` asks.
pub struct RenderModel {
    session: Session,
    /// The provider that runs it ("cpu", "cuda", "tensorrt").
    pub provider: &'static str,
    /// Why a requested GPU provider was not used, if it was not.
    pub fallback: Option<String>,
}

impl RenderModel {
    /// Loads the graph with `options`' provider, in float32 on a GPU too; a stream's frames
    /// all have one shape.
    pub fn load(path: &Path, options: &SessionOptions) -> Result<Self, InferenceError> {
        let port = |name, rank| Port { name, rank };
        let (session, provider, fallback) = build_checked_session(
            path,
            options,
            (Spinning::WithinRuns, Shapes::PerStream, Precision::Float32),
            "render graph",
            [
                &[
                    port("lightness", 2),
                    port("small_lightness", 2),
                    port("a", 2),
                    port("b", 2),
                    port("subsampled", 0),
                    port("encode_table", 1),
                    port("cbcr_weights", 2),
                    port("cbcr_max", 0),
                ],
                &[port("cbcr", 3)],
            ],
        )?;
        Ok(RenderModel {
            session,
            provider,
            fallback,
        })
    }

    /// Runs the graph on `colouring` for chroma on the 2x2-subsampled grid (4:2:0) or on the
    /// frame's own, in `convert`'s colorimetry, and hands `write` the Cb and Cr planes, one
    /// after the other, and their size.
    pub fn render(
        &mut self,
        colouring: Colouring,
        subsampled: bool,
        convert: &LabToVideo,
        write: impl FnOnce(&[u8], (usize, usize)),
    ) -> Result<(), InferenceError> {
        let Colouring {
            lightness,
            size: (width, height),
            small_lightness,
            small: (sw, sh),
            a,
            b,
        } = colouring;
        let (weights, max) = convert.cbcr_weights();
        let subsampled = [subsampled];
        let max = [max];
        let outputs = subnormals_flushed(|| {
            self.session.run(ort::inputs![
                "lightness" => TensorRef::from_array_view(([height, width], lightness))?,
                "small_lightness" => TensorRef::from_array_view(([sh, sw], small_lightness))?,
                "a" => TensorRef::from_array_view(([sh, sw], a))?,
                "b" => TensorRef::from_array_view(([sh, sw], b))?,
                "subsampled" => TensorRef::from_array_view(((), &subsampled[..]))?,
                "encode_table" => TensorRef::from_array_view(
                    ([convert.encode_table().len()], convert.encode_table())
                )?,
                "cbcr_weights" => TensorRef::from_array_view(([2usize, 3], weights.as_flattened()))?,
                "cbcr_max" => TensorRef::from_array_view(((), &max[..]))?,
            ])
        })?;
        let value = outputs
            .get("cbcr")
            .ok_or_else(|| InferenceError("the render graph produced no `cbcr`".into()))?;
        let (shape, cbcr) = value.try_extract_tensor::<u8>()?;
        let chroma = if subsampled[0] {
            (width / 2, height / 2)
        } else {
            (width, height)
        };
        if shape[..] != [2, chroma.1 as i64, chroma.0 as i64] {
            return Err(InferenceError(format!(
                "the render graph returned `cbcr` of shape {shape:?}, expected [2, {}, {}]",
                chroma.1, chroma.0
            )));
        }
        write(cbcr, chroma);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_graph_asks_for_the_provider_the_first_one_reported() {
        assert_eq!(Provider::running(CUDA_PROVIDER), Provider::Cuda);
        assert_eq!(Provider::running(TENSORRT_PROVIDER), Provider::TensorRt);
        assert_eq!(Provider::running(CPU_PROVIDER), Provider::Cpu);
    }

    #[test]
    fn a_colorizers_guided_filter_is_read_from_both_metadata_keys_or_neither() {
        let settings = |radius: Option<&str>, eps: Option<&str>| {
            guided_filter_settings(radius.map(String::from), eps.map(String::from))
        };
        assert_eq!(settings(None, None), Ok(None));
        assert_eq!(settings(Some("6"), Some("0.0001")), Ok(Some((6, 1e-4))));
        assert_eq!(settings(Some(" 12 "), Some("1e-3")), Ok(Some((12, 1e-3))));
        for (radius, eps, refused) in [
            (
                Some("6"),
                None,
                "its metadata has one of the guided filter's keys without the other",
            ),
            (Some("0"), Some("0.0001"), "`guided_filter_radius` is \"0\""),
            (
                Some("65"),
                Some("0.0001"),
                "`guided_filter_radius` is \"65\"",
            ),
            (Some("6"), Some("-1"), "`guided_filter_eps` is \"-1\""),
            (Some("6"), Some("NaN"), "`guided_filter_eps` is \"NaN\""),
        ] {
            assert_eq!(settings(radius, eps), Err(refused.into()));
        }
    }

    #[test]
    fn the_colorizer_computes_the_confidence_only_when_asked_and_colours_alike_either_way() {
        let dir = default_model_dir().unwrap();
        let mut models = Models::load(
            &dir.join(ENCODER_FILE),
            &dir.join(COLORIZER_FILE),
            &dir.join(REFERENCE_FILE),
            &SessionOptions {
                provider: Provider::Cpu,
                device_id: 0,
                strict: false,
                threads: 1,
            },
        )
        .unwrap();
        assert!(models.confidence_switch);
        // The default colorizer leaves the guided filter of its chroma to the caller.
        assert_eq!(
            models
                .guided_filter
                .as_ref()
                .map(|filter| (filter.radius(), filter.eps())),
            Some((6, 1e-4))
        );
        // A reference whose colour follows its lightness, a frame with the same ramp mirrored.
        let (w, h) = (64, 48);
        let ramp = |x: usize, y: usize| 10.0 + 80.0 * (x + y) as f32 / (w + h) as f32;
        let mut lab = vec![0.0f32; 3 * w * h];
        for y in 0..h {
            for x in 0..w {
                let l = ramp(x, y);
                lab[y * w + x] = l;
                lab[w * h + y * w + x] = l - 50.0;
                lab[2 * w * h + y * w + x] = 30.0 - l / 2.0;
            }
        }
        let reference = models.encode_reference(&lab, w, h).unwrap();
        let frame: Vec<f32> = (0..w * h).map(|i| ramp(w - 1 - i % w, i / w)).collect();
        let (mut skipped, mut asked) = (Prediction::default(), Prediction::default());
        models
            .colorize(&frame, (w, h), &reference, false, &mut skipped)
            .unwrap();
        models
            .colorize(&frame, (w, h), &reference, true, &mut asked)
            .unwrap();
        assert!(skipped.confidence.is_empty());
        assert_eq!(asked.confidence.len(), w * h);
        assert!(asked.confidence.iter().all(|c| (-1.0..=1.0001).contains(c)));
        let largest_difference = skipped
            .a
            .iter()
            .zip(&asked.a)
            .chain(skipped.b.iter().zip(&asked.b))
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max);
        assert!(largest_difference < 1e-3, "{largest_difference}");
        // The colours follow the reference's, where a* rises with lightness: the frame's first
        // row is light on the left, dark on the right.
        assert!(
            asked.a[0] > asked.a[w - 1] + 10.0,
            "{} {}",
            asked.a[0],
            asked.a[w - 1]
        );
    }

    /// A protobuf varint at the start of `bytes`: its value and its length.
    fn varint(bytes: &[u8]) -> (u64, usize) {
        let mut value = 0;
        for (i, &byte) in bytes.iter().enumerate() {
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                return (value, i + 1);
            }
        }
        panic!("a varint runs past the end");
    }

    /// A length-delimited protobuf field.
    fn field(number: u64, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        for mut value in [number << 3 | 2, payload.len() as u64] {
            while value >= 0x80 {
                out.push((value as u8 & 0x7f) | 0x80);
                value >>= 7;
            }
            out.push(value as u8);
        }
        out.extend_from_slice(payload);
        out
    }

    /// An ONNX model's bytes with `metadata` in place of its `metadata_props` (field 14 of
    /// ModelProto, key 1 and value 2 in each entry).
    fn with_metadata(model: &[u8], metadata: &[(&str, &str)]) -> Vec<u8> {
        let (mut out, mut at) = (Vec::new(), 0);
        while at < model.len() {
            let start = at;
            let (tag, n) = varint(&model[at..]);
            at += n;
            at += match tag & 7 {
                0 => varint(&model[at..]).1,
                1 => 8,
                2 => {
                    let (len, n) = varint(&model[at..]);
                    n + len as usize
                }
                5 => 4,
                wire => panic!("wire type {wire}"),
            };
            if tag >> 3 != 14 {
                out.extend_from_slice(&model[start..at]);
            }
        }
        for (key, value) in metadata {
            let entry = [field(1, key.as_bytes()), field(2, value.as_bytes())].concat();
            out.extend(field(14, &entry));
        }
        out
    }

    #[test]
    fn the_guided_filter_is_applied_exactly_when_the_colorizers_metadata_asks_for_it() {
        let dir = default_model_dir().unwrap();
        let options = SessionOptions {
            provider: Provider::Cpu,
            device_id: 0,
            strict: false,
            threads: 1,
        };
        let load = |colorizer: &Path| {
            Models::load(
                &dir.join(ENCODER_FILE),
                colorizer,
                &dir.join(REFERENCE_FILE),
                &options,
            )
        };
        let original = std::fs::read(dir.join(COLORIZER_FILE)).unwrap();
        let scratch =
            std::env::temp_dir().join(format!("colorizer-metadata-{}", std::process::id()));
        std::fs::create_dir_all(&scratch).unwrap();
        let variant = |name: &str, metadata: &[(&str, &str)]| {
            let path = scratch.join(name);
            std::fs::write(&path, with_metadata(&original, metadata)).unwrap();
            path
        };
        let finished = variant("finished.onnx", &[]);
        let wider = variant(
            "wider.onnx",
            &[(GUIDED_FILTER_RADIUS, "9"), (GUIDED_FILTER_EPS, "0.01")],
        );
        let broken = variant(
            "broken.onnx",
            &[(GUIDED_FILTER_RADIUS, "0"), (GUIDED_FILTER_EPS, "0.0001")],
        );
        let refused = load(&broken).err().map(|err| err.0);
        let (mut as_it_comes, mut default, mut wide) = (
            load(&finished).unwrap(),
            load(&dir.join(COLORIZER_FILE)).unwrap(),
            load(&wider).unwrap(),
        );
        std::fs::remove_dir_all(&scratch).unwrap();
        assert_eq!(
            refused,
            Some(format!(
                "model {}: `{GUIDED_FILTER_RADIUS}` is \"0\"; a colorizer that leaves the guided \
                 filter to the caller says so with a whole radius of 1 to 64 in \
                 `{GUIDED_FILTER_RADIUS}` and a positive ε in `{GUIDED_FILTER_EPS}` \
                 (models/README.md)",
                broken.display()
            ))
        );
        assert!(as_it_comes.guided_filter.is_none());
        // A frame of a step and a ramp against a photo of its own, coloured three ways.
        let (w, h) = (64, 48);
        let frame: Vec<f32> = (0..w * h)
            .map(|k| if k % w < w / 2 { 30.0 } else { 70.0 } + (k / w) as f32 * 0.4)
            .collect();
        let lab: Vec<f32> = frame
            .iter()
            .copied()
            .chain(frame.iter().map(|l| l - 50.0))
            .chain(frame.iter().map(|l| 20.0 - l / 3.0))
            .collect();
        let colour = |models: &mut Models| {
            let reference = models.encode_reference(&lab, w, h).unwrap();
            let mut prediction = Prediction::default();
            models
                .colorize(&frame, (w, h), &reference, false, &mut prediction)
                .unwrap();
            prediction
        };
        let raw = colour(&mut as_it_comes);
        for (models, radius, eps) in [(&mut default, 6, 1e-4), (&mut wide, 9, 0.01)] {
            let (mut a, mut b) = (raw.a.clone(), raw.b.clone());
            GuidedFilter::new(radius, eps).apply(
                frame.iter().map(|l| l / 100.0),
                (w, h),
                [&mut a, &mut b],
            );
            let filtered = colour(models);
            assert_eq!((&filtered.a, &filtered.b), (&a, &b), "radius {radius}");
            assert_ne!(filtered.a, raw.a, "radius {radius}");
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn a_run_flushes_subnormals_on_its_thread_and_gives_the_thread_its_flags_back() {
        std::thread::spawn(|| {
            // A thread that keeps subnormals, as a streaming thread started before any session
            // was made does.
            mxcsr::set(mxcsr::get() & !mxcsr::FLUSH);
            let before = mxcsr::get();
            let product = || std::hint::black_box(1e-38f32) * std::hint::black_box(0.01f32);
            let (inside, flushed) = subnormals_flushed(|| (mxcsr::get(), product()));
            assert_eq!(inside, before | mxcsr::FLUSH);
            assert_eq!(flushed, 0.0, "a subnormal result is flushed within the run");
            assert_eq!(mxcsr::get(), before);
            assert!(
                product() > 0.0,
                "the thread keeps its subnormals after the run"
            );
        })
        .join()
        .unwrap();
    }
}
