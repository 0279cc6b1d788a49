// SPDX-License-Identifier: MIT OR Apache-2.0

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{LazyLock, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_video::prelude::*;

use super::detector::{self, Detector, FrameDiffs, Verdict};
use super::learned::{self, Learned, Probabilities, THUMBNAIL_HEIGHT, THUMBNAIL_WIDTH};
use super::luma::{self, LumaLayout, LumaPlane};
use super::{SceneCutMethod, TransitionPrecision};
use crate::colorize::inference::{self, SessionOptions, TransitionModel};
use crate::exemplarcolorize::ExecutionProvider;
use crate::scene_change::{SceneChange, SceneChangeKind};

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "scenecut",
        gst::DebugColorFlags::empty(),
        Some("Scene change detector"),
    )
});

const DEFAULT_ANALYSIS_WIDTH: u32 = 320;
const DEFAULT_FORCE_KEYFRAMES: bool = false;
/// How often the stall watchdog looks, and the shortest wait it calls a stall.
const STALL_CHECK_INTERVAL: gst::ClockTime = gst::ClockTime::from_mseconds(500);
const MIN_STALL: Duration = Duration::from_secs(2);
/// What the latency allows for one model window before one has run (one takes about 0.35 s
/// on 2 cores).
const FIRST_WINDOW_ESTIMATE: Duration = Duration::from_millis(500);

/// What the latency allows for the model when its longest run so far took `window_time`: the
/// first frame of each window's 25 leaves only once the model has run on it, so twice the
/// longest run, and the first guess until one has run.
fn model_allowance(window_time: Duration) -> Duration {
    (2 * window_time).max(FIRST_WINDOW_ESTIMATE)
}

#[derive(Debug, Clone)]
struct Settings {
    analysis_width: u32,
    rule: detector::Config,
    force_keyframes: bool,
    /// Longest time frames may be held back, in nanoseconds; 0 = no bound.
    max_lookahead_time: u64,
    method: SceneCutMethod,
    /// TransNetV2 model file; none = the default models folder's.
    transition_model: Option<std::path::PathBuf>,
    /// Which default TransNetV2 file runs when `transition_model` is none.
    transition_precision: TransitionPrecision,
    execution_provider: ExecutionProvider,
    device_id: i32,
}

impl Settings {
    /// The rule as it runs with `method`: shrunk, when `max-lookahead-time` binds, to the
    /// frames that fit in it at this frame duration.
    fn effective_rule(
        &self,
        frame_duration: Option<gst::ClockTime>,
        method: learned::Method,
    ) -> detector::Config {
        let rule = if method == learned::Method::Hybrid {
            self.rule.proposing()
        } else {
            self.rule
        };
        match frame_duration {
            Some(frame) if self.max_lookahead_time > 0 && frame > gst::ClockTime::ZERO => {
                rule.within_lookahead((self.max_lookahead_time / frame.nseconds()) as usize)
            }
            _ => rule,
        }
    }

    /// Frames held back after a frame before it is decided.
    fn lookahead(&self, frame_duration: Option<gst::ClockTime>, method: learned::Method) -> usize {
        let rule = self.effective_rule(frame_duration, method).lookahead();
        if method.uses_model() {
            rule.max(learned::LOOKAHEAD)
        } else {
            rule
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            analysis_width: DEFAULT_ANALYSIS_WIDTH,
            rule: detector::Config::default(),
            force_keyframes: DEFAULT_FORCE_KEYFRAMES,
            max_lookahead_time: 0,
            method: SceneCutMethod::Auto,
            transition_model: None,
            transition_precision: TransitionPrecision::Auto,
            execution_provider: ExecutionProvider::Auto,
            device_id: 0,
        }
    }
}

/// An item held back until the frame before it is decided, so that serialized events keep
/// their place among the buffers.
#[derive(Debug)]
enum Held {
    Frame(gst::Buffer),
    Event(gst::Event),
}

/// What the streaming thread sends on once the state lock is released.
#[derive(Debug)]
enum Output {
    Buffer(gst::Buffer),
    Event(gst::Event),
    Message(gst::Message),
}

struct State {
    /// The method as it runs: `auto` resolved to hybrid or rule.
    method: learned::Method,
    info: Option<gst_video::VideoInfo>,
    layout: LumaLayout,
    detector: Detector,
    held: VecDeque<Held>,
    analyser: luma::Analyser,
    /// The learned model's side of the run (`method` learned or hybrid).
    learned: Option<Learned>,
    thumbnailer: luma::Downscaler,
    /// Longest time a model window took, and what the latency last reported allowed for it.
    window_time: Duration,
    reported_window_time: Duration,
    /// The frame's luma at the model's size, and a buffer for frames smaller than that.
    thumbnail: Vec<u8>,
    small: Vec<u8>,
    /// Frames received since the stream started or was last flushed.
    frames_received: u64,
    /// Stream index of the detector's frame 0 (a caps change starts a new detector run).
    run_first_frame: u64,
    next_scene: u32,
    /// The segment most recently sent downstream, for force-key-unit running times.
    output_segment: gst::FormattedSegment<gst::ClockTime>,
    /// Duration of the latest buffer that had one, for the latency of 0/1-framerate streams.
    last_buffer_duration: Option<gst::ClockTime>,
    /// When the latest buffer arrived, and whether the stall since then was reported.
    last_input: Option<Instant>,
    stall_reported: bool,
}

impl State {
    /// A state for `method` as it runs (`auto` resolved).
    fn new(settings: &Settings, method: learned::Method) -> Self {
        let rule = settings.rule;
        State {
            method,
            info: None,
            layout: LumaLayout::Planar8,
            detector: Detector::new(rule),
            held: VecDeque::new(),
            analyser: luma::Analyser::default(),
            learned: method
                .uses_model()
                .then(|| Learned::new(method, rule.min_scene_frames)),
            thumbnailer: luma::Downscaler::default(),
            thumbnail: Vec::new(),
            small: Vec::new(),
            window_time: Duration::ZERO,
            reported_window_time: Duration::ZERO,
            frames_received: 0,
            run_first_frame: 0,
            next_scene: 0,
            output_segment: gst::FormattedSegment::new(),
            last_buffer_duration: None,
            last_input: None,
            stall_reported: false,
        }
    }

    fn held_frames(&self) -> bool {
        self.held.iter().any(|item| matches!(item, Held::Frame(_)))
    }

    /// Duration of one frame: from the framerate, else from the buffers.
    fn frame_duration(&self) -> Option<gst::ClockTime> {
        let fps = self.info.as_ref()?.fps();
        if fps.numer() > 0 && fps.denom() > 0 {
            gst::ClockTime::SECOND.mul_div_round(fps.denom() as u64, fps.numer() as u64)
        } else {
            self.last_buffer_duration
        }
    }
}

pub struct SceneCut {
    sinkpad: gst::Pad,
    srcpad: gst::Pad,
    settings: Mutex<Settings>,
    state: Mutex<State>,
    /// TransNetV2, loaded on READY→PAUSED when `method` needs it. Locked after `state`.
    model: Mutex<Option<TransitionModel>>,
    /// True while a push downstream is in progress: waiting there is downstream's business (a
    /// paused sink), not a stall of ours.
    pushing: AtomicBool,
    stall_watchdog: Mutex<Option<gst::PeriodicClockId>>,
}

/// The luma layout of every format the element accepts.
fn luma_layout(format: gst_video::VideoFormat) -> Option<LumaLayout> {
    use gst_video::VideoFormat as F;
    let rgb = |r, g, b, step| LumaLayout::Rgb { r, g, b, step };
    Some(match format {
        F::Gray8
        | F::I420
        | F::Yv12
        | F::Nv12
        | F::Nv21
        | F::Nv16
        | F::Nv24
        | F::Y41b
        | F::Y42b
        | F::Y444 => LumaLayout::Planar8,
        F::Gray16Le | F::P01010le => LumaLayout::Planar16 { depth: 16 },
        F::I42010le | F::I42210le | F::Y44410le => LumaLayout::Planar16 { depth: 10 },
        F::I42012le => LumaLayout::Planar16 { depth: 12 },
        F::Yuy2 | F::Yvyu => LumaLayout::Packed8 { offset: 0, step: 2 },
        F::Uyvy => LumaLayout::Packed8 { offset: 1, step: 2 },
        F::Rgb => rgb(0, 1, 2, 3),
        F::Bgr => rgb(2, 1, 0, 3),
        F::Rgba | F::Rgbx => rgb(0, 1, 2, 4),
        F::Bgra | F::Bgrx => rgb(2, 1, 0, 4),
        F::Argb | F::Xrgb => rgb(1, 2, 3, 4),
        F::Abgr | F::Xbgr => rgb(3, 2, 1, 4),
        _ => return None,
    })
}

const FORMATS: &[gst_video::VideoFormat] = {
    use gst_video::VideoFormat as F;
    &[
        F::Gray8,
        F::Gray16Le,
        F::I420,
        F::Yv12,
        F::Nv12,
        F::Nv21,
        F::Nv16,
        F::Nv24,
        F::Y41b,
        F::Y42b,
        F::Y444,
        F::I42010le,
        F::I42012le,
        F::I42210le,
        F::Y44410le,
        F::P01010le,
        F::Yuy2,
        F::Yvyu,
        F::Uyvy,
        F::Rgb,
        F::Bgr,
        F::Rgba,
        F::Bgra,
        F::Argb,
        F::Abgr,
        F::Rgbx,
        F::Bgrx,
        F::Xrgb,
        F::Xbgr,
    ]
};

impl SceneCut {
    fn lock_state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn lock_settings(&self) -> MutexGuard<'_, Settings> {
        self.settings
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn sink_chain(
        &self,
        _pad: &gst::Pad,
        buffer: gst::Buffer,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        let settings = self.lock_settings().clone();
        let mut outputs = Vec::new();
        {
            let mut state = self.lock_state();
            let state = &mut *state;
            let Some(info) = state.info.clone() else {
                gst::element_imp_error!(
                    self,
                    gst::CoreError::Negotiation,
                    ("Received a buffer before any caps: the element upstream must negotiate raw video caps first"),
                    ["no caps event before buffer with pts {}", buffer.pts().display()]
                );
                return Err(gst::FlowError::NotNegotiated);
            };
            let diffs = self.analyse(state, &info, &settings, &buffer)?;

            if buffer.duration().is_some() {
                state.last_buffer_duration = buffer.duration();
            }
            let rule = settings.effective_rule(state.frame_duration(), state.method);
            if *state.detector.config() != rule {
                gst::debug!(
                    CAT,
                    imp = self,
                    "rule now {rule:?} (lookahead {})",
                    rule.lookahead()
                );
                state.detector.set_config(rule);
            }
            gst::log!(
                CAT,
                imp = self,
                "frame {} pts {}: d = {:.3}",
                state.frames_received,
                buffer.pts().display(),
                diffs.previous
            );
            if state.method.uses_model()
                && model_allowance(state.window_time) > model_allowance(state.reported_window_time)
            {
                // Windows take longer than the latency allows: ask for it to be recomputed.
                state.reported_window_time = state.window_time;
                outputs.push(Output::Message(
                    gst::message::Latency::builder().src(&*self.obj()).build(),
                ));
            }
            state.detector.push_frame(diffs);
            state.frames_received += 1;
            state.last_input = Some(Instant::now());
            state.stall_reported = false;
            state.held.push_back(Held::Frame(buffer));
            self.release_decided(state, &settings, &mut outputs);
        }
        self.send(outputs)
    }

    /// Measures `buffer` for the rule.
    fn analyse(
        &self,
        state: &mut State,
        info: &gst_video::VideoInfo,
        settings: &Settings,
        buffer: &gst::Buffer,
    ) -> Result<FrameDiffs, gst::FlowError> {
        let frame = match gst_video::VideoFrameRef::from_buffer_ref_readable(buffer.as_ref(), info)
        {
            Ok(frame) => frame,
            Err(_) => {
                gst::element_imp_error!(
                    self,
                    gst::StreamError::Format,
                    (
                        "Buffer of {} bytes is smaller than the {} bytes that {}x{} {} needs: check the caps and buffers of the element upstream",
                        buffer.size(),
                        info.size(),
                        info.width(),
                        info.height(),
                        info.format().to_str()
                    ),
                    ["buffer pts {}, caps {:?}", buffer.pts().display(), info]
                );
                return Err(gst::FlowError::Error);
            }
        };
        let plane = LumaPlane {
            data: frame.plane_data(0).map_err(|_| gst::FlowError::Error)?,
            stride: frame.plane_stride()[0].max(0) as usize,
            width: info.width() as usize,
            height: info.height() as usize,
            layout: state.layout,
        };
        let diffs = state
            .analyser
            .measure(&plane, settings.analysis_width as usize)
            .map_err(|err| {
            gst::element_imp_error!(
                self,
                gst::StreamError::Format,
                ("Cannot read the luma plane ({}): check the caps and buffer layout of the element upstream", err),
                ["layout {:?}", plane.layout]
            );
            gst::FlowError::Error
        })?;
        self.learn(
            state,
            &plane,
            diffs.levels,
            settings.rule.lighting_correlation,
        )?;
        Ok(diffs)
    }

    /// Moves every decided frame, and the events queued before it, from `held` to `outputs`,
    /// announcing scene starts as it goes.
    fn release_decided(&self, state: &mut State, settings: &Settings, outputs: &mut Vec<Output>) {
        while let Some(decision) = Self::next_decision(state) {
            let buffer = loop {
                match state.held.pop_front() {
                    Some(Held::Event(event)) => Self::queue_event(state, event, outputs),
                    Some(Held::Frame(buffer)) => break buffer,
                    None => {
                        gst::error!(CAT, imp = self, "Decision without a held frame");
                        return;
                    }
                }
            };
            let frame = state.run_first_frame + decision.frame;
            self.log_verdict(frame, decision.diff, decision.verdict);
            if let Some((kind, score)) = decision.scene_kind() {
                let segment = &state.output_segment;
                let change = SceneChange {
                    scene: state.next_scene,
                    frame,
                    pts: buffer.pts(),
                    running_time: buffer.pts().and_then(|pts| segment.to_running_time(pts)),
                    stream_time: buffer.pts().and_then(|pts| segment.to_stream_time(pts)),
                    score,
                    kind: match kind {
                        detector::Kind::Cut => SceneChangeKind::Cut,
                        detector::Kind::Fade => SceneChangeKind::Fade,
                        detector::Kind::Dissolve => SceneChangeKind::Dissolve,
                    },
                };
                state.next_scene = state.next_scene.wrapping_add(1);
                gst::debug!(
                    CAT,
                    imp = self,
                    "scene {} starts at frame {} (pts {}, score {:.2})",
                    change.scene,
                    change.frame,
                    change.pts.display(),
                    change.score
                );
                outputs.push(Output::Event(change.to_event()));
                if settings.force_keyframes {
                    outputs.push(Output::Event(Self::force_key_unit(&change)));
                }
                outputs.push(Output::Message(change.to_message(&*self.obj())));
            }
            outputs.push(Output::Buffer(buffer));
        }
        while let Some(Held::Event(_)) = state.held.front() {
            if let Some(Held::Event(event)) = state.held.pop_front() {
                Self::queue_event(state, event, outputs);
            }
        }
    }

    /// The next final decision: the rule's, or the learned model's side's once it has the
    /// rule's decisions it needs.
    fn next_decision(state: &mut State) -> Option<detector::Decision> {
        match state.learned.as_mut() {
            Some(learned) => {
                while let Some(decision) = state.detector.next_decision() {
                    learned.push_rule(decision);
                }
                learned.next_decision()
            }
            None => state.detector.next_decision(),
        }
    }

    fn log_verdict(&self, frame: u64, diff: Option<f64>, verdict: Verdict) {
        let d = diff.unwrap_or(0.0);
        match verdict {
            Verdict::Continues => {
                gst::trace!(CAT, imp = self, "frame {frame}: d = {d:.3}, no window")
            }
            Verdict::SceneStart { .. } => {}
            Verdict::FadeIn { depth, black_from } => gst::debug!(
                CAT,
                imp = self,
                "frame {frame}: first visible frame after a fade through black from run frame \
                 {black_from} (depth {depth:.1})"
            ),
            Verdict::Dissolve { depth, valley } => gst::debug!(
                CAT,
                imp = self,
                "frame {frame}: the new shot dominates a dissolve whose contrast is lowest at \
                 run frame {valley} (depth {depth:.2})"
            ),
            Verdict::Unconfirmed {
                score,
                neighbour_mean,
            } => gst::debug!(
                CAT,
                imp = self,
                "frame {frame}: candidate (d = {d:.3}, score {score:.2}) not confirmed: \
                 neighbour mean {neighbour_mean:.3}"
            ),
            Verdict::Flash { start, length } => gst::debug!(
                CAT,
                imp = self,
                "frame {frame}: d = {d:.3} belongs to a {length}-frame flash from run frame {start}, \
                 not a cut"
            ),
            Verdict::Transition {
                kind,
                probability,
                frames,
            } => gst::debug!(
                CAT,
                imp = self,
                "frame {frame}: first frame after the model's {kind:?} transition of {frames} \
                 frames (peak probability {probability:.2})"
            ),
            Verdict::Lighting { score, correlation } => gst::debug!(
                CAT,
                imp = self,
                "frame {frame}: change (d = {d:.3}, score {score:.2}) is light, not a scene: \
                 the pictures around it correlate {correlation:.3}"
            ),
            Verdict::Vetoed { rule, probability } => gst::debug!(
                CAT,
                imp = self,
                "frame {frame}: the rule's {rule:?} (d = {d:.3}) vetoed: the model gives the \
                 frames around it at most {probability:.3} of being a transition"
            ),
            Verdict::ModelBlip {
                frames,
                probability,
            } => gst::debug!(
                CAT,
                imp = self,
                "frame {frame}: the model's every-frame head marks {frames} frames before it, \
                 too few for a fade or dissolve, and its cut head at most {probability:.3}: \
                 no transition"
            ),
            Verdict::TooSoon {
                score,
                previous_cut,
            } => gst::debug!(
                CAT,
                imp = self,
                "frame {frame}: cut (d = {d:.3}, score {score:.2}) suppressed, only {} frames \
                 after the cut at run frame {previous_cut}",
                frame.saturating_sub(previous_cut)
            ),
        }
    }

    fn queue_event(state: &mut State, event: gst::Event, outputs: &mut Vec<Output>) {
        Self::track_segment(state, &event);
        outputs.push(Output::Event(event));
    }

    fn track_segment(state: &mut State, event: &gst::Event) {
        if let gst::EventView::Segment(segment) = event.view() {
            if let Ok(segment) = segment.segment().clone().downcast::<gst::ClockTime>() {
                state.output_segment = segment;
            }
        }
    }

    fn force_key_unit(change: &SceneChange) -> gst::Event {
        gst_video::DownstreamForceKeyUnitEvent::builder()
            .timestamp(change.pts)
            .stream_time(change.stream_time)
            .running_time(change.running_time)
            .all_headers(true)
            .count(change.scene)
            .build()
    }

    /// Decides and releases everything held, then starts a new detector run.
    fn drain(&self, state: &mut State, settings: &Settings, outputs: &mut Vec<Output>) {
        state.detector.finish();
        if let Some(learned) = state.learned.as_mut() {
            learned.finish();
            // A failed run has posted its error; the rule decides the frames it left.
            let _ = self.run_model(learned);
        }
        self.release_decided(state, settings, outputs);
        state.detector.reset();
        if let Some(learned) = state.learned.as_mut() {
            learned.reset();
        }
        state.analyser.new_run();
        state.run_first_frame = state.frames_received;
    }

    /// Looks for a stall: frames held back, nothing being pushed, and no new frame for much
    /// longer than the lookahead takes to fill. The classic cause is another branch of the
    /// pipeline (audio) whose queue fills before this element has enough frames to release
    /// any, so the demuxer blocks and nothing ever arrives here.
    fn check_stall(&self) {
        if self.pushing.load(Ordering::SeqCst) {
            return;
        }
        let lookahead = self.held_back_duration();
        let patience = MIN_STALL.max(Duration::from_nanos(lookahead.nseconds()) * 2);
        let settings = self.lock_settings().clone();
        let message = {
            let mut state = self.lock_state();
            let waited = state.last_input.map(|t| t.elapsed());
            match waited {
                Some(waited)
                    if waited >= patience && !state.stall_reported && state.held_frames() =>
                {
                    state.stall_reported = true;
                    let held = state
                        .held
                        .iter()
                        .filter(|item| matches!(item, Held::Frame(_)))
                        .count();
                    format!(
                        "scenecut has held {held} frames for {:.1} s without receiving another: it \
                         holds back {} frames ({:.2} s of lookahead) before it releases one. If \
                         the pipeline has other branches (audio, subtitles), their queues must hold \
                         at least the lookahead plus the processing latency downstream, for example \
                         `queue max-size-time=5000000000 max-size-bytes=0 max-size-buffers=0`",
                        waited.as_secs_f64(),
                        settings.lookahead(state.frame_duration(), state.method),
                        lookahead.nseconds() as f64 / 1e9
                    )
                }
                _ => return,
            }
        };
        gst::warning!(CAT, imp = self, "{message}");
        gst::element_imp_warning!(self, gst::StreamError::Failed, ("{}", message));
    }

    fn start_stall_watchdog(&self) {
        let clock = gst::SystemClock::obtain();
        let id = clock.new_periodic_id(clock.time(), STALL_CHECK_INTERVAL);
        let element = self.obj().downgrade();
        let started = id.wait_async(move |_, _, _| {
            if let Some(element) = element.upgrade() {
                element.imp().check_stall();
            }
        });
        match started {
            Ok(_) => {
                *self
                    .stall_watchdog
                    .lock()
                    .unwrap_or_else(|p| p.into_inner()) = Some(id)
            }
            Err(err) => gst::warning!(CAT, imp = self, "no stall watchdog: {err:?}"),
        }
    }

    fn stop_stall_watchdog(&self) {
        if let Some(id) = self
            .stall_watchdog
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            id.unschedule();
        }
    }

    fn send(&self, outputs: Vec<Output>) -> Result<gst::FlowSuccess, gst::FlowError> {
        let _pushing = PushGuard::new(&self.pushing);
        let mut result = Ok(gst::FlowSuccess::Ok);
        for output in outputs {
            match output {
                Output::Buffer(buffer) => {
                    result = self.srcpad.push(buffer);
                    if result.is_err() {
                        break;
                    }
                }
                Output::Event(event) => {
                    let description = format!("{:?}", event.type_());
                    if !self.srcpad.push_event(event) {
                        gst::debug!(CAT, imp = self, "downstream refused {description} event");
                    }
                }
                Output::Message(message) => {
                    let _ = self.obj().post_message(message);
                }
            }
        }
        result
    }

    fn sink_event(&self, pad: &gst::Pad, event: gst::Event) -> bool {
        gst::log!(CAT, obj = pad, "Handling event {:?}", event);
        let settings = self.lock_settings().clone();
        // Frames (and events queued among them) that must leave before this event.
        let mut drained = Vec::new();
        let mut state = self.lock_state();
        match event.view() {
            gst::EventView::FlushStop(_) => {
                let info = state.info.take();
                let layout = state.layout;
                let method = state.method;
                *state = State::new(&settings, method);
                state.info = info;
                state.layout = layout;
            }
            gst::EventView::Caps(caps) => {
                let caps = caps.caps_owned();
                let Some((info, layout)) = self.parse_caps(&caps) else {
                    return false;
                };
                if state.info.as_ref() != Some(&info) {
                    if state.run_frame_count() > 0 {
                        gst::debug!(CAT, imp = self, "caps changed to {caps}: new scene");
                        self.drain(&mut state, &settings, &mut drained);
                    }
                    state.info = Some(info);
                    state.layout = layout;
                }
            }
            gst::EventView::Eos(_) => self.drain(&mut state, &settings, &mut drained),
            _ if event.is_serialized() => {
                if state.held_frames() {
                    state.held.push_back(Held::Event(event));
                    return true;
                }
                Self::track_segment(&mut state, &event);
            }
            _ => {
                drop(state);
                return gst::Pad::event_default(pad, Some(&*self.obj()), event);
            }
        }
        drop(state);
        if let Err(err) = self.send(drained) {
            gst::debug!(CAT, imp = self, "pushing drained frames failed: {err:?}");
        }
        self.srcpad.push_event(event)
    }

    fn parse_caps(&self, caps: &gst::Caps) -> Option<(gst_video::VideoInfo, LumaLayout)> {
        let info = match gst_video::VideoInfo::from_caps(caps) {
            Ok(info) => info,
            Err(err) => {
                gst::warning!(CAT, imp = self, "refusing caps {caps}: {err}");
                return None;
            }
        };
        let Some(layout) = luma_layout(info.format()) else {
            gst::warning!(
                CAT,
                imp = self,
                "refusing unsupported format {}",
                info.format()
            );
            return None;
        };
        Some((info, layout))
    }

    fn src_query(&self, pad: &gst::Pad, query: &mut gst::QueryRef) -> bool {
        if let gst::QueryViewMut::Latency(q) = query.view_mut() {
            let mut upstream = gst::query::Latency::new();
            if !self.sinkpad.peer_query(&mut upstream) {
                return false;
            }
            let (live, min, max) = upstream.result();
            {
                // What this answer allows for the model: a later, longer run asks again.
                let mut state = self.lock_state();
                state.reported_window_time = state.window_time;
            }
            let ours = self.held_back_duration();
            gst::debug!(
                CAT,
                imp = self,
                "upstream latency {min} (max {}), adding {ours} of lookahead",
                max.display()
            );
            q.set(live, min + ours, max.map(|max| max + ours));
            return true;
        }
        gst::Pad::query_default(pad, Some(&*self.obj()), query)
    }

    /// How long the lookahead holds a frame back.
    fn held_back_duration(&self) -> gst::ClockTime {
        let settings = self.lock_settings().clone();
        let (frame_duration, method, window_time) = {
            let state = self.lock_state();
            (state.frame_duration(), state.method, state.window_time)
        };
        let lookahead = settings.lookahead(frame_duration, method) as u64;
        let held = frame_duration.map_or(gst::ClockTime::ZERO, |frame| frame * lookahead);
        if !method.uses_model() {
            return held;
        }
        held + gst::ClockTime::from_nseconds(model_allowance(window_time).as_nanos() as u64)
    }

    /// Loads TransNetV2 when `method` needs it and returns the method that runs: `auto` falls
    /// back to the rule, with a warning, when the model or ONNX Runtime cannot be had.
    fn load_model(&self, settings: &Settings) -> Result<learned::Method, gst::StateChangeError> {
        let mut model = self.model.lock().unwrap_or_else(|p| p.into_inner());
        if settings.method == SceneCutMethod::Rule {
            *model = None;
            return Ok(learned::Method::Rule);
        }
        if settings.method == SceneCutMethod::Auto && settings.max_lookahead_time > 0 {
            // The model's 75 frames cannot shrink to a bound; the rule's can.
            gst::info!(
                CAT,
                imp = self,
                "max-lookahead-time is set: method=auto runs the rule"
            );
            *model = None;
            return Ok(learned::Method::Rule);
        }
        let options = SessionOptions {
            provider: settings.execution_provider.into(),
            device_id: settings.device_id,
            strict: false,
            threads: 0,
        };
        let loaded = match &settings.transition_model {
            Some(path) => self.load_transition_model(path, &options),
            None => inference::default_model_dir()
                .map_err(inference::InferenceError)
                .and_then(|dir| {
                    self.load_default_transition_model(
                        &dir,
                        settings.transition_precision,
                        &options,
                    )
                }),
        };
        match (loaded, settings.method) {
            (Ok(loaded), method) => {
                match &loaded.fallback {
                    Some(why) if settings.execution_provider != ExecutionProvider::Auto => {
                        gst::element_imp_warning!(
                            self,
                            gst::LibraryError::Settings,
                            (
                                "The transition model runs on CPU instead of {:?}: {}",
                                settings.execution_provider,
                                why
                            )
                        );
                    }
                    _ => gst::info!(
                        CAT,
                        imp = self,
                        "transition model on {}{}",
                        loaded.provider,
                        loaded
                            .fallback
                            .as_ref()
                            .map_or(String::new(), |why| format!(" ({why})"))
                    ),
                }
                *model = Some(loaded);
                Ok(learned::Method::from(method))
            }
            (Err(err), SceneCutMethod::Auto) => {
                *model = None;
                gst::element_imp_warning!(
                    self,
                    gst::ResourceError::OpenRead,
                    (
                        "Finding scenes with the rule alone, which misses more dissolves and takes more fast pans for cuts: method=auto could not load the TransNetV2 model ({}). Run `bash scripts/setup.sh` or set transition-model, or set method=rule to silence this",
                        err.0
                    ),
                    ["transition-model {:?}", settings.transition_model]
                );
                Ok(learned::Method::Rule)
            }
            (Err(err), method) => {
                gst::element_imp_error!(
                    self,
                    gst::ResourceError::OpenRead,
                    (
                        "method={} needs the TransNetV2 model and ONNX Runtime: {}. Use method=rule to detect scenes without them",
                        if method == SceneCutMethod::Learned { "learned" } else { "hybrid" },
                        err.0
                    ),
                    ["transition-model {:?}", settings.transition_model]
                );
                Err(gst::StateChangeError)
            }
        }
    }

    fn load_transition_model(
        &self,
        path: &std::path::Path,
        options: &SessionOptions,
    ) -> Result<TransitionModel, inference::InferenceError> {
        gst::info!(
            CAT,
            imp = self,
            "loading the transition model {}",
            path.display()
        );
        TransitionModel::load(path, options)
    }

    /// The default folder's TransNetV2 in `precision`. `auto` takes the float32 graph where the
    /// model may run on a GPU (there the int8 one is dequantized and gains nothing) and the int8
    /// one on the CPU, also after a GPU provider fell back to it (loaded on the CPU straight
    /// away, keeping the first fallback's reason). A folder without the int8 graph (models
    /// built before it) runs the float32 one.
    fn load_default_transition_model(
        &self,
        dir: &std::path::Path,
        precision: TransitionPrecision,
        options: &SessionOptions,
    ) -> Result<TransitionModel, inference::InferenceError> {
        let float32 = dir.join(inference::TRANSITION_MODEL_FILE);
        let int8 = dir.join(inference::TRANSITION_MODEL_INT8_FILE);
        match precision {
            TransitionPrecision::Float32 => self.load_transition_model(&float32, options),
            TransitionPrecision::Int8 => self.load_transition_model(&int8, options),
            TransitionPrecision::Auto if !int8.is_file() => {
                gst::info!(
                    CAT,
                    imp = self,
                    "no {}: the float32 transition model runs",
                    int8.display()
                );
                self.load_transition_model(&float32, options)
            }
            TransitionPrecision::Auto if options.provider.may_use_gpu() => {
                let model = self.load_transition_model(&float32, options)?;
                if model.provider != inference::CPU_PROVIDER {
                    return Ok(model);
                }
                let on_cpu = SessionOptions {
                    provider: inference::Provider::Cpu,
                    ..options.clone()
                };
                let mut int8_model = self.load_transition_model(&int8, &on_cpu)?;
                int8_model.fallback = model.fallback;
                Ok(int8_model)
            }
            TransitionPrecision::Auto => self.load_transition_model(&int8, options),
        }
    }

    /// Hands the run's new frame to the learned model's side and runs the windows it completes.
    fn learn(
        &self,
        state: &mut State,
        plane: &LumaPlane,
        levels: Option<luma::Levels>,
        lighting_correlation: f64,
    ) -> Result<(), gst::FlowError> {
        let Some(learned) = state.learned.as_mut() else {
            return Ok(());
        };
        let (width, height) = (
            plane.width.min(THUMBNAIL_WIDTH),
            plane.height.min(THUMBNAIL_HEIGHT),
        );
        if state
            .thumbnailer
            .run(plane, width, height, &mut state.small)
            .is_err()
        {
            return Err(gst::FlowError::Error);
        }
        if (width, height) == (THUMBNAIL_WIDTH, THUMBNAIL_HEIGHT) {
            std::mem::swap(&mut state.small, &mut state.thumbnail);
        } else {
            learned::stretch_to_thumbnail(&state.small, width, height, &mut state.thumbnail);
        }
        learned.set_lighting_correlation(lighting_correlation);
        learned.push_frame(&state.thumbnail, levels);
        let window_time = self.run_model(learned)?;
        state.window_time = state.window_time.max(window_time);
        Ok(())
    }

    /// Runs the windows that can run; returns the longest time one took.
    fn run_model(&self, learned: &mut Learned) -> Result<Duration, gst::FlowError> {
        let mut longest = Duration::ZERO;
        let mut model = self.model.lock().unwrap_or_else(|p| p.into_inner());
        let Some(model) = model.as_mut() else {
            gst::element_imp_error!(
                self,
                gst::CoreError::StateChange,
                ("The transition model is not loaded: the element must go through READY to PAUSED first")
            );
            return Err(gst::FlowError::Error);
        };
        learned
            .run_windows(|frames| {
                let start = Instant::now();
                let result = model.predict(frames, THUMBNAIL_WIDTH, THUMBNAIL_HEIGHT);
                longest = longest.max(start.elapsed());
                gst::trace!(CAT, imp = self, "model window in {:?}", start.elapsed());
                result.map(|p| {
                    p.into_iter()
                        .map(|(transition, any)| Probabilities { transition, any })
                        .collect()
                })
            })
            .map_err(|err| {
                gst::element_imp_error!(
                    self,
                    gst::LibraryError::Failed,
                    ("The transition model failed: {}", err.0)
                );
                gst::FlowError::Error
            })?;
        Ok(longest)
    }
}

impl State {
    /// Frames pushed into the current detector run.
    fn run_frame_count(&self) -> u64 {
        self.frames_received - self.run_first_frame
    }
}

/// Marks a push downstream in progress for as long as it lives.
struct PushGuard<'a>(&'a AtomicBool);

impl<'a> PushGuard<'a> {
    fn new(flag: &'a AtomicBool) -> Self {
        flag.store(true, Ordering::SeqCst);
        PushGuard(flag)
    }
}

impl Drop for PushGuard<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

#[glib::object_subclass]
impl ObjectSubclass for SceneCut {
    const NAME: &'static str = "GstSceneCut";
    type Type = super::SceneCut;
    type ParentType = gst::Element;

    fn with_class(klass: &Self::Class) -> Self {
        let sink_templ = klass.pad_template("sink").expect("sink template");
        let sinkpad = gst::Pad::builder_from_template(&sink_templ)
            .chain_function(|pad, parent, buffer| {
                SceneCut::catch_panic_pad_function(
                    parent,
                    || Err(gst::FlowError::Error),
                    |imp| imp.sink_chain(pad, buffer),
                )
            })
            .event_function(|pad, parent, event| {
                SceneCut::catch_panic_pad_function(
                    parent,
                    || false,
                    |imp| imp.sink_event(pad, event),
                )
            })
            .flags(gst::PadFlags::PROXY_CAPS | gst::PadFlags::PROXY_ALLOCATION)
            .build();

        let src_templ = klass.pad_template("src").expect("src template");
        let srcpad = gst::Pad::builder_from_template(&src_templ)
            .query_function(|pad, parent, query| {
                SceneCut::catch_panic_pad_function(
                    parent,
                    || false,
                    |imp| imp.src_query(pad, query),
                )
            })
            .flags(gst::PadFlags::PROXY_CAPS | gst::PadFlags::PROXY_ALLOCATION)
            .build();

        let settings = Settings::default();
        SceneCut {
            sinkpad,
            srcpad,
            state: Mutex::new(State::new(&settings, learned::Method::Rule)),
            settings: Mutex::new(settings),
            model: Mutex::new(None),
            pushing: AtomicBool::new(false),
            stall_watchdog: Mutex::new(None),
        }
    }
}

impl ObjectImpl for SceneCut {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            let rule = detector::Config::default();
            vec![
                glib::ParamSpecUInt::builder("analysis-width")
                    .nick("Analysis width")
                    .blurb(
                        "Width in pixels of the box-averaged luma image that frames are compared \
                         at (height in proportion; 0 = full size). Changeable in NULL and READY.",
                    )
                    .maximum(u16::MAX as u32)
                    .default_value(DEFAULT_ANALYSIS_WIDTH)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt::builder("window")
                    .nick("Window")
                    .blurb(
                        "Frame differences per sliding window; a frame is a candidate cut when it \
                         is its window's largest difference and beats window-ratio times the \
                         window mean. Sets the lookahead (latency) with confirm-radius. \
                         Changeable while playing.",
                    )
                    .minimum(2)
                    .maximum(detector::MAX_WINDOW as u32)
                    .default_value(rule.window as u32)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecDouble::builder("window-ratio")
                    .nick("Window ratio")
                    .blurb(
                        "How many times the window mean a candidate's difference must exceed. \
                         Changeable while playing.",
                    )
                    .minimum(1.0)
                    .maximum(1000.0)
                    .default_value(rule.window_ratio)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecDouble::builder("confirm-ratio")
                    .nick("Confirmation ratio")
                    .blurb(
                        "How many times the mean difference of the surrounding frames a \
                         candidate's difference must exceed to be confirmed. Changeable while \
                         playing.",
                    )
                    .minimum(1.0)
                    .maximum(1000.0)
                    .default_value(rule.confirm_ratio)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt::builder("confirm-radius")
                    .nick("Confirmation radius")
                    .blurb(
                        "Frames on each side of a candidate whose differences make the \
                         confirmation mean. Changeable while playing.",
                    )
                    .minimum(1)
                    .maximum(detector::MAX_CONFIRM_RADIUS as u32)
                    .default_value(rule.confirm_radius as u32)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt::builder("min-scene-frames")
                    .nick("Minimum scene length")
                    .blurb(
                        "A cut closer than this many frames to the previous cut is ignored. \
                         Changeable while playing.",
                    )
                    .maximum(u32::MAX)
                    .default_value(rule.min_scene_frames as u32)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecDouble::builder("flash-ratio")
                    .nick("Flash ratio")
                    .blurb(
                        "A cut is a flash (photographer's flash, lightning, strobe) when one or two \
                         frames later the picture differs from the frame before the spike by less \
                         than this fraction of the spike; 0 = off. Changeable while playing.",
                    )
                    .minimum(0.0)
                    .maximum(1.0)
                    .default_value(rule.flash_ratio)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecDouble::builder("lighting-correlation")
                    .nick("Lighting correlation")
                    .blurb(
                        "A change is light, not a new scene (a lamp switched on, flicker, glare, a \
                         flash) when the pictures on either side of it correlate at least this \
                         much once brightness and contrast are set aside; 0 = off. Changeable \
                         while playing.",
                    )
                    .minimum(0.0)
                    .maximum(1.0)
                    .default_value(rule.lighting_correlation)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecBoolean::builder("gradual")
                    .nick("Gradual transitions")
                    .blurb(
                        "Also find fades through black (kind \"fade\", the scene starting at the \
                         first visible frame) and dissolves (kind \"dissolve\", the scene starting \
                         where the new shot dominates); needs a lookahead of at least 25 frames, \
                         none extra when off. Changeable while playing.",
                    )
                    .default_value(rule.gradual)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecBoolean::builder("force-keyframes")
                    .nick("Force keyframes")
                    .blurb(
                        "Send a downstream force-key-unit event with each scene's first frame, so \
                         an encoder starts a keyframe at every cut. Changeable while playing.",
                    )
                    .default_value(DEFAULT_FORCE_KEYFRAMES)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt64::builder("max-lookahead-time")
                    .nick("Maximum lookahead time")
                    .blurb(
                        "Longest time in nanoseconds frames may be held back (0 = no bound). The \
                         lookahead counts frames (29 for the rule), so slow sources wait long: \
                         2.9 s at 10 fps, 29 s at 1 fps. When the bound binds, the window and \
                         confirmation radius shrink to fit it, and fades and dissolves are not \
                         looked for below 25 frames. Set, it makes method=auto run the rule (the \
                         model's 75 frames cannot shrink). Changeable while playing.",
                    )
                    .default_value(0)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecEnum::builder_with_default("method", SceneCutMethod::Auto)
                    .nick("Method")
                    .blurb(
                        "How scene starts are found: rule (luma differences, no ONNX Runtime), \
                         learned (the TransNetV2 model), hybrid (the rule's cuts checked by the \
                         model, plus the model's dissolves and fades) or auto (hybrid when the \
                         model loads, else the rule with a warning; the rule when \
                         max-lookahead-time is set). learned and hybrid hold back 75 frames (3 s \
                         at 25 fps) plus the model's run time, and run the model on 48x27 grey \
                         thumbnails: about 4 ms per frame on 2 cores in int8, 7 ms in float32 \
                         (transition-precision). Changeable in NULL and READY",
                    )
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("transition-model")
                    .nick("Transition model")
                    .blurb(
                        "TransNetV2 ONNX file for method=learned and hybrid; empty: the default \
                         models folder's (EXEMPLAR_MODEL_DIR, the installed models, or the source \
                         tree's generated/models) transnetv2_int8.onnx or transnetv2.onnx, as \
                         transition-precision says. Changeable in NULL and READY",
                    )
                    .mutable_ready()
                    .build(),
                glib::ParamSpecEnum::builder_with_default(
                    "transition-precision",
                    TransitionPrecision::Auto,
                )
                .nick("Transition model precision")
                .blurb(
                    "Arithmetic of the default TransNetV2 model: int8 (its spatial convolutions \
                     quantized, about 1.8 times faster on a CPU, probabilities within 0.04 of \
                     float32's), float32, or auto (int8 when the model runs on the CPU, float32 \
                     on a GPU provider; float32 if the models folder has no int8 file). Not \
                     used when transition-model names a file. Changeable in NULL and READY",
                )
                .mutable_ready()
                .build(),
                glib::ParamSpecEnum::builder_with_default(
                    "execution-provider",
                    ExecutionProvider::Auto,
                )
                .nick("Execution provider")
                .blurb(
                    "ONNX Runtime execution provider of the transition model (method=learned \
                     and hybrid), in float32 on a GPU too; auto = CUDA when this build and the \
                     runtime have it, else CPU. An unavailable GPU provider falls back to CPU \
                     with a warning. Changeable in NULL and READY",
                )
                .mutable_ready()
                .build(),
                glib::ParamSpecInt::builder("device-id")
                    .nick("Device ID")
                    .blurb("GPU to run on with the cuda and tensorrt providers. Changeable in NULL and READY")
                    .minimum(0)
                    .maximum(64)
                    .default_value(0)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt64::builder("latency")
                    .nick("Latency")
                    .blurb(
                        "Time in nanoseconds that frames are held back to decide them \
                         (lookahead × frame duration; 0 until the frame duration is known)",
                    )
                    .read_only()
                    .build(),
            ]
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut settings = self.lock_settings();
        let old_lookahead = settings.rule.lookahead();
        let value_u32 = || value.get::<u32>().unwrap_or_default();
        let value_f64 = || value.get::<f64>().unwrap_or_default();
        match pspec.name() {
            "analysis-width" => settings.analysis_width = value_u32(),
            "window" => settings.rule.window = value_u32() as usize,
            "window-ratio" => settings.rule.window_ratio = value_f64(),
            "confirm-ratio" => settings.rule.confirm_ratio = value_f64(),
            "confirm-radius" => settings.rule.confirm_radius = value_u32() as usize,
            "min-scene-frames" => settings.rule.min_scene_frames = value_u32() as u64,
            "flash-ratio" => settings.rule.flash_ratio = value_f64(),
            "lighting-correlation" => settings.rule.lighting_correlation = value_f64(),
            "gradual" => settings.rule.gradual = value.get().unwrap_or(true),
            "force-keyframes" => settings.force_keyframes = value.get().unwrap_or_default(),
            "max-lookahead-time" => settings.max_lookahead_time = value.get().unwrap_or_default(),
            "method" => settings.method = value.get().unwrap_or_default(),
            "execution-provider" => {
                settings.execution_provider = value.get().unwrap_or(ExecutionProvider::Auto)
            }
            "device-id" => settings.device_id = value.get().unwrap_or_default(),
            "transition-precision" => {
                settings.transition_precision = value.get().unwrap_or_default()
            }
            "transition-model" => {
                settings.transition_model = value
                    .get::<Option<String>>()
                    .unwrap_or_default()
                    .filter(|path| !path.is_empty())
                    .map(Into::into)
            }
            other => {
                gst::warning!(CAT, imp = self, "no writable property {other}");
                return;
            }
        }
        gst::info!(CAT, imp = self, "{} set to {:?}", pspec.name(), value);
        let lookahead_changed = settings.rule.lookahead() != old_lookahead
            || matches!(pspec.name(), "max-lookahead-time" | "method");
        drop(settings);
        if lookahead_changed {
            let _ = self
                .obj()
                .post_message(gst::message::Latency::builder().src(&*self.obj()).build());
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let settings = self.lock_settings().clone();
        match pspec.name() {
            "analysis-width" => settings.analysis_width.to_value(),
            "window" => (settings.rule.window as u32).to_value(),
            "window-ratio" => settings.rule.window_ratio.to_value(),
            "confirm-ratio" => settings.rule.confirm_ratio.to_value(),
            "confirm-radius" => (settings.rule.confirm_radius as u32).to_value(),
            "min-scene-frames" => (settings.rule.min_scene_frames as u32).to_value(),
            "flash-ratio" => settings.rule.flash_ratio.to_value(),
            "lighting-correlation" => settings.rule.lighting_correlation.to_value(),
            "gradual" => settings.rule.gradual.to_value(),
            "force-keyframes" => settings.force_keyframes.to_value(),
            "max-lookahead-time" => settings.max_lookahead_time.to_value(),
            "method" => settings.method.to_value(),
            "execution-provider" => settings.execution_provider.to_value(),
            "device-id" => settings.device_id.to_value(),
            "transition-precision" => settings.transition_precision.to_value(),
            "transition-model" => settings
                .transition_model
                .as_ref()
                .map(|path| path.display().to_string())
                .to_value(),
            "latency" => self.held_back_duration().nseconds().to_value(),
            other => {
                gst::warning!(CAT, imp = self, "no readable property {other}");
                pspec.default_value().clone()
            }
        }
    }

    fn constructed(&self) {
        self.parent_constructed();
        let obj = self.obj();
        obj.add_pad(&self.sinkpad).expect("adding sink pad");
        obj.add_pad(&self.srcpad).expect("adding src pad");
    }
}

impl GstObjectImpl for SceneCut {}

impl ElementImpl for SceneCut {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static METADATA: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "Scene change detector",
                "Filter/Analyzer/Video",
                "Finds cuts with a windowed absolute luma difference rule, passes every frame \
                 through untouched and announces each new scene with a serialized custom \
                 downstream event and an element message named scene-change",
                "gst-exemplar developers",
            )
        });
        Some(&*METADATA)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static PAD_TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            let caps = gst_video::VideoCapsBuilder::new()
                .format_list(FORMATS.iter().copied())
                .build();
            vec![
                gst::PadTemplate::new(
                    "src",
                    gst::PadDirection::Src,
                    gst::PadPresence::Always,
                    &caps,
                )
                .expect("src template"),
                gst::PadTemplate::new(
                    "sink",
                    gst::PadDirection::Sink,
                    gst::PadPresence::Always,
                    &caps,
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
        if transition == gst::StateChange::ReadyToPaused {
            let settings = self.lock_settings().clone();
            let method = self.load_model(&settings)?;
            *self.lock_state() = State::new(&settings, method);
            self.start_stall_watchdog();
        }
        let result = self.parent_change_state(transition)?;
        if transition == gst::StateChange::PausedToReady {
            self.stop_stall_watchdog();
            let settings = self.lock_settings().clone();
            *self.lock_state() = State::new(&settings, learned::Method::Rule);
        }
        Ok(result)
    }
}
