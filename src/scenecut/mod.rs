// SPDX-License-Identifier: MIT OR Apache-2.0

//! `scenecut`: finds scene changes in raw video and announces them, passing every frame
//! through untouched.

use gst::glib;
use gst::prelude::*;

pub mod detector;
mod imp;
pub mod luma;

glib::wrapper! {
    pub struct SceneCut(ObjectSubclass<imp::SceneCut>) @extends gst::Element, gst::Object;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(
        Some(plugin),
        "scenecut",
        gst::Rank::NONE,
        SceneCut::static_type(),
    )
}
