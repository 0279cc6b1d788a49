#!/usr/bin/env python3
"""The seed design against the current defaults, on every generated clip, in one run.

"Seed" turns off what the seed design lacked: scenecut's flash test and gradual transitions
(`flash-ratio=0 gradual=false`), exemplarcolorize's temporal smoothing and scene memory
(`temporal-smoothing=0 scene-memory=false`; `top-k` is 1 in both). "Now" is every default.
Detection is scored as in evaluate_cuts.py on every clip, colour as in evaluate_colour.py on
the clips with scenes of known photos.

    python tools/before_after.py --plugin target/release
"""

import argparse
import pathlib
import sys

import evaluate_colour
import evaluate_cuts

DETECTOR = {"seed": ["method=rule", "flash-ratio=0", "gradual=false"], "now": []}
COLOUR = {
    "seed": "scenecut.method=rule scenecut.flash-ratio=0 scenecut.gradual=false temporal-smoothing=0 "
            "scene-memory=false",
    "now": "",
}
COLOUR_CLIPS = ["scenes", "returns", "pairs"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--media", default="generated/media", type=pathlib.Path)
    parser.add_argument("--plugin", default="target/release", type=pathlib.Path)
    args = parser.parse_args()
    print("| clip | design | precision | recall | F1 | gradual recall | false on flashes | flicker | PSNR dB | SSIM "
          "| switches |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for clip, truth in evaluate_cuts.truths(args.media).items():
        colour = {}
        if clip in COLOUR_CLIPS:
            _, rows = evaluate_colour.evaluate(args.media, clip, args.plugin, list(COLOUR.values()))
            colour = dict(zip(COLOUR, rows))
        for design, properties in DETECTOR.items():
            found = evaluate_cuts.scenecut(args.media / f"{clip}_grey.mp4", args.plugin, properties)
            s = evaluate_cuts.score(found, truth)
            gradual = "–" if s["gradual_recall"] is None else f'{s["gradual_recall"]:.2f}'
            cells = [clip, design, f'{s["precision"]:.2f}', f'{s["recall"]:.2f}', f'{s["f1"]:.2f}', gradual,
                     str(s["flash_false"])]
            if design in colour:
                _, flicker, psnr, ssim, switched, _ = colour[design]
                cells += [f"{flicker:.3f}", f"{psnr:.2f}", f"{ssim:.4f}", str(switched)]
            else:
                cells += ["–"] * 4
            print("| " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
