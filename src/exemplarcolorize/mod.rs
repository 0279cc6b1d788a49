// SPDX-License-Identifier: MIT OR Apache-2.0

//! `exemplarcolorize`: colorizes grey video from the nearest photo of a reference library,
//! choosing the photo again at every scene change.

use gst::glib;
use gst::prelude::*;

mod imp;

glib::wrapper! {
    pub struct ExemplarColorize(ObjectSubclass<imp::ExemplarColorize>)
        @extends gst_video::VideoFilter, gst_base::BaseTransform, gst::Element, gst::Object;
}

/// Which ONNX Runtime execution provider runs the models.
#[derive(Debug, Eq, PartialEq, Ord, PartialOrd, Hash, Clone, Copy, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstExemplarExecutionProvider")]
pub enum ExecutionProvider {
    #[enum_value(
        name = "Auto: CUDA when this build and the runtime have it, else CPU",
        nick = "auto"
    )]
    Auto = 0,
    #[enum_value(name = "CPU", nick = "cpu")]
    Cpu = 1,
    #[enum_value(name = "CUDA (build with --features cuda)", nick = "cuda")]
    Cuda = 2,
    #[enum_value(name = "TensorRT (build with --features tensorrt)", nick = "tensorrt")]
    TensorRt = 3,
}

impl From<ExecutionProvider> for crate::colorize::inference::Provider {
    fn from(provider: ExecutionProvider) -> Self {
        use crate::colorize::inference::Provider;
        match provider {
            ExecutionProvider::Auto => Provider::Auto,
            ExecutionProvider::Cpu => Provider::Cpu,
            ExecutionProvider::Cuda => Provider::Cuda,
            ExecutionProvider::TensorRt => Provider::TensorRt,
        }
    }
}

/// Whether the colorizer infers the next frame while the current one is written out.
#[derive(Debug, Eq, PartialEq, Ord, PartialOrd, Hash, Clone, Copy, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstExemplarOverlap")]
pub enum Overlap {
    #[enum_value(
        name = "Auto: overlap when the models run on a GPU, where the CPU would otherwise wait \
                for them; not on a CPU, whose cores the model already keeps busy",
        nick = "auto"
    )]
    Auto = 0,
    #[enum_value(name = "Never: one frame after the other", nick = "off")]
    Off = 1,
    #[enum_value(
        name = "Always: one frame more of latency, frames still in order",
        nick = "on"
    )]
    On = 2,
}

/// Where the full-size work of a frame runs: the guided upsampling of its chroma and the
/// writing of its colour planes.
#[derive(Debug, Eq, PartialEq, Ord, PartialOrd, Hash, Clone, Copy, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstExemplarRender")]
pub enum Render {
    #[enum_value(
        name = "Auto: on the execution provider when the models run on a GPU, so that only the \
                frame's lightness goes to it and the colour planes come back; on the CPU's \
                cores otherwise, where the element's own code is faster",
        nick = "auto"
    )]
    Auto = 0,
    #[enum_value(
        name = "CPU: the element's code, in bands of rows on the cores",
        nick = "cpu"
    )]
    Cpu = 1,
    #[enum_value(
        name = "Execution provider: the render.onnx graph of the models folder, run by the \
                models' provider (YUV output whose chroma grid is at least the working size; \
                other frames on the CPU)",
        nick = "execution-provider"
    )]
    ExecutionProvider = 2,
}

/// What a scene gets when even its best reference scores below `min-score`.
#[derive(Debug, Eq, PartialEq, Ord, PartialOrd, Hash, Clone, Copy, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstExemplarBelowMinScore")]
pub enum BelowMinScore {
    #[enum_value(
        name = "Keep the previous scene's references (the first scene stays grey)",
        nick = "keep"
    )]
    Keep = 0,
    #[enum_value(
        name = "Use the fallback-reference photo (grey when none is set)",
        nick = "fallback"
    )]
    Fallback = 1,
    #[enum_value(
        name = "Leave the scene grey (neutral chroma, luma kept)",
        nick = "grey"
    )]
    Grey = 2,
}

/// What the element does with frames that already have colour.
#[derive(Debug, Eq, PartialEq, Ord, PartialOrd, Hash, Clone, Copy, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstExemplarColourInput")]
pub enum ColourInput {
    #[enum_value(
        name = "Pass scenes that have colour through untouched",
        nick = "pass-through"
    )]
    PassThrough = 0,
    #[enum_value(
        name = "Colorize them like grey scenes (their own colour is replaced)",
        nick = "colorize"
    )]
    Colorize = 1,
}

/// What the element does with the frames it gets.
#[derive(Debug, Eq, PartialEq, Ord, PartialOrd, Hash, Clone, Copy, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstExemplarMode")]
pub enum Mode {
    #[enum_value(
        name = "Colorize every frame (following the plan at plan-location when one is set)",
        nick = "colorize"
    )]
    Colorize = 0,
    #[enum_value(
        name = "Only choose each scene's references and write them to plan-location at the end \
                of the stream; frames leave uncoloured",
        nick = "plan"
    )]
    Plan = 1,
}

/// The `reference-changed` element message, posted when a scene gets its reference photo.
///
/// | field | type | meaning |
/// |---|---|---|
/// | `scene` | u32 | the scene (from `scenecut`'s `scene-change`, else counted by the element) |
/// | `frame` | u64 | the scene's first frame since the stream started or was flushed |
/// | `pts` | GstClockTime | that frame's timestamp, or none |
/// | `running-time` | GstClockTime | that frame's running time (keeps growing across seeks, while `frame` restarts), or none |
/// | `stream-time` | GstClockTime | that frame's stream time (its position in the media), or none |
/// | `reference` | string | path of the chosen photo |
/// | `distance` | f64 | Euclidean distance between the normalised embeddings of the frame and the photo (0 = identical, 2 = opposite; 0 for a fixed `reference`) |
/// | `reused` | boolean | the scene looked like an earlier one and got its reference again (`scene-memory`) |
/// | `reused-from` | u32 | only when `reused`: that earlier scene |
/// | `references` | array of strings | every photo colouring the scene, `reference` first (more than one with `top-k`); empty when the scene is left grey |
/// | `score` | f64 | the best candidate's re-ranking score (mean best local cosine + 2 × global cosine; the global similarity alone without local descriptors; 1 for a fixed `reference`) |
/// | `runner-up` | string | only when there was one: the second-best candidate's path |
/// | `margin` | f64 | best score minus the runner-up's (0 without one) |
/// | `candidates` | array of strings | the best candidates, at most three, best first |
/// | `candidate-scores` | array of f64 | their scores |
/// | `confident` | boolean | false when the best score was below `min-score` and `below-min-score` decided the references |
/// | `changed` | boolean | the scene's photos differ from the previous scene's (false for a scene that keeps or happens to get the same photos) |
#[derive(Debug, Clone, PartialEq)]
pub struct ReferenceChanged {
    pub scene: u32,
    pub frame: u64,
    pub pts: Option<gst::ClockTime>,
    pub running_time: Option<gst::ClockTime>,
    pub stream_time: Option<gst::ClockTime>,
    pub reference: String,
    pub distance: f64,
    pub reused_from: Option<u32>,
    pub references: Vec<String>,
    pub score: f64,
    pub runner_up: Option<String>,
    pub margin: f64,
    pub candidates: Vec<(String, f64)>,
    pub confident: bool,
    pub changed: bool,
}

impl ReferenceChanged {
    pub const NAME: &'static str = "reference-changed";

    pub fn to_structure(&self) -> gst::Structure {
        gst::Structure::builder(Self::NAME)
            .field("scene", self.scene)
            .field("frame", self.frame)
            .field("pts", self.pts)
            .field("running-time", self.running_time)
            .field("stream-time", self.stream_time)
            .field("reference", &self.reference)
            .field("distance", self.distance)
            .field("reused", self.reused_from.is_some())
            .field_if_some("reused-from", self.reused_from)
            .field("references", gst::Array::new(&self.references))
            .field("score", self.score)
            .field_if_some("runner-up", self.runner_up.as_ref())
            .field("margin", self.margin)
            .field(
                "candidates",
                gst::Array::new(self.candidates.iter().map(|(path, _)| path)),
            )
            .field(
                "candidate-scores",
                gst::Array::new(self.candidates.iter().map(|&(_, score)| score)),
            )
            .field("confident", self.confident)
            .field("changed", self.changed)
            .build()
    }

    pub fn from_structure(s: &gst::StructureRef) -> Option<Self> {
        if s.name() != Self::NAME {
            return None;
        }
        Some(ReferenceChanged {
            scene: s.get("scene").ok()?,
            frame: s.get("frame").ok()?,
            pts: s.get("pts").ok()?,
            running_time: s.get("running-time").ok()?,
            stream_time: s.get("stream-time").ok()?,
            reference: s.get("reference").ok()?,
            distance: s.get("distance").ok()?,
            reused_from: if s.get("reused").ok()? {
                Some(s.get("reused-from").ok()?)
            } else {
                None
            },
            references: array(s, "references")?,
            score: s.get("score").ok()?,
            runner_up: s.get::<Option<String>>("runner-up").ok().flatten(),
            margin: s.get("margin").ok()?,
            candidates: array::<String>(s, "candidates")?
                .into_iter()
                .zip(array::<f64>(s, "candidate-scores")?)
                .collect(),
            confident: s.get("confident").ok()?,
            changed: s.get("changed").ok()?,
        })
    }
}

fn array<T: for<'a> glib::value::FromValue<'a> + 'static>(
    s: &gst::StructureRef,
    name: &str,
) -> Option<Vec<T>> {
    s.get::<gst::ArrayRef>(name)
        .ok()?
        .iter()
        .map(|v| v.get::<T>().ok())
        .collect()
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    ExecutionProvider::static_type().mark_as_plugin_api(gst::PluginAPIFlags::empty());
    BelowMinScore::static_type().mark_as_plugin_api(gst::PluginAPIFlags::empty());
    ColourInput::static_type().mark_as_plugin_api(gst::PluginAPIFlags::empty());
    Mode::static_type().mark_as_plugin_api(gst::PluginAPIFlags::empty());
    Overlap::static_type().mark_as_plugin_api(gst::PluginAPIFlags::empty());
    Render::static_type().mark_as_plugin_api(gst::PluginAPIFlags::empty());
    gst::Element::register(
        Some(plugin),
        "exemplarcolorize",
        gst::Rank::NONE,
        ExemplarColorize::static_type(),
    )
}
