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

/// The `reference-changed` element message, posted when a scene gets its reference photo.
///
/// | field | type | meaning |
/// |---|---|---|
/// | `scene` | u32 | the scene (from `scenecut`'s `scene-change`, else counted by the element) |
/// | `frame` | u64 | the scene's first frame since the stream started or was flushed |
/// | `pts` | GstClockTime | that frame's timestamp, or none |
/// | `reference` | string | path of the chosen photo |
/// | `distance` | f64 | Euclidean distance between the normalised embeddings of the frame and the photo (0 = identical, 2 = opposite; 0 for a fixed `reference`) |
/// | `reused` | boolean | the scene looked like an earlier one and got its reference again (`scene-memory`) |
/// | `reused-from` | u32 | only when `reused`: that earlier scene |
/// | `references` | array of strings | every photo colouring the scene, `reference` first (more than one with `top-k`) |
#[derive(Debug, Clone, PartialEq)]
pub struct ReferenceChanged {
    pub scene: u32,
    pub frame: u64,
    pub pts: Option<gst::ClockTime>,
    pub reference: String,
    pub distance: f64,
    pub reused_from: Option<u32>,
    pub references: Vec<String>,
}

impl ReferenceChanged {
    pub const NAME: &'static str = "reference-changed";

    pub fn to_structure(&self) -> gst::Structure {
        gst::Structure::builder(Self::NAME)
            .field("scene", self.scene)
            .field("frame", self.frame)
            .field("pts", self.pts)
            .field("reference", &self.reference)
            .field("distance", self.distance)
            .field("reused", self.reused_from.is_some())
            .field_if_some("reused-from", self.reused_from)
            .field("references", gst::Array::new(&self.references))
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
            reference: s.get("reference").ok()?,
            distance: s.get("distance").ok()?,
            reused_from: if s.get("reused").ok()? {
                Some(s.get("reused-from").ok()?)
            } else {
                None
            },
            references: s
                .get::<gst::ArrayRef>("references")
                .ok()?
                .iter()
                .map(|v| v.get::<String>().ok())
                .collect::<Option<Vec<_>>>()?,
        })
    }
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    ExecutionProvider::static_type().mark_as_plugin_api(gst::PluginAPIFlags::empty());
    gst::Element::register(
        Some(plugin),
        "exemplarcolorize",
        gst::Rank::NONE,
        ExemplarColorize::static_type(),
    )
}
