#!/usr/bin/env python3
"""Measures colour stability and fidelity of `exemplarcolorize` on a generated clip, in one run.

For each setting, the grey clip (default `scenes`; `returns` keeps going back to the same photos,
`pairs` shows two photos side by side)
goes through `scenecut ! exemplarcolorize` with the clip's library to raw RGB and is compared
with the colour original (generated/media/<clip>.rgb):

- flicker: the mean absolute frame-to-frame change of a* and b* inside scenes (pairs that cross
  a cut are left out), minus the same figure of the colour original (its own camera motion);
  0 would be as steady as the original;
- PSNR (dB, RGB) over all frames and SSIM (RGB) over every 4th frame;
- switches: over the photos the clip shows more than once, how many of their later scenes got
  another reference than the photo's first scene (colours that change between shots of the
  same thing), and how many scenes `reference-changed` marked as reused.

    python tools/evaluate_colour.py --plugin target/release [--clip returns] [--setting scene-memory=false ...]

A setting is a list of properties for `exemplarcolorize`; those written `scenecut.NAME=VALUE` go
to `scenecut` instead.
"""

import argparse
import json
import os
import pathlib
import re
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


def colorize(media, clip, plugin, refs, setting, out):
    """Runs the clip through the elements; returns each scene's (reference file name, reused)."""
    env = dict(os.environ, GST_PLUGIN_PATH=str(plugin))
    detector = [p.removeprefix("scenecut.") for p in setting.split() if p.startswith("scenecut.")]
    colorizer = [p for p in setting.split() if not p.startswith("scenecut.")]
    run = subprocess.run(
        ["gst-launch-1.0", "-m", "filesrc", f"location={media / f'{clip}_grey.mp4'}", "!", "decodebin", "!",
         "videoconvert", "!", "scenecut", *detector, "!", "exemplarcolorize", f"refs={refs}", *colorizer, "!",
         "video/x-raw,format=RGB", "!", "filesink", f"location={out}"],
        env=env, check=True, capture_output=True, text=True,
    )
    return [(pathlib.Path(m.group(1)).name, m.group(2) == "true")
            for m in re.finditer(r"reference-changed, .*?reference=\(string\)(.*?), distance=.*?reused=\(boolean\)(\w+)",
                                 run.stdout)]


def switches(chosen, scenes):
    """Later scenes of a photo shown before whose reference differs from that photo's first one."""
    first, count = {}, 0
    for (reference, _), scene in zip(chosen, scenes):
        count += scene["photo"] in first and first[scene["photo"]] != reference
        first.setdefault(scene["photo"], reference)
    return count


def evaluate(media, clip, plugin, settings):
    """The colour original's own flicker, and per setting: (setting, flicker beyond it, PSNR,
    SSIM, switches, scenes reused)."""
    meta = json.loads((media / f"{clip}.json").read_text())
    width, height, cuts = meta["width"], meta["height"], set(meta["cuts"])
    original = frames_of(media / f"{clip}.rgb", width, height)
    original_flicker = flicker(chroma(original), cuts)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        refs = pathlib.Path(tmp) / "refs"
        refs.mkdir()
        for photo in (media / meta.get("refs", "refs")).glob("*.jpg"):
            (refs / photo.name).write_bytes(photo.read_bytes())
        for setting in settings:
            out = pathlib.Path(tmp) / "out.rgb"
            chosen = colorize(media, clip, plugin, refs, setting, out)
            assert len(chosen) == len(meta["scenes"]), chosen
            frames = frames_of(out, width, height)
            assert len(frames) == len(original), (len(frames), len(original))
            psnr = np.mean([peak_signal_noise_ratio(o, f, data_range=255) for o, f in zip(original, frames)])
            ssim = np.mean([structural_similarity(o, f, channel_axis=2, data_range=255) for o, f in zip(original[::4], frames[::4])])
            rows.append((setting, flicker(chroma(frames), cuts) - original_flicker, psnr, ssim,
                         switches(chosen, meta["scenes"]), sum(reused for _, reused in chosen)))
    return original_flicker, rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--media", default="generated/media", type=pathlib.Path)
    parser.add_argument("--plugin", default="target/release", type=pathlib.Path)
    parser.add_argument("--clip", default="scenes", choices=["scenes", "returns", "pairs"])
    parser.add_argument("--setting", action="append", help="exemplarcolorize properties, e.g. temporal-smoothing=0.3")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    settings = args.setting or ["temporal-smoothing=0", "temporal-smoothing=0.2", "temporal-smoothing=0.35", "temporal-smoothing=0.5"]
    original_flicker, rows = evaluate(args.media, args.clip, args.plugin, settings)
    if args.markdown:
        print(f"| setting | flicker (a*b* change beyond the original's {original_flicker:.3f}) | PSNR dB | SSIM "
              "| switches | reused |")
        print("|---|---|---|---|---|---|")
        for setting, f, p, s, switched, reused in rows:
            print(f"| {setting} | {f:.3f} | {p:.2f} | {s:.4f} | {switched} | {reused} |")
    else:
        print(f"original's own flicker {original_flicker:.3f}")
        for setting, f, p, s, switched, reused in rows:
            print(f"{setting:<28} flicker {f:+.3f}  PSNR {p:.2f} dB  SSIM {s:.4f}  switches {switched}  reused {reused}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
