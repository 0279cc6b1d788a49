"""The full-size end of exemplarcolorize's per-frame chain as an ONNX graph, `render.onnx`, so that
the execution provider that runs the colorizer (CUDA, TensorRT) runs it too: the guided upsampling
of a*, b* from the working size to the frame's chroma grid and the conversion of (L*, a*, b*) to
8-bit Cb, Cr. It computes what `src/colorize/render.rs` computes on the CPU's cores (the same
guided filter, interpolation and colour science, the colorimetry given as inputs), so either may
write a frame; `src/colorize/inference.rs` tests that they agree.

Contract (models/README.md):
  in   lightness        float [H, W]      the frame's L*
       small_lightness  float [h, w]      its L* at the working size
       a, b             float [h, w]      a*, b* predicted there
       subsampled       bool  []          chroma on a 2x2-subsampled grid (4:2:0; H, W even)
       encode_table     float [4097]      the transfer function at 0, 1/4096, ..., 1
       cbcr_weights     float [2, 3]      R', G', B' (0..1) to Cb, Cr in code values around 0
       cbcr_max         float []          the largest code value (240 limited, 255 full range)
  out  cbcr             uint8 [2, Hc, Wc] Cb, Cr on the chroma grid
"""

import numpy as np
from onnx import TensorProto, helper

from onnxgraph import Graph, make_model

# src/colorize/chain.rs UPSAMPLE_RADIUS and render.rs's regularisation.
UPSAMPLE_RADIUS = 4
UPSAMPLE_EPS = 1e-4
ENCODE_STEPS = 4096
# CIE constants, D65 white and XYZ -> linear BT.709 RGB, as src/colorize/color.rs has them.
EPSILON = 216.0 / 24389.0
KAPPA = 24389.0 / 27.0
WHITE = [0.95047, 1.0, 1.08883]
XYZ_TO_RGB = [
    [3.2404542, -1.5371385, -0.4985314],
    [-0.969266, 1.8760108, 0.041556],
    [0.0556434, -0.2040259, 1.0572252],
]


def box_mean(g, x, radius):
    """Mean over a (2r+1)^2 window clipped at the borders (separable pools that do not count the
    padding), as render.rs's sliding sums take it."""
    k = 2 * radius + 1
    x = g.op("AveragePool", [x], kernel_shape=[k, 1], pads=[radius, 0, radius, 0], count_include_pad=0)
    return g.op("AveragePool", [x], kernel_shape=[1, k], pads=[0, radius, 0, radius], count_include_pad=0)


def guided_coefficients(g, guide_low, source_low):
    """Fast guided filter (He & Sun 2015) fitted at low resolution: per channel of `source_low`
    [1, C, h, w] the window-averaged gain and offset of `source ~ gain * guide + offset`, as
    [1, 2C, h, w] (gains, then offsets)."""
    means = box_mean(
        g,
        g.op("Concat", [guide_low, g.op("Mul", [guide_low, guide_low]), source_low,
                        g.op("Mul", [source_low, guide_low])], axis=1),
        UPSAMPLE_RADIUS,
    )
    mean_i, mean_ii, mean_p, mean_ip = g.op(
        "Split", [means, g.const([1, 1, 2, 2], dtype=np.int64)], outputs=4, axis=1
    )
    var_i = g.op("Sub", [mean_ii, g.op("Mul", [mean_i, mean_i])])
    gain = g.op("Div", [g.op("Sub", [mean_ip, g.op("Mul", [mean_i, mean_p])]),
                        g.op("Add", [var_i, g.const(UPSAMPLE_EPS)])])
    offset = g.op("Sub", [mean_p, g.op("Mul", [gain, mean_i])])
    return box_mean(g, g.op("Concat", [gain, offset], axis=1), UPSAMPLE_RADIUS)


def lab_inverse(g, f):
    """CIE f^-1: f^3 above the knee, the linear segment below."""
    cube = g.op("Mul", [g.op("Mul", [f, f]), f])
    linear = g.op("Div", [g.op("Sub", [g.op("Mul", [f, g.const(116.0)]), g.const(16.0)]), g.const(KAPPA)])
    return g.op("Where", [g.op("Greater", [cube, g.const(EPSILON)]), cube, linear])


def build_render():
    g = Graph("render_")
    lightness = g.op("Unsqueeze", ["lightness", g.const([0, 1], dtype=np.int64)])

    # The frame's L* on the chroma grid: 2x2 means for 4:2:0 (what render.rs's area averaging
    # gives for an exact halving), the plane itself for 4:4:4.
    halved = helper.make_graph(
        [helper.make_node("AveragePool", [lightness], ["halved"], kernel_shape=[2, 2], strides=[2, 2])],
        "halve", [], [helper.make_tensor_value_info("halved", TensorProto.FLOAT, None)],
    )
    kept = helper.make_graph(
        [helper.make_node("Identity", [lightness], ["kept"])],
        "keep", [], [helper.make_tensor_value_info("kept", TensorProto.FLOAT, None)],
    )
    chroma_lightness = g.op("If", ["subsampled"], then_branch=halved, else_branch=kept)
    guide = g.op("Div", [chroma_lightness, g.const(100.0)])

    guide_low = g.op("Div", [g.op("Unsqueeze", ["small_lightness", g.const([0, 1], dtype=np.int64)]),
                             g.const(100.0)])
    source_low = g.op("Concat", [g.op("Unsqueeze", [channel, g.const([0, 1], dtype=np.int64)])
                                 for channel in ("a", "b")], axis=1)
    coefficients = guided_coefficients(g, guide_low, source_low)
    # Gains and offsets interpolated between sample centres onto the chroma grid (render.rs's
    # growing resampler: half-pixel centres, clamped at the borders), then applied to the
    # full-resolution guide.
    grid = g.op("Slice", [g.op("Shape", [guide]), g.const([2], dtype=np.int64), g.const([4], dtype=np.int64)])
    sizes = g.op("Concat", [g.const([1, 4], dtype=np.int64), grid], axis=0)
    coefficients = g.op("Resize", [coefficients, "", "", sizes], mode="linear",
                        coordinate_transformation_mode="half_pixel")
    gain, offset = g.op("Split", [coefficients, g.const([2, 2], dtype=np.int64)], outputs=2, axis=1)
    ab = g.op("Add", [g.op("Mul", [gain, guide]), offset])
    a, b = g.op("Split", [ab, g.const([1, 1], dtype=np.int64)], outputs=2, axis=1)

    # (L*, a*, b*) -> XYZ -> linear RGB.
    fy = g.op("Div", [g.op("Add", [chroma_lightness, g.const(16.0)]), g.const(116.0)])
    fx = g.op("Add", [fy, g.op("Div", [a, g.const(500.0)])])
    fz = g.op("Sub", [fy, g.op("Div", [b, g.const(200.0)])])
    fy_cube = g.op("Mul", [g.op("Mul", [fy, fy]), fy])
    luminance = g.op("Where", [g.op("Greater", [fy_cube, g.const(EPSILON)]), fy_cube,
                               g.op("Div", [chroma_lightness, g.const(KAPPA)])])
    xyz = g.op("Concat", [g.op("Mul", [lab_inverse(g, fx), g.const(WHITE[0])]),
                          g.op("Mul", [luminance, g.const(WHITE[1])]),
                          g.op("Mul", [lab_inverse(g, fz), g.const(WHITE[2])])], axis=1)
    linear = g.op("Conv", [xyz, g.const(np.array(XYZ_TO_RGB, dtype=np.float32).reshape(3, 3, 1, 1))])

    # The transfer function through its table, interpolated linearly as LabToVideo does.
    position = g.op("Mul", [g.op("Clip", [linear, g.const(0.0), g.const(1.0)]), g.const(float(ENCODE_STEPS))])
    index = g.op("Min", [g.op("Floor", [position]), g.const(float(ENCODE_STEPS - 1))])
    fraction = g.op("Sub", [position, index])
    index = g.op("Cast", [index], to=TensorProto.INT64)
    below = g.op("Gather", ["encode_table", index])
    above = g.op("Gather", ["encode_table", g.op("Add", [index, g.const(1, dtype=np.int64)])])
    encoded = g.op("Add", [below, g.op("Mul", [g.op("Sub", [above, below]), fraction])])

    # Cb, Cr in code values, rounded to nearest and clamped to the range.
    weights = g.op("Reshape", ["cbcr_weights", g.const([2, 3, 1, 1], dtype=np.int64)])
    cbcr = g.op("Add", [g.op("Conv", [encoded, weights]), g.const(128.5)])
    cbcr = g.op("Floor", [g.op("Clip", [cbcr, g.const(0.0), "cbcr_max"])])
    cbcr = g.op("Cast", [g.op("Squeeze", [cbcr, g.const([0], dtype=np.int64)])], to=TensorProto.UINT8)
    g.output_as(cbcr, "cbcr")

    f = TensorProto.FLOAT
    inputs = [
        helper.make_tensor_value_info("lightness", f, ["H", "W"]),
        helper.make_tensor_value_info("small_lightness", f, ["h", "w"]),
        helper.make_tensor_value_info("a", f, ["h", "w"]),
        helper.make_tensor_value_info("b", f, ["h", "w"]),
        helper.make_tensor_value_info("subsampled", TensorProto.BOOL, []),
        helper.make_tensor_value_info("encode_table", f, [ENCODE_STEPS + 1]),
        helper.make_tensor_value_info("cbcr_weights", f, [2, 3]),
        helper.make_tensor_value_info("cbcr_max", f, []),
    ]
    outputs = [helper.make_tensor_value_info("cbcr", TensorProto.UINT8, [2, "Hc", "Wc"])]
    return make_model(g, "render", inputs, outputs,
                      "exemplarcolorize's guided chroma upsampling and Lab -> Cb, Cr for the execution provider")
