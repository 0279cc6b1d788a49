#!/usr/bin/python3
"""Colorizes a video from Python through GObject introspection, following the scene changes.

    GST_PLUGIN_PATH=target/release /usr/bin/python3 examples/colorize.py old.mp4 photos/ colour.mp4

Needs PyGObject and GStreamer's introspection data (Debian: python3-gi gir1.2-gstreamer-1.0,
installed by scripts/setup.sh): run it with the system interpreter, /usr/bin/python3 (the
project's .venv has no PyGObject), and the plugin on GST_PLUGIN_PATH. Prints every scene-change
and reference-changed message as it arrives, indexing progress and warnings; exits non-zero with
the error on failure. Ctrl-C once finishes the file (playable, cut short), twice stops at once
(the MP4 is then unusable); either way the exit status is 130.
"""

import signal
import sys

import gi

gi.require_version("Gst", "1.0")
from gi.repository import GLib, Gst  # noqa: E402


def describe(structure):
    name = structure.get_name()
    if name == "scene-change":
        return "scene {} starts at frame {} (score {:.2f}, {})".format(
            structure.get_uint("scene")[1],
            structure.get_uint64("frame")[1],
            structure.get_double("score")[1],
            structure.get_string("kind"),
        )
    if name == "reference-changed":
        reused = structure.get_boolean("reused")[1]
        return "  scene {} gets reference {} (distance {:.3f}{})".format(
            structure.get_uint("scene")[1],
            structure.get_string("reference"),
            structure.get_double("distance")[1],
            ", as scene {}".format(structure.get_uint("reused-from")[1]) if reused else "",
        )
    return None


def main(argv):
    if len(argv) != 4:
        print("usage: colorize.py INPUT REFS OUTPUT", file=sys.stderr)
        return 2
    source, refs, output = argv[1:]
    Gst.init(None)
    for factory in ("scenecut", "exemplarcolorize"):
        if Gst.ElementFactory.find(factory) is None:
            print(f"error: no {factory} element: set GST_PLUGIN_PATH to the folder of libgstexemplar.so", file=sys.stderr)
            return 1
    pipeline = Gst.parse_launch(
        "filesrc name=src ! decodebin ! videoconvert ! scenecut ! exemplarcolorize name=colorize "
        "! videoconvert ! x264enc ! mp4mux ! filesink name=sink"
    )
    pipeline.get_by_name("src").set_property("location", source)
    pipeline.get_by_name("colorize").set_property("refs", refs)
    pipeline.get_by_name("sink").set_property("location", output)

    loop = GLib.MainLoop()
    status = {"code": 0, "interrupts": 0}

    def on_interrupt():
        status["interrupts"] += 1
        if status["interrupts"] == 1:
            print("interrupted: finishing the output file (Ctrl-C again to stop at once)", file=sys.stderr, flush=True)
            pipeline.send_event(Gst.Event.new_eos())
        else:
            loop.quit()
        return GLib.SOURCE_CONTINUE

    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, on_interrupt)

    def on_message(_bus, message):
        if message.type == Gst.MessageType.ELEMENT:
            line = describe(message.get_structure())
            if line:
                print(line, flush=True)
        elif message.type == Gst.MessageType.ERROR:
            error, debug = message.parse_error()
            print(f"error: {message.src.get_name()}: {error.message}", file=sys.stderr)
            status["code"] = 1
            loop.quit()
        elif message.type == Gst.MessageType.WARNING:
            warning, _ = message.parse_warning()
            print(f"warning: {message.src.get_name()}: {warning.message}", file=sys.stderr, flush=True)
        elif message.type == Gst.MessageType.PROGRESS:
            _, _, text = message.parse_progress()
            print(text, file=sys.stderr, flush=True)
        elif message.type == Gst.MessageType.EOS:
            loop.quit()
        return True

    bus = pipeline.get_bus()
    bus.add_signal_watch()
    bus.connect("message", on_message)
    if pipeline.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
        message = bus.timed_pop_filtered(0, Gst.MessageType.ERROR)
        if message:
            print(f"error: {message.parse_error()[0].message}", file=sys.stderr)
        pipeline.set_state(Gst.State.NULL)
        return 1
    loop.run()
    position = pipeline.query_position(Gst.Format.TIME)
    pipeline.set_state(Gst.State.NULL)
    bus.remove_signal_watch()
    if status["code"] != 0:
        return status["code"]
    if status["interrupts"] == 1:
        ends = position[1] / Gst.SECOND if position[0] else float("nan")
        print(f"interrupted: {output} is finalised and playable, but ends at {ends:.1f} s", file=sys.stderr)
        return 130
    if status["interrupts"] > 1:
        print(f"stopped at once: {output} is partial and not finalised, so players cannot read it; "
              "delete it and run again", file=sys.stderr)
        return 130
    print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
