"""The GStreamer side of a batch run: the plugin's own elements in the main job's pipeline, run
through PyGObject inside Ray workers.

A film goes through three kinds of pass:

- `analyse`: the whole film through `scenecut ! exemplarcolorize mode=plan`, which writes the
  scene plan (each scene's first frame and references, scene memory included) without
  colorizing; every frame's timestamp is recorded.
- `colorize_range`: frames [first, end) of the film, whole scenes, through `exemplarcolorize`
  following the plan, into a lossless intermediate (H.264 at quantizer 0: decodes bit-exactly).
- `join`: the intermediates in order, each frame stamped with the timestamp the analysis saw,
  through the same encoder and muxer as the main job, with the film's audio copied.
"""

import faulthandler
import os
import threading
import time

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

from .split import check_sequence  # noqa: E402

# Lossless (quantizer 0) and fast: the intermediate only has to decode to the same bytes.
LOSSLESS = "x264enc pass=quant quantizer=0 speed-preset=ultrafast"
# Seeks land on the keyframe before this much earlier than a range's first frame, so that
# frame is decoded even where a demuxer's edit list shifts its timestamps a little.
SEEK_MARGIN = Gst.SECOND
# What the join needs of the segment the decoder gave the frames: their running times, which the
# muxer aligns the video with the audio by.
SEGMENT_FIELDS = ("rate", "start", "stop", "time", "base", "position", "duration")
# Seconds a range waits for its film to take the seek to it (models load meanwhile).
SEEK_PATIENCE = 120


class FilmError(Exception):
    """A film (or one of its passes) that cannot be done: what GStreamer said."""


def init():
    if not Gst.is_initialized():
        Gst.init(None)


def launch(description, **properties):
    """A pipeline from a gst-launch description; `properties` are `name=(element, {prop: value})`
    set as strings, the way gst-launch would."""
    init()
    try:
        pipeline = Gst.parse_launch(description)
    except gi.repository.GLib.Error as err:
        raise FilmError(f"cannot build the pipeline {description!r}: {err.message}") from None
    for name, values in properties.items():
        element = pipeline.get_by_name(name)
        for prop, value in values.items():
            if element.find_property(prop) is None:
                raise FilmError(f"{element.get_factory().get_name()} has no property {prop}")
            Gst.util_set_object_arg(element, prop, str(value))
    return pipeline


def message_line(message, number):
    """A bus message as `gst-launch-1.0 -m` prints it (tools/report.py reads that)."""
    source = message.src.get_name() if message.src else "?"
    if message.type == Gst.MessageType.WARNING:
        warning, _ = message.parse_warning()
        return f"WARNING: from element {message.src.get_path_string()}: {warning.message}"
    return f'Got message #{number} from element "{source}" (element): {message.get_structure().to_string()}'


class Watch:
    """What a pass tells the world while it runs: its frames, to `report` (at most twice a
    second), and that it is alive, to a watchdog.

    A pass that shows no new frame and no bus message for `stall_seconds` (GStreamer stuck on a
    damaged file, say) cannot be interrupted from Python: the watchdog, a thread of Python's
    faulthandler that needs no interpreter lock, writes every Python thread's stack to
    `trace` and ends the process with status 1. Ray then runs the task again in a new worker,
    as after any worker death. `trace` is removed when the pass ends on its own."""

    def __init__(self, report=None, stall_seconds=0, trace=None):
        self.report = report
        self.stall_seconds = stall_seconds
        self.trace = trace
        self.file = None
        self.seen = None
        self.reported = 0.0

    def __enter__(self):
        if self.stall_seconds > 0 and self.trace:
            self.file = open(self.trace, "w")
            self.rearm()
        return self

    def rearm(self):
        faulthandler.dump_traceback_later(self.stall_seconds, file=self.file, exit=True)

    def progress(self, frames, messages):
        if self.file is not None and (frames, messages) != self.seen:
            self.seen = (frames, messages)
            self.rearm()
        now = time.monotonic()
        if self.report is not None and now - self.reported >= 0.5:
            self.reported = now
            self.report(frames)

    def __exit__(self, *_):
        if self.file is not None:
            faulthandler.cancel_dump_traceback_later()
            self.file.close()
            os.remove(self.trace)
            self.file = None


def run(pipeline, watch=None, frames=lambda: 0, tick=None, interval=0.2):
    """Plays `pipeline` to its end. Every `interval` seconds calls `tick()` and tells `watch`
    the frames done (`frames()`) and the bus messages seen, from the start until the pipeline
    is back in NULL. Returns its element messages and warnings as gst-launch -m lines; raises
    FilmError on an error."""
    watch = watch or Watch()
    bus = pipeline.get_bus()
    lines = []
    with watch:
        try:
            pipeline.set_state(Gst.State.PLAYING)
            number = 0
            while True:
                message = bus.timed_pop(int(interval * Gst.SECOND))
                if tick is not None:
                    tick()
                watch.progress(frames(), number)
                if message is None:
                    continue
                number += 1
                if message.type == Gst.MessageType.EOS:
                    return lines
                if message.type == Gst.MessageType.ERROR:
                    error, debug = message.parse_error()
                    where = message.src.get_name() if message.src else "pipeline"
                    raise FilmError(f"{where}: {error.message}"
                                    + (f" ({debug.strip()})" if debug else ""))
                if message.type in (Gst.MessageType.ELEMENT, Gst.MessageType.WARNING):
                    lines.append(message_line(message, number))
        finally:
            pipeline.set_state(Gst.State.NULL)


def caps_at_first_buffer(pad):
    """A list that gets the pad's caps, as a string, when its first buffer passes."""
    seen = []

    def probe(pad, info):
        seen.append(pad.get_current_caps().to_string())
        return Gst.PadProbeReturn.REMOVE

    pad.add_probe(Gst.PadProbeType.BUFFER, probe)
    return seen


def build_index(refs, index, colorize_options, watch=None):
    """Indexes the reference folder once, into `index`, for every later pass to read."""
    pipeline = launch(
        "videotestsrc num-buffers=1 ! video/x-raw,format=GRAY8,width=64,height=64 "
        "! exemplarcolorize name=colorize ! fakesink",
        colorize={**colorize_options, "refs": refs, "index-location": index},
    )
    run(pipeline, watch)


def analyse(film, refs, index, plan, colorize_options, scenecut_options, watch=None):
    """The choosing pass over the whole film: writes the scene plan to `plan`; returns every
    frame's (pts, duration), the caps exemplarcolorize took, and the messages for the report."""
    pipeline = launch(
        "filesrc name=src ! decodebin ! videoconvert ! scenecut name=scenecut "
        "! exemplarcolorize name=colorize ! fakesink name=out sync=false",
        src={"location": film},
        scenecut=scenecut_options,
        colorize={**colorize_options, "refs": refs, "index-location": index, "mode": "plan",
                  "plan-location": plan},
    )
    frames = []

    def record(pad, info):
        buffer = info.get_buffer()
        if buffer.pts == Gst.CLOCK_TIME_NONE:
            frames.append(None)
        else:
            frames.append((buffer.pts, buffer.duration))
        return Gst.PadProbeReturn.OK

    segments = []

    def segment(pad, info):
        event = info.get_event()
        if event.type == Gst.EventType.SEGMENT and not segments:
            timing = event.parse_segment()
            segments.append({name: getattr(timing, name) for name in SEGMENT_FIELDS})
        return Gst.PadProbeReturn.OK

    sink = pipeline.get_by_name("colorize").get_static_pad("sink")
    sink_caps = caps_at_first_buffer(sink)
    sink.add_probe(Gst.PadProbeType.BUFFER, record)
    sink.add_probe(Gst.PadProbeType.EVENT_DOWNSTREAM, segment)
    lines = run(pipeline, watch, frames=lambda: len(frames))
    if not frames:
        raise FilmError("the film has no video frames")
    if None in frames:
        raise FilmError(f"frame {frames.index(None)} has no timestamp: the film cannot be split")
    if any(b[0] <= a[0] for a, b in zip(frames, frames[1:])):
        raise FilmError("frame timestamps do not increase: the film cannot be split")
    return {"frames": frames, "caps": sink_caps[0], "segment": segments[0], "messages": lines}


def colorize_range(film, plan, caps, colorize_options, expected, end, output, from_start,
                   watch=None):
    """Colours the frames whose timestamps are `expected` (whole scenes; `end` is the next
    frame's pts, None at the end of the film; `from_start` when they start at the film's first
    frame, which needs no seek) into the lossless intermediate `output`, written under a
    temporary name and renamed when complete. Returns the caps exemplarcolorize gave."""
    partial = f"{output}.partial"
    pipeline = launch(
        f"filesrc name=src ! decodebin ! videoconvert ! capsfilter name=input "
        f"! exemplarcolorize name=colorize ! capsfilter name=output "
        f"! {LOSSLESS} ! matroskamux ! filesink name=sink",
        src={"location": film},
        input={"caps": caps},
        output={"caps": "video/x-raw,format=I420"},
        colorize={**colorize_options, "plan-location": plan},
        # No frame reaches the sink before the seek: it must not wait for one to preroll.
        sink={"location": partial, "async": "false"},
    )
    first, seek = expected[0], not from_start
    state = {"ended": False, "passed": [], "seeked": not seek}

    # Until the seek's flush, the first decoded frame waits in the gate rather than the decoder
    # racing on through frames that would only be dropped.
    flush_seen = threading.Event()
    if not seek:
        flush_seen.set()

    def gate(pad, info):
        if info.type & Gst.PadProbeType.EVENT_FLUSH:
            flush_seen.set()
            return Gst.PadProbeReturn.OK
        if info.type & Gst.PadProbeType.EVENT_DOWNSTREAM:
            # The end of the film before the seek took effect is not the end of the range.
            early_end = info.get_event().type == Gst.EventType.EOS and not flush_seen.is_set()
            return Gst.PadProbeReturn.DROP if early_end else Gst.PadProbeReturn.OK
        if not flush_seen.is_set():
            # A frame from before the seek, released by its flush-start.
            flush_seen.wait()
            return Gst.PadProbeReturn.DROP
        pts = info.get_buffer().pts
        if state["ended"] or pts < first:
            return Gst.PadProbeReturn.DROP
        if end is not None and pts >= end:
            # The range is complete: end the stream here rather than decode the rest of the film.
            state["ended"] = True
            pad.send_event(Gst.Event.new_eos())
            return Gst.PadProbeReturn.DROP
        state["passed"].append(pts)
        return Gst.PadProbeReturn.OK

    colorize = pipeline.get_by_name("colorize")
    sink_pad = colorize.get_static_pad("sink")
    sink_pad.add_probe(
        Gst.PadProbeType.BUFFER | Gst.PadProbeType.EVENT_FLUSH | Gst.PadProbeType.EVENT_DOWNSTREAM,
        gate)
    started = time.monotonic()

    out_caps = caps_at_first_buffer(colorize.get_static_pad("src"))

    def tick():
        # Sent upstream from the colorizer (muxers refuse seeks from downstream); decodebin
        # refuses one until it has exposed its pads: again until it is taken.
        if not state["seeked"] and pipeline.get_state(0)[1] >= Gst.State.PAUSED:
            position = max(0, first - SEEK_MARGIN)
            state["seeked"] = sink_pad.push_event(Gst.Event.new_seek(
                1.0, Gst.Format.TIME,
                Gst.SeekFlags.FLUSH | Gst.SeekFlags.KEY_UNIT | Gst.SeekFlags.SNAP_BEFORE,
                Gst.SeekType.SET, position, Gst.SeekType.NONE, -1))
            if not state["seeked"] and time.monotonic() - started > SEEK_PATIENCE:
                raise FilmError(
                    f"the film refuses to seek to {position / Gst.SECOND:.3f} s; colour it in "
                    "one piece (--segment-seconds 0)")

    try:
        run(pipeline, watch, frames=lambda: len(state["passed"]), tick=tick, interval=0.05)
        check_sequence(expected, state["passed"], f"range from pts {first}")
    except (FilmError, ValueError) as err:
        if os.path.exists(partial):
            os.remove(partial)
        raise FilmError(str(err)) from None
    os.replace(partial, output)
    return out_caps[0]


def join(film, segments, frames, caps, timing, encoder, output, watch=None):
    """Encodes the intermediates `segments` in order into `output` (under a temporary name until
    complete) with the film's audio copied: frame k gets `frames[k]`'s (pts, duration), in the
    segment `timing` the analysis saw, as the encoder of a single pass would.
    Returns the audio streams carried over and left out."""
    partial = os.path.join(os.path.dirname(output), f".{os.path.basename(output)}.partial")
    pipeline = launch(
        f"appsrc name=video format=time block=true max-bytes=100000000 handle-segment-change=true "
        f"! {encoder} ! mp4mux name=mux ! filesink name=sink "
        f"filesrc name=audiosrc ! parsebin name=streams",
        video={"caps": caps},
        sink={"location": partial},
        audiosrc={"location": film},
    )
    mux = pipeline.get_by_name("mux")
    template = mux.get_pad_template("audio_%u")
    audio = [caps for caps in stream_caps(film) if caps.get_structure(0).get_name().startswith("audio/")]
    carried = [caps for caps in audio if template.get_caps().can_intersect(caps)]
    streams = {"audio": [caps.to_string() for caps in carried],
               "audio left out (MP4 cannot carry it)":
                   [caps.to_string() for caps in audio if caps not in carried]}
    # Requested before any data flows: the muxer takes no new pads once it has started.
    audio_pads = [mux.request_pad_simple("audio_%u") for _ in carried]

    def stream(_, pad):
        caps = pad.get_current_caps()
        if audio_pads and caps is not None and caps.can_intersect(carried[0]):
            carried.pop(0)
            queue = Gst.ElementFactory.make("queue")
            pipeline.add(queue)
            queue.sync_state_with_parent()
            pad.link(queue.get_static_pad("sink"))
            queue.get_static_pad("src").link(audio_pads.pop(0))
        else:
            # Video (coloured from the intermediates instead) and what MP4 cannot carry.
            discard(pipeline, pad)

    pipeline.get_by_name("streams").connect("pad-added", stream)
    source = pipeline.get_by_name("video")
    pushed = [0]
    video_caps = Gst.Caps.from_string(caps)
    video_segment = Gst.Segment()
    video_segment.init(Gst.Format.TIME)
    for name in SEGMENT_FIELDS:
        setattr(video_segment, name, timing[name])

    def feed():
        for path in segments:
            reader = launch(
                "filesrc name=src ! matroskademux ! avdec_h264 ! video/x-raw,format=I420 "
                "! appsink name=frames sync=false max-buffers=4",
                src={"location": path},
            )
            frames_sink = reader.get_by_name("frames")
            reader.set_state(Gst.State.PLAYING)
            try:
                while True:
                    sample = frames_sink.emit("pull-sample")
                    if sample is None:
                        break
                    if pushed[0] >= len(frames):
                        raise FilmError(f"{path} has more frames than the film")
                    buffer = sample.get_buffer().copy()
                    buffer.pts, buffer.duration = frames[pushed[0]]
                    buffer.dts = Gst.CLOCK_TIME_NONE
                    sample = Gst.Sample.new(buffer, video_caps, video_segment, None)
                    if source.emit("push-sample", sample) != Gst.FlowReturn.OK:
                        return
                    pushed[0] += 1
            finally:
                reader.set_state(Gst.State.NULL)
        source.emit("end-of-stream")

    failure = []

    def feed_safely():
        try:
            feed()
        except FilmError as err:
            failure.append(err)
            source.emit("end-of-stream")

    feeder = threading.Thread(target=feed_safely, daemon=True)
    feeder.start()
    try:
        run(pipeline, watch, frames=lambda: pushed[0])
    except FilmError:
        if os.path.exists(partial):
            os.remove(partial)
        raise
    finally:
        feeder.join()
    if failure:
        os.remove(partial)
        raise failure[0]
    if pushed[0] != len(frames):
        os.remove(partial)
        raise FilmError(f"the intermediates hold {pushed[0]} frames, the film {len(frames)}")
    os.replace(partial, output)
    return streams


def discard(pipeline, pad):
    """Links a dynamic pad to a fakesink that neither syncs nor holds the pipeline's preroll."""
    sink = Gst.ElementFactory.make("fakesink")
    sink.set_property("sync", False)
    pipeline.add(sink)
    sink.sync_state_with_parent()
    pad.link(sink.get_static_pad("sink"))


def stream_caps(film):
    """The caps of each elementary stream of `film` (as its demuxer announces them), in order."""
    pipeline = launch("filesrc name=src ! parsebin name=streams ! fakesink", src={"location": film})
    try:
        pipeline.set_state(Gst.State.PAUSED)
        message = pipeline.get_bus().timed_pop_filtered(
            60 * Gst.SECOND, Gst.MessageType.STREAM_COLLECTION | Gst.MessageType.ERROR)
        if message is None or message.type == Gst.MessageType.ERROR:
            why = message.parse_error()[0].message if message else "no streams found in 60 s"
            raise FilmError(f"the film's streams cannot be read: {why}")
        collection = message.parse_stream_collection()
        return [collection.get_stream(k).get_caps() for k in range(collection.get_size())]
    finally:
        pipeline.set_state(Gst.State.NULL)
