// SPDX-License-Identifier: MIT OR Apache-2.0

//! `scenecut`: finds scene changes in raw video and announces them, passing every frame
//! through untouched.

use gst::glib;
use gst::prelude::*;

pub mod detector;
mod imp;
pub mod learned;
pub mod luma;

glib::wrapper! {
    pub struct SceneCut(ObjectSubclass<imp::SceneCut>) @extends gst::Element, gst::Object;
}

/// How `scenecut` finds scene starts.
#[derive(Debug, Eq, PartialEq, Ord, PartialOrd, Hash, Clone, Copy, Default, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstSceneCutMethod")]
pub enum SceneCutMethod {
    #[enum_value(
        name = "Auto: hybrid when the TransNetV2 model and ONNX Runtime load, else the rule \
                with a warning",
        nick = "auto"
    )]
    #[default]
    Auto = 3,
    #[enum_value(
        name = "Rule: windowed absolute luma differences, fades and dissolves from the levels \
                (no ONNX Runtime needed)",
        nick = "rule"
    )]
    Rule = 0,
    #[enum_value(
        name = "Learned: the TransNetV2 shot-boundary model alone (needs ONNX Runtime)",
        nick = "learned"
    )]
    Learned = 1,
    #[enum_value(
        name = "Hybrid: the rule's cuts unless the model sees no transition there, plus the \
                model's dissolves, fades and cuts the rule missed (needs ONNX Runtime)",
        nick = "hybrid"
    )]
    Hybrid = 2,
}

/// Arithmetic of the default TransNetV2 model.
#[derive(Debug, Eq, PartialEq, Ord, PartialOrd, Hash, Clone, Copy, Default, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstSceneCutTransitionPrecision")]
pub enum TransitionPrecision {
    #[enum_value(
        name = "Auto: int8 when the model runs on the CPU, float32 on a GPU provider",
        nick = "auto"
    )]
    #[default]
    Auto = 0,
    #[enum_value(
        name = "Float32: the model as trained (transnetv2.onnx)",
        nick = "float32"
    )]
    Float32 = 1,
    #[enum_value(
        name = "Int8: spatial convolutions quantized, about 1.8 times faster on a CPU \
                (transnetv2_int8.onnx)",
        nick = "int8"
    )]
    Int8 = 2,
}

impl From<SceneCutMethod> for learned::Method {
    fn from(method: SceneCutMethod) -> Self {
        match method {
            SceneCutMethod::Rule => learned::Method::Rule,
            SceneCutMethod::Learned => learned::Method::Learned,
            SceneCutMethod::Hybrid | SceneCutMethod::Auto => learned::Method::Hybrid,
        }
    }
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(
        Some(plugin),
        "scenecut",
        gst::Rank::NONE,
        SceneCut::static_type(),
    )
}
