// SPDX-License-Identifier: MIT OR Apache-2.0

//! The windowed absolute-difference scene-change rule, free of GStreamer types.
//!
//! The detector sees one number per frame: `d(i)`, the mean absolute luma difference between
//! frame `i` and frame `i - 1` (frame 0 of a run has none). Frame 0 always starts a scene. A
//! later frame `i` starts a new scene when all of these hold:
//!
//! 1. **Window rule.** Among the windows of `window` consecutive differences that contain `d(i)`
//!    and lie wholly inside the stream, at least one has `d(i)` as its largest value (the first
//!    one wins a tie) and `d(i) > window_ratio × mean(window)`. Windows slide one frame at a
//!    time, so two cuts closer together than one window are judged in windows of their own.
//!    A run with fewer than `window` differences is judged as one window of all of them.
//! 2. **Confirmation.** `d(i) > confirm_ratio × mean(d(j))` over the up to `2 × confirm_radius`
//!    differences `j` with `0 < |i − j| ≤ confirm_radius` that exist.
//! 3. **Not a flash.** With `flash_ratio > 0` and the differences of frames to the frames two
//!    and three back (`push_frame`), a candidate at `i` is a flash of `k` frames (k = 1, 2) when
//!    `|Y(i+k) − Y(i−1)| < flash_ratio × d(i)`: the picture returns to what it was before the
//!    spike. The flash's jump back at `i + k` is not a cut either.
//! 4. **Spacing.** `i − c ≥ min_scene_frames`, where `c` is the previous frame that passed all
//!    tests. The start of the run does not count as a cut, so a real cut in the first frames
//!    of a stream is still reported.
//!
//! The score of a cut is `d(i)` divided by the smallest mean among its qualifying windows: the
//! strongest evidence the rule found.
//!
//! With `gradual` on, two more tests read each frame's `Levels` (mean and spread of its luma):
//!
//! - **Fade through black.** Frame `i` is the first frame above `BLACK_LEVEL` after black frames
//!   that follow a dimming (not cut) old shot, and the new shot becomes visible within
//!   `FADE_LOOKAHEAD` frames.
//! - **Dissolve.** Mixing two unrelated pictures lowers contrast: midway through a dissolve the
//!   spread of the luma falls well below both shots' and climbs back smoothly, while camera
//!   motion changes it slowly and a cut changes it in one step. With `c(f)` the spread with
//!   flashes of up to two frames removed (a median over five frames), a frame `v` is a
//!   dissolve's valley when `c(v)` is the first minimum of `c` within `DISSOLVE_REACH` frames on
//!   each side, at most `DISSOLVE_DEPTH` of the lower of the highest values on either side, no
//!   step on the slopes between those peaks and `v` exceeds `DISSOLVE_STEEPEST` of the slope's
//!   height, and the valley is not dark (that is a fade's business). The new shot's contrast
//!   rises from the valley to the peak after it; the scene starts halfway up that rise, where
//!   the new shot dominates.
//!
//! Deciding frame `i` needs the differences up to `i + lookahead()` (the last window that contains
//! `d(i)` ends `window − 1` frames later; confirmation reads `confirm_radius` frames later), so the
//! caller holds exactly that many frames back. At the end of a run `finish()` decides the rest
//! with the windows and neighbourhoods that exist.

use std::collections::VecDeque;

pub use super::luma::Levels;

/// Largest `window` accepted; also bounds how much history the detector keeps.
pub const MAX_WINDOW: usize = 1000;
/// Largest `confirm_radius` accepted.
pub const MAX_CONFIRM_RADIUS: usize = 1000;
/// Mean analysis luma (8-bit code values) at or below which a frame is black: limited-range
/// black is 16, full-range 0, plus grain.
pub const BLACK_LEVEL: f64 = 24.0;
/// Mean luma from which a frame shows a picture again.
pub const VISIBLE_LEVEL: f64 = 40.0;
/// How far ahead a fade's new shot must become visible, and how far back the old one was.
const FADE_LOOKAHEAD: usize = 12;
const FADE_LOOKBACK: u64 = 40;
/// Frames searched on each side of a dissolve's valley for the two shots' contrast: dissolves
/// up to about two seconds at 25 fps.
const DISSOLVE_REACH: u64 = 24;
/// Two unrelated pictures of equal contrast mixed half and half have about 0.71 of it.
const DISSOLVE_DEPTH: f64 = 0.8;
const DISSOLVE_STEEPEST: f64 = 0.5;
/// Frames on each side of the median that removes flashes from the contrast curve.
const FLASH_MEDIAN_RADIUS: u64 = 2;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Config {
    /// Differences per window, at least 2.
    pub window: usize,
    pub window_ratio: f64,
    pub confirm_ratio: f64,
    /// Differences on each side used for confirmation, at least 1.
    pub confirm_radius: usize,
    pub min_scene_frames: u64,
    /// A cut whose next frame or the one after differs from the frame before it by less than
    /// this fraction of the cut's difference is a flash, not a cut (0 turns the test off).
    pub flash_ratio: f64,
    /// Detect fades through black and dissolves (needs `FrameDiffs::levels`).
    pub gradual: bool,
    /// A cut whose frame correlates with the frame before it at least this much (Pearson,
    /// over the analysis images) is the same picture in other light: a lamp, flicker, glare,
    /// not a new scene (0 turns the test off; needs `FrameDiffs::correlation`).
    pub lighting_correlation: f64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            window: 30,
            window_ratio: 3.0,
            confirm_ratio: 2.0,
            confirm_radius: 10,
            min_scene_frames: 8,
            flash_ratio: 0.5,
            gradual: true,
            lighting_correlation: DEFAULT_LIGHTING_CORRELATION,
        }
    }
}

impl Config {
    /// Frames that must have arrived after frame `i` before frame `i` can be decided.
    pub fn lookahead(&self) -> usize {
        let rule = (self.window.max(2) - 1).max(self.confirm_radius.max(1));
        if self.gradual {
            // The latest valley that can start a scene at frame i is frame i − 1; its test
            // reads the reach beyond it, smoothed.
            let dissolve = (DISSOLVE_REACH + FLASH_MEDIAN_RADIUS - 1) as usize;
            rule.max(FADE_LOOKAHEAD).max(dissolve)
        } else {
            rule
        }
    }

    /// This rule shrunk so that it holds back at most `frames` frames: a shorter window and
    /// confirmation radius, and no fade or dissolve tests when they need more than that. A rule
    /// already within the bound is returned as it is.
    pub fn within_lookahead(mut self, frames: usize) -> Self {
        if self.lookahead() <= frames {
            return self;
        }
        let frames = frames.max(1);
        self.window = self.window.min(frames + 1).max(2);
        self.confirm_radius = self.confirm_radius.min(frames).max(1);
        if self.lookahead() > frames {
            self.gradual = false;
        }
        self
    }

    /// The rule as `method=hybrid` runs it: it only proposes cuts, which the model confirms,
    /// so its window and confirmation radius are short enough (10 and 5 frames) not to pass
    /// over the weaker of two cuts 8 frames apart.
    pub fn proposing(mut self) -> Self {
        self.window = self.window.min(PROPOSING_WINDOW);
        self.confirm_radius = self.confirm_radius.min(PROPOSING_CONFIRM_RADIUS);
        self
    }

    fn clamped(mut self) -> Self {
        self.window = self.window.clamp(2, MAX_WINDOW);
        self.confirm_radius = self.confirm_radius.clamp(1, MAX_CONFIRM_RADIUS);
        self
    }
}

const PROPOSING_WINDOW: usize = 10;
const PROPOSING_CONFIRM_RADIUS: usize = 5;

/// See `Config::lighting_correlation`: a camera move of a few pixels between two frames keeps
/// their 320-wide analysis images above 0.9; two shots, even of one place, fall below.
pub const DEFAULT_LIGHTING_CORRELATION: f64 = 0.9;

/// What the rule concluded about one frame, with enough detail to explain it in a log.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Verdict {
    /// The frame starts a scene; the first frame of a run has score 0.
    SceneStart { score: f64 },
    /// No window made the frame a candidate.
    Continues,
    /// A window made it a candidate but its neighbours changed too much as well.
    Unconfirmed { score: f64, neighbour_mean: f64 },
    /// It passed both tests, but it is the frame before it in other light (`correlation`
    /// reached `Config::lighting_correlation`).
    Lighting { score: f64, correlation: f64 },
    /// It passed both tests too soon after the previous cut.
    TooSoon { score: f64, previous_cut: u64 },
    /// A flash of `length` frames starting at `start`: the picture returns to what it was.
    Flash { start: u64, length: u64 },
    /// The first frame after a fade through black, which starts a scene; `depth` is the old
    /// shot's brightest mean luma over the darkest frame's.
    FadeIn { depth: f64, black_from: u64 },
    /// The frame halfway up from a dissolve's contrast valley at `valley` to the new shot's
    /// contrast, which starts a scene; `depth` is the lower peak's contrast over the valley's.
    Dissolve { depth: f64, valley: u64 },
    /// The learned model's transition of `frames` frames ends just before this frame, which
    /// starts a scene; `probability` is its peak.
    Transition {
        kind: Kind,
        probability: f64,
        frames: u64,
    },
    /// The rule found a scene start here, but the learned model gives every frame around it
    /// at most `probability` of being a transition (`method=hybrid`).
    Vetoed { rule: Kind, probability: f64 },
    /// The learned model's every-frame head passed 0.5 on `frames` frames just before this
    /// one, too few for a fade or a dissolve, while its cut head stayed at `probability` or
    /// below: a blip, not a transition.
    ModelBlip { frames: u64, probability: f64 },
}

/// How a scene began.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Cut,
    Fade,
    Dissolve,
}

/// What the caller knows about a frame: its difference to the previous frame and, to tell a
/// flash from a cut, to the frames two and three back (none where those are not in the run),
/// and, to see fades and dissolves, its levels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FrameDiffs {
    pub previous: f64,
    pub skip: [Option<f64>; 2],
    pub levels: Option<Levels>,
    /// Pearson correlation with the previous frame (none for the first frame of a run or a
    /// flat frame).
    pub correlation: Option<f64>,
}

/// The verdict on one frame, given in frame order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Decision {
    /// Index of the frame within the run (the first frame after `new`/`reset` is 0).
    pub frame: u64,
    /// `d(frame)`; none for the first frame of a run.
    pub diff: Option<f64>,
    pub verdict: Verdict,
}

impl Decision {
    /// The cut's score when the frame starts a scene (a fade's depth).
    pub fn scene_start(&self) -> Option<f64> {
        self.scene_kind().map(|(_, score)| score)
    }

    /// How the scene starting at this frame began, with its score.
    pub fn scene_kind(&self) -> Option<(Kind, f64)> {
        match self.verdict {
            Verdict::SceneStart { score } => Some((Kind::Cut, score)),
            Verdict::FadeIn { depth, .. } => Some((Kind::Fade, depth)),
            Verdict::Dissolve { depth, .. } => Some((Kind::Dissolve, depth)),
            Verdict::Transition {
                kind, probability, ..
            } => Some((kind, probability)),
            _ => None,
        }
    }
}

#[derive(Debug)]
pub struct Detector {
    config: Config,
    /// `diffs[k]` is `d(history_start + k)`; `history_start >= 1`.
    diffs: VecDeque<f64>,
    /// `skips[k]`: the same frame's differences to the frames two and three back.
    skips: VecDeque<[Option<f64>; 2]>,
    /// `correlations[k]`: the same frame's correlation with the frame before it.
    correlations: VecDeque<Option<f64>>,
    /// First and last frame of the flash being passed over, if any.
    flash: Option<(u64, u64)>,
    /// Levels of every frame still needed, from `levels_start` on.
    levels: VecDeque<Option<Levels>>,
    levels_start: u64,
    history_start: u64,
    frames_seen: u64,
    next_undecided: u64,
    last_cut: Option<u64>,
    finishing: bool,
}

impl Detector {
    pub fn new(config: Config) -> Self {
        Detector {
            config: config.clamped(),
            diffs: VecDeque::new(),
            skips: VecDeque::new(),
            correlations: VecDeque::new(),
            flash: None,
            levels: VecDeque::new(),
            levels_start: 0,
            history_start: 1,
            frames_seen: 0,
            next_undecided: 0,
            last_cut: None,
            finishing: false,
        }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Applies new parameters to every frame not decided yet. The kept history covers the
    /// largest window and radius, so the rule stays exact after a change.
    pub fn set_config(&mut self, config: Config) {
        self.config = config.clamped();
    }

    /// Forgets everything: the next frame is frame 0 of a new run.
    pub fn reset(&mut self) {
        *self = Detector::new(self.config);
    }

    /// Frames pushed but not decided yet.
    pub fn pending(&self) -> u64 {
        self.frames_seen - self.next_undecided
    }

    /// Adds the next frame with its difference to the previous frame (ignored for the first
    /// frame of a run). Call `next_decision()` until it returns `None` afterwards.
    pub fn push(&mut self, diff_to_previous: f64) {
        self.push_frame(FrameDiffs {
            previous: diff_to_previous,
            skip: [None, None],
            levels: None,
            correlation: None,
        });
    }

    /// `push` with the differences that let the rule recognise flashes.
    pub fn push_frame(&mut self, diffs: FrameDiffs) {
        if self.frames_seen > 0 {
            self.diffs.push_back(diffs.previous);
            self.skips.push_back(diffs.skip);
            self.correlations.push_back(diffs.correlation);
        }
        self.levels.push_back(diffs.levels);
        self.frames_seen += 1;
    }

    /// Marks the end of the run: every pushed frame becomes decidable.
    pub fn finish(&mut self) {
        self.finishing = true;
    }

    /// The verdict on the oldest undecided frame, once the frames it needs have arrived.
    pub fn next_decision(&mut self) -> Option<Decision> {
        let frame = self.next_undecided;
        if frame >= self.frames_seen {
            return None;
        }
        let decision = if frame == 0 {
            Decision {
                frame,
                diff: None,
                verdict: Verdict::SceneStart { score: 0.0 },
            }
        } else {
            let last_diff = self.frames_seen - 1;
            if !self.finishing && last_diff < frame + self.config.lookahead() as u64 {
                return None;
            }
            let verdict = self.judge(frame, last_diff);
            match verdict {
                Verdict::SceneStart { .. } | Verdict::FadeIn { .. } | Verdict::Dissolve { .. } => {
                    self.last_cut = Some(frame)
                }
                Verdict::Flash { start, length } => self.flash = Some((start, start + length)),
                _ => {}
            }
            Decision {
                frame,
                diff: Some(self.diff(frame)),
                verdict,
            }
        };
        self.next_undecided += 1;
        self.trim_history();
        Some(decision)
    }

    fn diff(&self, frame: u64) -> f64 {
        self.diffs[(frame - self.history_start) as usize]
    }

    /// Applies the three tests to frame `i >= 1`, knowing differences up to `last_diff`.
    fn judge(&self, i: u64, last_diff: u64) -> Verdict {
        let too_soon = self
            .last_cut
            .is_some_and(|c| i - c < self.config.min_scene_frames);
        if !too_soon && self.config.gradual {
            if let Some(gradual) = self
                .fade_in(i, last_diff)
                .or_else(|| self.dissolve(i, last_diff))
            {
                return gradual;
            }
        }
        let Some(score) = self.window_score(i, last_diff) else {
            return Verdict::Continues;
        };
        let neighbour_mean = self.neighbour_mean(i, last_diff);
        let confirmed = self.diff(i) > self.config.confirm_ratio * neighbour_mean;
        if !confirmed {
            return Verdict::Unconfirmed {
                score,
                neighbour_mean,
            };
        }
        if let Some((start, end)) = self.flash.filter(|&(_, end)| i <= end) {
            // The jump back out of a flash already recognised.
            return Verdict::Flash {
                start,
                length: end - start,
            };
        }
        if let Some(length) = self.flash_length(i, last_diff) {
            return Verdict::Flash { start: i, length };
        }
        let threshold = self.config.lighting_correlation;
        if let Some(correlation) = self.correlations[(i - self.history_start) as usize]
            .filter(|&c| threshold > 0.0 && c >= threshold)
        {
            return Verdict::Lighting { score, correlation };
        }
        match self.last_cut {
            Some(previous_cut) if i - previous_cut < self.config.min_scene_frames => {
                Verdict::TooSoon {
                    score,
                    previous_cut,
                }
            }
            _ => Verdict::SceneStart { score },
        }
    }

    fn levels(&self, frame: u64) -> Option<Levels> {
        frame
            .checked_sub(self.levels_start)
            .and_then(|k| self.levels.get(k as usize).copied().flatten())
    }

    fn mean(&self, frame: u64) -> Option<f64> {
        self.levels(frame).map(|l| l.mean)
    }

    /// The spread of `frame` with flashes removed: the median of the spreads within
    /// `FLASH_MEDIAN_RADIUS` frames that exist up to `last`.
    fn steady_contrast(&self, frame: u64, last: u64) -> Option<f64> {
        self.levels(frame)?;
        let from = frame.saturating_sub(FLASH_MEDIAN_RADIUS);
        let to = (frame + FLASH_MEDIAN_RADIUS).min(last);
        let mut spreads = [0.0; 2 * FLASH_MEDIAN_RADIUS as usize + 1];
        let mut count = 0;
        for spread in (from..=to).filter_map(|f| self.levels(f).map(|l| l.spread)) {
            spreads[count] = spread;
            count += 1;
        }
        let spreads = &mut spreads[..count];
        spreads.sort_by(f64::total_cmp);
        spreads.get(count / 2).copied()
    }

    /// Frame `i` starts the new shot of a dissolve: see the module documentation.
    fn dissolve(&self, i: u64, last: u64) -> Option<Verdict> {
        let reach = DISSOLVE_REACH;
        // The valley lies at most half the reach before its start.
        let first_valley = i.saturating_sub(reach / 2 + 1);
        let from = first_valley.saturating_sub(reach);
        let to = (i - 1 + reach).min(last);
        let contrast: Vec<Option<f64>> =
            (from..=to).map(|f| self.steady_contrast(f, last)).collect();
        let c = |f: u64| contrast[(f - from) as usize];
        (first_valley..i).find_map(|v| {
            let valley = c(v)?;
            if self.mean(v)? < VISIBLE_LEVEL {
                return None;
            }
            // A valley before the last scene start is that cut's own change of contrast.
            if self.last_cut.is_some_and(|cut| v <= cut) {
                return None;
            }
            let before = v.saturating_sub(reach)..v;
            let after = v + 1..=(v + reach).min(to);
            let mut peak_before = (v, valley);
            for f in before.clone() {
                let cf = c(f)?;
                if cf <= valley {
                    return None;
                }
                if cf > peak_before.1 {
                    peak_before = (f, cf);
                }
            }
            let mut peak_after = (v, valley);
            for f in after.clone() {
                let cf = c(f)?;
                if cf < valley {
                    return None;
                }
                if cf > peak_after.1 {
                    peak_after = (f, cf);
                }
            }
            let lower_peak = peak_before.1.min(peak_after.1);
            if valley > DISSOLVE_DEPTH * lower_peak {
                return None;
            }
            let steepest = |from: u64, to: u64| {
                (from..to)
                    .filter_map(|f| Some((c(f + 1)? - c(f)?).abs()))
                    .fold(0.0, f64::max)
            };
            let smooth = steepest(peak_before.0, v) < DISSOLVE_STEEPEST * (peak_before.1 - valley)
                && steepest(v, peak_after.0) < DISSOLVE_STEEPEST * (peak_after.1 - valley);
            let start = v + (peak_after.0 - v).div_ceil(2);
            (smooth && start == i).then(|| Verdict::Dissolve {
                depth: lower_peak / valley.max(1.0),
                valley: v,
            })
        })
    }

    /// Frame `i` is the first visible frame after a fade through black: the frames before it
    /// are black back to a dimming (not cut) old shot that was visible, and the new shot
    /// becomes visible within `FADE_LOOKAHEAD` frames.
    fn fade_in(&self, i: u64, last_diff: u64) -> Option<Verdict> {
        let is_black = |f: u64| self.mean(f).is_some_and(|m| m <= BLACK_LEVEL);
        if !is_black(i - 1) || is_black(i) || self.mean(i).is_none() {
            return None;
        }
        let mut black_from = i - 1;
        while black_from > 0 && is_black(black_from - 1) && i - black_from < FADE_LOOKBACK {
            black_from -= 1;
        }
        let darkest = (black_from..i)
            .filter_map(|f| self.mean(f))
            .fold(f64::INFINITY, f64::min);
        let before = black_from.checked_sub(1)?;
        // A dimming picture just before the black, not a cut straight to black.
        if self.mean(before)? >= VISIBLE_LEVEL {
            return None;
        }
        let old_peak = (before.saturating_sub(FADE_LOOKBACK)..=before)
            .filter_map(|f| self.mean(f))
            .fold(0.0, f64::max);
        let end = (i + FADE_LOOKAHEAD as u64).min(last_diff);
        let new_visible = (i..=end).any(|f| self.mean(f).is_some_and(|m| m >= VISIBLE_LEVEL));
        (old_peak >= VISIBLE_LEVEL && new_visible).then(|| Verdict::FadeIn {
            depth: old_peak / darkest.max(1.0),
            black_from,
        })
    }

    /// A flash of 1 or 2 frames starting at `i`: frame `i + k` looks like frame `i − 1` again.
    fn flash_length(&self, i: u64, last_diff: u64) -> Option<u64> {
        if self.config.flash_ratio <= 0.0 {
            return None;
        }
        let limit = self.config.flash_ratio * self.diff(i);
        (1..=2u64).find(|&k| {
            let j = i + k;
            j <= last_diff
                && self.skips[(j - self.history_start) as usize][k as usize - 1]
                    .is_some_and(|back| back < limit)
        })
    }

    /// Best `d(i) / mean` over the windows where `d(i)` is the maximum and beats the ratio.
    fn window_score(&self, i: u64, last_diff: u64) -> Option<f64> {
        let d = self.diff(i);
        let available = last_diff; // differences 1..=last_diff
        let window = (self.config.window as u64).min(available);
        // Windows [s, s + window - 1] inside [1, last_diff] that contain i.
        let first_start = i.saturating_sub(window - 1).max(1);
        let last_start = i.min(last_diff + 1 - window);

        // d(i) is the first maximum of [s, e] iff no earlier value in it reaches d(i) and no
        // later value exceeds it: bound s and e by the nearest such frames.
        let mut lo = first_start;
        for j in (first_start..i).rev() {
            if self.diff(j) >= d {
                lo = j + 1;
                break;
            }
        }
        let last_end = last_start + window - 1;
        let mut hi = last_end;
        for j in i + 1..=last_end {
            if self.diff(j) > d {
                hi = j - 1;
                break;
            }
        }

        let mut best_mean: Option<f64> = None;
        let mut sum: f64 = (first_start..first_start + window)
            .map(|j| self.diff(j))
            .sum();
        for s in first_start..=last_start {
            if s > first_start {
                sum += self.diff(s + window - 1) - self.diff(s - 1);
            }
            if s >= lo && s + window - 1 <= hi {
                let mean = sum / window as f64;
                if d > self.config.window_ratio * mean && best_mean.is_none_or(|m| mean < m) {
                    best_mean = Some(mean);
                }
            }
        }
        best_mean.map(|mean| d / mean)
    }

    /// Mean of the differences within `confirm_radius` of `i`, not counting `d(i)`; 0 if none.
    fn neighbour_mean(&self, i: u64, last_diff: u64) -> f64 {
        let radius = self.config.confirm_radius as u64;
        let from = i.saturating_sub(radius).max(1);
        let to = (i + radius).min(last_diff);
        let (sum, count) = (from..=to)
            .filter(|&j| j != i)
            .fold((0.0, 0u64), |(sum, count), j| {
                (sum + self.diff(j), count + 1)
            });
        if count == 0 {
            0.0
        } else {
            sum / count as f64
        }
    }

    fn trim_history(&mut self) {
        let keep_from = self
            .next_undecided
            .saturating_sub(MAX_WINDOW.max(MAX_CONFIRM_RADIUS) as u64)
            .max(1);
        let keep_levels_from = keep_from.saturating_sub(1);
        while self.levels_start < keep_levels_from && !self.levels.is_empty() {
            self.levels.pop_front();
            self.levels_start += 1;
        }
        while self.history_start < keep_from && !self.diffs.is_empty() {
            self.diffs.pop_front();
            self.skips.pop_front();
            self.correlations.pop_front();
            self.history_start += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lookahead_bound_shrinks_the_rule_only_when_it_binds() {
        let rule = Config::default();
        assert_eq!(rule.lookahead(), 29);
        assert_eq!(rule.within_lookahead(50), rule);
        assert_eq!(rule.within_lookahead(29), rule);
        let ten = rule.within_lookahead(10);
        assert_eq!(
            (ten.window, ten.confirm_radius, ten.gradual),
            (11, 10, false)
        );
        assert_eq!(ten.lookahead(), 10);
        let one = rule.within_lookahead(0);
        assert_eq!((one.window, one.confirm_radius, one.lookahead()), (2, 1, 1));
        let gradual_fits = Config { window: 40, ..rule }.within_lookahead(27);
        assert_eq!(
            (
                gradual_fits.window,
                gradual_fits.gradual,
                gradual_fits.lookahead()
            ),
            (28, true, 27)
        );
    }

    /// Runs a whole sequence of per-frame differences (index 0 unused) and returns the cuts.
    fn cuts(config: Config, diffs: &[f64]) -> Vec<(u64, f64)> {
        let mut detector = Detector::new(config);
        let mut decided = Vec::new();
        for &d in diffs {
            detector.push(d);
            while let Some(decision) = detector.next_decision() {
                decided.push(decision);
            }
            assert!(detector.pending() <= config.lookahead() as u64);
        }
        detector.finish();
        while let Some(decision) = detector.next_decision() {
            decided.push(decision);
        }
        let frames: Vec<u64> = decided.iter().map(|d| d.frame).collect();
        assert_eq!(frames, (0..diffs.len() as u64).collect::<Vec<_>>());
        decided
            .into_iter()
            .filter_map(|d| d.scene_start().map(|s| (d.frame, s)))
            .collect()
    }

    fn frames(cuts: &[(u64, f64)]) -> Vec<u64> {
        cuts.iter().map(|c| c.0).collect()
    }

    /// A camera-motion-like background: differences around 2 with a deterministic wobble.
    fn motion(n: usize) -> Vec<f64> {
        (0..n)
            .map(|i| 2.0 + ((i * 7919) % 13) as f64 / 13.0)
            .collect()
    }

    #[test]
    fn one_cut() {
        let mut d = motion(100);
        d[40] = 40.0;
        let found = cuts(Config::default(), &d);
        assert_eq!(frames(&found), vec![0, 40]);
        assert_eq!(found[0].1, 0.0);
        // The score comes from the window containing the spike with the smallest mean.
        let best_mean = (11..=40)
            .map(|s| d[s..s + 30].iter().sum::<f64>() / 30.0)
            .fold(f64::INFINITY, f64::min);
        assert!((found[1].1 - 40.0 / best_mean).abs() < 1e-9);
    }

    /// The rule written as plainly as possible, judging each frame from the whole sequence.
    fn reference_cuts(config: Config, d: &[f64]) -> Vec<u64> {
        let last = d.len() - 1;
        let mut found = vec![0];
        let window = config.window.min(last.max(1));
        for i in 1..d.len() {
            let is_candidate = (1..=last + 1 - window).any(|s| {
                let w = &d[s..s + window];
                if !(s..s + window).contains(&i) {
                    return false;
                }
                let first_max = (0..window).fold(0, |m, k| if w[k] > w[m] { k } else { m });
                let mean = w.iter().sum::<f64>() / window as f64;
                s + first_max == i && d[i] > config.window_ratio * mean
            });
            let neighbours: Vec<f64> = (i.saturating_sub(config.confirm_radius).max(1)
                ..=(i + config.confirm_radius).min(last))
                .filter(|&j| j != i)
                .map(|j| d[j])
                .collect();
            let neighbour_mean = if neighbours.is_empty() {
                0.0
            } else {
                neighbours.iter().sum::<f64>() / neighbours.len() as f64
            };
            let spaced =
                found.len() == 1 || i as u64 - found[found.len() - 1] >= config.min_scene_frames;
            if is_candidate && d[i] > config.confirm_ratio * neighbour_mean && spaced {
                found.push(i as u64);
            }
        }
        found
    }

    #[test]
    fn agrees_with_the_plain_rule_on_random_sequences() {
        let mut state = 99u32;
        let mut next = move || {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12345);
            ((state >> 16) & 0x7fff) as f64 / 32767.0
        };
        let mut total_cuts = 0;
        for round in 0..200 {
            let len = 1 + (next() * 150.0) as usize;
            let d: Vec<f64> = (0..len)
                .map(|_| {
                    let spike = next() < 0.05;
                    if spike {
                        20.0 + 60.0 * next()
                    } else {
                        (4.0 * next()).floor()
                    }
                })
                .collect();
            let config = Config {
                window: 2 + (next() * 40.0) as usize,
                window_ratio: 1.0 + 4.0 * next(),
                confirm_ratio: 1.0 + 3.0 * next(),
                confirm_radius: 1 + (next() * 15.0) as usize,
                min_scene_frames: (next() * 12.0) as u64,
                flash_ratio: 0.5,
                gradual: true,
                lighting_correlation: DEFAULT_LIGHTING_CORRELATION,
            };
            let expected = reference_cuts(config, &d);
            total_cuts += expected.len() - 1;
            assert_eq!(
                frames(&cuts(config, &d)),
                expected,
                "round {round}: {config:?}"
            );
        }
        // The sequences must exercise the rule, not just agree on "no cut".
        assert!(total_cuts > 100, "{total_cuts}");
    }

    #[test]
    fn two_cuts_twelve_frames_apart() {
        let mut d = motion(120);
        d[50] = 35.0;
        d[62] = 45.0;
        assert_eq!(frames(&cuts(Config::default(), &d)), vec![0, 50, 62]);
    }

    #[test]
    fn no_cut_in_a_still_sequence() {
        assert_eq!(frames(&cuts(Config::default(), &[0.0; 200])), vec![0]);
    }

    #[test]
    fn no_cut_in_noise() {
        // Sensor noise: differences spread between 4 and 8, pseudo-random.
        let mut state = 12345u32;
        let d: Vec<f64> = (0..500)
            .map(|_| {
                state = state.wrapping_mul(1_103_515_245).wrapping_add(12345);
                4.0 + 4.0 * ((state >> 16) & 0x7fff) as f64 / 32767.0
            })
            .collect();
        assert_eq!(frames(&cuts(Config::default(), &d)), vec![0]);
    }

    #[test]
    fn cut_in_the_first_frames() {
        let mut d = motion(80);
        d[2] = 50.0;
        assert_eq!(frames(&cuts(Config::default(), &d)), vec![0, 2]);
    }

    #[test]
    fn cut_in_the_last_frames() {
        let mut d = motion(80);
        d[78] = 50.0;
        assert_eq!(frames(&cuts(Config::default(), &d)), vec![0, 78]);
        let mut d = motion(80);
        d[79] = 50.0;
        assert_eq!(frames(&cuts(Config::default(), &d)), vec![0, 79]);
    }

    #[test]
    fn stream_shorter_than_a_window() {
        let mut d = motion(12);
        d[6] = 50.0;
        let found = cuts(Config::default(), &d);
        assert_eq!(frames(&found), vec![0, 6]);
        // One window of all 11 differences.
        let mean = d[1..].iter().sum::<f64>() / 11.0;
        assert_eq!(found[1].1, 50.0 / mean);
    }

    #[test]
    fn single_frame_and_two_frames() {
        assert_eq!(frames(&cuts(Config::default(), &[0.0])), vec![0]);
        assert_eq!(frames(&cuts(Config::default(), &[0.0, 90.0])), vec![0]);
    }

    #[test]
    fn min_scene_frames_suppresses_a_close_second_cut() {
        let mut d = motion(100);
        d[40] = 40.0;
        d[45] = 40.0;
        assert_eq!(frames(&cuts(Config::default(), &d)), vec![0, 40]);
        let config = Config {
            min_scene_frames: 5,
            ..Config::default()
        };
        assert_eq!(frames(&cuts(config, &d)), vec![0, 40, 45]);
    }

    #[test]
    fn confirmation_rejects_a_spike_in_a_busy_neighbourhood() {
        // A spike that dominates its 30-frame window but not its ±3 neighbours.
        let mut d = vec![4.0; 100];
        for v in &mut d[47..=53] {
            *v = 9.0;
        }
        d[50] = 15.0;
        let config = Config {
            confirm_radius: 3,
            ..Config::default()
        };
        assert_eq!(frames(&cuts(config, &d)), vec![0]);
        // With a neighbourhood wide enough to see the calm around it, it is confirmed.
        let config = Config {
            confirm_radius: 20,
            ..Config::default()
        };
        assert_eq!(frames(&cuts(config, &d)), vec![0, 50]);
    }

    #[test]
    fn verdicts_explain_rejections() {
        let mut d = vec![1.0; 100];
        d[40] = 40.0;
        d[45] = 40.0;
        let mut detector = Detector::new(Config::default());
        let mut verdicts = Vec::new();
        for &v in &d {
            detector.push(v);
            while let Some(decision) = detector.next_decision() {
                verdicts.push(decision.verdict);
            }
        }
        detector.finish();
        while let Some(decision) = detector.next_decision() {
            verdicts.push(decision.verdict);
        }
        assert_eq!(verdicts[0], Verdict::SceneStart { score: 0.0 });
        assert_eq!(verdicts[1], Verdict::Continues);
        assert!(matches!(verdicts[40], Verdict::SceneStart { .. }));
        assert!(matches!(
            verdicts[45],
            Verdict::TooSoon {
                previous_cut: 40,
                ..
            }
        ));
        let mut busy = vec![4.0; 100];
        for v in &mut busy[47..=53] {
            *v = 9.0;
        }
        busy[50] = 15.0;
        let mut detector = Detector::new(Config {
            confirm_radius: 3,
            ..Config::default()
        });
        let mut verdict_50 = None;
        for &v in &busy {
            detector.push(v);
            while let Some(decision) = detector.next_decision() {
                if decision.frame == 50 {
                    verdict_50 = Some(decision.verdict);
                }
            }
        }
        assert_eq!(
            verdict_50,
            Some(Verdict::Unconfirmed {
                // The calmest qualifying window: three 9s, the 15 and 26 fours.
                score: 15.0 / (146.0 / 30.0),
                neighbour_mean: 9.0
            })
        );
    }

    /// Runs frames given as (difference to previous, to two back, to three back).
    fn cuts_with_skips(
        config: Config,
        frames: &[(f64, Option<f64>, Option<f64>)],
    ) -> Vec<(u64, Verdict)> {
        let frames = frames.iter().map(|&(previous, two, three)| FrameDiffs {
            previous,
            skip: [two, three],
            levels: None,
            correlation: None,
        });
        verdicts(config, frames)
            .into_iter()
            .filter(|(_, v)| !matches!(v, Verdict::Continues | Verdict::Unconfirmed { .. }))
            .collect()
    }

    /// Every verdict on a run of these frames, in frame order.
    fn verdicts(
        config: Config,
        frames: impl IntoIterator<Item = FrameDiffs>,
    ) -> Vec<(u64, Verdict)> {
        let mut detector = Detector::new(config);
        let mut out = Vec::new();
        for frame in frames {
            detector.push_frame(frame);
            while let Some(d) = detector.next_decision() {
                out.push((d.frame, d.verdict));
            }
        }
        detector.finish();
        while let Some(d) = detector.next_decision() {
            out.push((d.frame, d.verdict));
        }
        out
    }

    #[test]
    fn a_change_that_keeps_the_picture_is_light_not_a_cut() {
        // One jump at frame 40 in a steady shot; its correlation with the frame before decides.
        let frames = |correlation: f64| {
            (0..80).map(move |i| FrameDiffs {
                previous: if i == 40 { 30.0 } else { 1.0 },
                skip: [None, None],
                levels: None,
                correlation: Some(if i == 40 { correlation } else { 0.99 }),
            })
        };
        let starts = |config: Config, correlation: f64| {
            verdicts(config, frames(correlation))
                .into_iter()
                .filter(|(_, v)| !matches!(v, Verdict::Continues | Verdict::Unconfirmed { .. }))
                .collect::<Vec<_>>()
        };
        let config = Config::default();
        assert_eq!(starts(config, 0.3)[1].0, 40);
        assert!(matches!(
            starts(config, 0.3)[1].1,
            Verdict::SceneStart { .. }
        ));
        assert!(matches!(
            starts(config, 0.95)[1],
            (40, Verdict::Lighting { correlation, .. }) if correlation == 0.95
        ));
        let off = Config {
            lighting_correlation: 0.0,
            ..config
        };
        assert!(matches!(
            starts(off, 0.95)[1],
            (40, Verdict::SceneStart { .. })
        ));
    }

    /// A panning shot (d = 2, skips 4 and 6) with events spliced in.
    fn pan(n: usize) -> Vec<(f64, Option<f64>, Option<f64>)> {
        (0..n).map(|_| (2.0, Some(4.0), Some(6.0))).collect()
    }

    #[test]
    fn one_and_two_frame_flashes_are_not_cuts() {
        for length in [1usize, 2] {
            let mut frames = pan(100);
            let start = 50;
            frames[start] = (60.0, Some(61.0), Some(62.0));
            if length == 2 {
                frames[start + 1] = (3.0, Some(60.0), Some(61.0));
            }
            let back = start + length;
            // The jump back: large against the flash, small against the frame before it.
            frames[back] = (
                58.0,
                if length == 1 { Some(4.0) } else { Some(59.0) },
                if length == 2 { Some(6.0) } else { Some(59.0) },
            );
            let verdicts = cuts_with_skips(Config::default(), &frames);
            let flashes: Vec<_> = verdicts
                .iter()
                .filter(|(_, v)| matches!(v, Verdict::Flash { .. }))
                .collect();
            assert!(!flashes.is_empty(), "length {length}: {verdicts:?}");
            assert!(
                flashes.iter().all(|(_, v)| *v
                    == Verdict::Flash {
                        start: start as u64,
                        length: length as u64
                    }),
                "{verdicts:?}"
            );
            assert_eq!(
                verdicts
                    .iter()
                    .filter(|(_, v)| matches!(v, Verdict::SceneStart { .. }))
                    .count(),
                1,
                "only frame 0: {verdicts:?}"
            );
            // Off: the flash counts as a cut.
            let off = Config {
                flash_ratio: 0.0,
                ..Config::default()
            };
            let cuts = cuts_with_skips(off, &frames)
                .iter()
                .filter(|(_, v)| matches!(v, Verdict::SceneStart { .. }))
                .count();
            assert!(cuts >= 2, "length {length}");
        }
    }

    #[test]
    fn a_real_cut_is_not_a_flash() {
        let mut frames = pan(100);
        frames[50] = (60.0, Some(61.0), Some(60.0));
        frames[51] = (2.0, Some(60.0), Some(61.0));
        frames[52] = (2.0, Some(4.0), Some(60.0));
        let verdicts = cuts_with_skips(Config::default(), &frames);
        assert!(
            matches!(
                verdicts[..],
                [
                    (0, Verdict::SceneStart { .. }),
                    (50, Verdict::SceneStart { .. })
                ]
            ),
            "{verdicts:?}"
        );
    }

    /// Frames given as (difference to the previous frame, levels); returns the scene starts.
    fn run_levels(config: Config, frames: &[(f64, Levels)]) -> Vec<(u64, Verdict)> {
        let frames = frames.iter().map(|&(previous, levels)| FrameDiffs {
            previous,
            skip: [None, None],
            levels: Some(levels),
            correlation: None,
        });
        verdicts(config, frames)
            .into_iter()
            .filter(|(_, v)| {
                matches!(
                    v,
                    Verdict::SceneStart { .. } | Verdict::FadeIn { .. } | Verdict::Dissolve { .. }
                )
            })
            .collect()
    }

    /// Frames of constant contrast with the given mean luma, differing by the change of mean
    /// plus some motion.
    fn run_means(config: Config, means: &[f64]) -> Vec<(u64, Verdict)> {
        let frames: Vec<(f64, Levels)> = means
            .iter()
            .enumerate()
            .map(|(k, &mean)| {
                let previous = if k == 0 {
                    0.0
                } else {
                    (mean - means[k - 1]).abs() + 2.0
                };
                (previous, Levels { mean, spread: 30.0 })
            })
            .collect();
        run_levels(config, &frames)
    }

    /// Frames of mean luma 100 and the given contrast, moving steadily (d = 2).
    fn run_contrasts(config: Config, spreads: &[f64]) -> Vec<(u64, Verdict)> {
        let frames: Vec<(f64, Levels)> = spreads
            .iter()
            .map(|&spread| {
                (
                    2.0,
                    Levels {
                        mean: 100.0,
                        spread,
                    },
                )
            })
            .collect();
        run_levels(config, &frames)
    }

    /// A shot of contrast 45, a 20-frame dissolve (frames 60..=79) of two unrelated pictures,
    /// a shot of contrast 50.
    fn dissolve_contrasts() -> Vec<f64> {
        let (a, b) = (45.0f64, 50.0f64);
        let mut spreads = vec![a; 60];
        spreads.extend((1..=20).map(|k| {
            let alpha = k as f64 / 21.0;
            ((1.0 - alpha).powi(2) * a * a + alpha.powi(2) * b * b).sqrt()
        }));
        spreads.extend(vec![b; 60]);
        spreads
    }

    #[test]
    fn a_dissolve_starts_a_scene_halfway_up_from_its_contrast_valley() {
        let found = run_contrasts(Config::default(), &dissolve_contrasts());
        assert_eq!(found.len(), 2, "{found:?}");
        // Raw contrast is lowest at frame 68 (α = 9/21); the five-frame median flattens the
        // bottom to 33.75 over 67..=69 and the first of those is the valley. The new shot's
        // contrast is reached at frame 80, so the scene starts at 67 + ⌈13 / 2⌉.
        let (frame, Verdict::Dissolve { depth, valley }) = found[1] else {
            panic!("{found:?}");
        };
        assert_eq!((frame, valley), (74, 67));
        assert!((depth - 45.0 / 33.746_587_969).abs() < 1e-6, "{depth}");

        let off = Config {
            gradual: false,
            ..Config::default()
        };
        assert_eq!(run_contrasts(off, &dissolve_contrasts()).len(), 1);
    }

    #[test]
    fn contrast_that_falls_through_a_shot_and_jumps_at_a_cut_is_not_a_dissolve() {
        // Like a pan from a busy part of a photo to a plain one, then a cut.
        let mut frames: Vec<(f64, Levels)> = (0..60)
            .map(|k| {
                (
                    2.0,
                    Levels {
                        mean: 100.0,
                        spread: 50.0 - 0.5 * k as f64,
                    },
                )
            })
            .collect();
        frames.extend((0..60).map(|k| {
            (
                if k == 0 { 60.0 } else { 2.0 },
                Levels {
                    mean: 110.0,
                    spread: 55.0,
                },
            )
        }));
        let found = run_levels(Config::default(), &frames);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(
            matches!(found[1], (60, Verdict::SceneStart { .. })),
            "{found:?}"
        );
    }

    #[test]
    fn a_flash_is_not_a_contrast_valley() {
        let mut spreads = vec![45.0; 100];
        spreads[50] = 5.0;
        spreads[51] = 5.0;
        assert_eq!(run_contrasts(Config::default(), &spreads).len(), 1);
    }

    #[test]
    fn a_fade_through_black_starts_a_scene_at_the_first_visible_frame() {
        let mut means = vec![120.0; 40];
        means.extend((1..=10).map(|k| 16.0 + 104.0 * (1.0 - k as f64 / 10.0))); // 40..=49 fade out
        means.extend((1..=10).map(|k| 16.0 + 100.0 * k as f64 / 11.0)); // 50..=59 fade in
        means.extend(vec![116.0; 40]);
        // Frame 49 is black (48 is still 26.4 > 24); 50 is the first frame above it.
        let found = run_means(Config::default(), &means);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(
            matches!(found[1], (50, Verdict::FadeIn { black_from: 49, .. })),
            "{found:?}"
        );
        let off = run_means(
            Config {
                gradual: false,
                ..Config::default()
            },
            &means,
        );
        assert_eq!(off.len(), 1, "no fade detection when off: {off:?}");
        assert_eq!(
            Config {
                gradual: false,
                ..Config::default()
            }
            .lookahead(),
            29
        );
        assert_eq!(
            Config {
                window: 2,
                confirm_radius: 1,
                ..Config::default()
            }
            .lookahead(),
            25
        );
    }

    #[test]
    fn a_cut_to_black_is_not_a_fade() {
        let mut means = vec![120.0; 40];
        means.extend(vec![16.0; 10]);
        means.extend(vec![110.0; 40]);
        let found = run_means(Config::default(), &means);
        assert!(
            found
                .iter()
                .all(|(_, v)| !matches!(v, Verdict::FadeIn { .. })),
            "{found:?}"
        );
    }

    #[test]
    fn ties_go_to_the_first_maximum() {
        let mut d = vec![1.0; 60];
        d[30] = 40.0;
        d[31] = 40.0;
        let config = Config {
            min_scene_frames: 1,
            confirm_ratio: 1.0,
            ..Config::default()
        };
        assert_eq!(frames(&cuts(config, &d)), vec![0, 30]);
    }

    #[test]
    fn holds_back_exactly_the_lookahead() {
        let config = Config::default();
        let mut detector = Detector::new(config);
        detector.push(0.0);
        assert_eq!(detector.next_decision().map(|d| d.frame), Some(0));
        for i in 1..=29 {
            detector.push(1.0);
            assert_eq!(detector.next_decision(), None, "frame {i}");
        }
        detector.push(1.0);
        assert_eq!(detector.next_decision().map(|d| d.frame), Some(1));
        assert_eq!(detector.pending(), 29);
        assert_eq!(config.lookahead(), 29);
        let wide = Config {
            confirm_radius: 40,
            ..config
        };
        assert_eq!(wide.lookahead(), 40);
    }

    #[test]
    fn reconfiguring_keeps_the_rule_exact() {
        let mut d = motion(300);
        d[200] = 40.0;
        let mut detector = Detector::new(Config::default());
        let mut found = Vec::new();
        for (i, &v) in d.iter().enumerate() {
            if i == 150 {
                detector.set_config(Config {
                    window: 90,
                    ..Config::default()
                });
            }
            detector.push(v);
            while let Some(decision) = detector.next_decision() {
                found.push(decision);
            }
        }
        detector.finish();
        while let Some(decision) = detector.next_decision() {
            found.push(decision);
        }
        let reconfigured: Vec<_> = found.iter().filter(|d| d.scene_start().is_some()).collect();
        let direct = cuts(
            Config {
                window: 90,
                ..Config::default()
            },
            &d,
        );
        assert_eq!(reconfigured.len(), 2);
        assert_eq!(reconfigured[1].frame, 200);
        assert_eq!(reconfigured[1].scene_start(), Some(direct[1].1));
    }

    #[test]
    fn non_finite_differences_never_cut_or_panic() {
        let mut d = motion(60);
        d[20] = f64::NAN;
        d[30] = f64::INFINITY;
        let found = cuts(Config::default(), &d);
        assert_eq!(frames(&found), vec![0]);
    }
}
