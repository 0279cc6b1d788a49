#!/usr/bin/env python3
"""Measures the default colorizer on real photographs against two baselines.

For each photo, the target is the left 60 % of it shown in grey and the reference the right 40 %
(same place, no shared pixels). The colorizer runs at `--size` pixels on the short side; its
chroma is upsampled to the crop's full size and joined with the crop's own lightness, as the
element does. Reported: PSNR (dB, RGB, 8-bit) and SSIM (RGB) against the true colour crop, for
the colorizer, for grey (no colour) and for Reinhard et al. 2001 (global Lab mean and standard
deviation transfer, which for a grey target gives the reference's mean chroma).

    python models/quality.py --models generated/models [--markdown]
"""

import argparse
import pathlib
import sys

import numpy as np

PHOTOS = ["astronaut", "chelsea", "coffee", "rocket", "motorcycle", "china", "flower"]
TARGET_FRACTION = 0.6


def photo(name):
    if name in ("china", "flower"):
        from sklearn.datasets import load_sample_image

        return load_sample_image(f"{name}.jpg")
    import skimage.data

    if name == "motorcycle":
        return skimage.data.stereo_motorcycle()[0]
    return np.ascontiguousarray(getattr(skimage.data, name)()[..., :3])


def split(image):
    cut = int(round(image.shape[1] * TARGET_FRACTION))
    return image[:, :cut], image[:, cut:]


def working_size(height, width, short_side):
    """(h, w) with the short side near `short_side`, both multiples of 16."""
    scale = short_side / min(height, width)
    return (max(16, int(round(height * scale / 16)) * 16), max(16, int(round(width * scale / 16)) * 16))


def resize(array, size):
    """Bilinear (antialiased when shrinking) resize of an H x W x C float array."""
    from skimage.transform import resize as sk_resize

    return sk_resize(array, size + array.shape[2:], order=1, anti_aliasing=True, preserve_range=True).astype(np.float32)


def rgb_to_lab(rgb):
    from skimage.color import rgb2lab

    return rgb2lab(rgb).astype(np.float32)


def lab_to_rgb8(lab):
    import warnings

    from skimage.color import lab2rgb

    with warnings.catch_warnings():
        # Predicted chroma can leave the sRGB gamut; clipping it is the intended behaviour.
        warnings.simplefilter("ignore", UserWarning)
        rgb = lab2rgb(lab.astype(np.float64))
    return np.clip(np.rint(rgb * 255.0), 0, 255).astype(np.uint8)


class Colorizer:
    """Runs colorizer_reference.onnx once per reference and colorizer.onnx per target."""

    def __init__(self, models, short_side=256):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = 2
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        providers = ["CPUExecutionProvider"]
        self.reference = ort.InferenceSession(str(pathlib.Path(models) / "colorizer_reference.onnx"), options, providers=providers)
        self.colorizer = ort.InferenceSession(str(pathlib.Path(models) / "colorizer.onnx"), options, providers=providers)
        self.short_side = short_side
        # The guided filter the graph leaves to its caller (models/README.md), as the element
        # applies it.
        metadata = self.colorizer.get_modelmeta().custom_metadata_map
        self.guided_filter = None
        if "guided_filter_radius" in metadata:
            self.guided_filter = (int(metadata["guided_filter_radius"]), float(metadata["guided_filter_eps"]))

    def encode_reference(self, reference_rgb):
        size = working_size(*reference_rgb.shape[:2], self.short_side)
        lab = rgb_to_lab(resize(reference_rgb.astype(np.float32) / 255.0, size))
        features, ab = self.reference.run(None, {"reference_lab": lab.transpose(2, 0, 1)[None]})
        return features, ab

    def colorize(self, lightness, encoded_reference, with_confidence=False):
        """Lightness (H x W, 0..100) -> Lab image (H x W x 3) with the same lightness, and the
        colorizer's confidence at working size (empty unless asked for, as in the element with
        one reference)."""
        size = working_size(*lightness.shape, self.short_side)
        small = resize(lightness[..., None], size)[..., 0]
        features, ref_ab = encoded_reference
        ab, confidence = self.colorizer.run(
            None,
            {
                "target_l": small[None, None].astype(np.float32),
                "reference_features": features,
                "reference_ab": ref_ab,
                "with_confidence": np.array(with_confidence),
            },
        )
        ab = ab[0]
        if self.guided_filter:
            ab = guided_filter(small / 100.0, ab, *self.guided_filter)
        ab_full = resize(ab.transpose(1, 2, 0), lightness.shape)
        return np.concatenate([lightness[..., None], ab_full], axis=2), confidence


def box_mean(x, radius):
    """Mean over (2r+1)^2 windows clipped at the borders of the last two axes (float64)."""

    def along(x, axis):
        n = x.shape[axis]
        sums = np.concatenate([np.zeros_like(np.take(x, [0], axis=axis)), np.cumsum(x, axis=axis)], axis=axis)
        hi = np.minimum(np.arange(n) + radius + 1, n)
        lo = np.maximum(np.arange(n) - radius, 0)
        counts = (hi - lo).reshape((n,) + (1,) * (x.ndim - axis % x.ndim - 1))
        return (np.take(sums, hi, axis=axis) - np.take(sums, lo, axis=axis)) / counts

    return along(along(np.asarray(x, np.float64), -1), -2)


def guided_filter(guide, source, radius, eps):
    """He et al.'s guided filter: `source` [C, H, W] smoothed along the edges of `guide` [H, W]."""
    mean_i = box_mean(guide, radius)
    var_i = box_mean(guide * guide, radius) - mean_i * mean_i
    mean_p = box_mean(source, radius)
    a = (box_mean(guide * source, radius) - mean_i * mean_p) / (var_i + eps)
    b = mean_p - a * mean_i
    return (box_mean(a, radius) * guide + box_mean(b, radius)).astype(np.float32)


def reinhard(lightness, reference_lab):
    """Reinhard et al. 2001 in Lab: the target's statistics moved to the reference's. A grey
    target has no chroma spread, so its chroma becomes the reference's mean chroma."""
    out = np.zeros(lightness.shape + (3,), np.float32)
    out[..., 0] = lightness
    for c in (1, 2):
        out[..., c] = reference_lab[..., c].mean()
    return out


def psnr(a, b):
    from skimage.metrics import peak_signal_noise_ratio

    return peak_signal_noise_ratio(a, b, data_range=255)


def ssim(a, b):
    from skimage.metrics import structural_similarity

    return structural_similarity(a, b, channel_axis=2, data_range=255)


def evaluate(models, short_side=256):
    """Per photo: dict of PSNR/SSIM for colorizer, grey and Reinhard, plus self-reference PSNR."""
    colorizer = Colorizer(models, short_side)
    rows = []
    for name in PHOTOS:
        image = photo(name)
        target, reference = split(image)
        target_lab = rgb_to_lab(target.astype(np.float32) / 255.0)
        lightness = target_lab[..., 0]
        grey = np.zeros_like(target_lab)
        grey[..., 0] = lightness
        results = {"photo": name}
        outputs = {
            "ours": colorizer.colorize(lightness, colorizer.encode_reference(reference))[0],
            "grey": grey,
            "reinhard": reinhard(lightness, rgb_to_lab(reference.astype(np.float32) / 255.0)),
            "self": colorizer.colorize(lightness, colorizer.encode_reference(target))[0],
        }
        for method, lab in outputs.items():
            rgb = lab_to_rgb8(lab)
            results[f"{method}_psnr"] = psnr(target, rgb)
            results[f"{method}_ssim"] = ssim(target, rgb)
            results[f"{method}_lightness_exact"] = bool(np.array_equal(lab[..., 0], lightness))
        rows.append(results)
    return rows


def table(rows, markdown=False):
    methods = [("ours", "exemplar colorizer"), ("reinhard", "Reinhard 2001"), ("grey", "grey"), ("self", "own colour as reference")]
    header = ["photo"] + [f"{label} PSNR / SSIM" for _, label in methods]
    lines = []
    if markdown:
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + "---|" * len(header))
    else:
        lines.append("  ".join(f"{h:>30}" for h in header))

    def cell(row, m):
        return f"{row[m + '_psnr']:.2f} / {row[m + '_ssim']:.3f}"

    mean = {"photo": "**mean**" if markdown else "mean"}
    for m, _ in methods:
        mean[m + "_psnr"] = float(np.mean([r[m + "_psnr"] for r in rows]))
        mean[m + "_ssim"] = float(np.mean([r[m + "_ssim"] for r in rows]))
    for row in rows + [mean]:
        cells = [row["photo"]] + [cell(row, m) for m, _ in methods]
        lines.append("| " + " | ".join(cells) + " |" if markdown else "  ".join(f"{c:>30}" for c in cells))
    return "\n".join(lines), mean


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="generated/models", type=pathlib.Path)
    parser.add_argument("--size", default=256, type=int, help="short side of the working resolution")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    text, _ = table(evaluate(args.models, args.size), args.markdown)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
