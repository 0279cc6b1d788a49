// SPDX-License-Identifier: MIT OR Apache-2.0

//! The learned shot-boundary model's side of `scenecut`, free of GStreamer and of ONNX Runtime:
//! which 48x27 frames go to TransNetV2 in which window, and what its per-frame transition
//! probabilities say, alone (`method=learned`) or combined with the rule (`method=hybrid`).
//!
//! Windows: TransNetV2 judges a frame best with context on both sides (the package runs
//! 100-frame windows and keeps their middle 50). Here a window holds `WINDOW` frames and keeps
//! the `STEP` frames after its first `CONTEXT_BEFORE`: every frame is judged with at least 25
//! frames before it and 24 after, and a frame waits for at most `MODEL_LOOKAHEAD` later frames.
//! Each frame goes through the model about `WINDOW / STEP` times (twice), which is most of the
//! element's cost; 74-frame windows every 25 frames held back 25 frames less but cost half as
//! much again, and found fewer dissolves on the transitions benchmark's held-out clips.
//! The stream's first frame is repeated before it and its last after it, as the package does.

use std::collections::VecDeque;

use super::detector::{Decision, Kind, Verdict, DEFAULT_LIGHTING_CORRELATION};
use super::luma::{self, Levels};

pub const THUMBNAIL_WIDTH: usize = 48;
pub const THUMBNAIL_HEIGHT: usize = 27;
/// Bytes of one luma thumbnail, and of the same thumbnail as the model's RGB input.
pub const THUMBNAIL_PIXELS: usize = THUMBNAIL_WIDTH * THUMBNAIL_HEIGHT;
pub const THUMBNAIL_RGB_BYTES: usize = THUMBNAIL_PIXELS * 3;
/// Frames of context before the first frame a window judges.
pub const CONTEXT_BEFORE: usize = 25;
/// Frames each window judges; windows start `STEP` frames apart.
pub const STEP: usize = 50;
/// Frames per model run.
pub const WINDOW: usize = 99;
/// Frames that must have arrived after a frame before the model has judged it.
pub const MODEL_LOOKAHEAD: usize = WINDOW - CONTEXT_BEFORE - 1;
/// Frames after a frame whose probabilities the decision on it reads (the end of a transition
/// and a rule cut just after it).
const DECISION_REACH: usize = 2;
/// Frames after a frame that `method=learned` and `method=hybrid` hold back.
pub const LOOKAHEAD: usize = MODEL_LOOKAHEAD + DECISION_REACH;

/// Probability above which a frame belongs to a transition (the package's default, 0.5).
pub const TRANSITION_THRESHOLD: f32 = 0.5;
/// In `hybrid`, a cut of the rule stands when the model gives the last frame before it (or the
/// frame itself) at least this probability of being a transition. On the transitions benchmark
/// the rule's real cuts scored 0.33 and more (the lowest in 8-15-frame montages), its false
/// ones on whip pans, cards crossing the frame and light 0.29 and less, mostly below 0.1.
pub const HYBRID_MIN_SUPPORT: f32 = 0.3;
/// ... or when that probability is a sharp peak: at least `HYBRID_PEAK_FLOOR` and
/// `HYBRID_PEAK_RATIO` times the highest of the two frames on either side. On real footage (a
/// music video) the model gives many real cuts 0.02 to 0.3, always as a lone peak on the old
/// shot's last frame; whip pans and cards raise the probability of several frames alike.
const HYBRID_PEAK_FLOOR: f32 = 0.01;
const HYBRID_PEAK_RATIO: f32 = 5.0;
/// A transition whose frames of the "every frame of the transition" head above 0.5 number at
/// least this many is gradual (a fade or a dissolve), else a cut.
const GRADUAL_FRAMES: usize = 3;
/// The every-frame head's level that carries a transition of the model on either side of its
/// frames above `TRANSITION_THRESHOLD`: a long dissolve's probability climbs over tens of frames
/// and crosses 0.5 only in a few frames near its end (on the transitions benchmark a 60-frame
/// dissolve gave 0.2-0.5 for 40 frames, with four frames above 0.5 among them). Its extent
/// says what the transition spans: which pictures to compare for light, and whether it is
/// gradual.
const TRANSITION_EXTENT_LEVEL: f32 = 0.3;
/// An extent of at least this many frames is a long transition's (the 60-frame dissolve above
/// spans 28 frames). A shorter one is judged on its own frames: widened, a blip of the head
/// beside a two-frame flash reached the flash and fired (transitions benchmark, seed 53).
const LONG_EXTENT_FRAMES: u64 = 2 * GRADUAL_START_FRAMES;
/// A transition of the model longer than this starts its scene this many frames after it began.
const GRADUAL_START_FRAMES: u64 = 12;
/// A fade or dissolve starts no scene within this many frames of the previous scene start: it
/// is the same transition seen again (a fade's way out and way in, a dissolve seen by the rule
/// and the model, or the contrast change of a cut).
const GRADUAL_SEPARATION: u64 = 25;
/// Mean luma below which a transition's darkest frame makes it a fade through black.
const FADE_BLACK_LEVEL: f64 = 24.0;

/// Nearest-neighbour resampling of a `width × height` luma image smaller than a thumbnail to
/// `THUMBNAIL_WIDTH × THUMBNAIL_HEIGHT` (a frame smaller than the model's input is stretched,
/// never refused).
pub fn stretch_to_thumbnail(image: &[u8], width: usize, height: usize, out: &mut Vec<u8>) {
    out.clear();
    for y in 0..THUMBNAIL_HEIGHT {
        let row = (y * height / THUMBNAIL_HEIGHT) * width;
        out.extend((0..THUMBNAIL_WIDTH).map(|x| image[row + x * width / THUMBNAIL_WIDTH]));
    }
}

/// How scene starts are found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Method {
    /// The windowed absolute-difference rule alone.
    #[default]
    Rule,
    /// TransNetV2 alone.
    Learned,
    /// The rule's cuts, kept where the model sees a transition near them, plus the model's
    /// transitions that the rule missed (dissolves, fades, weak cuts).
    Hybrid,
}

impl Method {
    pub fn uses_model(self) -> bool {
        self != Method::Rule
    }
}

/// Collects thumbnails and hands out the windows the model must run, in order.
#[derive(Debug, Default)]
pub struct Windows {
    /// Luma thumbnails from stream frame `first` on, `THUMBNAIL_PIXELS` bytes each.
    frames: VecDeque<Vec<u8>>,
    first: u64,
    received: u64,
    /// First frame of the next window to judge.
    next_judged: u64,
    finished: bool,
    /// Buffers of dropped thumbnails, reused so the steady state allocates nothing.
    spare: Vec<Vec<u8>>,
}

/// One model run: `frames` (`WINDOW` RGB thumbnails, padded at the ends) judges stream frames
/// `judged_from .. judged_from + judged` from window position `CONTEXT_BEFORE` on.
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    pub frames: Vec<u8>,
    pub judged_from: u64,
    pub judged: usize,
}

impl Windows {
    /// Adds the next frame's luma thumbnail (`THUMBNAIL_PIXELS` bytes).
    pub fn push(&mut self, thumbnail: &[u8]) {
        debug_assert_eq!(thumbnail.len(), THUMBNAIL_PIXELS);
        let mut frame = self.spare.pop().unwrap_or_default();
        frame.clear();
        frame.extend_from_slice(thumbnail);
        self.frames.push_back(frame);
        self.received += 1;
    }

    /// Marks the end of the stream: the last windows may now run, padded.
    pub fn finish(&mut self) {
        self.finished = true;
    }

    /// Frames received and not judged yet.
    pub fn pending(&self) -> u64 {
        self.received - self.next_judged
    }

    /// The next window to run, once the frames it needs have arrived (or the stream ended).
    pub fn next_window(&mut self) -> Option<Window> {
        let from = self.next_judged;
        if from >= self.received {
            return None;
        }
        let last_needed = from + (WINDOW - CONTEXT_BEFORE) as u64 - 1;
        if !self.finished && last_needed >= self.received {
            return None;
        }
        let judged = (self.received - from).min(STEP as u64) as usize;
        let mut frames = Vec::with_capacity(WINDOW * THUMBNAIL_RGB_BYTES);
        for position in 0..WINDOW as i64 {
            // Stream frame at this position, clamped to the stream's ends (the padding).
            let frame = (from as i64 - CONTEXT_BEFORE as i64 + position)
                .clamp(0, self.received as i64 - 1) as u64;
            let index = (frame.saturating_sub(self.first) as usize).min(self.frames.len() - 1);
            // The model reads RGB; from luma it sees the grey picture (R = G = B), which is
            // what black-and-white film is and what it was checked on.
            frames.extend(self.frames[index].iter().flat_map(|&v| [v, v, v]));
        }
        self.next_judged += judged as u64;
        // The next window reaches back `CONTEXT_BEFORE` frames from its first judged frame.
        while self.first + (CONTEXT_BEFORE as u64) < self.next_judged && self.frames.len() > 1 {
            if let Some(frame) = self.frames.pop_front() {
                self.spare.push(frame);
            }
            self.first += 1;
        }
        Some(Window {
            frames,
            judged_from: from,
            judged,
        })
    }

    /// Forgets everything: the next frame is frame 0 of a new run.
    pub fn reset(&mut self) {
        *self = Windows::default();
    }
}

/// What the combiner keeps of a frame: the rule's levels (for fades) and the luma thumbnail
/// (for the lighting test).
#[derive(Debug, Clone, Default)]
struct Picture {
    levels: Option<Levels>,
    luma: Vec<u8>,
}

/// The model's two outputs for one frame.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Probabilities {
    /// The frame is a transition (TransNetV2's single-frame head).
    pub transition: f32,
    /// The frame is part of a transition (its many-hot head).
    pub any: f32,
}

/// Turns the rule's decisions and the model's probabilities into final decisions, in frame
/// order.
#[derive(Debug)]
pub struct Combiner {
    method: Method,
    min_scene_frames: u64,
    /// Per frame from `first` on: the rule's decision and the model's probabilities once known,
    /// and the frame's picture.
    rule: VecDeque<Option<Decision>>,
    model: VecDeque<Option<Probabilities>>,
    pictures: VecDeque<Picture>,
    spare_pictures: Vec<Picture>,
    lighting_correlation: f64,
    first: u64,
    next_undecided: u64,
    last_scene_start: Option<u64>,
    finished: bool,
}

impl Combiner {
    pub fn new(method: Method, min_scene_frames: u64) -> Self {
        Combiner {
            method,
            min_scene_frames,
            rule: VecDeque::new(),
            model: VecDeque::new(),
            pictures: VecDeque::new(),
            spare_pictures: Vec::new(),
            lighting_correlation: DEFAULT_LIGHTING_CORRELATION,
            first: 0,
            next_undecided: 0,
            last_scene_start: None,
            finished: false,
        }
    }

    fn slot<T: Default + Clone>(queue: &mut VecDeque<T>, first: u64, frame: u64) -> &mut T {
        let index = (frame - first) as usize;
        if queue.len() <= index {
            queue.resize(index + 1, T::default());
        }
        &mut queue[index]
    }

    /// The next frame of the run, as it arrives: its levels (from the rule's analysis) and its
    /// luma thumbnail.
    pub fn push_picture(&mut self, levels: Option<Levels>, luma: &[u8]) {
        let mut picture = self.spare_pictures.pop().unwrap_or_default();
        picture.luma.clear();
        picture.luma.extend_from_slice(luma);
        picture.levels = levels;
        self.pictures.push_back(picture);
    }

    /// See `detector::Config::lighting_correlation`; the model's transitions and the rule's
    /// fades and dissolves are held to it too.
    pub fn set_lighting_correlation(&mut self, threshold: f64) {
        self.lighting_correlation = threshold;
    }

    /// The rule's decision on a frame (frames come in order).
    pub fn push_rule(&mut self, decision: Decision) {
        let (first, frame) = (self.first, decision.frame);
        *Self::slot(&mut self.rule, first, frame) = Some(decision);
    }

    /// The model's probabilities for consecutive frames from `from` on.
    pub fn push_model(&mut self, from: u64, probabilities: &[Probabilities]) {
        for (k, &p) in probabilities.iter().enumerate() {
            let first = self.first;
            *Self::slot(&mut self.model, first, from + k as u64) = Some(p);
        }
    }

    /// Marks the end of the run: frames are decided with what is known.
    pub fn finish(&mut self) {
        self.finished = true;
    }

    fn rule_at(&self, frame: u64) -> Option<&Decision> {
        let index = frame.checked_sub(self.first)? as usize;
        self.rule.get(index)?.as_ref()
    }

    fn model_at(&self, frame: u64) -> Option<Probabilities> {
        let index = frame.checked_sub(self.first)? as usize;
        *self.model.get(index)?
    }

    fn picture(&self, frame: u64) -> Option<&Picture> {
        let index = frame.checked_sub(self.first)? as usize;
        self.pictures.get(index)
    }

    fn levels_at(&self, frame: u64) -> Option<Levels> {
        self.picture(frame)?.levels
    }

    /// The correlation of the last frame before `from` with frame `to`, when it says that a
    /// change between them is light, not a new picture.
    fn lighting(&self, from: u64, to: u64) -> Option<f64> {
        let before = &self.picture(from.checked_sub(1)?.max(self.first))?.luma;
        let after = &self.picture(to)?.luma;
        let correlation =
            luma::correlation(before, &Levels::of(before)?, after, &Levels::of(after)?)?;
        (self.lighting_correlation > 0.0 && correlation >= self.lighting_correlation)
            .then_some(correlation)
    }

    /// Whether everything the decision on `frame` reads is known.
    fn ready(&self, frame: u64) -> bool {
        if self.finished {
            return self.rule_at(frame).is_some();
        }
        let known = |f: u64| self.rule_at(f).is_some() && self.model_at(f).is_some();
        (0..=DECISION_REACH as u64).all(|k| known(frame + k))
    }

    /// The final decision on the oldest undecided frame, once it can be made.
    pub fn next_decision(&mut self) -> Option<Decision> {
        let frame = self.next_undecided;
        if !self.ready(frame) {
            return None;
        }
        let rule = *self.rule_at(frame)?;
        let verdict = if frame == 0 {
            rule.verdict
        } else {
            self.judge(frame, &rule)
        };
        let decision = Decision { verdict, ..rule };
        if decision.scene_kind().is_some() {
            self.last_scene_start = Some(frame);
        }
        self.next_undecided += 1;
        self.trim();
        Some(decision)
    }

    /// The highest of `head`'s probabilities over `frames` (0 where none is known).
    fn highest(
        &self,
        frames: impl Iterator<Item = u64>,
        head: impl Fn(Probabilities) -> f32,
    ) -> f32 {
        frames
            .filter_map(|f| self.model_at(f))
            .map(head)
            .fold(0.0, f32::max)
    }

    /// Whether the model places `frame` in a transition: its single-frame head (a cut's last
    /// frame) or its every-frame head (a dissolve or fade) passes the threshold.
    fn in_transition(&self, frame: u64) -> bool {
        self.model_at(frame)
            .is_some_and(|p| p.transition > TRANSITION_THRESHOLD || p.any > TRANSITION_THRESHOLD)
    }

    /// The model's transition that starts a scene at `frame`, as its first frame and the peak
    /// of its single-frame head: one that ends just before `frame` within
    /// `GRADUAL_START_FRAMES` of its start, or one that is still going `GRADUAL_START_FRAMES`
    /// after its start (a long dissolve or fade starts its scene there, within the bounded
    /// lookahead).
    fn transition_starting_scene(&self, frame: u64) -> Option<(u64, f32)> {
        let going = self.in_transition(frame);
        let mut start = frame;
        while start > self.first && self.in_transition(start - 1) {
            start -= 1;
        }
        let length = frame - start;
        let starts_here = if going {
            length == GRADUAL_START_FRAMES
        } else {
            length > 0 && length <= GRADUAL_START_FRAMES
        };
        if !starts_here {
            return None;
        }
        Some((
            start,
            self.highest(start..frame, |p| p.transition.max(p.any)),
        ))
    }

    /// A transition of frames `[start, end)`: a cut when the every-frame head holds fewer
    /// than `GRADUAL_FRAMES` of them, else a fade when its darkest frame is black, else a
    /// dissolve.
    fn model_kind(&self, start: u64, end: u64) -> Kind {
        let gradual = (start..end)
            .filter(|&f| {
                self.model_at(f)
                    .is_some_and(|p| p.any > TRANSITION_THRESHOLD)
            })
            .count();
        let darkest = (start..=end)
            .filter_map(|f| self.levels_at(f))
            .map(|l| l.mean)
            .fold(f64::INFINITY, f64::min);
        if gradual < GRADUAL_FRAMES {
            Kind::Cut
        } else if darkest < FADE_BLACK_LEVEL {
            Kind::Fade
        } else {
            Kind::Dissolve
        }
    }

    /// The model's probability that a cut leads into `frame`: it marks the last frame of the
    /// old shot, the one before `frame` (or `frame` itself when the rule places the cut a frame
    /// early).
    fn support(&self, frame: u64) -> f32 {
        self.highest(frame.saturating_sub(1)..=frame, |p| p.transition)
    }

    /// Whether the model backs a cut of the rule into `frame`: a high probability on the old
    /// shot's last frame, or a lone peak there.
    fn backs_cut(&self, frame: u64) -> bool {
        if self.support(frame) >= HYBRID_MIN_SUPPORT {
            return true;
        }
        let transition = |f: u64| self.model_at(f).map_or(0.0, |p| p.transition);
        let Some(last_old) = frame.checked_sub(1) else {
            return false;
        };
        let peak = transition(last_old);
        let around = [
            last_old.checked_sub(2),
            last_old.checked_sub(1),
            Some(frame),
            Some(frame + 1),
        ]
        .into_iter()
        .flatten()
        .map(transition)
        .fold(0.0, f32::max);
        peak >= HYBRID_PEAK_FLOOR && peak >= HYBRID_PEAK_RATIO * around
    }

    fn too_soon(&self, frame: u64) -> Option<u64> {
        self.last_scene_start
            .filter(|&last| frame < last + self.min_scene_frames.max(1))
    }

    fn too_soon_for_gradual(&self, frame: u64) -> Option<u64> {
        let gap = GRADUAL_SEPARATION.max(self.min_scene_frames);
        self.last_scene_start.filter(|&last| frame < last + gap)
    }

    fn judge(&self, frame: u64, rule: &Decision) -> Verdict {
        if self.model_at(frame).is_none() {
            // Only at the end of a run whose last window failed: the rule decides alone.
            return rule.verdict;
        }
        let model_start = self.transition_starting_scene(frame);
        match self.method {
            Method::Rule => rule.verdict,
            Method::Learned => match model_start {
                Some((start, peak)) => self.model_verdict(frame, start, peak),
                None => Verdict::Continues,
            },
            Method::Hybrid => match rule.verdict {
                Verdict::SceneStart { score } => {
                    let support = self.support(frame);
                    if let Some(previous_cut) = self.too_soon(frame) {
                        Verdict::TooSoon {
                            score,
                            previous_cut,
                        }
                    } else if !self.backs_cut(frame) {
                        Verdict::Vetoed {
                            rule: Kind::Cut,
                            probability: support as f64,
                        }
                    } else {
                        // The model marks a flickering lamp's sharpest step as a cut as
                        // readily as the rule does.
                        self.unless_lighting(rule, frame, frame)
                    }
                }
                // The rule's fades and dissolves stand without the model, which does not see
                // the slowest ones, unless the pictures on either side are the same in other
                // light.
                Verdict::FadeIn { depth: score, .. } | Verdict::Dissolve { depth: score, .. }
                    if self.too_soon_for_gradual(frame).is_some() =>
                {
                    Verdict::TooSoon {
                        score,
                        previous_cut: self.last_scene_start.unwrap_or_default(),
                    }
                }
                // A fade through black stands on the rule's levels alone.
                Verdict::FadeIn { black_from, .. } => self.unless_lighting(rule, black_from, frame),
                // A dip in contrast is also what a card or a shadow crossing the frame makes: a
                // dissolve stands when the model places some frame of it in a transition.
                Verdict::Dissolve { valley, .. } => {
                    let before = valley.saturating_sub(frame.saturating_sub(valley));
                    // Not reaching back into the previous scene's start.
                    let from = self
                        .last_scene_start
                        .map_or(before, |last| before.max(last + 2));
                    let support = self.highest(from..=frame + DECISION_REACH as u64, |p| p.any);
                    if support < HYBRID_MIN_SUPPORT {
                        Verdict::Vetoed {
                            rule: Kind::Dissolve,
                            probability: support as f64,
                        }
                    } else {
                        self.unless_lighting(rule, before, frame)
                    }
                }
                _ => match model_start {
                    // A transition the rule started a scene in, or is about to just after.
                    Some((start, _)) if self.rule_started(start, frame) => rule.verdict,
                    Some((start, peak)) => self.model_verdict(frame, start, peak),
                    None => rule.verdict,
                },
            },
        }
    }

    fn unless_lighting(&self, rule: &Decision, from: u64, to: u64) -> Verdict {
        match (rule.scene_kind(), self.lighting(from, to)) {
            (Some((_, score)), Some(correlation)) => Verdict::Lighting { score, correlation },
            _ => rule.verdict,
        }
    }

    /// Whether the rule started a scene within the model's transition `[start, end)` (or two
    /// frames around it), or starts one in the two frames after it.
    fn rule_started(&self, start: u64, end: u64) -> bool {
        self.last_scene_start.is_some_and(|last| last + 2 >= start)
            || (1..=DECISION_REACH as u64).any(|k| {
                self.rule_at(end + k).is_some_and(|d| {
                    matches!(d.verdict, Verdict::SceneStart { .. }) && self.backs_cut(end + k)
                        || matches!(d.verdict, Verdict::FadeIn { .. } | Verdict::Dissolve { .. })
                })
            })
    }

    /// The frames `[start, end)` of the model's transition `[start, frame)` (still going at
    /// `frame`, or ended just before it) with the frames on either side that the every-frame
    /// head holds above `TRANSITION_EXTENT_LEVEL`, as far as the model has judged them and
    /// their pictures are known.
    fn extent(&self, start: u64, frame: u64) -> (u64, u64) {
        let carried = |f: u64| {
            self.model_at(f)
                .is_some_and(|p| p.any > TRANSITION_EXTENT_LEVEL)
                || self.in_transition(f)
        };
        let mut from = start;
        while from > self.first && carried(from - 1) {
            from -= 1;
        }
        let mut end = frame;
        while carried(end) && self.picture(end + 1).is_some() {
            end += 1;
        }
        (from, end)
    }

    fn model_verdict(&self, frame: u64, start: u64, peak: f32) -> Verdict {
        // A long transition is judged by the pictures on either side of all of it: a long
        // dissolve starts its scene while it is still going, when the frames around its
        // strongest part share most of their picture, as those around a change of light do;
        // and its frames above 0.5 count towards it being gradual. A short one is judged by its
        // own frames: widened, it would reach a flash or a pan's frames nearby. A fade's way out
        // is a change of light of the old picture until black, where pictures do not compare:
        // its scene starts at the first picture after black (the rule's fade-in, or the
        // model's way in).
        let (from, end) = match self.extent(start, frame) {
            (from, end) if end - from >= LONG_EXTENT_FRAMES => (from, end),
            _ => (start, frame),
        };
        let kind = self.model_kind(from, end);
        let (before, after) = match kind {
            Kind::Fade => (start, frame),
            Kind::Cut | Kind::Dissolve => (from, end),
        };
        if let Some(correlation) = self.lighting(before, after) {
            return Verdict::Lighting {
                score: peak as f64,
                correlation,
            };
        }
        if kind == Kind::Cut {
            // A cut is the single-frame head's to mark; a short run of the every-frame head
            // alone is noise (on a slow pan of a dark photo it reached 0.53 five frames before
            // a real cut, whose own scene start it then suppressed).
            let cut_head = self.highest(start..frame, |p| p.transition);
            if cut_head <= TRANSITION_THRESHOLD {
                return Verdict::ModelBlip {
                    frames: frame - start,
                    probability: cut_head as f64,
                };
            }
        }
        let too_soon = match kind {
            Kind::Cut => self.too_soon(frame),
            Kind::Fade | Kind::Dissolve => self.too_soon_for_gradual(frame),
        };
        if let Some(previous) = too_soon {
            return Verdict::TooSoon {
                score: peak as f64,
                previous_cut: previous,
            };
        }
        Verdict::Transition {
            kind,
            probability: peak as f64,
            frames: frame - start,
        }
    }

    fn trim(&mut self) {
        // Keep the frames a transition ending later can reach back to.
        let keep_from = self.next_undecided.saturating_sub(WINDOW as u64);
        while self.first < keep_from {
            self.rule.pop_front();
            self.model.pop_front();
            if let Some(picture) = self.pictures.pop_front() {
                self.spare_pictures.push(picture);
            }
            self.first += 1;
        }
    }

    /// Forgets everything: the next frame is frame 0 of a new run.
    pub fn reset(&mut self) {
        let threshold = self.lighting_correlation;
        *self = Combiner::new(self.method, self.min_scene_frames);
        self.lighting_correlation = threshold;
    }
}

/// The model's side of a run: thumbnails in, windows run, final decisions out.
#[derive(Debug)]
pub struct Learned {
    windows: Windows,
    combiner: Combiner,
}

impl Learned {
    pub fn new(method: Method, min_scene_frames: u64) -> Self {
        Learned {
            windows: Windows::default(),
            combiner: Combiner::new(method, min_scene_frames),
        }
    }

    /// Adds the next frame: its luma thumbnail (`THUMBNAIL_WIDTH × THUMBNAIL_HEIGHT`) and
    /// its levels.
    pub fn push_frame(&mut self, luma: &[u8], levels: Option<Levels>) {
        self.windows.push(luma);
        self.combiner.push_picture(levels, luma);
    }

    pub fn set_lighting_correlation(&mut self, threshold: f64) {
        self.combiner.set_lighting_correlation(threshold);
    }

    /// Runs every window that can run now through `model`, which maps `WINDOW` thumbnails to
    /// their probabilities.
    pub fn run_windows<E>(
        &mut self,
        mut model: impl FnMut(&[u8]) -> Result<Vec<Probabilities>, E>,
    ) -> Result<(), E> {
        while let Some(window) = self.windows.next_window() {
            let probabilities = model(&window.frames)?;
            let judged = &probabilities[CONTEXT_BEFORE.min(probabilities.len())..];
            self.combiner.push_model(
                window.judged_from,
                &judged[..window.judged.min(judged.len())],
            );
        }
        Ok(())
    }

    pub fn push_rule(&mut self, decision: Decision) {
        self.combiner.push_rule(decision);
    }

    pub fn next_decision(&mut self) -> Option<Decision> {
        self.combiner.next_decision()
    }

    /// Marks the end of the run; run the last windows with `run_windows` afterwards.
    pub fn finish(&mut self) {
        self.windows.finish();
        self.combiner.finish();
    }

    pub fn reset(&mut self) {
        self.windows.reset();
        self.combiner.reset();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A luma thumbnail whose every pixel is `value`.
    fn thumbnail(value: u8) -> Vec<u8> {
        vec![value; THUMBNAIL_PIXELS]
    }

    /// The frame each of a window's positions shows (thumbnail `k` holds value `k`).
    fn shown(window: &Window) -> Vec<u8> {
        window
            .frames
            .chunks(THUMBNAIL_RGB_BYTES)
            .map(|t| {
                assert!(t.iter().all(|&v| v == t[0]), "a grey thumbnail: R = G = B");
                t[0]
            })
            .collect()
    }

    #[test]
    fn small_frames_are_stretched_to_a_thumbnail() {
        let image = [10u8, 20, 30, 40, 50, 60]; // 3x2
        let mut out = Vec::new();
        stretch_to_thumbnail(&image, 3, 2, &mut out);
        assert_eq!(out.len(), THUMBNAIL_WIDTH * THUMBNAIL_HEIGHT);
        assert_eq!(
            out[..THUMBNAIL_WIDTH],
            [[10u8; 16], [20; 16], [30; 16]].concat()[..]
        );
        assert!(out[13 * THUMBNAIL_WIDTH..14 * THUMBNAIL_WIDTH]
            .iter()
            .all(|&v| v == 10 || v == 20 || v == 30));
        assert_eq!(out[14 * THUMBNAIL_WIDTH], 40);
        assert_eq!(out[THUMBNAIL_WIDTH * THUMBNAIL_HEIGHT - 1], 60);
    }

    #[test]
    fn windows_judge_every_frame_once_with_context_and_padding() {
        let mut windows = Windows::default();
        let mut judged = Vec::new();
        for frame in 0..120u8 {
            windows.push(&thumbnail(frame));
            while let Some(window) = windows.next_window() {
                // A window runs as soon as the last frame it shows has arrived, not before.
                let last_shown = window.judged_from + (WINDOW - CONTEXT_BEFORE) as u64 - 1;
                assert_eq!(last_shown, frame as u64);
                judged.push(window);
            }
        }
        assert_eq!(judged.len(), 1);
        let first = shown(&judged[0]);
        // The stream's first frame stands in for the 25 frames before it.
        assert_eq!(first[..CONTEXT_BEFORE], [0; CONTEXT_BEFORE]);
        assert_eq!(first[CONTEXT_BEFORE..], (0..74).collect::<Vec<u8>>()[..]);
        assert_eq!((judged[0].judged_from, judged[0].judged), (0, STEP));
        windows.finish();
        while let Some(window) = windows.next_window() {
            judged.push(window);
        }
        assert_eq!(
            judged
                .iter()
                .map(|w| (w.judged_from, w.judged))
                .collect::<Vec<_>>(),
            [(0, 50), (50, 50), (100, 20)]
        );
        let last = shown(&judged[2]);
        assert_eq!(last[..CONTEXT_BEFORE], (75..100).collect::<Vec<u8>>()[..]);
        // After the last frame (119) the last frame stands in for the ones that never came.
        assert_eq!(
            last[CONTEXT_BEFORE..CONTEXT_BEFORE + 20],
            (100..120).collect::<Vec<u8>>()[..]
        );
        assert!(last[CONTEXT_BEFORE + 20..].iter().all(|&v| v == 119));
        assert_eq!(windows.pending(), 0);
    }

    fn rule(frame: u64, cut: bool) -> Decision {
        Decision {
            frame,
            diff: Some(if cut { 40.0 } else { 1.0 }),
            verdict: if cut || frame == 0 {
                Verdict::SceneStart { score: 5.0 }
            } else {
                Verdict::Continues
            },
        }
    }

    fn levels(mean: f64) -> Option<Levels> {
        Some(Levels { mean, spread: 30.0 })
    }

    /// Runs `frames` frames through a combiner: the rule's cuts, the model's probabilities
    /// (transition, any) and each frame's mean luma; returns every decision.
    fn combine(
        method: Method,
        rule_cuts: &[u64],
        model: &[(f32, f32)],
        means: &[f64],
    ) -> Vec<Decision> {
        combine_pictures(method, rule_cuts, model, means, |_| Vec::new())
    }

    /// `combine` with each frame's luma thumbnail.
    fn combine_pictures(
        method: Method,
        rule_cuts: &[u64],
        model: &[(f32, f32)],
        means: &[f64],
        picture: impl Fn(u64) -> Vec<u8>,
    ) -> Vec<Decision> {
        let mut combiner = Combiner::new(method, 8);
        let mut decisions = Vec::new();
        for frame in 0..model.len() as u64 {
            combiner.push_picture(levels(means[frame as usize]), &picture(frame));
            combiner.push_rule(rule(frame, rule_cuts.contains(&frame)));
            let (transition, any) = model[frame as usize];
            combiner.push_model(frame, &[Probabilities { transition, any }]);
            decisions.extend(std::iter::from_fn(|| combiner.next_decision()));
        }
        combiner.finish();
        decisions.extend(std::iter::from_fn(|| combiner.next_decision()));
        assert_eq!(
            decisions.iter().map(|d| d.frame).collect::<Vec<_>>(),
            (0..model.len() as u64).collect::<Vec<_>>(),
            "every frame decided once, in order"
        );
        decisions
    }

    fn starts(decisions: &[Decision]) -> Vec<(u64, Kind)> {
        decisions
            .iter()
            .filter_map(|d| d.scene_kind().map(|(kind, _)| (d.frame, kind)))
            .collect()
    }

    /// A thumbnail of texture; other `step`s and `offset`s give pictures that do not correlate.
    fn texture(step: u32, offset: u32) -> Vec<u8> {
        (0..THUMBNAIL_PIXELS as u32)
            .map(|i| ((i * step + offset) % 200) as u8)
            .collect()
    }

    /// `picture` in a lamp's light: brighter, with half its contrast.
    fn lamp_lit(picture: &[u8]) -> Vec<u8> {
        picture.iter().map(|&v| v / 2 + 100).collect()
    }

    /// 80 frames: quiet, with the model's probabilities set on `marked` frames.
    fn model_marks(marked: &[(u64, f32, f32)]) -> Vec<(f32, f32)> {
        let mut model = vec![(0.01, 0.01); 80];
        for &(frame, transition, any) in marked {
            model[frame as usize] = (transition, any);
        }
        model
    }

    #[test]
    fn learned_starts_a_scene_after_the_models_transition_and_names_its_kind() {
        let bright = vec![120.0; 80];
        // A cut: the model marks the old shot's last frame.
        let cut = model_marks(&[(39, 0.9, 0.8)]);
        assert_eq!(
            starts(&combine(Method::Learned, &[], &cut, &bright)),
            [(0, Kind::Cut), (40, Kind::Cut)]
        );
        // A gradual transition: the "any" head covers frames 30-41; the scene starts after it.
        let marks: Vec<_> = (30..42)
            .map(|f| (f, if f == 37 { 0.8 } else { 0.2 }, 0.9))
            .collect();
        let gradual = model_marks(&marks);
        assert_eq!(
            starts(&combine(Method::Learned, &[], &gradual, &bright)),
            [(0, Kind::Cut), (42, Kind::Dissolve)]
        );
        let mut through_black = bright.clone();
        through_black[36] = 8.0;
        assert_eq!(
            starts(&combine(Method::Learned, &[], &gradual, &through_black)),
            [(0, Kind::Cut), (42, Kind::Fade)]
        );
        // The rule's cut alone does not start a scene in `learned`.
        assert_eq!(
            starts(&combine(Method::Learned, &[60], &cut, &bright)),
            [(0, Kind::Cut), (40, Kind::Cut)]
        );
    }

    #[test]
    fn hybrid_keeps_the_rules_supported_cuts_vetoes_the_rest_and_adds_what_it_missed() {
        let bright = vec![120.0; 80];
        // Rule cuts at 20 (model unsure but not silent) and 60 (model silent: a whip pan);
        // the model's dissolve over frames 38-44 that the rule missed.
        let mut marks = vec![(19, 0.4, 0.3)];
        marks.extend((38..45).map(|f| (f, if f == 42 { 0.7 } else { 0.1 }, 0.8)));
        let decisions = combine(Method::Hybrid, &[20, 60], &model_marks(&marks), &bright);
        assert_eq!(
            starts(&decisions),
            [(0, Kind::Cut), (20, Kind::Cut), (45, Kind::Dissolve)]
        );
        assert!(matches!(
            decisions[60].verdict,
            Verdict::Vetoed {
                rule: Kind::Cut,
                ..
            }
        ));
        // A cut the rule places inside the model's dissolve yields to the dissolve: one scene.
        let decisions = combine(Method::Hybrid, &[40], &model_marks(&marks), &bright);
        assert_eq!(starts(&decisions), [(0, Kind::Cut), (45, Kind::Dissolve)]);
        // A cut both see starts one scene, the rule's.
        let cut = model_marks(&[(39, 0.9, 0.8)]);
        let decisions = combine(Method::Hybrid, &[40], &cut, &bright);
        assert_eq!(starts(&decisions), [(0, Kind::Cut), (40, Kind::Cut)]);
    }

    #[test]
    fn hybrid_keeps_a_rule_cut_on_a_lone_low_peak_and_vetoes_a_broad_one() {
        let bright = vec![120.0; 80];
        let quiet = |frames: &[(u64, f32)]| {
            let mut model = vec![(0.0, 0.0); 80];
            for &(f, p) in frames {
                model[f as usize] = (p, p);
            }
            model
        };
        // 0.05 on the old shot's last frame only: a real cut the model is unsure of.
        let lone = quiet(&[(39, 0.05)]);
        assert_eq!(
            starts(&combine(Method::Hybrid, &[40], &lone, &bright)),
            [(0, Kind::Cut), (40, Kind::Cut)]
        );
        // 0.05 spread over the frames of a whip pan.
        let broad = quiet(&[(37, 0.03), (38, 0.04), (39, 0.05), (40, 0.04)]);
        let decisions = combine(Method::Hybrid, &[40], &broad, &bright);
        assert_eq!(starts(&decisions), [(0, Kind::Cut)]);
        assert!(matches!(decisions[40].verdict, Verdict::Vetoed { .. }));
    }

    #[test]
    fn a_short_run_of_the_every_frame_head_alone_is_no_cut_and_takes_no_real_one_away() {
        let bright = vec![120.0; 80];
        // The slow pan of a dark photo: "any" 0.53 on frame 44, the cut head low; the real cut
        // into frame 50, which the rule finds and the model backs (0.95 on frame 49), comes
        // within min-scene-frames (8) of it.
        let model = model_marks(&[(44, 0.06, 0.53), (49, 0.95, 0.9)]);
        for method in [Method::Hybrid, Method::Learned] {
            let decisions = combine(method, &[50], &model, &bright);
            assert_eq!(
                starts(&decisions),
                [(0, Kind::Cut), (50, Kind::Cut)],
                "{method:?}"
            );
            assert_eq!(
                decisions[45].verdict,
                Verdict::ModelBlip {
                    frames: 1,
                    probability: 0.06f32 as f64
                }
            );
        }
    }

    #[test]
    fn a_long_transition_starts_its_scene_twelve_frames_in_and_only_once() {
        let bright = vec![120.0; 80];
        // The every-frame head holds frames 20-59: a 40-frame dissolve.
        let marks: Vec<_> = (20..60).map(|f| (f, 0.1, 0.9)).collect();
        let decisions = combine(Method::Learned, &[], &model_marks(&marks), &bright);
        assert_eq!(starts(&decisions), [(0, Kind::Cut), (32, Kind::Dissolve)]);
        // In hybrid, the rule's dissolve of the same transition, 10 frames later, is not a
        // second scene.
        let mut combiner = Combiner::new(Method::Hybrid, 8);
        let model = model_marks(&marks);
        let mut found = Vec::new();
        for frame in 0..80u64 {
            combiner.push_picture(levels(120.0), &[]);
            let verdict = if frame == 42 {
                Verdict::Dissolve {
                    depth: 2.0,
                    valley: 36,
                }
            } else if frame == 0 {
                Verdict::SceneStart { score: 0.0 }
            } else {
                Verdict::Continues
            };
            combiner.push_rule(Decision {
                frame,
                diff: Some(1.0),
                verdict,
            });
            let (transition, any) = model[frame as usize];
            combiner.push_model(frame, &[Probabilities { transition, any }]);
            found.extend(std::iter::from_fn(|| combiner.next_decision()));
        }
        assert_eq!(starts(&found), [(0, Kind::Cut), (32, Kind::Dissolve)]);
        assert!(matches!(
            found[42].verdict,
            Verdict::TooSoon {
                previous_cut: 32,
                ..
            }
        ));
    }

    #[test]
    fn the_models_transition_between_two_lightings_of_one_picture_is_light() {
        let (picture, lit) = (texture(37, 0), lamp_lit(&texture(37, 0)));
        let model = model_marks(&[(19, 0.9, 0.9)]);
        let lamp = |frame: u64| {
            if frame < 20 {
                picture.clone()
            } else {
                lit.clone()
            }
        };
        let found = combine_pictures(Method::Learned, &[], &model, &[100.0; 80], lamp);
        assert!(
            matches!(found[20].verdict, Verdict::Lighting { correlation, .. } if correlation > 0.99)
        );
        assert_eq!(starts(&found), [(0, Kind::Cut)]);
    }

    #[test]
    fn hybrid_takes_a_cut_both_see_between_two_lightings_of_one_picture_for_light() {
        let (picture, lit) = (texture(37, 0), lamp_lit(&texture(37, 0)));
        // The rule's cut into frame 40, backed by the model (0.9 on frame 39).
        let model = model_marks(&[(39, 0.9, 0.8)]);
        let bright = vec![120.0; 80];
        let lamp = |frame: u64| {
            if frame < 40 {
                picture.clone()
            } else {
                lit.clone()
            }
        };
        let decisions = combine_pictures(Method::Hybrid, &[40], &model, &bright, lamp);
        assert_eq!(starts(&decisions), [(0, Kind::Cut)]);
        assert!(
            matches!(decisions[40].verdict, Verdict::Lighting { score, correlation } if score == 5.0 && correlation > 0.99),
            "{:?}",
            decisions[40].verdict
        );
    }

    #[test]
    fn a_long_dissolve_is_judged_by_the_pictures_around_all_of_it() {
        let (a, b) = (texture(37, 0), texture(53, 7));
        // The every-frame head climbs over frames 22-50 and passes 0.5 on 44-47 only, the
        // cut head stays low: what the model makes of a slow dissolve.
        let mut marks: Vec<_> = (22..51).map(|f| (f, 0.05, 0.35)).collect();
        marks.extend((44..48).map(|f| (f, 0.05, 0.55)));
        let model = model_marks(&marks);
        let bright = vec![120.0; 80];
        // From `a` to `b` over frames 20-60: frames 43 and 48, either side of the strong part,
        // correlate 0.97; frames 21 and 51, either side of all of it, 0.32.
        let dissolve = |frame: u64| -> Vec<u8> {
            let t = ((frame as f64 - 20.0) / 40.0).clamp(0.0, 1.0);
            a.iter()
                .zip(&b)
                .map(|(&x, &y)| ((1.0 - t) * x as f64 + t * y as f64).round() as u8)
                .collect()
        };
        // The same picture in light that grows over the same frames.
        let light = |frame: u64| -> Vec<u8> {
            let gain = 1.0 + ((frame as f64 - 20.0) / 40.0).clamp(0.0, 1.0) * 0.25;
            a.iter().map(|&x| (x as f64 * gain) as u8).collect()
        };
        for method in [Method::Learned, Method::Hybrid] {
            let decisions = combine_pictures(method, &[], &model, &bright, dissolve);
            assert_eq!(
                starts(&decisions),
                [(0, Kind::Cut), (48, Kind::Dissolve)],
                "{method:?}"
            );
            let decisions = combine_pictures(method, &[], &model, &bright, light);
            assert_eq!(starts(&decisions), [(0, Kind::Cut)], "{method:?}");
            assert!(
                matches!(decisions[48].verdict, Verdict::Lighting { correlation, .. } if correlation > 0.99),
                "{method:?}: {:?}",
                decisions[48].verdict
            );
        }
    }

    #[test]
    fn without_the_models_last_windows_the_rule_decides_the_end() {
        let mut combiner = Combiner::new(Method::Hybrid, 8);
        for frame in 0..10 {
            combiner.push_picture(levels(100.0), &[]);
            combiner.push_rule(rule(frame, frame == 6));
        }
        combiner.push_model(0, &[Probabilities::default(); 3]);
        assert_eq!(combiner.next_decision().map(|d| d.frame), Some(0));
        assert_eq!(combiner.next_decision(), None);
        combiner.finish();
        let rest: Vec<_> = std::iter::from_fn(|| combiner.next_decision()).collect();
        assert_eq!(rest.len(), 9);
        assert_eq!(rest[5].scene_kind(), Some((Kind::Cut, 5.0)));
    }
}
