#!/usr/bin/env python3
"""Writes the visual report of a colorization run: one self-contained HTML page.

Reads what `gst-launch-1.0 -m` printed (the scene-change and reference-changed messages), the
element's log (indexing time), the grey input and the colour output, and shows per scene the
first grey frame, the chosen reference with its distance and the colorized frame, the timeline
of cuts with their scores, and totals. With --truth (tools/make_media.py's scenes.json) it also
marks whether each cut and each reference match the ground truth.

    python tools/report.py --messages run.log --grey in.mp4 --colour out.mp4 --out report.html
"""

import argparse
import base64
import html
import io
import json
import pathlib
import re
import subprocess
import sys
import tempfile

from PIL import Image

THUMB_WIDTH = 240

SCENE_RE = re.compile(
    r"scene-change, scene=\(uint\)(\d+), frame=\(guint64\)(\d+), pts=\(guint64\)(\d+), "
    r"(?:(?:running|stream)-time=\(guint64\)\d+, )*"
    r"score=\(double\)([-0-9.e+]+), kind=\(string\)(\w+);"
)
REFERENCE_RE = re.compile(
    r"reference-changed, scene=\(uint\)(\d+), frame=\(guint64\)(\d+), pts=\(guint64\)(\d+), "
    r"(?:(?:running|stream)-time=\(guint64\)\d+, )*"
    r"reference=\(string\)(\"(?:[^\"\\]|\\.)*\"|[^,]+), distance=\(double\)([-0-9.e+]+), "
    r"reused=\(boolean\)\w+(?:, reused-from=\(uint\)(\d+))?"
)
ITEM_RE = re.compile(r'"(?:[^"\\]|\\.)*"|[^,\s][^,]*')
WARNING_RE = re.compile(r"^WARNING: from element (\S+): (.*)$", re.M)
MODELS_RE = re.compile(r"models loaded in \d+ ms on (\w+) \(runtime (.*?), encoder (.*?), colorizer (.*?)\)")
KIND_COLOURS = {"cut": "#d9480f", "fade": "#1c7ed6", "dissolve": "#7048e8"}
KIND_SCORES = {"cut": "frame difference / window mean", "fade": "old shot's mean luma / darkest frame's",
               "dissolve": "lower shot contrast / contrast midway"}
INDEX_RE = re.compile(r"index of .*: (\d+) photos \((\d+) embedded in ([0-9.]+) s")


def unescape(value):
    """gst-launch prints strings with backslash escapes, quoted when they contain spaces."""
    if value.startswith('"') and value.endswith('"'):
        value = value[1:-1]
    return re.sub(r"\\(.)", r"\1", value)


def parse_messages(text):
    scenes = [
        {"scene": int(m[1]), "frame": int(m[2]), "pts": int(m[3]) / 1e9, "score": float(m[4]), "kind": m[5]}
        for m in SCENE_RE.finditer(text)
    ]
    references = []
    for m in REFERENCE_RE.finditer(text):
        line = text[m.start():text.find("\n", m.start()) % (len(text) + 1)]
        field = lambda name, kind: re.search(rf"{name}=\({kind}\)([^,;]+)", line)
        listed = lambda name, kind: [item.strip() for item in ITEM_RE.findall(
            (re.search(rf"{name}=\({kind}\)<([^>]*)>", line) or [None, ""])[1])]
        score, margin = field("score", "double"), field("margin", "double")
        changed = field("changed", "boolean")
        references.append(
            {"scene": int(m[1]), "frame": int(m[2]), "reference": unescape(m[4]), "distance": float(m[5]),
             "reused_from": None if m[6] is None else int(m[6]),
             "changed": changed is None or changed[1] == "true",
             "score": float(score[1]) if score else None, "margin": float(margin[1]) if margin else None,
             "candidates": list(zip([unescape(c) for c in listed("candidates", "string")],
                                    [float(v) for v in listed("candidate-scores", "double")]))})
    return scenes, references


def dump_frames(clip, folder):
    """Every frame of `clip` as a small PNG, in order."""
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["gst-launch-1.0", "-q", "filesrc", f"location={clip}", "!", "decodebin", "!", "videoconvert", "!",
         "videoscale", "!", f"video/x-raw,width={THUMB_WIDTH},pixel-aspect-ratio=1/1", "!", "pngenc",
         "snapshot=false", "!", "multifilesink", f"location={folder}/%05d.png"],
        check=True,
    )
    return sorted(folder.glob("*.png"))


def data_uri(image):
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=85)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()


def thumbnail(path):
    image = Image.open(path).convert("RGB")
    image.thumbnail((THUMB_WIDTH, THUMB_WIDTH))
    return image


def timeline_svg(scenes, frames, truth_cuts):
    """One row per kind of scene start, each scaled to its own highest score (the kinds' scores
    measure different things)."""
    kinds = [k for k in KIND_COLOURS if any(s["kind"] == k for s in scenes[1:])] or ["cut"]
    width, row, top = 900, 90, 10
    height = top + row * len(kinds) + 20
    x = lambda f: 30 + (width - 60) * f / max(1, frames - 1)  # noqa: E731
    parts = [f'<svg class="timeline" viewBox="0 0 {width} {height}" role="img" aria-label="timeline of scene starts">']
    for cut in truth_cuts:
        parts.append(f'<line x1="{x(cut):.1f}" y1="{top}" x2="{x(cut):.1f}" y2="{height - 20}" stroke="#bbb" stroke-dasharray="3,3"/>')
    for place, kind in enumerate(kinds):
        base = top + row * (place + 1) - 15
        parts.append(f'<line x1="30" y1="{base}" x2="{width - 30}" y2="{base}" stroke="#888"/>'
                     f'<text x="{width - 28}" y="{base}" font-size="11">{kind}</text>')
        max_score = max([s["score"] for s in scenes if s["kind"] == kind] + [1e-9])
        for s in scenes:
            if s["kind"] != kind:
                continue
            h = (row - 30) * s["score"] / max_score
            parts.append(
                f'<rect class="{kind}" x="{x(s["frame"]) - 3:.1f}" y="{base - h:.1f}" width="6" height="{h:.1f}" fill="{KIND_COLOURS[kind]}">'
                f'<title>scene {s["scene"]} at frame {s["frame"]}, {kind} score {s["score"]:.2f}</title></rect>'
                f'<text x="{x(s["frame"]):.1f}" y="{base + 12}" font-size="11" text-anchor="middle">{s["frame"]}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def build(args):
    text = pathlib.Path(args.messages).read_text(errors="replace")
    scenes, references = parse_messages(text)
    index = None
    debug = pathlib.Path(args.debug_log).read_text(errors="replace") if args.debug_log and pathlib.Path(args.debug_log).exists() else ""
    if debug:
        match = INDEX_RE.search(debug)
        if match:
            index = {"photos": int(match[1]), "embedded": int(match[2]), "seconds": float(match[3])}
    truth = json.loads(pathlib.Path(args.truth).read_text()) if args.truth else None
    with tempfile.TemporaryDirectory() as tmp:
        grey = dump_frames(args.grey, pathlib.Path(tmp) / "grey")
        colour = dump_frames(args.colour, pathlib.Path(tmp) / "colour")
        frames = len(colour)
        by_scene = {r["scene"]: r for r in references}
        cards = []
        for i, s in enumerate(scenes):
            end = scenes[i + 1]["frame"] if i + 1 < len(scenes) else frames
            middle = min((s["frame"] + end) // 2, frames - 1)
            ref = by_scene.get(s["scene"])
            verdict = ""
            if truth and i < len(truth["scenes"]) and ref:
                expected = truth["scenes"][i]["reference"]
                ok = pathlib.Path(ref["reference"]).name == expected
                verdict = f'<p class="{"ok" if ok else "bad"}">{"✓" if ok else "✗"} expected {html.escape(expected)}</p>'
            reused = "" if ref["reused_from"] is None else f', as scene {ref["reused_from"]}'
            ref_cell = (
                f'<figure><img src="{data_uri(thumbnail(ref["reference"]))}" alt="reference">'
                f'<figcaption>reference <b>{html.escape(pathlib.Path(ref["reference"]).name)}</b>, distance {ref["distance"]:.3f}{reused}</figcaption>{verdict}</figure>'
                if ref and pathlib.Path(ref["reference"]).exists() else "<figure><figcaption>no reference message</figcaption></figure>"
            )
            sure = ""
            if ref and ref["score"] is not None:
                sure = f', score {ref["score"]:.3f}, margin {ref["margin"]:.3f}'
            ref_cell = ref_cell.replace("</figcaption>", f"{sure}</figcaption>", 1)
            shortlist = "".join(
                f'<figure class="candidate"><img src="{data_uri(thumbnail(path))}" alt="candidate {place}">'
                f'<figcaption>{place + 1}. {html.escape(pathlib.Path(path).name)}, score {score:.3f}</figcaption></figure>'
                for place, (path, score) in enumerate(ref["candidates"] if ref else []) if pathlib.Path(path).exists()
            )
            shortlist = f'<div class="row candidates"><h3>best candidates</h3>{shortlist}</div>' if shortlist else ""
            cards.append(
                f'<section class="scene" data-scene="{s["scene"]}"><h2>Scene {s["scene"]} — frames {s["frame"]}–{end - 1}, '
                f't = {s["pts"]:.2f} s, {s["kind"]} score {s["score"]:.2f}</h2><div class="row">'
                f'<figure><img src="{data_uri(thumbnail(grey[min(s["frame"], len(grey) - 1)]))}" alt="grey"><figcaption>first grey frame</figcaption></figure>'
                f"{ref_cell}"
                f'<figure><img src="{data_uri(thumbnail(colour[min(s["frame"], frames - 1)]))}" alt="colorized"><figcaption>colorized, first frame</figcaption></figure>'
                f'<figure><img src="{data_uri(thumbnail(colour[middle]))}" alt="colorized later"><figcaption>colorized, frame {middle}</figcaption></figure>'
                f"</div>{shortlist}</section>"
            )
    truth_cuts = truth["cuts"] if truth else []
    found_cuts = [s["frame"] for s in scenes[1:]]
    totals = [
        ("frames", frames),
        ("scenes", len(scenes)),
        ("reference switches (scenes after the first whose photos changed)",
         sum(1 for r in references if r["scene"] > 0 and r["changed"])),
        ("scenes that reused an earlier scene's reference", sum(1 for r in references if r["reused_from"] is not None)),
    ]
    if args.pipeline:
        totals.append(("pipeline", args.pipeline))
    version = plugin_version()
    if version:
        totals.append(("plugin", version))
    models = MODELS_RE.search(debug)
    if models:
        totals.append(("models", f"encoder {models[3]}, colorizer {models[4]}"))
        totals.append(("runtime", f"{models[2]} ({models[1]})"))
    if args.elapsed:
        totals.append(("processing speed", f"{frames / args.elapsed:.1f} frames/s ({args.elapsed:.1f} s)"))
    if index:
        totals.append(("indexing", f'{index["photos"]} photos, {index["embedded"]} embedded in {index["seconds"]:.2f} s'))
    if truth:
        hits = sum(1 for c in found_cuts if any(abs(c - t) <= 2 for t in truth_cuts))
        totals.append(("cuts vs ground truth", f"{hits} of {len(found_cuts)} found cuts are true; {len(truth_cuts)} true cuts"))
    rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in totals)
    warned = [(element.rsplit(":", 1)[-1], text) for element, text in WARNING_RE.findall(text)]
    warnings = ("<h2>Warnings</h2><ul class=\"warnings\">" + "".join(
        f"<li>{html.escape(element)}: {html.escape(message)}</li>" for element, message in warned) + "</ul>") if warned else ""
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>gst-exemplar colorization report</title>
<style>
body {{ font-family: sans-serif; margin: 24px; background: #fafafa; color: #222; }}
table {{ border-collapse: collapse; }} th, td {{ text-align: left; padding: 2px 12px 2px 0; }}
.scene {{ background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: 8px 12px; margin: 12px 0; }}
.scene h2 {{ font-size: 16px; margin: 4px 0 8px; }}
.row {{ display: flex; gap: 12px; flex-wrap: wrap; }}
.candidates h3 {{ width: 100%; font-size: 0.9em; margin: 8px 0 0; }} .candidate {{ width: {THUMB_WIDTH // 2}px; }} .candidate img {{ max-width: {THUMB_WIDTH // 2}px; max-height: 100px; }}
figure {{ margin: 0; width: {THUMB_WIDTH}px; }} figure img {{ max-width: {THUMB_WIDTH}px; max-height: 200px; display: block; }}
figcaption {{ font-size: 12px; color: #555; }} .ok {{ color: #2b8a3e; margin: 2px 0; }} .bad {{ color: #c92a2a; margin: 2px 0; }}
.timeline {{ width: 100%; max-width: 900px; background: #fff; border: 1px solid #ddd; }}
</style></head><body>
<h1>Colorization report</h1>
<p>Input <code>{html.escape(str(args.grey))}</code> → output <code>{html.escape(str(args.colour))}</code></p>
<table class="totals">{rows}</table>
{warnings}
<h2>Timeline of scene starts</h2>
<p>Bars: scene starts found by <code>scenecut</code>, one row per kind, height = score relative to the
highest of its kind ({"; ".join(f"{k}: {v}" for k, v in KIND_SCORES.items())}){"; dashed lines: true cuts" if truth else ""}.</p>
{timeline_svg(scenes, frames, truth_cuts)}
{"".join(cards)}
</body></html>
"""
    pathlib.Path(args.out).write_text(page)
    return len(scenes), frames


def plugin_version():
    """The exemplar plugin's version as gst-inspect-1.0 reports it, if it can be found."""
    try:
        out = subprocess.run(["gst-inspect-1.0", "exemplar"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"^\s*Version\s+(\S+)", out, re.M)
    return match[1] if match else None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", required=True, help="what gst-launch-1.0 -m printed")
    parser.add_argument("--debug-log", help="GST_DEBUG output with exemplarcolorize:4")
    parser.add_argument("--grey", required=True, type=pathlib.Path)
    parser.add_argument("--colour", required=True, type=pathlib.Path)
    parser.add_argument("--truth", type=pathlib.Path)
    parser.add_argument("--elapsed", type=float, help="wall time of the run in seconds")
    parser.add_argument("--pipeline", help="the pipeline that ran, with the elements' settings")
    parser.add_argument("--out", required=True, type=pathlib.Path)
    args = parser.parse_args()
    scenes, frames = build(args)
    print(f"report: {args.out} ({scenes} scenes, {frames} frames)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
