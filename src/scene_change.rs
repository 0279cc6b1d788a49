// SPDX-License-Identifier: MIT OR Apache-2.0

//! The `scene-change` structure: the plugin's public protocol between `scenecut`, downstream
//! elements and applications. It travels as a serialized custom downstream event immediately
//! before a scene's first buffer and as an element message on the bus.
//!
//! | field   | type         | meaning                                                        |
//! |---------|--------------|----------------------------------------------------------------|
//! | `scene` | u32          | 0-based scene number since the stream started or last flushed  |
//! | `frame` | u64          | 0-based index of the scene's first frame since then            |
//! | `pts`   | GstClockTime | that frame's presentation timestamp, or none                   |
//! | `score` | f64          | cuts: the frame's difference divided by its window mean (0 for scene 0 and after a caps change); fades: the old shot's mean luma over the darkest frame's; dissolves: the lower of the two shots' luma spread over the spread midway |
//! | `kind`  | string       | how the new scene began: `cut`, `fade` or `dissolve`           |

use gst::glib;

pub const STRUCTURE_NAME: &str = "scene-change";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SceneChangeKind {
    Cut,
    /// A fade through black; the scene starts at the first visible frame after the black.
    Fade,
    /// A dissolve; the scene starts where the new shot dominates the mix.
    Dissolve,
}

impl SceneChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SceneChangeKind::Cut => "cut",
            SceneChangeKind::Fade => "fade",
            SceneChangeKind::Dissolve => "dissolve",
        }
    }

    fn from_str(kind: &str) -> Option<Self> {
        match kind {
            "cut" => Some(SceneChangeKind::Cut),
            "fade" => Some(SceneChangeKind::Fade),
            "dissolve" => Some(SceneChangeKind::Dissolve),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SceneChange {
    pub scene: u32,
    pub frame: u64,
    pub pts: Option<gst::ClockTime>,
    /// That frame's running time in its segment (what the clock and the sinks follow; it keeps
    /// growing across seeks while `frame` restarts), when it has one.
    pub running_time: Option<gst::ClockTime>,
    /// That frame's stream time (its position in the media), when it has one.
    pub stream_time: Option<gst::ClockTime>,
    pub score: f64,
    pub kind: SceneChangeKind,
}

impl SceneChange {
    pub fn to_structure(&self) -> gst::Structure {
        gst::Structure::builder(STRUCTURE_NAME)
            .field("scene", self.scene)
            .field("frame", self.frame)
            .field("pts", self.pts)
            .field("running-time", self.running_time)
            .field("stream-time", self.stream_time)
            .field("score", self.score)
            .field("kind", self.kind.as_str())
            .build()
    }

    /// Reads a `scene-change` structure; `None` for any other structure or a malformed one.
    pub fn from_structure(s: &gst::StructureRef) -> Option<Self> {
        if s.name() != STRUCTURE_NAME {
            return None;
        }
        Some(SceneChange {
            scene: s.get("scene").ok()?,
            frame: s.get("frame").ok()?,
            pts: s.get::<Option<gst::ClockTime>>("pts").ok()?,
            running_time: s
                .get::<Option<gst::ClockTime>>("running-time")
                .ok()
                .flatten(),
            stream_time: s
                .get::<Option<gst::ClockTime>>("stream-time")
                .ok()
                .flatten(),
            score: s.get("score").ok()?,
            kind: SceneChangeKind::from_str(s.get::<&str>("kind").ok()?)?,
        })
    }

    pub fn to_event(&self) -> gst::Event {
        gst::event::CustomDownstream::new(self.to_structure())
    }

    /// The scene change carried by a custom downstream event, if it is one.
    pub fn from_event(event: &gst::EventRef) -> Option<Self> {
        match event.view() {
            gst::EventView::CustomDownstream(custom) => Self::from_structure(custom.structure()?),
            _ => None,
        }
    }

    pub fn to_message(&self, src: &impl glib::prelude::IsA<gst::Object>) -> gst::Message {
        gst::message::Element::builder(self.to_structure())
            .src(src)
            .build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_event_and_structure() {
        gst::init().unwrap();
        let change = SceneChange {
            scene: 3,
            frame: 120,
            pts: Some(gst::ClockTime::from_mseconds(4800)),
            running_time: Some(gst::ClockTime::from_mseconds(5800)),
            stream_time: Some(gst::ClockTime::from_mseconds(4800)),
            score: 7.25,
            kind: SceneChangeKind::Cut,
        };
        let event = change.to_event();
        assert!(event.is_serialized());
        assert_eq!(SceneChange::from_event(&event), Some(change));
        let untimed = SceneChange {
            pts: None,
            running_time: None,
            stream_time: None,
            ..change
        };
        assert_eq!(
            SceneChange::from_structure(&untimed.to_structure()),
            Some(untimed)
        );
        let other = gst::Structure::builder("scene-change")
            .field("scene", 1u32)
            .build();
        assert_eq!(SceneChange::from_structure(&other), None);
    }
}
