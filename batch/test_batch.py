"""The batch tool on a local Ray cluster of two workers over three short clips (one with audio)
and a file that cannot be decoded: every frame present, the output equal to the single-stream
pipeline's packet for packet, a worker killed mid-run recovered by a retry, a second run that
skips finished work. Needs the generated media and the plugin built by `bash scripts/test.sh`.
"""

import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import time

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).parent))

from exemplar_batch import cluster, split  # noqa: E402
from exemplar_batch.cluster import task_resources  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parent.parent
MEDIA = ROOT / "generated" / "media"
PLUGIN = os.environ.get("EXEMPLAR_TEST_PLUGIN", str(ROOT / "target" / "debug"))
ENV = {**os.environ, "GST_PLUGIN_PATH": PLUGIN, "RAY_AUTH_MODE": "disabled"}
# Small inference for speed; one encoder thread, since x264 with several is not deterministic.
COLORIZE = {"inference-size": "64"}
ENCODER = "x264enc threads=1"


def test_ranges_are_whole_scenes_of_at_least_the_asked_length():
    starts = [0, 30, 35, 90, 100]
    segments = split.split(120, starts, 40)
    assert [(s.first, s.end, s.scenes) for s in segments] == [(0, 90, 3), (90, 120, 2)]
    assert [(s.first, s.end) for s in split.split(120, starts, 1)] == [
        (0, 30), (30, 35), (35, 90), (90, 100), (100, 120)]
    assert [(s.first, s.end) for s in split.split(120, starts, 1000)] == [(0, 120)]


def test_scene_starts_are_found_among_the_frames_or_refused():
    pts = [80, 120, 160, 200]
    plan = {"scenes": [{"scene": 0, "pts": 80}, {"scene": 1, "pts": 160}]}
    assert split.scene_starts(pts, plan) == [0, 2]
    with pytest.raises(ValueError, match="which no frame has"):
        split.scene_starts(pts, {"scenes": [{"scene": 0, "pts": 80}, {"scene": 1, "pts": 150}]})
    with pytest.raises(ValueError, match="first scene"):
        split.scene_starts(pts, {"scenes": [{"scene": 0, "pts": 120}]})


def test_a_lost_duplicated_or_reordered_frame_is_named():
    split.check_sequence([1, 2, 3], [1, 2, 3], "x")
    with pytest.raises(ValueError, match="frame 1 has pts 3, expected 2"):
        split.check_sequence([1, 2, 3], [1, 3], "x")
    with pytest.raises(ValueError, match="frame 2 has pts 2, expected 3"):
        split.check_sequence([1, 2, 3], [1, 2, 2, 3], "x")
    with pytest.raises(ValueError, match="4 frames, expected 3"):
        split.check_sequence([1, 2, 3], [1, 2, 3, 3], "x")


def test_tasks_ask_for_a_gpu_only_where_the_cluster_has_one():
    assert task_resources({"CPU": 16.0, "GPU": 2.0}, 4) == {"num_cpus": 4, "num_gpus": 1}
    assert task_resources({"CPU": 2.0}, 1) == {"num_cpus": 1, "num_gpus": 0}
    assert task_resources({"CPU": 8.0, "GPU": 0.0}, 2) == {"num_cpus": 2, "num_gpus": 0}


WATCHED_PASS = """
import sys
sys.path.insert(0, {batch!r})
from exemplar_batch import media
from gi.repository import Gst
pipeline = media.launch({description!r})
frames = []
pipeline.get_by_name("out").get_static_pad("sink").add_probe(
    Gst.PadProbeType.BUFFER, lambda pad, info: frames.append(1) or Gst.PadProbeReturn.OK)
media.run(pipeline, media.Watch(None, 2, {trace!r}), frames=lambda: len(frames))
print("ended on its own")
"""


def watched_pass(tmp_path, description):
    trace = tmp_path / "stall-analyse-1.txt"
    script = WATCHED_PASS.format(batch=str(ROOT / "batch"), description=description,
                                 trace=str(trace))
    done = subprocess.run([sys.executable, "-c", script], env=ENV, capture_output=True,
                          text=True, timeout=120)
    return done, trace


def test_a_stalled_pass_ends_its_worker_with_its_stacks_and_a_live_one_does_not(tmp_path):
    # Opening a FIFO nobody writes to blocks inside GStreamer's state change, out of Python's
    # reach: the watchdog must end the process.
    fifo = tmp_path / "silent"
    os.mkfifo(fifo)
    done, trace = watched_pass(tmp_path, f"filesrc location={fifo} ! fakesink name=out")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "ended on its own" not in done.stdout
    stacks = trace.read_text()
    assert stacks.startswith("Timeout (0:00:02)!") and "media.py\", line" in stacks, stacks
    assert " in run\n" in stacks, stacks
    assert cluster.stalls(tmp_path) == [{"pass": "analyse", "stacks": str(trace)}]
    why = cluster.failure("analyse", None, RuntimeError("worker died"), tmp_path, 2)
    assert why == ("the planning pass (decoding the whole film) failed: it showed no frame and "
                   f"no message for 2 s, and was ended, in 1 attempt(s) (Python stacks: {trace})")
    # A retry that got the film's own error (Ray's task error carries it as `cause`): that
    # error first, the stalled attempt after it.
    retried = RuntimeError("task failed")
    retried.cause = ValueError("qtdemux0: This file is invalid and cannot be played.")
    why = cluster.failure("analyse", None, retried, tmp_path, 2)
    assert why == ("the planning pass (decoding the whole film) failed: qtdemux0: This file is "
                   "invalid and cannot be played. (before it, 1 attempt(s) showed no frame and no "
                   f"message for 2 s and were ended; Python stacks: {trace})")
    cluster.forget_stalls(tmp_path)
    assert not trace.exists()
    # Five seconds of frames, never two seconds without one: the pass ends by itself, and its
    # watchdog leaves nothing behind.
    done, trace = watched_pass(
        tmp_path, "videotestsrc num-buffers=50 ! video/x-raw,framerate=10/1 ! fakesink name=out sync=true")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == "ended on its own"
    assert not trace.exists()
    assert cluster.failure("join", None, RuntimeError("boom"), tmp_path, 2) == (
        "joining the coloured ranges failed: boom")


def packets(path, stream):
    """(pts, size, md5) of every packet of a stream, as ffmpeg reads them (no decoding)."""
    done = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-map", f"0:{stream}",
                           "-c", "copy", "-f", "framemd5", "-"],
                          capture_output=True, text=True, check=True)
    return [tuple(field.strip() for field in line.split(",")[2:])
            for line in done.stdout.splitlines() if not line.startswith("#")]


def times(path):
    """Presentation times of the video packets, in order of presentation."""
    done = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v", "-show_entries",
                           "packet=pts_time", "-of", "csv=p=0", str(path)],
                          capture_output=True, text=True, check=True)
    return sorted(float(line) for line in done.stdout.split())


def batch(out, films, reports=False, wait=True):
    command = [sys.executable, str(ROOT / "batch" / "colorize_batch.py"), *map(str, films),
               "--refs", str(out.parent / "refs"), "--out", str(out), "--workers", "2",
               "--segment-seconds", "2", "--encoder", ENCODER, "--stall-seconds", "120",
               *[f"--colorize-option={k}={v}" for k, v in COLORIZE.items()],
               *([] if reports else ["--no-reports"])]
    if not wait:
        return subprocess.Popen(command, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True)
    return subprocess.run(command, env=ENV, capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("batch")
    shutil.copytree(MEDIA / "refs", folder / "refs")
    with_audio = folder / "scenes_with_audio.mp4"
    subprocess.run(
        ["gst-launch-1.0", "-q", "filesrc", f"location={MEDIA / 'scenes_grey.mp4'}", "!",
         "qtdemux", "!", "h264parse", "!", "mp4mux", "name=mux", "!", "filesink",
         f"location={with_audio}", "audiotestsrc", "num-buffers=450", "!", "audioconvert", "!",
         "avenc_aac", "!", "mux."],
        check=True, env=ENV)
    broken = folder / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x20ftypisom" + bytes(range(256)) * 80)
    films = [MEDIA / "returns_grey.mp4", MEDIA / "pairs_grey.mp4", with_audio]
    # The single-stream pipeline of the main job, with the batch run's settings.
    single = {}
    for film in films:
        output = folder / f"single-{film.stem}.mp4"
        subprocess.run(
            ["gst-launch-1.0", "-q", "filesrc", f"location={film}", "!", "decodebin", "!",
             "videoconvert", "!", "scenecut", "!", "exemplarcolorize", f"refs={folder / 'refs'}",
             f"index-location={folder / 'single-index'}",
             *[f"{k}={v}" for k, v in COLORIZE.items()], "!", "videoconvert", "!",
             *ENCODER.split(), "!", "mp4mux", "!", "filesink", f"location={output}"],
            check=True, env=ENV, timeout=600)
        single[film.stem] = output
    return {"folder": folder, "films": films, "broken": broken, "single": single}


@pytest.fixture(scope="module")
def first_run(clips):
    out = clips["folder"] / "out"
    started = time.monotonic()
    done = batch(out, clips["films"] + [clips["broken"]], reports=True)
    return {"out": out, "done": done, "seconds": time.monotonic() - started}


def test_every_film_equals_the_single_stream_pipeline_and_a_broken_one_fails_alone(clips, first_run):
    done, out = first_run["done"], first_run["out"]
    assert done.returncode == 1, done.stdout + done.stderr
    summary = json.loads((out / "summary.json").read_text())
    status = {pathlib.Path(f["path"]).stem: f for f in summary["films"]}
    assert status["broken"]["status"] == "failed"
    error = status["broken"]["error"]
    assert error.startswith("the planning pass (decoding the whole film) failed: qtdemux"), error
    assert "This file is invalid and cannot be played" in error, error
    for film in clips["films"]:
        entry = status[film.stem]
        assert entry["status"] == "done", entry
        assert entry["warnings"] == [], entry
        assert "<html" in (out / f"{film.stem}.report.html").read_text()[:200].lower()
        assert entry["segments"] >= 3, entry
        output = out / f"{film.stem}.mp4"
        # Every input frame, with its timestamp, once and in order.
        assert times(output) == times(film)
        coloured = packets(output, "v")
        # The same H.264 packets as the single-stream pipeline: the same frames, coloured alike.
        assert coloured == packets(clips["single"][film.stem], "v")
    audio = clips["films"][2]
    assert packets(out / f"{audio.stem}.mp4", "a") == packets(audio, "a")
    assert status[audio.stem]["audio"]["audio"], status[audio.stem]
    # No intermediate is left under a final name, none left over at all.
    assert not list(out.rglob("*.partial")) and not list(out.rglob("segment-*.mkv"))


def test_a_second_run_skips_finished_films(clips, first_run):
    out = first_run["out"]
    times = {film.stem: (out / f"{film.stem}.mp4").stat().st_mtime_ns for film in clips["films"]}
    done = batch(out, clips["films"])
    assert done.returncode == 0, done.stdout + done.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert [f["status"] for f in summary["films"]] == ["skipped"] * 3
    assert times == {film.stem: (out / f"{film.stem}.mp4").stat().st_mtime_ns
                     for film in clips["films"]}


def test_a_worker_killed_mid_range_is_retried_and_the_film_completes(clips, first_run):
    out = clips["folder"] / "killed"
    film = clips["films"][0]
    run = batch(out, [film], wait=False)
    killed = None
    deadline = time.monotonic() + 300
    while killed is None and time.monotonic() < deadline and run.poll() is None:
        for marker in out.glob(f"{'.exemplar-batch'}/*/running/segment-*.pid"):
            try:
                pid = int(marker.read_text())
                os.kill(pid, signal.SIGKILL)
                killed = marker.name
                break
            except (ValueError, ProcessLookupError, FileNotFoundError):
                continue
        time.sleep(0.05)
    output, _ = run.communicate(timeout=600)
    assert killed, output
    assert run.returncode == 0, output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["films"][0]["status"] == "done"
    assert summary["films"][0]["retried"] >= 1, summary
    assert packets(out / f"{film.stem}.mp4", "v") == packets(clips["single"][film.stem], "v")
