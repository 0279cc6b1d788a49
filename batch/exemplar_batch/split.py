"""How a film is cut into ranges of whole scenes, and the checks that no frame is lost on the way.

Pure Python (no GStreamer, no Ray): the driver and the tests use it alike.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Segment:
    """Frames [first, end) of a film: whole scenes, coloured by one task."""

    number: int
    first: int
    end: int
    scenes: int

    @property
    def frames(self):
        return self.end - self.first


def scene_starts(frame_pts, plan):
    """Indices into the film's frames of the plan's scene starts, checked against the frames."""
    position = {pts: k for k, pts in enumerate(frame_pts)}
    starts = []
    for scene in plan["scenes"]:
        k = position.get(scene["pts"])
        if k is None:
            raise ValueError(f"scene {scene['scene']} starts at pts {scene['pts']}, which no frame has")
        starts.append(k)
    if not starts or starts[0] != 0:
        raise ValueError("the plan's first scene does not start at the film's first frame")
    return starts


def split(frame_count, starts, frames_per_segment):
    """Groups consecutive scenes into segments of at least `frames_per_segment` frames (the last
    one may be shorter): a segment never starts inside a scene, since a scene's first frame is
    where the colorizer's state starts afresh."""
    bounds = list(starts) + [frame_count]
    segments = []
    first, scenes = 0, 0
    for k in range(len(starts)):
        scenes += 1
        end = bounds[k + 1]
        if end - first >= frames_per_segment or end == frame_count:
            segments.append(Segment(len(segments), first, end, scenes))
            first, scenes = end, 0
    return segments


def check_sequence(expected, got, what):
    """Raises with the first difference when `got` is not exactly `expected` (frame timestamps):
    a frame lost, duplicated or out of order."""
    if got == expected:
        return
    for k, (want, have) in enumerate(zip(expected, got)):
        if want != have:
            raise ValueError(f"{what}: frame {k} has pts {have}, expected {want}")
    raise ValueError(f"{what}: {len(got)} frames, expected {len(expected)}")
