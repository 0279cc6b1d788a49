// SPDX-License-Identifier: MIT OR Apache-2.0
#![allow(clippy::non_send_fields_in_send_ty, unused_doc_comments)]

//! GStreamer plugin `exemplar`: scene-change detection (`scenecut`) and exemplar-based
//! colorization of black-and-white video (`exemplarcolorize`).

use gst::glib;

pub mod colorize;
pub mod exemplarcolorize;
pub mod scene_change;
pub mod scenecut;

fn plugin_init(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    scenecut::register(plugin)?;
    exemplarcolorize::register(plugin)?;
    Ok(())
}

gst::plugin_define!(
    exemplar,
    env!("CARGO_PKG_DESCRIPTION"),
    plugin_init,
    concat!(env!("CARGO_PKG_VERSION"), "-", env!("COMMIT_ID")),
    "MIT/X11",
    env!("CARGO_PKG_NAME"),
    env!("CARGO_PKG_NAME"),
    "gst-exemplar",
    env!("BUILD_REL_DATE")
);
