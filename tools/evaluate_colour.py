#!/usr/bin/env python3
"""Measures colour stability and fidelity of `exemplarcolorize` on the scenes clip, in one run.

For each setting, the grey clip goes through `scenecut ! exemplarcolorize` to raw RGB and is
compared with the colour original (generated/media/scenes.rgb):

- flicker: the mean absolute frame-to-frame change of a* and b* inside scenes (pairs that cross
  a cut are left out), minus the same figure of the colour original (its own camera motion);
  0 would be as steady as the original;
- PSNR (dB, RGB) over all frames and SSIM (RGB) over every 4th frame.

    python tools/evaluate_colour.py --plugin target/release [--setting temporal-smoothing=0.3 ...]
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile

import numpy as np
from skimage.color import rgb2lab
from skimage.metrics import peak_signal_noise_ratio, structural_similarity


def frames_of(path, width, height):
    data = np.fromfile(path, dtype=np.uint8)
    return data.reshape(-1, height, width, 3)


def chroma(frames):
    """a*, b* of every frame, at half resolution (enough for a flicker figure, four times faster)."""
    return np.stack([rgb2lab(f[::2, ::2])[..., 1:] for f in frames])


def flicker(ab, cuts):
    changes = []
    for i in range(1, len(ab)):
        if i in cuts:
            continue
        changes.append(np.abs(ab[i] - ab[i - 1]).mean())
    return float(np.mean(changes))


def colorize(media, plugin, refs, setting, out):
    env = dict(os.environ, GST_PLUGIN_PATH=str(plugin))
    subprocess.run(
        ["gst-launch-1.0", "-q", "filesrc", f"location={media / 'scenes_grey.mp4'}", "!", "decodebin", "!",
         "videoconvert", "!", "scenecut", "!", "exemplarcolorize", f"refs={refs}", *setting.split(), "!",
         "video/x-raw,format=RGB", "!", "filesink", f"location={out}"],
        env=env, check=True,
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--media", default="generated/media", type=pathlib.Path)
    parser.add_argument("--plugin", default="target/release", type=pathlib.Path)
    parser.add_argument("--setting", action="append", help="exemplarcolorize properties, e.g. temporal-smoothing=0.3")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    settings = args.setting or ["temporal-smoothing=0", "temporal-smoothing=0.2", "temporal-smoothing=0.35", "temporal-smoothing=0.5"]
    meta = json.loads((args.media / "scenes.json").read_text())
    width, height, cuts = meta["width"], meta["height"], set(meta["cuts"])
    original = frames_of(args.media / "scenes.rgb", width, height)
    original_flicker = flicker(chroma(original), cuts)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        refs = pathlib.Path(tmp) / "refs"
        refs.mkdir()
        for photo in (args.media / "refs").glob("*.jpg"):
            (refs / photo.name).write_bytes(photo.read_bytes())
        for setting in settings:
            out = pathlib.Path(tmp) / "out.rgb"
            colorize(args.media, args.plugin, refs, setting, out)
            frames = frames_of(out, width, height)
            assert len(frames) == len(original), (len(frames), len(original))
            psnr = np.mean([peak_signal_noise_ratio(o, f, data_range=255) for o, f in zip(original, frames)])
            ssim = np.mean([structural_similarity(o, f, channel_axis=2, data_range=255) for o, f in zip(original[::4], frames[::4])])
            rows.append((setting, flicker(chroma(frames), cuts) - original_flicker, psnr, ssim))
    if args.markdown:
        print(f"| setting | flicker (a*b* change beyond the original's {original_flicker:.3f}) | PSNR dB | SSIM |")
        print("|---|---|---|---|")
        for setting, f, p, s in rows:
            print(f"| {setting} | {f:.3f} | {p:.2f} | {s:.4f} |")
    else:
        print(f"original's own flicker {original_flicker:.3f}")
        for setting, f, p, s in rows:
            print(f"{setting:<28} flicker {f:+.3f}  PSNR {p:.2f} dB  SSIM {s:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
