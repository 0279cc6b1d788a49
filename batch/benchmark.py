#!/usr/bin/env python3
"""Wall times of the batch tool on this machine, against the single pipeline of the main job.

    .venv-batch/bin/python batch/benchmark.py [--plugin target/release] [--work /tmp/batch-bench]

1. The three test clips (two generated grey clips and one with AAC audio) with 1 and 2 workers.
2. One long clip (the generated clips, concatenated three times) as a single pipeline, and
   through the batch tool in one piece and split into ranges of whole scenes, with 1 and 2
   workers: what the split costs and what parallel ranges buy.
Default settings throughout (inference-size 256, x264enc); reports off.
"""

import argparse
import os
import pathlib
import shutil
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
MEDIA = ROOT / "generated" / "media"


def timed(command, env):
    started = time.monotonic()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.monotonic() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plugin", default=str(ROOT / "target" / "release"))
    parser.add_argument("--work", default="/tmp/batch-bench", type=pathlib.Path)
    args = parser.parse_args()
    env = {**os.environ, "GST_PLUGIN_PATH": args.plugin, "RAY_AUTH_MODE": "disabled"}
    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    refs = args.work / "refs"
    shutil.copytree(MEDIA / "refs", refs)
    with_audio = args.work / "scenes_with_audio.mp4"
    subprocess.run(["gst-launch-1.0", "-q", "filesrc", f"location={MEDIA / 'scenes_grey.mp4'}", "!",
                    "qtdemux", "!", "h264parse", "!", "mp4mux", "name=mux", "!", "filesink",
                    f"location={with_audio}", "audiotestsrc", "num-buffers=450", "!",
                    "audioconvert", "!", "avenc_aac", "!", "mux."], check=True, env=env)
    three = [MEDIA / "returns_grey.mp4", MEDIA / "pairs_grey.mp4", with_audio]
    parts = [MEDIA / f"{name}_grey.mp4" for name in ("scenes", "returns", "pairs", "transitions")] * 3
    listing = args.work / "long.txt"
    listing.write_text("".join(f"file '{p}'\n" for p in parts))
    long_clip = args.work / "long.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "concat", "-safe", "0", "-i", str(listing),
                    "-c", "copy", str(long_clip)], check=True)

    def batch(films, out, workers, segment_seconds):
        return timed([sys.executable, str(ROOT / "batch" / "colorize_batch.py"), *map(str, films),
                      "--refs", str(refs), "--out", str(args.work / out), "--workers", str(workers),
                      "--segment-seconds", str(segment_seconds), "--no-reports"], env)

    def single(film, out):
        return timed(["gst-launch-1.0", "-q", "filesrc", f"location={film}", "!", "decodebin", "!",
                      "videoconvert", "!", "scenecut", "!", "exemplarcolorize", f"refs={refs}", "!",
                      "videoconvert", "!", "x264enc", "!", "mp4mux", "!", "filesink",
                      f"location={args.work / out}"], env)

    rows = []
    singles = sum(single(film, f"single-{film.stem}.mp4") for film in three)
    rows.append(("three clips, single pipelines one after another", singles))
    for workers in (1, 2):
        rows.append((f"three clips, batch, {workers} worker(s)", batch(three, f"three-{workers}", workers, 60)))
    base = single(long_clip, "single-long.mp4")
    rows.append(("long clip, single pipeline", base))
    rows.append(("long clip, batch in one piece, 1 worker", batch([long_clip], "long-whole", 1, 0)))
    for workers in (1, 2):
        rows.append((f"long clip, batch in 10 s ranges, {workers} worker(s)",
                     batch([long_clip], f"long-split-{workers}", workers, 10)))
    frames = subprocess.run(["ffprobe", "-v", "error", "-count_packets", "-select_streams", "v",
                             "-show_entries", "stream=nb_read_packets", "-of", "csv=p=0", str(long_clip)],
                            capture_output=True, text=True, check=True).stdout.strip()
    print(f"long clip: {frames} frames; CPU cores: {os.cpu_count()}")
    for what, seconds in rows:
        ratio = f"{seconds / base:.2f}x the long single pipeline" if what.startswith("long") else ""
        print(f"{what:55s} {seconds:7.1f} s  {ratio}")


if __name__ == "__main__":
    main()
