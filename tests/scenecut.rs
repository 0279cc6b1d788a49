// SPDX-License-Identifier: MIT OR Apache-2.0

//! Behaviour of the `scenecut` element: Harness tests on synthetic frames and pipeline tests on
//! the project's real-photo clips (made by `tools/make_media.py`, see `scripts/test.sh`).

use std::sync::{Arc, Mutex};

use gst::prelude::*;
use gst_check::Harness;
use gstexemplar::scene_change::SceneChange;
use gstexemplar::scenecut::detector;

mod common;
use common::{
    errors, gst_launch, has_eos, init, launch, media, mentions, refused_state_change, run_to_end,
    temp_dir, warnings,
};
use gstexemplar::colorize::inference;

const W: usize = 64;
const H: usize = 48;
const FRAME: gst::ClockTime = gst::ClockTime::from_mseconds(40);

/// A textured GRAY8 frame of scene `scene`, its camera shifted right by `shift` pixels.
fn textured_frame(scene: u32, shift: usize, width: usize, height: usize, stride: usize) -> Vec<u8> {
    let mut data = vec![0u8; stride * height];
    for y in 0..height {
        for x in 0..width {
            let u = (x + shift) as u32;
            let v = y as u32;
            // Smooth, scene-specific texture: neighbouring pixels are close, so a one-pixel pan
            // changes little while another scene changes almost everything.
            let phase = scene * 97;
            let value = 128.0
                + 60.0 * ((u as f32 * 0.21 + phase as f32).sin())
                + 50.0 * ((v as f32 * 0.17 + u as f32 * 0.05 + phase as f32 * 1.3).cos());
            data[y * stride + x] = value.clamp(0.0, 255.0) as u8;
        }
    }
    data
}

/// Frames of a sequence whose scenes start at `cuts` (frame 0 is implied), panning one pixel a
/// frame, with timestamps at 25 fps.
fn sequence(frames: usize, cuts: &[usize]) -> Vec<gst::Buffer> {
    (0..frames)
        .map(|i| {
            let scene = cuts.iter().filter(|&&c| c <= i).count() as u32;
            let mut buffer = gst::Buffer::from_mut_slice(textured_frame(scene, i, W, H, W));
            {
                let buffer = buffer.get_mut().unwrap();
                buffer.set_pts(FRAME * i as u64);
                buffer.set_duration(FRAME);
                buffer.set_offset(i as u64);
            }
            buffer
        })
        .collect()
}

const GRAY_CAPS: &str = "video/x-raw,format=GRAY8,width=64,height=48,framerate=25/1";

/// What left the element, in order, as seen by the harness's sink pad.
#[derive(Debug, Clone, PartialEq)]
enum Seen {
    Buffer(u64),
    SceneChange(SceneChange),
    Event(String),
}

fn record(h: &Harness) -> Arc<Mutex<Vec<Seen>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = h.sinkpad().unwrap();
    let log = seen.clone();
    sink.add_probe(
        gst::PadProbeType::BUFFER | gst::PadProbeType::EVENT_DOWNSTREAM,
        move |_, info| {
            let item = match &info.data {
                Some(gst::PadProbeData::Buffer(b)) => Some(Seen::Buffer(b.offset())),
                Some(gst::PadProbeData::Event(e)) => Some(match SceneChange::from_event(e) {
                    Some(change) => Seen::SceneChange(change),
                    None => Seen::Event(match e.view() {
                        gst::EventView::CustomDownstream(c) => c
                            .structure()
                            .map_or_else(String::new, |s| s.name().to_string()),
                        _ => format!("{:?}", e.type_()),
                    }),
                }),
                _ => None,
            };
            if let Some(item) = item {
                log.lock().unwrap().push(item);
            }
            gst::PadProbeReturn::Ok
        },
    );
    seen
}

/// A harness around a `scenecut` made with `properties` (set before the harness starts it: the
/// method is chosen on READY→PAUSED).
fn scenecut_harness(properties: &str) -> Harness {
    init();
    let element = gst::parse::launch(&format!("scenecut {properties}")).unwrap();
    Harness::with_element(&element, Some("sink"), Some("src"))
}

/// A harness around the rule (`method=rule`): most tests here check the rule's exact decisions.
fn harness() -> Harness {
    let mut h = scenecut_harness("method=rule");
    h.set_src_caps_str(GRAY_CAPS);
    h
}

fn scene_starts(seen: &[Seen]) -> Vec<u64> {
    seen.iter()
        .filter_map(|s| match s {
            Seen::SceneChange(c) => Some(c.frame),
            _ => None,
        })
        .collect()
}

#[test]
fn passes_every_buffer_through_untouched_and_in_order() {
    let mut h = harness();
    let input = sequence(100, &[40, 52]);
    let mut expected = Vec::new();
    for (i, mut buffer) in input.into_iter().enumerate() {
        if i % 7 == 0 {
            buffer.make_mut().set_flags(gst::BufferFlags::DISCONT);
        }
        let map = buffer.map_readable().unwrap();
        expected.push((
            map.as_slice().as_ptr() as usize,
            map.as_slice().to_vec(),
            buffer.pts(),
            buffer.duration(),
            buffer.flags(),
        ));
        drop(map);
        assert_eq!(h.push(buffer), Ok(gst::FlowSuccess::Ok));
    }
    assert!(h.push_event(gst::event::Eos::new()));
    assert_eq!(h.buffers_in_queue(), 100);
    for (i, (ptr, bytes, pts, duration, flags)) in expected.into_iter().enumerate() {
        let out = h.pull().unwrap();
        let map = out.map_readable().unwrap();
        assert_eq!(
            map.as_slice().as_ptr() as usize,
            ptr,
            "frame {i} was copied"
        );
        assert_eq!(map.as_slice(), &bytes[..], "frame {i} bytes");
        assert_eq!(
            (out.pts(), out.duration(), out.flags()),
            (pts, duration, flags)
        );
        assert_eq!(out.offset(), i as u64);
    }
    assert!(h.try_pull().is_none());
}

#[test]
fn announces_scenes_just_before_their_first_buffer() {
    let mut h = harness();
    let seen = record(&h);
    for buffer in sequence(100, &[40, 52]) {
        h.push(buffer).unwrap();
    }
    h.push_event(gst::event::Eos::new());
    let seen = seen.lock().unwrap().clone();
    assert_eq!(scene_starts(&seen), vec![0, 40, 52]);
    for (index, item) in seen.iter().enumerate() {
        if let Seen::SceneChange(change) = item {
            assert_eq!(seen[index + 1], Seen::Buffer(change.frame));
            assert_eq!(change.pts, Some(FRAME * change.frame));
            assert_eq!(change.kind.as_str(), "cut");
            if change.scene == 0 {
                assert_eq!(change.score, 0.0);
            } else {
                assert!(change.score > 3.0, "{change:?}");
            }
        }
    }
    let scenes: Vec<u32> = seen
        .iter()
        .filter_map(|s| match s {
            Seen::SceneChange(c) => Some(c.scene),
            _ => None,
        })
        .collect();
    assert_eq!(scenes, vec![0, 1, 2]);
}

#[test]
fn posts_each_scene_change_on_the_bus() {
    let mut h = harness();
    let bus = gst::Bus::new();
    h.element().unwrap().set_bus(Some(&bus));
    for buffer in sequence(80, &[33]) {
        h.push(buffer).unwrap();
    }
    h.push_event(gst::event::Eos::new());
    let changes: Vec<SceneChange> = std::iter::from_fn(|| bus.pop())
        .filter_map(|m| match m.view() {
            gst::MessageView::Element(e) => SceneChange::from_structure(e.structure()?),
            _ => None,
        })
        .collect();
    assert_eq!(
        changes
            .iter()
            .map(|c| (c.scene, c.frame))
            .collect::<Vec<_>>(),
        vec![(0, 0), (1, 33)]
    );
}

#[test]
fn serialized_events_keep_their_place_among_held_buffers() {
    let mut h = harness();
    let seen = record(&h);
    let marker = |n: u32| {
        gst::event::CustomDownstream::new(gst::Structure::builder(format!("marker-{n}")).build())
    };
    for (i, buffer) in sequence(60, &[45]).into_iter().enumerate() {
        if i == 5 || i == 45 {
            h.push_event(marker(i as u32));
        }
        if i == 20 {
            let tags = gst::TagList::new();
            h.push_event(gst::event::Tag::new(tags));
        }
        h.push(buffer).unwrap();
    }
    // Frames 0..=30 have left (lookahead 29); the markers queued after them wait.
    h.push_event(gst::event::Eos::new());
    let seen = seen.lock().unwrap().clone();
    let position = |item: &Seen| seen.iter().position(|s| s == item).unwrap();
    assert_eq!(
        position(&Seen::Event("marker-5".into())) + 1,
        position(&Seen::Buffer(5))
    );
    assert_eq!(
        position(&Seen::Buffer(4)) + 1,
        position(&Seen::Event("marker-5".into()))
    );
    assert_eq!(
        position(&Seen::Buffer(19)) + 1,
        position(&Seen::Event("Tag".into()))
    );
    assert_eq!(
        position(&Seen::Event("Tag".into())) + 1,
        position(&Seen::Buffer(20))
    );
    // The marker came before the scene's first buffer; the scene-change event is immediately
    // before that buffer, so after the marker.
    let cut = seen
        .iter()
        .position(|s| matches!(s, Seen::SceneChange(c) if c.frame == 45))
        .unwrap();
    assert_eq!(position(&Seen::Event("marker-45".into())) + 1, cut);
    assert_eq!(cut + 1, position(&Seen::Buffer(45)));
    assert_eq!(seen.last(), Some(&Seen::Event("Eos".into())));
}

#[test]
fn holds_back_exactly_the_lookahead_and_drains_at_eos() {
    let mut h = harness();
    let frames = sequence(40, &[]);
    for (i, buffer) in frames.into_iter().enumerate() {
        h.push(buffer).unwrap();
        // Frame 0 leaves at once; frame i - 29 leaves when frame i arrives.
        let released = if i < 29 { 1 } else { i - 28 };
        assert_eq!(h.buffers_received() as usize, released, "after frame {i}");
    }
    assert!(h.push_event(gst::event::Eos::new()));
    assert_eq!(h.buffers_received(), 40);
    let mut last_event = None;
    while let Some(event) = h.try_pull_event() {
        last_event = Some(event.type_());
    }
    assert_eq!(last_event, Some(gst::EventType::Eos));
}

#[test]
fn drains_a_stream_shorter_than_the_lookahead_with_its_cut() {
    let mut h = harness();
    let seen = record(&h);
    for buffer in sequence(12, &[6]) {
        h.push(buffer).unwrap();
    }
    assert_eq!(h.buffers_received(), 1);
    h.push_event(gst::event::Eos::new());
    assert_eq!(h.buffers_received(), 12);
    assert_eq!(scene_starts(&seen.lock().unwrap()), vec![0, 6]);
}

#[test]
fn eos_on_an_empty_stream_passes() {
    let mut h = harness();
    assert!(h.push_event(gst::event::Eos::new()));
    assert_eq!(h.buffers_received(), 0);
}

#[test]
fn answers_latency_with_the_lookahead_added() {
    let mut h = harness();
    h.set_upstream_latency(gst::ClockTime::from_mseconds(10));
    h.push(sequence(1, &[]).remove(0)).unwrap();
    // 25 fps, lookahead max(30 - 1, 10) = 29 frames.
    assert_eq!(
        h.query_latency(),
        Some(gst::ClockTime::from_mseconds(10 + 29 * 40))
    );
    let element = h.element().unwrap();
    assert_eq!(element.property::<u64>("latency"), 29 * 40_000_000);

    let bus = gst::Bus::new();
    element.set_bus(Some(&bus));
    element.set_property("confirm-radius", 45u32);
    assert!(matches!(
        bus.pop().map(|m| m.type_()),
        Some(gst::MessageType::Latency)
    ));
    assert_eq!(
        h.query_latency(),
        Some(gst::ClockTime::from_mseconds(10 + 45 * 40))
    );
    // A change that leaves the lookahead alone posts nothing.
    element.set_property("window", 20u32);
    assert!(bus.pop().is_none());
}

#[test]
fn latency_of_a_variable_framerate_stream_comes_from_buffer_durations() {
    let mut h = scenecut_harness("method=rule");
    h.set_src_caps_str("video/x-raw,format=GRAY8,width=64,height=48,framerate=0/1");
    h.set_upstream_latency(gst::ClockTime::ZERO);
    let mut buffer = sequence(1, &[]).remove(0);
    buffer
        .make_mut()
        .set_duration(gst::ClockTime::from_mseconds(50));
    h.push(buffer).unwrap();
    assert_eq!(
        h.query_latency(),
        Some(gst::ClockTime::from_mseconds(29 * 50))
    );
}

#[test]
fn flush_drops_held_frames_and_restarts_counting() {
    let mut h = harness();
    let seen = record(&h);
    for buffer in sequence(20, &[]) {
        h.push(buffer).unwrap();
    }
    assert_eq!(h.buffers_received(), 1);
    assert!(h.push_event(gst::event::FlushStart::new()));
    assert!(h.push_event(gst::event::FlushStop::new(true)));
    h.push_event(gst::event::Segment::new(&gst::FormattedSegment::<
        gst::ClockTime,
    >::new()));
    for buffer in sequence(45, &[35]) {
        h.push(buffer).unwrap();
    }
    h.push_event(gst::event::Eos::new());
    // 1 frame before the flush, 45 after; the 19 held ones were dropped.
    assert_eq!(h.buffers_received(), 46);
    let changes: Vec<(u32, u64)> = seen
        .lock()
        .unwrap()
        .iter()
        .filter_map(|s| match s {
            Seen::SceneChange(c) => Some((c.scene, c.frame)),
            _ => None,
        })
        .collect();
    assert_eq!(changes, vec![(0, 0), (0, 0), (1, 35)]);
}

#[test]
fn caps_change_drains_and_starts_a_new_scene() {
    let mut h = harness();
    let seen = record(&h);
    for buffer in sequence(20, &[]) {
        h.push(buffer).unwrap();
    }
    h.set_src_caps_str("video/x-raw,format=GRAY8,width=32,height=24,framerate=25/1");
    let seen_before = seen.lock().unwrap().clone();
    assert_eq!(
        seen_before
            .iter()
            .filter(|s| matches!(s, Seen::Buffer(_)))
            .count(),
        20,
        "held frames leave before the new caps"
    );
    let new_caps = seen_before
        .iter()
        .rposition(|s| s == &Seen::Event("Caps".into()))
        .unwrap();
    assert_eq!(seen_before[new_caps - 1], Seen::Buffer(19));
    for i in 0..10u64 {
        let mut buffer = gst::Buffer::from_mut_slice(textured_frame(9, i as usize, 32, 24, 32));
        buffer.get_mut().unwrap().set_offset(20 + i);
        h.push(buffer).unwrap();
    }
    h.push_event(gst::event::Eos::new());
    let seen = seen.lock().unwrap().clone();
    let changes: Vec<(u32, u64, f64)> = seen
        .iter()
        .filter_map(|s| match s {
            Seen::SceneChange(c) => Some((c.scene, c.frame, c.score)),
            _ => None,
        })
        .collect();
    assert_eq!(changes, vec![(0, 0, 0.0), (1, 20, 0.0)]);
    assert_eq!(
        seen.iter().filter(|s| matches!(s, Seen::Buffer(_))).count(),
        30
    );
}

#[test]
fn buffers_without_timestamps_pass_and_are_counted() {
    let mut h = harness();
    let seen = record(&h);
    for mut buffer in sequence(70, &[50]) {
        let b = buffer.make_mut();
        b.set_pts(gst::ClockTime::NONE);
        b.set_duration(gst::ClockTime::NONE);
        h.push(buffer).unwrap();
    }
    h.push_event(gst::event::Eos::new());
    assert_eq!(h.buffers_received(), 70);
    let seen = seen.lock().unwrap().clone();
    let cut = seen
        .iter()
        .find_map(|s| match s {
            Seen::SceneChange(c) if c.scene == 1 => Some(*c),
            _ => None,
        })
        .unwrap();
    assert_eq!((cut.frame, cut.pts), (50, None));
}

#[test]
fn force_keyframes_sends_a_key_unit_request_at_each_cut() {
    let mut h = harness();
    h.element().unwrap().set_property("force-keyframes", true);
    let seen = record(&h);
    for buffer in sequence(80, &[33]) {
        h.push(buffer).unwrap();
    }
    h.push_event(gst::event::Eos::new());
    let seen = seen.lock().unwrap().clone();
    let requests: Vec<usize> = seen
        .iter()
        .enumerate()
        .filter(|(_, s)| matches!(s, Seen::Event(n) if n == "GstForceKeyUnit"))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(requests.len(), 2);
    assert_eq!(seen[requests[1] + 1], Seen::Buffer(33));
    // The request's running time is the cut's.
    let mut h2 = harness();
    h2.element().unwrap().set_property("force-keyframes", true);
    for buffer in sequence(80, &[33]) {
        h2.push(buffer).unwrap();
    }
    h2.push_event(gst::event::Eos::new());
    let mut running_times = Vec::new();
    while let Some(event) = h2.try_pull_event() {
        if let Ok(fku) = gst_video::DownstreamForceKeyUnitEvent::parse(&event) {
            running_times.push(fku.running_time);
        }
    }
    assert_eq!(
        running_times,
        vec![Some(gst::ClockTime::ZERO), Some(FRAME * 33)]
    );
}

#[test]
fn a_short_buffer_is_an_error_naming_its_size() {
    let mut h = harness();
    let bus = gst::Bus::new();
    h.element().unwrap().set_bus(Some(&bus));
    let short = gst::Buffer::from_mut_slice(vec![0u8; 100]);
    assert_eq!(h.push(short), Err(gst::FlowError::Error));
    let messages: Vec<gst::Message> = std::iter::from_fn(|| bus.pop()).collect();
    let error = errors(&messages)
        .into_iter()
        .next()
        .expect("an error message");
    assert!(
        error.contains("100 bytes")
            && error.contains("3072 bytes")
            && error.contains("64x48 GRAY8"),
        "{error}"
    );
}

#[test]
fn unsupported_caps_are_refused() {
    init();
    let element = gst::ElementFactory::make("scenecut").build().unwrap();
    let sink = element.static_pad("sink").unwrap();
    let accepted = |caps: &str| sink.query_accept_caps(&caps.parse::<gst::Caps>().unwrap());
    assert!(accepted(
        "video/x-raw,format=I420,width=8,height=8,framerate=0/1"
    ));
    assert!(!accepted(
        "video/x-raw,format=v210,width=8,height=8,framerate=30/1"
    ));
    assert!(!accepted("audio/x-raw,format=S16LE,rate=48000,channels=2"));
}

/// Runs `launch` (which must contain a `scenecut` element) to EOS and returns the scenes'
/// first frames as announced on the bus, with the number of buffers that reached the sink.
fn run_pipeline(launch: &str) -> (Vec<u64>, u64) {
    let (changes, count) = scene_changes(launch);
    (changes.iter().map(|c| c.frame).collect(), count)
}

/// Runs a pipeline whose sink is named `out`; returns the scenes announced on the bus and the
/// buffers that reached the sink.
fn scene_changes(launch: &str) -> (Vec<SceneChange>, u64) {
    init();
    let pipeline = gst::parse::launch(launch)
        .unwrap()
        .downcast::<gst::Pipeline>()
        .unwrap();
    let sink = pipeline.by_name("out").expect("a sink named out");
    let count = Arc::new(Mutex::new(0u64));
    let counter = count.clone();
    sink.static_pad("sink")
        .unwrap()
        .add_probe(gst::PadProbeType::BUFFER, move |_, _| {
            *counter.lock().unwrap() += 1;
            gst::PadProbeReturn::Ok
        });
    pipeline.set_state(gst::State::Playing).unwrap();
    let bus = pipeline.bus().unwrap();
    let mut starts = Vec::new();
    for message in bus.iter_timed(gst::ClockTime::from_seconds(120)) {
        match message.view() {
            gst::MessageView::Element(e) => {
                if let Some(change) = e.structure().and_then(SceneChange::from_structure) {
                    starts.push(change);
                }
            }
            gst::MessageView::Eos(_) => break,
            gst::MessageView::Error(e) => panic!("{} ({:?})", e.error(), e.debug()),
            _ => {}
        }
    }
    pipeline.set_state(gst::State::Null).unwrap();
    let frames = *count.lock().unwrap();
    (starts, frames)
}

fn expected_starts(meta: &serde_json::Value) -> Vec<u64> {
    let mut starts = vec![0];
    starts.extend(
        meta["cuts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_u64().unwrap()),
    );
    starts
}

#[test]
fn finds_every_cut_of_the_real_photo_clips_and_no_other() {
    let (dir, meta) = media();
    let frames = meta["frames"].as_u64().unwrap();
    for clip in ["scenes.mp4", "scenes_grey.mp4"] {
        let (starts, count) = run_pipeline(&format!(
            "filesrc location={} ! decodebin ! videoconvert ! scenecut method=rule ! fakesink name=out",
            dir.join(clip).display()
        ));
        assert_eq!(starts, expected_starts(&meta), "{clip}");
        assert_eq!(count, frames, "{clip}");
    }
}

#[test]
fn detects_the_same_cuts_in_every_supported_format() {
    let (dir, meta) = media();
    let formats = [
        "GRAY8",
        "GRAY16_LE",
        "I420",
        "YV12",
        "NV12",
        "NV21",
        "NV16",
        "NV24",
        "Y41B",
        "Y42B",
        "Y444",
        "I420_10LE",
        "I420_12LE",
        "I422_10LE",
        "Y444_10LE",
        "P010_10LE",
        "YUY2",
        "YVYU",
        "UYVY",
        "RGB",
        "BGR",
        "RGBA",
        "BGRA",
        "ARGB",
        "ABGR",
        "RGBx",
        "BGRx",
        "xRGB",
        "xBGR",
    ];
    let expected = expected_starts(&meta);
    for format in formats {
        // Half size keeps the conversion cheap; analysis-width 0 exercises the full-size path.
        let (starts, _) = run_pipeline(&format!(
            "filesrc location={} ! decodebin ! videoscale ! videoconvert ! \
             video/x-raw,format={format},width=320,height=180 ! scenecut method=rule analysis-width=0 ! \
             fakesink name=out",
            dir.join("scenes.mp4").display()
        ));
        assert_eq!(starts, expected, "{format}");
    }
}

#[test]
fn odd_sizes_with_padded_strides_are_analysed() {
    let (dir, meta) = media();
    let (starts, count) = run_pipeline(&format!(
        "filesrc location={} ! decodebin ! videoscale ! videoconvert ! \
         video/x-raw,format=GRAY8,width=157,height=91 ! scenecut method=rule ! fakesink name=out",
        dir.join("scenes_grey.mp4").display()
    ));
    assert_eq!(starts, expected_starts(&meta));
    assert_eq!(count, meta["frames"].as_u64().unwrap());
}

#[test]
fn flashes_are_not_cuts_and_every_cut_is_found_in_the_transitions_clip() {
    let (dir, _) = media();
    let truth: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("transitions.json")).unwrap())
            .unwrap();
    let (changes, count) = scene_changes(&format!(
        "filesrc location={} ! decodebin ! videoconvert ! scenecut method=rule ! fakesink name=out",
        dir.join("transitions_grey.mp4").display()
    ));
    let starts: Vec<u64> = changes.iter().map(|c| c.frame).collect();
    assert_eq!(count, truth["frames"].as_u64().unwrap());
    for cut in truth["cuts"].as_array().unwrap() {
        assert!(
            starts.contains(&cut.as_u64().unwrap()),
            "cut {cut} missing from {starts:?}"
        );
    }
    for flash in truth["flashes"].as_array().unwrap() {
        let (frame, length) = (
            flash["frame"].as_u64().unwrap(),
            flash["length"].as_u64().unwrap(),
        );
        assert!(
            !starts
                .iter()
                .any(|&s| s + 2 >= frame && s <= frame + length + 2),
            "a cut at a flash ({frame}, {length} frames): {starts:?}"
        );
    }
    // Each dissolve and fade starts exactly one scene inside its span, of its kind.
    for gradual in truth["gradual"].as_array().unwrap() {
        let (start, end) = (
            gradual["start"].as_u64().unwrap(),
            gradual["end"].as_u64().unwrap(),
        );
        let inside: Vec<&SceneChange> = changes
            .iter()
            .filter(|c| (start..=end).contains(&c.frame))
            .collect();
        assert_eq!(inside.len(), 1, "{gradual}: {changes:?}");
        assert_eq!(
            Some(inside[0].kind.as_str()),
            gradual["kind"].as_str(),
            "{changes:?}"
        );
    }
    // Cuts, dissolves and the fade, and nothing else.
    assert_eq!(
        changes.len(),
        1 + truth["cuts"].as_array().unwrap().len() + truth["gradual"].as_array().unwrap().len(),
        "{changes:?}"
    );
    // With the flash test off, the same flashes are taken for cuts.
    let (unfiltered, _) = run_pipeline(&format!(
        "filesrc location={} ! decodebin ! videoconvert ! scenecut method=rule flash-ratio=0 ! fakesink name=out",
        dir.join("transitions_grey.mp4").display()
    ));
    assert!(
        unfiltered.len() > starts.len(),
        "{unfiltered:?} vs {starts:?}"
    );
}

/// The A/V transcode of README: `queue` on the audio branch.
fn av_transcode(
    input: &std::path::Path,
    output: &std::path::Path,
    audio_queue: &str,
) -> gst::Pipeline {
    launch(&format!(
        "filesrc location={} ! qtdemux name=d d.video_0 ! queue ! decodebin ! videoconvert ! scenecut method=rule \
         ! x264enc tune=zerolatency ! mux. d.audio_0 ! {audio_queue} ! aacparse ! mux. mp4mux name=mux \
         ! filesink location={}",
        input.display(),
        output.display()
    ))
}

#[test]
fn an_audio_queue_shorter_than_the_lookahead_stalls_with_a_warning_and_a_longer_one_does_not() {
    let dir = temp_dir("av");
    let input = dir.join("av.mp4");
    let made = run_to_end(&launch(&format!(
        "videotestsrc num-buffers=150 pattern=ball ! video/x-raw,width=320,height=180,framerate=25/1 \
         ! x264enc ! mp4mux name=m ! filesink location={} audiotestsrc num-buffers=300 \
         samplesperbuffer=1024 ! audio/x-raw,rate=48000 ! avenc_aac ! m.",
        input.display()
    )));
    assert!(has_eos(&made), "{:?}", errors(&made));

    // The audio queue's default 1 s fills before scenecut's 1.16 s lookahead: nothing flows.
    let stalled = av_transcode(&input, &dir.join("stalled.mp4"), "queue");
    let bus = stalled.bus().unwrap();
    stalled.set_state(gst::State::Playing).unwrap();
    let warning =
        bus.iter_timed(gst::ClockTime::from_seconds(20))
            .find_map(|message| match message.view() {
                gst::MessageView::Warning(w) => Some(w.error().to_string()),
                gst::MessageView::Eos(_) => Some("EOS instead of a stall".into()),
                _ => None,
            });
    stalled.set_state(gst::State::Null).unwrap();
    let warning = warning.expect("a stall warning within 20 s");
    assert!(
        warning.contains("scenecut has held")
            && warning.contains("holds back 29 frames (1.16 s of lookahead)")
            && warning.contains("queue max-size-time=5000000000"),
        "{warning}"
    );

    let output = dir.join("fixed.mp4");
    let fixed = run_to_end(&av_transcode(
        &input,
        &output,
        "queue max-size-time=5000000000 max-size-bytes=0 max-size-buffers=0",
    ));
    assert!(has_eos(&fixed), "{:?}", errors(&fixed));
    assert!(
        !fixed
            .iter()
            .any(|m| matches!(m.view(), gst::MessageView::Warning(_))),
        "no stall warning when nothing stalls"
    );
    let streams = run_to_end(&launch(&format!(
        "filesrc location={} ! qtdemux name=d d.video_0 ! queue ! fakesink d.audio_0 ! queue ! fakesink",
        output.display()
    )));
    assert!(has_eos(&streams), "{:?}", errors(&streams));
}

#[test]
fn max_lookahead_time_bounds_the_hold_back_of_slow_sources() {
    init();
    let latency = |framerate: &str, bound_ns: u64| {
        let mut h = scenecut_harness("method=rule");
        let element = h.element().unwrap();
        element.set_property("max-lookahead-time", bound_ns);
        h.set_src_caps_str(&format!(
            "video/x-raw,format=GRAY8,width=64,height=48,framerate={framerate}"
        ));
        h.push(gst::Buffer::from_mut_slice(vec![0u8; 64 * 48]))
            .unwrap();
        element.property::<u64>("latency")
    };
    // 29 frames at 5 fps: 5.8 s; bounded to 2 s: 10 frames of 200 ms.
    assert_eq!(latency("5/1", 0), 5_800_000_000);
    assert_eq!(latency("5/1", 2_000_000_000), 2_000_000_000);
    // 1 fps CCTV: 29 s unbounded, 3 frames under a 3.5 s bound.
    assert_eq!(latency("1/1", 3_500_000_000), 3_000_000_000);
    // At 25 fps the default 1.16 s is within a 2 s bound: nothing changes.
    assert_eq!(latency("25/1", 2_000_000_000), 1_160_000_000);
}

/// A harness around `scenecut method=<method>` (set before the element starts: the model loads
/// on READY→PAUSED).
fn method_harness(method: &str) -> Harness {
    let mut h = scenecut_harness(&format!("method={method}"));
    h.set_src_caps_str(GRAY_CAPS);
    h
}

#[test]
fn learned_and_hybrid_hold_back_the_models_lookahead_in_window_steps() {
    let rule = detector::Config::default();
    // hybrid runs the rule with a short window: it only proposes cuts.
    for (method, rule_lookahead) in [
        ("learned", rule.lookahead()),
        ("hybrid", rule.proposing().lookahead()),
    ] {
        let mut h = method_harness(method);
        h.set_upstream_latency(gst::ClockTime::ZERO);
        // Before any window has run: 3 s of frames and the first guess of 0.5 s for a window.
        h.push(sequence(1, &[]).remove(0)).unwrap();
        assert_eq!(h.query_latency(), Some(gst::ClockTime::from_mseconds(3500)));
        for (i, buffer) in sequence(200, &[]).into_iter().enumerate().skip(1) {
            h.push(buffer).unwrap();
            // The model judges 50 frames at a time once the 24 after them have arrived, the
            // rule each frame once its lookahead has; a frame leaves when both have judged it
            // and the two after it.
            let judged_by_model = match i {
                0..=72 => 0,
                73..=122 => 50,
                123..=172 => 100,
                _ => 150,
            };
            let judged_by_rule = i.saturating_sub(rule_lookahead - 1);
            let released = judged_by_model.min(judged_by_rule).saturating_sub(2);
            assert_eq!(
                h.buffers_received() as usize,
                released,
                "{method}, frame {i}"
            );
        }
        // 75 frames at 25 fps, 3 s, and twice the longest model window so far (at least 0.5 s).
        let latency = h.query_latency().unwrap();
        assert!(latency >= gst::ClockTime::from_mseconds(3500), "{latency}");
        assert!(h.push_event(gst::event::Eos::new()));
        assert_eq!(h.buffers_received(), 200, "{method}");
        for i in 0..200u64 {
            assert_eq!(h.pull().unwrap().offset(), i, "{method}");
        }
    }
}

#[test]
fn learned_without_its_model_fails_to_start_and_says_what_to_do() {
    init();
    let element = gst::ElementFactory::make("scenecut")
        .property_from_str("method", "learned")
        .property("transition-model", "/nonexistent/transnetv2.onnx")
        .build()
        .unwrap();
    let messages = refused_state_change(&element, gst::State::Paused);
    assert!(
        mentions(
            &messages,
            &[
                "method=learned needs the TransNetV2 model",
                "/nonexistent/transnetv2.onnx",
                "Use method=rule"
            ]
        ),
        "{messages:?}"
    );
    element.set_state(gst::State::Null).unwrap();
    // The rule needs neither the model nor ONNX Runtime.
    element.set_property_from_str("method", "rule");
    assert!(element.set_state(gst::State::Paused).is_ok());
    element.set_state(gst::State::Null).unwrap();
}

#[test]
fn an_unavailable_gpu_provider_runs_the_model_on_cpu_with_a_warning() {
    let pipeline = launch(
        "videotestsrc num-buffers=10 ! video/x-raw,format=GRAY8,width=64,height=48 ! \
         scenecut method=hybrid execution-provider=cuda ! fakesink",
    );
    let messages = run_to_end(&pipeline);
    assert!(has_eos(&messages), "{:?}", errors(&messages));
    // A CPU-only build says it lacks CUDA; a GPU build without a GPU says the provider failed.
    assert!(
        mentions(
            &warnings(&messages),
            &["The transition model runs on CPU instead of Cuda"]
        ),
        "{:?}",
        warnings(&messages)
    );
    let pipeline = launch(
        "videotestsrc num-buffers=10 ! video/x-raw,format=GRAY8,width=64,height=48 ! \
         scenecut method=hybrid execution-provider=cpu ! fakesink",
    );
    let messages = run_to_end(&pipeline);
    assert!(has_eos(&messages), "{:?}", errors(&messages));
    assert!(warnings(&messages).is_empty(), "{:?}", warnings(&messages));
}

/// A models folder holding the default encoder (which makes it one) and, of the default
/// TransNetV2 files, only `transition_files`, linked from the default folder.
fn models_folder_with(name: &str, transition_files: &[&str]) -> std::path::PathBuf {
    let defaults = inference::default_model_dir().unwrap();
    let dir = temp_dir(name);
    for file in [inference::ENCODER_FILE].iter().chain(transition_files) {
        std::os::unix::fs::symlink(defaults.join(file), dir.join(file)).unwrap();
    }
    dir
}

#[test]
fn transition_precision_picks_the_int8_or_float32_file_of_the_models_folder() {
    let int8_only = models_folder_with("int8-only", &[inference::TRANSITION_MODEL_INT8_FILE]);
    let float32_only = models_folder_with("float32-only", &[inference::TRANSITION_MODEL_FILE]);
    // On the CPU auto runs the int8 file, or the float32 one in a folder made before it.
    for (dir, precision, missing) in [
        (&int8_only, "auto", None),
        (&int8_only, "int8", None),
        (
            &int8_only,
            "float32",
            Some(inference::TRANSITION_MODEL_FILE),
        ),
        (&float32_only, "auto", None),
        (&float32_only, "float32", None),
        (
            &float32_only,
            "int8",
            Some(inference::TRANSITION_MODEL_INT8_FILE),
        ),
    ] {
        let output = gst_launch(
            &format!(
                "videotestsrc num-buffers=10 ! video/x-raw,format=GRAY8,width=64,height=48 ! \
                 scenecut method=hybrid execution-provider=cpu transition-precision={precision} ! \
                 fakesink"
            ),
            &[("EXEMPLAR_MODEL_DIR", dir.to_str().unwrap())],
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        let context = format!("{precision} in {}: {stderr}", dir.display());
        match missing {
            None => assert!(output.status.success(), "{context}"),
            Some(file) => {
                assert!(!output.status.success(), "{context}");
                assert!(
                    stderr.contains(&format!(
                        "method=hybrid needs the TransNetV2 model and ONNX Runtime: model file {} \
                         does not exist",
                        dir.join(file).display()
                    )),
                    "{context}"
                );
            }
        }
    }
    for dir in [int8_only, float32_only] {
        std::fs::remove_dir_all(dir).unwrap();
    }
}

#[test]
fn the_int8_transition_model_finds_the_same_scenes_as_float32() {
    let (dir, _) = media();
    for clip in ["transitions_grey.mp4", "scenes_grey.mp4"] {
        let [float32, int8] = ["float32", "int8"].map(|precision| {
            scene_changes(&format!(
                "filesrc location={} ! decodebin ! videoconvert ! scenecut method=hybrid \
                 transition-precision={precision} ! fakesink name=out",
                dir.join(clip).display()
            ))
            .0
        });
        assert!(float32.len() > 4, "{clip}: {float32:?}");
        assert_eq!(int8, float32, "{clip}");
    }
}
