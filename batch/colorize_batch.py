#!/usr/bin/env python3
"""Colours a batch of black-and-white films on a Ray cluster with the plugin's own elements.

Each film gets one fast pass over the whole of it (`scenecut ! exemplarcolorize mode=plan`:
scene changes and each scene's references, scene memory included, decided once in film order),
then its ranges of whole scenes are colorized in parallel following that plan, and joined
into one MP4 with the film's frames, timestamps and audio. The result equals the main job's
single pipeline over the film frame for frame:

    filesrc ! decodebin ! videoconvert ! scenecut ! exemplarcolorize refs=... \\
        ! videoconvert ! x264enc ! mp4mux

(bit for bit when the encoder is deterministic, e.g. --encoder "x264enc threads=1"; x264enc
with several threads is not, even between two single-pass runs).

Without --address a local Ray cluster of --workers tasks starts on this machine; with one, the
films, --refs and --out must be on storage every node sees at the same path, and every node
needs this project built at the same path (its plugin, models and Python environment).
Re-running the same command resumes: finished films are skipped, and so are the finished
parts of unfinished ones. Writes <out>/<film>.mp4, <out>/<film>.report.html and
<out>/summary.json; exits 1 when a film failed (the others are still done), 2 on a usage error.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from exemplar_batch import cluster  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("films", nargs="+", help="video files or globs (quote globs: 'films/*.mp4')")
    parser.add_argument("--refs", required=True, help="folder of colour reference photos")
    parser.add_argument("--out", required=True, help="folder for the coloured films, reports, summary")
    parser.add_argument("--address", help="address of an existing Ray cluster (default: start one here)")
    parser.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 1) // 2),
                        help="tasks at once on the local cluster (default: half the cores)")
    parser.add_argument("--cpus-per-task", type=int, default=None,
                        help="cores per task, and exemplarcolorize's threads (default: the "
                             "cores divided by --workers locally; on a cluster 4, or the "
                             "largest node's cores when fewer)")
    parser.add_argument("--segment-seconds", type=float, default=60.0,
                        help="length of the ranges of whole scenes coloured in parallel "
                             "(default 60; 0: each film in one piece)")
    parser.add_argument("--colorize-option", action="append", default=[], metavar="NAME=VALUE",
                        help="an exemplarcolorize property (repeatable), e.g. top-k=2")
    parser.add_argument("--scenecut-option", action="append", default=[], metavar="NAME=VALUE",
                        help="a scenecut property (repeatable), e.g. method=rule")
    parser.add_argument("--encoder", default="x264enc",
                        help="encoder with its properties, as in gst-launch (default: x264enc)")
    parser.add_argument("--stall-seconds", type=float, default=600.0,
                        help="a pass that shows no new frame and no message for this long "
                             "(GStreamer stuck on a damaged file, say) is ended and run again, "
                             "like a task whose worker died (default 600; 0: never)")
    parser.add_argument("--no-reports", action="store_true", help="skip the HTML reports")
    args = parser.parse_args(argv)
    for option in args.colorize_option + args.scenecut_option:
        if "=" not in option:
            parser.error(f"{option!r} is not NAME=VALUE")
    if any(o.split("=", 1)[0] in ("refs", "mode", "plan-location", "index-location")
           for o in args.colorize_option):
        parser.error("refs, mode, plan-location and index-location are set by the batch tool")
    if "force-keyframes" in (o.split("=", 1)[0] for o in args.scenecut_option):
        parser.error("force-keyframes does not reach the encoder of a batch run; leave it out")
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    if args.cpus_per_task is None and not args.address:
        args.cpus_per_task = max(1, (os.cpu_count() or 1) // args.workers)
    return cluster.main(args)


if __name__ == "__main__":
    sys.exit(main())
