// SPDX-License-Identifier: MIT OR Apache-2.0

//! The colorization side of the plugin, free of GStreamer types: colour science, resampling,
//! the reference library and its retrieval index, and the models.

pub mod chain;
pub mod choice;
pub mod color;
pub mod colour_input;
pub mod descriptor;
pub mod fusion;
pub mod index;
pub mod inference;
pub mod library;
pub mod memory;
pub mod plan;
pub mod render;
pub mod resample;
pub mod retrieval;
pub mod temporal;
