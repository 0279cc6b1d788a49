#!/usr/bin/python3
"""Colorizes a video from Python through GObject introspection, following the scene changes.

    GST_PLUGIN_PATH=target/release python3 examples/colorize.py old.mp4 photos/ colour.mp4

Needs PyGObject and GStreamer's introspection data (Debian: python3-gi gir1.2-gstreamer-1.0,
installed by scripts/setup.sh) and the plugin on GST_PLUGIN_PATH. Prints every scene-change and
reference-changed message as it arrives; exits non-zero with the error on failure.
"""

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
    status = {"code": 0}

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
    pipeline.set_state(Gst.State.NULL)
    bus.remove_signal_watch()
    if status["code"] == 0:
        print(f"wrote {output}")
    return status["code"]


if __name__ == "__main__":
    sys.exit(main(sys.argv))
