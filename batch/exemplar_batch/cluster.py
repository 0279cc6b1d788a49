"""A batch run on Ray: the tasks, where their files go, retries, progress and the summary.

Per film: one analysis task (scene plan and frame list), then one task per range of whole
scenes (colorized in parallel), then one join task (encoding, audio, report). Everything a task
writes appears under its final name only when complete, so a run killed anywhere resumes where
it stopped: finished films are skipped, and so are finished analyses and ranges.
"""

import contextlib
import glob
import hashlib
import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field

import ray

from . import split

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PACKAGE = os.path.dirname(os.path.abspath(__file__))
WORK = ".exemplar-batch"
# Cores per task on an existing cluster unless --cpus-per-task says otherwise (fewer on
# smaller nodes).
CLUSTER_CPUS_PER_TASK = 4
# A task whose worker dies (killed, out of memory, node lost) runs again this many times.
RETRIES = 3


@dataclass
class Settings:
    refs: str
    index: str
    colorize: dict
    scenecut: dict
    encoder: str
    segment_seconds: float
    reports: bool
    resources: dict
    run_id: str
    stall_seconds: float

    @property
    def index_folder(self):
        """Where the index and its task's stall stacks are."""
        return os.path.dirname(self.index)


@dataclass
class Film:
    path: str
    name: str
    output: str
    report: str
    work: str
    status: str = "pending"
    error: str = ""
    frames: int = 0
    scenes: int = 0
    segments: int = 0
    retried: int = 0
    seconds: float = 0.0
    audio: dict = field(default_factory=dict)
    warnings: list = field(default_factory=list)
    stalled: list = field(default_factory=list)
    started: float = 0.0


def write_json(path, value):
    """Writes through a temporary file renamed into place."""
    partial = f"{path}.partial"
    with open(partial, "w") as f:
        json.dump(value, f, indent=1)
    os.replace(partial, path)


def read_json(path):
    with open(path) as f:
        return json.load(f)


STALL_TRACE = "stall-{what}-{pid}.txt"


def pass_name(kind, segment=None):
    """What a task's pass is called in its film's work folder: its running marker, attempts,
    stall stacks and, for a range, its intermediate."""
    return f"segment-{segment.number:04d}" if kind == "segment" else kind


def segment_path(film, segment):
    return os.path.join(film.work, f"{pass_name('segment', segment)}.mkv")


def stack_file(work, what):
    """Where this worker's watchdog writes the stacks of a stalled pass."""
    return os.path.join(work, STALL_TRACE.format(what=what, pid=os.getpid()))


@contextlib.contextmanager
def tracked(film, what, settings, progress):
    """Marks a task as running (its worker's pid, for anyone who needs to find or stop it),
    counts its attempts in this run, and gives the pass its Watch: frames reported to
    `progress`, the worker ended when the pass stalls (see media.Watch)."""
    from . import media
    running = os.path.join(film.work, "running")
    os.makedirs(running, exist_ok=True)
    with open(os.path.join(film.work, "attempts.log"), "a") as log:
        log.write(f"{settings.run_id} {what} {os.getpid()}\n")
    marker = os.path.join(running, f"{what}.pid")
    with open(marker, "w") as f:
        f.write(str(os.getpid()))
    key = f"{film.name}/{what}"
    try:
        yield media.Watch(lambda frames: progress.report.remote(key, frames),
                          settings.stall_seconds, stack_file(film.work, what))
    finally:
        progress.done.remote(key)
        with contextlib.suppress(FileNotFoundError):
            os.remove(marker)


def stack_files(work):
    return sorted(glob.glob(os.path.join(work, STALL_TRACE.format(what="*", pid="*"))))


def forget_stalls(work):
    """Removes what earlier runs' watchdogs left (stacks of stalls; empty files of workers
    killed otherwise): a summary speaks of its own run."""
    for path in stack_files(work):
        os.remove(path)


def stalls(work):
    """The passes of a film (or the index) that stalled, each with its Python stacks."""
    return [{"pass": os.path.basename(path)[len("stall-"):].rsplit("-", 1)[0], "stacks": path}
            for path in stack_files(work) if os.path.getsize(path) > 0]


@ray.remote(num_cpus=0)
class Progress:
    """Frames done by each running task, as the tasks report them."""

    def __init__(self):
        self.frames = {}

    def report(self, key, frames):
        self.frames[key] = frames

    def done(self, key):
        self.frames.pop(key, None)

    def snapshot(self):
        return dict(self.frames)


@ray.remote(max_retries=RETRIES, retry_exceptions=False)
def index_task(settings):
    from . import media
    media.build_index(settings.refs, settings.index, settings.colorize,
                      media.Watch(None, settings.stall_seconds,
                                  stack_file(settings.index_folder, "index")))


@ray.remote(max_retries=RETRIES, retry_exceptions=False)
def analyse_task(film, settings, progress):
    from . import media
    analysis = os.path.join(film.work, "analysis.json")
    if os.path.exists(analysis):
        return read_json(analysis)
    with tracked(film, "analyse", settings, progress) as watch:
        result = media.analyse(film.path, settings.refs, settings.index,
                               os.path.join(film.work, "plan.json"), settings.colorize,
                               settings.scenecut, watch)
    write_json(analysis, result)
    return result


@ray.remote(max_retries=RETRIES, retry_exceptions=False)
def segment_task(film, settings, segment, caps, expected, end, progress):
    from . import media
    output = segment_path(film, segment)
    sidecar = f"{output}.json"
    if os.path.exists(output) and os.path.exists(sidecar):
        return read_json(sidecar)["caps"]
    with tracked(film, pass_name("segment", segment), settings, progress) as watch:
        out_caps = media.colorize_range(film.path, os.path.join(film.work, "plan.json"), caps,
                                        settings.colorize, expected, end, output,
                                        segment.first == 0, watch)
    write_json(sidecar, {"caps": out_caps, "frames": len(expected)})
    return out_caps


@ray.remote(max_retries=RETRIES, retry_exceptions=False)
def join_task(film, settings, segments, caps, progress):
    from . import media
    analysis = read_json(os.path.join(film.work, "analysis.json"))
    with tracked(film, "join", settings, progress) as watch:
        streams = media.join(film.path, segments, analysis["frames"], caps, analysis["segment"],
                             settings.encoder, film.output, watch)
    return streams


def single_pass_pipeline(film, settings):
    """The pipeline a batch run equals, for the report (and anyone who wants to check)."""
    def properties(options):
        return " ".join(f"{k}={v}" for k, v in options.items())
    return (f"filesrc location={film} ! decodebin ! videoconvert ! scenecut "
            f"{properties(settings.scenecut)} ! exemplarcolorize refs={settings.refs} "
            f"{properties(settings.colorize)} ! videoconvert ! {settings.encoder} ! mp4mux")


def write_report(film, settings, elapsed):
    """The film's HTML report (tools/report.py, run with the project's own Python)."""
    python = os.path.join(ROOT, ".venv", "bin", "python")
    messages = os.path.join(film.work, "messages.log")
    with open(messages, "w") as f:
        f.write("\n".join(read_json(os.path.join(film.work, "analysis.json"))["messages"]))
    done = subprocess.run(
        [python, os.path.join(ROOT, "tools", "report.py"), "--messages", messages,
         "--grey", film.path, "--colour", film.output, "--elapsed", f"{elapsed:.3f}",
         "--pipeline", single_pass_pipeline(film.path, settings), "--out", film.report],
        capture_output=True, text=True)
    if done.returncode != 0:
        last = done.stderr.strip().splitlines()[-1:] or ["no message"]
        return [f"report not written: {last[0]}"]
    return []


def expand(patterns):
    """Films named by paths or globs, in order, each once; patterns that match nothing."""
    films, unmatched = [], []
    for pattern in patterns:
        matches = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]
        matches = [m for m in matches if os.path.isfile(m)]
        if not matches:
            unmatched.append(pattern)
        for match in matches:
            path = os.path.abspath(match)
            if path not in films:
                films.append(path)
    return films, unmatched


def plan_films(paths, out, settings):
    """A Film per input: its output, report and work folder (named by the input and every
    setting that changes the result, so other settings never reuse its intermediate files)."""
    digest = hashlib.sha256(json.dumps(
        [settings.refs, settings.colorize, settings.scenecut, settings.encoder]).encode()).hexdigest()
    films, names = [], set()
    for path in paths:
        key = hashlib.sha256(f"{path}\n{digest}".encode()).hexdigest()[:10]
        name = os.path.splitext(os.path.basename(path))[0]
        if name in names:
            name = f"{name}-{key[:6]}"
        names.add(name)
        films.append(Film(path=path, name=name, output=os.path.join(out, f"{name}.mp4"),
                          report=os.path.join(out, f"{name}.report.html"),
                          work=os.path.join(out, WORK, f"{name}-{key}")))
    return films


def clock(seconds):
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class Console:
    """One progress line every few seconds: films, scenes, frames, speed, ETA."""

    def __init__(self, films, interval=2.0):
        self.films = films
        self.interval = interval
        self.started = time.monotonic()
        self.last = 0.0
        self.finished_frames = 0
        self.finished_scenes = 0
        self.total_scenes = 0
        self.total_frames = 0

    def show(self, running, force=False):
        now = time.monotonic()
        if not force and now - self.last < self.interval:
            return
        self.last = now
        elapsed = now - self.started
        colouring = sum(n for key, n in running.items() if "/segment-" in key)
        frames = self.finished_frames + colouring
        fps = frames / elapsed if elapsed > 0 else 0.0
        remaining = self.total_frames - frames
        eta = clock(remaining / fps) if fps > 0 and remaining > 0 else "-"
        done = sum(f.status in ("done", "skipped") for f in self.films)
        failed = sum(f.status == "failed" for f in self.films)
        print(f"[batch {clock(elapsed)}] films {done}/{len(self.films)} done, {failed} failed | "
              f"scenes {self.finished_scenes}/{self.total_scenes} | frames {frames}/"
              f"{self.total_frames} coloured, {fps:.1f} fps | ETA {eta}", flush=True)


def cause(error):
    """What went wrong in a task, without Ray's wrapping."""
    inner = getattr(error, "cause", None)
    return str(inner) if inner is not None else str(error).strip().splitlines()[-1]


def failure(kind, segment, error, work, stall_seconds):
    """What a film's summary says of a task that failed for good: the film's own error where
    the last attempt raised one (earlier attempts may have stalled: a retry can get the error
    a stalled attempt never saw), else, where attempts stalled and were ended by the watchdog,
    that, else Ray's cause."""
    if kind == "segment":
        what = f"colouring frames {segment.first}-{segment.end} failed"
    else:
        what = {"index": "the reference index could not be built",
                "analyse": "the planning pass (decoding the whole film) failed",
                "join": "joining the coloured ranges failed"}[kind]
    stalled = [s["stacks"] for s in stalls(work) if s["pass"] == pass_name(kind, segment)]
    raised = getattr(error, "cause", None)
    if raised is not None and stalled:
        return (f"{what}: {raised} (before it, {len(stalled)} attempt(s) showed no frame and no "
                f"message for {stall_seconds:g} s and were ended; Python stacks: {stalled[-1]})")
    if stalled:
        return (f"{what}: it showed no frame and no message for {stall_seconds:g} s, and was "
                f"ended, in {len(stalled)} attempt(s) (Python stacks: {stalled[-1]})")
    return f"{what}: {cause(error)}"


def connect(address, workers, cpus_per_task):
    environment = {"env_vars": {
        "GST_PLUGIN_PATH": os.environ.get("GST_PLUGIN_PATH", os.path.join(ROOT, "target", "release")),
    }, "py_modules": [PACKAGE]}
    if address:
        ray.init(address=address, runtime_env=environment, logging_level="WARNING")
    else:
        # A cluster of its own even where `ray start` left one running on this machine.
        ray.init(address="local", num_cpus=workers * cpus_per_task, runtime_env=environment,
                 include_dashboard=False, logging_level="WARNING")
    largest = max((node["Resources"].get("CPU", 0) for node in ray.nodes() if node["Alive"]),
                  default=0)
    if cpus_per_task is None:
        cpus_per_task = max(1, min(CLUSTER_CPUS_PER_TASK, int(largest)))
    if cpus_per_task > largest:
        # Ray would wait for such a node for ever.
        raise ValueError(f"no node of the cluster has {cpus_per_task} CPUs (the largest has "
                         f"{largest:g}): lower --cpus-per-task")
    return task_resources(ray.cluster_resources(), cpus_per_task)


def task_resources(cluster, cpus_per_task):
    """What each task asks Ray for: with GPUs in the cluster, one of them (exemplarcolorize's
    execution-provider=auto then runs on it in a CUDA build), and its share of the cores."""
    return {"num_cpus": cpus_per_task, "num_gpus": 1 if cluster.get("GPU", 0) >= 1 else 0}


def run(films, out, settings):
    """Colours every film; returns the summary."""
    progress = Progress.remote()
    console = Console(films)
    options = settings.resources
    started = time.monotonic()
    pending = {}
    remaining = {}

    def fail(film, why):
        film.status, film.error = "failed", why
        print(f"[batch] {film.name}: FAILED: {why}", flush=True)

    forget_stalls(settings.index_folder)
    try:
        ray.get(index_task.options(**options).remote(settings))
    except Exception as err:  # noqa: BLE001 - every film needs the index
        why = failure("index", None, err, settings.index_folder, settings.stall_seconds)
        for film in films:
            if film.status == "pending":
                fail(film, why)
        return summary(films, out, settings, started)

    for film in films:
        if film.status != "pending":
            continue
        if os.path.exists(film.output):
            film.status = "skipped"
            print(f"[batch] {film.name}: already done ({film.output})", flush=True)
            continue
        os.makedirs(film.work, exist_ok=True)
        forget_stalls(film.work)
        film.started = time.monotonic()
        pending[analyse_task.options(**options).remote(film, settings, progress)] = ("analyse", film, None)

    while pending:
        ready, _ = ray.wait(list(pending), num_returns=1, timeout=1.0)
        console.show(ray.get(progress.snapshot.remote()))
        for ref in ready:
            kind, film, extra = pending.pop(ref)
            if film.status == "failed":
                continue
            try:
                result = ray.get(ref)
            except Exception as err:  # noqa: BLE001 - one film's failure must not stop the rest
                fail(film, failure(kind, extra, err, film.work, settings.stall_seconds))
                continue
            if kind == "analyse":
                frames = result["frames"]
                pts = [f[0] for f in frames]
                try:
                    starts = split.scene_starts(pts, read_json(os.path.join(film.work, "plan.json")))
                except ValueError as err:
                    fail(film, f"the scene plan does not fit the film: {err}")
                    continue
                fps = len(frames) / max(1e-9, (frames[-1][0] + frames[-1][1] - frames[0][0]) / 1e9)
                size = len(frames) if settings.segment_seconds <= 0 else max(1, round(settings.segment_seconds * fps))
                segments = split.split(len(frames), starts, size)
                film.frames, film.scenes, film.segments = len(frames), len(starts), len(segments)
                console.total_frames += len(frames)
                console.total_scenes += len(starts)
                remaining[film.name] = {"left": len(segments), "caps": None,
                                        "paths": [segment_path(film, s) for s in segments]}
                print(f"[batch] {film.name}: {len(frames)} frames, {len(starts)} scenes, "
                      f"{len(segments)} ranges", flush=True)
                for segment in segments:
                    end = pts[segment.end] if segment.end < len(pts) else None
                    ref = segment_task.options(**options).remote(
                        film, settings, segment, result["caps"], pts[segment.first:segment.end],
                        end, progress)
                    pending[ref] = ("segment", film, segment)
            elif kind == "segment":
                state = remaining[film.name]
                state["caps"] = result
                state["left"] -= 1
                console.finished_frames += extra.frames
                console.finished_scenes += extra.scenes
                if state["left"] == 0:
                    ref = join_task.options(**options).remote(
                        film, settings, state["paths"], state["caps"], progress)
                    pending[ref] = ("join", film, None)
            else:
                film.audio = result
                left_out = result["audio left out (MP4 cannot carry it)"]
                if left_out:
                    film.warnings.append(f"audio left out, MP4 cannot carry it: {left_out}")
                film.status = "done"
                film.seconds = time.monotonic() - film.started
                if settings.reports:
                    film.warnings += write_report(film, settings, film.seconds)
                for path in remaining.pop(film.name)["paths"]:
                    for leftover in (path, f"{path}.json"):
                        with contextlib.suppress(FileNotFoundError):
                            os.remove(leftover)
                print(f"[batch] {film.name}: done in {film.seconds:.1f} s -> {film.output}", flush=True)
    console.show(ray.get(progress.snapshot.remote()), force=True)
    return summary(films, out, settings, started)


def summary(films, out, settings, started):
    for film in films:
        if film.work:
            film.stalled = stalls(film.work)
        for stall in film.stalled:
            print(f"[batch] {film.name}: the {stall['pass']} pass stalled and was ended "
                  f"(Python stacks: {stall['stacks']})", flush=True)
        attempts = os.path.join(film.work, "attempts.log")
        if os.path.exists(attempts):
            with open(attempts) as f:
                tasks = [line.split()[1] for line in f if line.startswith(settings.run_id + " ")]
            film.retried = len(tasks) - len(set(tasks))
    result = {
        "seconds": round(time.monotonic() - started, 3),
        "refs": settings.refs,
        "resources": settings.resources,
        "cluster": {k: v for k, v in ray.cluster_resources().items() if k in ("CPU", "GPU")},
        "index stalled": stalls(settings.index_folder),
        "films": [{k: v for k, v in asdict(film).items() if k not in ("work", "started")}
                  for film in films],
    }
    write_json(os.path.join(out, "summary.json"), result)
    return result


def main(args):
    out = os.path.abspath(args.out)
    os.makedirs(os.path.join(out, WORK), exist_ok=True)
    paths, unmatched = expand(args.films)
    refs = os.path.abspath(args.refs)
    if not os.path.isdir(refs):
        print(f"error: the reference folder {refs} does not exist", file=sys.stderr)
        return 2
    try:
        resources = connect(args.address, args.workers, args.cpus_per_task)
    except ValueError as err:
        ray.shutdown()
        print(f"error: {err}", file=sys.stderr)
        return 2
    colorize = dict(option.split("=", 1) for option in args.colorize_option)
    if not resources["num_gpus"]:
        colorize.setdefault("threads", str(resources["num_cpus"]))
    settings = Settings(
        refs=refs, index=os.path.join(out, WORK, "index"), colorize=colorize,
        scenecut=dict(option.split("=", 1) for option in args.scenecut_option),
        encoder=args.encoder, segment_seconds=args.segment_seconds, reports=not args.no_reports,
        resources=resources, run_id=f"{os.getpid()}-{time.time():.0f}",
        stall_seconds=args.stall_seconds)
    films = plan_films(paths, out, settings)
    for pattern in unmatched:
        missing = Film(path=pattern, name=os.path.basename(pattern), output="", report="", work="")
        missing.status, missing.error = "failed", "no such file"
        films.append(missing)
        print(f"[batch] {pattern}: FAILED: no such file", flush=True)
    try:
        result = run(films, out, settings)
    finally:
        ray.shutdown()
    failed = [f for f in result["films"] if f["status"] == "failed"]
    print(f"[batch] {len(result['films']) - len(failed)} of {len(result['films'])} films done in "
          f"{result['seconds']:.1f} s; summary: {os.path.join(out, 'summary.json')}", flush=True)
    return 1 if failed else 0
