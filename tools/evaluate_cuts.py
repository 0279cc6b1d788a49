#!/usr/bin/env python3
"""Scores scene-change detectors on the project's clips with ground truth, in one run.

Detectors: `scenecut` (this plugin, through gst-launch-1.0; any property settings, e.g. the
flash test off and on), PySceneDetect's ContentDetector and AdaptiveDetector (PyPI
`scenedetect`), and GStreamer's own `scenechange` (gst-plugins-bad), whose force-key-unit events
are counted.

A detection matches a cut within 2 frames, and a gradual transition anywhere inside it; each
truth event matches at most one detection. Reported: precision, recall and F1 over all events,
recall of cuts and of gradual transitions separately, and false detections near flash frames.

    python tools/evaluate_cuts.py --media generated/media --plugin target/release [--markdown]
"""

import argparse
import json
import os
import pathlib
import re
import subprocess
import sys

SCENE_RE = re.compile(r"scene-change, scene=\(uint\)\d+, frame=\(guint64\)(\d+),")
FKU_RE = re.compile(r"GstForceKeyUnit, timestamp=\(guint64\)(\d+)")
PTS_RE = re.compile(r"chain   \*+ \(identity0:sink\).*?pts: (\d+):(\d+):(\d+\.\d+)")


def scenecut(clip, plugin, properties):
    env = dict(os.environ, GST_PLUGIN_PATH=str(plugin))
    out = subprocess.run(
        ["gst-launch-1.0", "-m", "filesrc", f"location={clip}", "!", "decodebin", "!", "videoconvert", "!",
         "scenecut", *properties, "!", "fakesink"],
        env=env, capture_output=True, text=True, check=True,
    ).stdout
    return [int(f) for f in SCENE_RE.findall(out)][1:]


def gst_scenechange(clip, fps):
    out = subprocess.run(
        ["gst-launch-1.0", "-v", "filesrc", f"location={clip}", "!", "decodebin", "!", "videoconvert", "!",
         "scenechange", "!", "identity", "silent=false", "!", "fakesink"],
        capture_output=True, text=True, check=True,
    ).stdout
    # Timestamps count from the first frame's (an MP4 edit list can start it after 0).
    h, m, sec = PTS_RE.search(out).groups()
    first = (int(h) * 3600 + int(m) * 60 + float(sec)) * 1e9
    frames = sorted({round((int(t) - first) * fps / 1e9) for t in FKU_RE.findall(out)})
    return [f for f in frames if f > 0]


def pyscenedetect(clip, detector):
    import scenedetect

    make = {"content": scenedetect.ContentDetector, "adaptive": scenedetect.AdaptiveDetector}[detector]
    scenes = scenedetect.detect(str(clip), make())
    return [s[0].frame_num for s in scenes[1:]]


def score(detections, truth):
    events = [("cut", c, c - 2, c + 2) for c in truth["cuts"]]
    events += [(g["kind"], (g["start"] + g["end"]) // 2, g["start"], g["end"]) for g in truth.get("gradual", [])]
    matched_events = set()
    true_positives = 0
    unmatched = []
    for d in sorted(detections):
        hit = next((i for i, e in enumerate(events) if i not in matched_events and e[2] <= d <= e[3]), None)
        if hit is None:
            unmatched.append(d)
        else:
            matched_events.add(hit)
            true_positives += 1
    precision = true_positives / len(detections) if detections else 1.0
    recall = true_positives / len(events) if events else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    cut_ids = [i for i, e in enumerate(events) if e[0] == "cut"]
    gradual_ids = [i for i, e in enumerate(events) if e[0] != "cut"]
    flash_false = sum(
        1 for d in unmatched if any(f["frame"] - 2 <= d <= f["frame"] + f["length"] + 2 for f in truth.get("flashes", []))
    )
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "cut_recall": len(matched_events.intersection(cut_ids)) / len(cut_ids) if cut_ids else 1.0,
        "gradual_recall": len(matched_events.intersection(gradual_ids)) / len(gradual_ids) if gradual_ids else None,
        "flash_false": flash_false,
        "false": len(unmatched),
        "detections": sorted(detections),
    }


CLIPS = ["scenes", "transitions", "returns", "pairs"]


def truths(media):
    """Ground truth of every generated clip: cuts, and for the transitions clip gradual
    transitions and flashes."""
    clips = {}
    for name in CLIPS:
        meta = json.loads((media / f"{name}.json").read_text())
        clips[name] = {"cuts": meta["cuts"], "gradual": meta.get("gradual", []),
                       "flashes": meta.get("flashes", []), "fps": meta["fps"]}
    return clips


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--media", default="generated/media", type=pathlib.Path)
    parser.add_argument("--plugin", default="target/release", type=pathlib.Path)
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--json", type=pathlib.Path, help="also write every score here")
    args = parser.parse_args()
    detectors = {
        "scenecut rule, flash and gradual tests off": lambda clip, fps: scenecut(
            clip, args.plugin, ["method=rule", "flash-ratio=0", "gradual=false"]),
        "scenecut rule, gradual tests off": lambda clip, fps: scenecut(
            clip, args.plugin, ["method=rule", "gradual=false"]),
        "scenecut rule": lambda clip, fps: scenecut(clip, args.plugin, ["method=rule"]),
        "scenecut (default: auto, hybrid)": lambda clip, fps: scenecut(clip, args.plugin, []),
        "PySceneDetect ContentDetector": lambda clip, fps: pyscenedetect(clip, "content"),
        "PySceneDetect AdaptiveDetector": lambda clip, fps: pyscenedetect(clip, "adaptive"),
        "GStreamer scenechange": gst_scenechange,
    }
    results = []
    for clip_name, truth in truths(args.media).items():
        clip = args.media / f"{clip_name}_grey.mp4"
        for name, detect in detectors.items():
            found = detect(clip, truth["fps"])
            results.append({"clip": clip_name, "detector": name, **score(found, truth)})
    header = ["clip", "detector", "precision", "recall", "F1", "cut recall", "gradual recall", "false on flashes", "detections"]
    fmt = lambda r: [  # noqa: E731
        r["clip"], r["detector"], f'{r["precision"]:.2f}', f'{r["recall"]:.2f}', f'{r["f1"]:.2f}',
        f'{r["cut_recall"]:.2f}', "–" if r["gradual_recall"] is None else f'{r["gradual_recall"]:.2f}',
        str(r["flash_false"]), " ".join(map(str, r["detections"])),
    ]
    if args.markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for r in results:
            print("| " + " | ".join(fmt(r)) + " |")
    else:
        for r in results:
            print("  ".join(fmt(r)))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
