#!/usr/bin/env python3
"""Activation ranges for the int8 TransNetV2 (`models/transnetv2_int8_ranges.json`).

`models/build.py` quantizes TransNetV2's six spatial 3x3 convolutions (nine tenths of its
multiply-adds) to int8 with these ranges, so the build itself runs no model and its output is
the same bytes on every machine. This tool measures them: it runs the float graph over every
99-frame window, 50 frames apart, of the project's four clips (generated/media: scenes, returns,
pairs, transitions, made by tools/make_media.py from real photos), as `scenecut` sees them (grey,
48x27, area-averaged), and keeps each convolution's input and output minimum and maximum,
widened to four significant digits. The transitions benchmark's clips (generated/transitions)
are not used: they judge the result.

    python tools/calibrate_transnetv2.py [--media generated/media] [--model generated/models/transnetv2.onnx]
        [--out models/transnetv2_int8_ranges.json]
"""

import argparse
import json
import math
import pathlib
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime as ort
from PIL import Image

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "models"))
import transnetv2  # noqa: E402

CLIPS = ["scenes", "returns", "pairs", "transitions"]
WINDOW, STEP = 99, 50


def thumbnails(media, name):
    """The clip's frames as `scenecut` hands them to the model: grey 48x27, R = G = B."""
    meta = json.loads((media / f"{name}.json").read_text())
    width, height, count = meta["width"], meta["height"], meta["frames"]
    frames = np.fromfile(media / f"{name}.rgb", dtype=np.uint8).reshape(count, height, width, 3)
    out = np.empty((count, transnetv2.HEIGHT, transnetv2.WIDTH, 3), dtype=np.uint8)
    for i, frame in enumerate(frames):
        luma = Image.fromarray(frame).convert("L").resize((transnetv2.WIDTH, transnetv2.HEIGHT), Image.BOX)
        out[i] = np.asarray(luma)[:, :, None]
    return out


def windows(frames):
    for start in range(0, max(len(frames) - WINDOW, 0) + 1, STEP):
        yield frames[None, start:start + WINDOW]


def rounded(value, up):
    """`value` rounded up or down to four significant digits."""
    if value == 0.0:
        return 0.0
    scale = 10.0 ** (3 - math.floor(math.log10(abs(value))))
    return (math.ceil if up else math.floor)(value * scale) / scale


def measure(model_path, media):
    model = onnx.load(model_path)
    convolutions = transnetv2.spatial_convolutions(model)
    first_input = convolutions[0].input[0]
    tensors = sorted({name for node in convolutions for name in (node.input[0], node.output[0])})
    del model.graph.output[:]
    model.graph.output.extend(onnx.helper.make_empty_tensor_value_info(name) for name in tensors)
    with tempfile.TemporaryDirectory() as tmp:
        path = pathlib.Path(tmp) / "probe.onnx"
        onnx.save(model, path)
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    low = {name: math.inf for name in tensors}
    high = {name: -math.inf for name in tensors}
    runs = 0
    for clip in CLIPS:
        for window in windows(thumbnails(media, clip)):
            for name, value in zip(tensors, session.run(tensors, {"frames": window})):
                low[name] = min(low[name], float(value.min()))
                high[name] = max(high[name], float(value.max()))
            runs += 1
    ranges = {name: [rounded(low[name], up=False), rounded(high[name], up=True)] for name in tensors}
    # The first convolution reads the frames divided by 255: its range is known exactly.
    ranges[first_input] = [0.0, 1.0]
    return ranges, runs


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--media", default="generated/media", type=pathlib.Path)
    parser.add_argument("--model", default="generated/models/transnetv2.onnx", type=pathlib.Path)
    parser.add_argument("--out", default=transnetv2.INT8_RANGES, type=pathlib.Path)
    args = parser.parse_args()
    ranges, runs = measure(args.model, args.media)
    lines = [f"  {json.dumps(name)}: {json.dumps(ranges[name])}" for name in sorted(ranges)]
    args.out.write_text("{\n" + ",\n".join(lines) + "\n}\n")
    print(f"{args.out}: ranges of {len(ranges)} tensors over {runs} windows", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
