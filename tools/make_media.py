#!/usr/bin/env python3
"""Makes the project's test and demo media from real photographs shipped in PyPI packages.

Each scene of a clip is a virtual camera moving (pan or zoom) over the left 60 % of one colour
photograph from scikit-image or scikit-learn; the right 40 % of the same photo, which the clip
never shows, is that scene's reference photo. Photos that appear in no scene are written to the
reference library as distractors.

Output folder (default generated/media):
  scenes.mp4        colour clip, H.264 in MP4
  scenes_grey.mp4   the same clip in black and white (the colorizer's input)
  scenes.rgb        the colour frames, raw RGB24, for quality measurements
  scenes.json       geometry, frame rate, and the ground truth: each scene's first frame,
                    photo and reference file
  refs/             the reference library: one JPEG per scene photo plus distractors
  transitions.*     a second clip (same files) with cuts, dissolves, fades through black and
                    one- and two-frame flashes; transitions.json has their frames
  returns.*         a third clip (same files, scenes in returns.json) that keeps returning to
                    the same photos in other framings, like shot and reverse shot
  refs_returns/     its library: refs/ plus, for each of its photos, a second photo of
                    the same thing in other colours (a closer view: the middle 60 % of the
                    reference, its a*b* turned by 120 degrees), so that retrieval may pick
                    either at each return
  pairs.*           a fourth clip (same files, scenes in pairs.json) whose every frame shows two
                    photos side by side, each with its own camera motion; its library is refs/

Deterministic: the same packages give the same frames.
"""

import argparse
import json
import os
import pathlib
import shutil
import subprocess
import sys

import numpy as np

WIDTH, HEIGHT, FPS = 640, 360, 25

# (photo, frames, motion). Scene lengths vary; scenes 2 and 3 are closer together than the
# detector's default 30-frame window.
SCENES = [
    ("astronaut", 48, "pan-down"),
    ("chelsea", 40, "zoom-in"),
    ("coffee", 14, "pan-right"),
    ("rocket", 44, "pan-up"),
    ("china", 50, "zoom-out"),
    ("flower", 42, "pan-left"),
]
DISTRACTORS = ["immunohistochemistry", "hubble_deep_field", "colorwheel"]

# The transitions clip: (photo, frames, motion, how it begins, flashes as (offset, length)).
# "cut", ("dissolve", n) and ("fade", n) (through black, n frames out and n in) say how a shot
# begins; gradual transitions overlap the end of the previous shot.
TRANSITIONS = [
    ("flower", 40, "pan-left", "cut", []),
    ("rocket", 45, "pan-up", "cut", [(15, 1)]),
    ("china", 45, "zoom-in", ("dissolve", 20), [(30, 2)]),
    ("coffee", 40, "pan-right", ("fade", 10), []),
    ("astronaut", 40, "pan-down", "cut", [(12, 1), (20, 2)]),
    ("chelsea", 45, "zoom-out", ("dissolve", 16), []),
    ("rocket", 40, "zoom-out", "cut", []),
]
REFERENCE_FRACTION = 0.4

# The returns clip: (photo, frames, motion); chelsea and coffee come back three times each.
RETURNS = [
    ("chelsea", 30, "zoom-in"),
    ("coffee", 30, "pan-right"),
    ("chelsea", 30, "pan-left"),
    ("coffee", 30, "zoom-out"),
    ("astronaut", 30, "pan-down"),
    ("chelsea", 30, "zoom-out"),
    ("coffee", 30, "pan-left"),
]


def photo(name):
    """A colour photograph, uint8 RGB, from the packages' bundled data."""
    if name in ("china", "flower"):
        from sklearn.datasets import load_sample_image

        return load_sample_image(f"{name}.jpg")
    import skimage.data

    image = getattr(skimage.data, name)()
    return np.ascontiguousarray(image[..., :3])


def split(image):
    """(scene part: left 60 %, reference part: right 40 %), sharing no pixels."""
    cut = int(round(image.shape[1] * (1.0 - REFERENCE_FRACTION)))
    return image[:, :cut], image[:, cut:]


def bilinear(image, x0, y0, w, h):
    """Samples the rectangle (x0, y0, w, h) of `image` to WIDTH x HEIGHT."""
    ys = y0 + (np.arange(HEIGHT) + 0.5) * h / HEIGHT - 0.5
    xs = x0 + (np.arange(WIDTH) + 0.5) * w / WIDTH - 0.5
    ys = np.clip(ys, 0, image.shape[0] - 1)
    xs = np.clip(xs, 0, image.shape[1] - 1)
    y_lo = np.floor(ys).astype(int)
    x_lo = np.floor(xs).astype(int)
    y_hi = np.minimum(y_lo + 1, image.shape[0] - 1)
    x_hi = np.minimum(x_lo + 1, image.shape[1] - 1)
    fy = (ys - y_lo)[:, None, None]
    fx = (xs - x_lo)[None, :, None]
    img = image.astype(np.float32)
    top = img[y_lo][:, x_lo] * (1 - fx) + img[y_lo][:, x_hi] * fx
    bottom = img[y_hi][:, x_lo] * (1 - fx) + img[y_hi][:, x_hi] * fx
    return top * (1 - fy) + bottom * fy


def camera(region, motion, t):
    """Crop rectangle at time t in [0, 1] for a 16:9 camera moving over `region`."""
    rh, rw = region.shape[:2]
    # Largest 16:9 rectangle that fits, then 85 % of it so that pans have room to move.
    full_w = min(rw, rh * WIDTH / HEIGHT)
    w = 0.85 * full_w
    h = w * HEIGHT / WIDTH
    if motion.startswith("zoom"):
        scale = 1.0 - 0.3 * (t if motion == "zoom-in" else 1.0 - t)
        w, h = w * scale, h * scale
        return (rw - w) / 2, (rh - h) / 2, w, h
    dx, dy = rw - w, rh - h
    x, y = {
        "pan-right": (dx * t, dy / 2),
        "pan-left": (dx * (1 - t), dy / 2),
        "pan-down": (dx / 2, dy * t),
        "pan-up": (dx / 2, dy * (1 - t)),
    }[motion]
    return x, y, w, h


def luma(rgb):
    """BT.601 luma, the grey a black-and-white film of the scene would show."""
    return rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)


def encode(raw_path, fmt, out_path):
    """Encodes a raw file to H.264 in MP4 with GStreamer."""
    pipeline = [
        "gst-launch-1.0", "-q", "filesrc", f"location={raw_path}", "!",
        "rawvideoparse", f"width={WIDTH}", f"height={HEIGHT}", f"format={fmt}",
        f"framerate={FPS}/1", "!", "videoconvert", "!", "video/x-raw,format=I420", "!",
        "x264enc", "speed-preset=medium", "qp-min=0", "pass=quant", "quantizer=16",
        "key-int-max=250", "!", "mp4mux", "!", "filesink", f"location={out_path}",
    ]
    subprocess.run(pipeline, check=True)


def shot_frames(name, length, motion):
    region, _ = split(photo(name))
    return [bilinear(region, *camera(region, motion, i / max(1, length - 1))) for i in range(length)]


def transitions_clip():
    """Frames (float RGB) and ground truth of the transitions clip."""
    frames, truth = [], {"cuts": [], "gradual": [], "flashes": []}
    for name, length, motion, begin, flashes in TRANSITIONS:
        shot = shot_frames(name, length, motion)
        for offset, n in flashes:
            for k in range(n):
                shot[offset + k] = shot[offset + k] * 0.25 + 255.0 * 0.75
        if begin == "cut":
            base = len(frames)
            if frames:
                truth["cuts"].append(base)
            frames.extend(shot)
        elif begin[0] == "dissolve":
            n = begin[1]
            base = len(frames) - n
            for k in range(n):
                alpha = (k + 1) / (n + 1)
                frames[base + k] = frames[base + k] * (1 - alpha) + shot[k] * alpha
            frames.extend(shot[n:])
            truth["gradual"].append({"kind": "dissolve", "start": base, "end": base + n - 1})
        else:
            n = begin[1]
            for k in range(n):
                frames[len(frames) - n + k] = frames[len(frames) - n + k] * (1 - (k + 1) / n)
            base = len(frames)
            frames.extend([shot[k] * ((k + 1) / (n + 1)) for k in range(n)] + shot[n:])
            truth["gradual"].append({"kind": "fade", "start": base - n, "end": base + n - 1})
        for offset, n in flashes:
            truth["flashes"].append({"frame": base + offset, "length": n})
    return frames, truth


# The pairs clip: (left photo, right photo, frames, left motion, right motion).
PAIRS = [
    ("astronaut", "china", 30, "pan-down", "zoom-in"),
    ("chelsea", "flower", 30, "zoom-in", "pan-left"),
    ("coffee", "rocket", 30, "pan-right", "pan-up"),
    ("rocket", "astronaut", 30, "zoom-out", "pan-down"),
    ("china", "coffee", 30, "pan-left", "zoom-out"),
    ("flower", "chelsea", 30, "pan-right", "zoom-in"),
]


def pairs_clip():
    """Frames of the pairs clip (the middle halves of two shots side by side) and its scenes."""
    frames, scenes = [], []
    quarter = WIDTH // 4
    for left, right, length, left_motion, right_motion in PAIRS:
        scenes.append({"first_frame": len(frames), "frames": length, "photo": f"{left}+{right}",
                       "motion": f"{left_motion}+{right_motion}"})
        for a, b in zip(shot_frames(left, length, left_motion), shot_frames(right, length, right_motion)):
            frames.append(np.concatenate([a[:, quarter:3 * quarter], b[:, quarter:3 * quarter]], axis=1))
    return frames, scenes


def other_colours(reference):
    """A closer view of the same thing (the middle 60 %), same lightness, a*b* turned by 120 degrees."""
    from skimage.color import lab2rgb, rgb2lab

    h, w = reference.shape[:2]
    lab = rgb2lab(reference[int(0.2 * h):int(0.8 * h), int(0.2 * w):int(0.8 * w)])
    turn = np.deg2rad(120.0)
    a, b = lab[..., 1].copy(), lab[..., 2].copy()
    lab[..., 1] = a * np.cos(turn) - b * np.sin(turn)
    lab[..., 2] = a * np.sin(turn) + b * np.cos(turn)
    return np.clip(np.rint(lab2rgb(lab) * 255.0), 0, 255).astype(np.uint8)


def returns_clip(out):
    """Frames of the returns clip, its scenes, and its library (refs/ plus other-colour photos)."""
    from PIL import Image

    library = out / "refs_returns"
    if library.exists():
        shutil.rmtree(library)
    shutil.copytree(out / "refs", library)
    frames, scenes = [], []
    for name, length, motion in RETURNS:
        if not (library / f"{name}_other_colours.jpg").exists():
            _, reference = split(photo(name))
            Image.fromarray(other_colours(reference)).save(library / f"{name}_other_colours.jpg", quality=92)
        scenes.append({"first_frame": len(frames), "frames": length, "photo": name, "motion": motion,
                       "reference": f"{name}.jpg"})
        frames.extend(shot_frames(name, length, motion))
    return frames, scenes


def write_clip(frames, out, stem, rng):
    """Writes stem.rgb (raw colour), stem.mp4 (colour) and stem_grey.mp4 (black and white)."""
    rgb_path = out / f"{stem}.rgb"
    grey_path = out / f"{stem}_grey.gray"
    with open(rgb_path, "wb") as rgb_file, open(grey_path, "wb") as grey_file:
        for colour in frames:
            colour = colour + rng.normal(0.0, 1.5, size=(HEIGHT, WIDTH, 1)).astype(np.float32)
            colour = np.clip(np.rint(colour), 0, 255).astype(np.uint8)
            rgb_file.write(colour.tobytes())
            grey = np.clip(np.rint(luma(colour.astype(np.float32))), 0, 255).astype(np.uint8)
            grey_file.write(grey.tobytes())
    encode(rgb_path, "rgb", out / f"{stem}.mp4")
    encode(grey_path, "gray8", out / f"{stem}_grey.mp4")
    os.remove(grey_path)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="generated/media", type=pathlib.Path)
    args = parser.parse_args()
    out = args.out
    refs = out / "refs"
    if refs.exists():
        shutil.rmtree(refs)
    refs.mkdir(parents=True)

    from PIL import Image

    rng = np.random.default_rng(2024)
    scenes = []
    frame = 0
    rgb_path = out / "scenes.rgb"
    grey_path = out / "scenes_grey.gray"
    with open(rgb_path, "wb") as rgb_file, open(grey_path, "wb") as grey_file:
        for name, length, motion in SCENES:
            region, reference = split(photo(name))
            ref_file = refs / f"{name}.jpg"
            Image.fromarray(np.ascontiguousarray(reference)).save(ref_file, quality=92)
            scenes.append(
                {
                    "first_frame": frame,
                    "frames": length,
                    "photo": name,
                    "motion": motion,
                    "reference": ref_file.name,
                }
            )
            for i in range(length):
                x, y, w, h = camera(region, motion, i / max(1, length - 1))
                colour = bilinear(region, x, y, w, h)
                # Film grain, the same on all three channels as on real film.
                colour += rng.normal(0.0, 1.5, size=(HEIGHT, WIDTH, 1)).astype(np.float32)
                colour = np.clip(np.rint(colour), 0, 255).astype(np.uint8)
                rgb_file.write(colour.tobytes())
                grey = np.clip(np.rint(luma(colour.astype(np.float32))), 0, 255).astype(np.uint8)
                grey_file.write(grey.tobytes())
            frame += length
    for name in DISTRACTORS:
        Image.fromarray(photo(name)).save(refs / f"distractor_{name}.jpg", quality=92)

    encode(rgb_path, "rgb", out / "scenes.mp4")
    encode(grey_path, "gray8", out / "scenes_grey.mp4")
    os.remove(grey_path)
    meta = {
        "width": WIDTH,
        "height": HEIGHT,
        "fps": FPS,
        "frames": frame,
        "cuts": [s["first_frame"] for s in scenes[1:]],
        "scenes": scenes,
        "distractors": [f"distractor_{n}.jpg" for n in DISTRACTORS],
    }
    (out / "scenes.json").write_text(json.dumps(meta, indent=2) + "\n")

    frames, truth = transitions_clip()
    write_clip(frames, out, "transitions", rng)
    truth.update({"width": WIDTH, "height": HEIGHT, "fps": FPS, "frames": len(frames)})
    (out / "transitions.json").write_text(json.dumps(truth, indent=2) + "\n")

    frames, scenes = returns_clip(out)
    write_clip(frames, out, "returns", rng)
    meta = {"width": WIDTH, "height": HEIGHT, "fps": FPS, "frames": len(frames),
            "cuts": [s["first_frame"] for s in scenes[1:]], "scenes": scenes, "refs": "refs_returns"}
    (out / "returns.json").write_text(json.dumps(meta, indent=2) + "\n")

    frames, scenes = pairs_clip()
    write_clip(frames, out, "pairs", rng)
    meta = {"width": WIDTH, "height": HEIGHT, "fps": FPS, "frames": len(frames),
            "cuts": [s["first_frame"] for s in scenes[1:]], "scenes": scenes, "refs": "refs"}
    (out / "pairs.json").write_text(json.dumps(meta, indent=2) + "\n")
    print(f"wrote the scenes, transitions, returns and pairs clips to {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
