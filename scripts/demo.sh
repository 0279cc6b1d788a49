#!/usr/bin/env bash
# The main job end to end: sets everything up, builds the plugin and runs it on a real clip.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/setup.sh"
cd "$ROOT"

log "building the plugin (release)"
cargo build --locked --release --quiet

CLIP="$GENERATED/media/scenes_grey.mp4"
log "finding the scenes of ${CLIP#"$ROOT"/} with scenecut"
cargo run --locked --release --quiet --example scenes -- "$CLIP"
log "ground truth: scenes start at frames 0 $("$ROOT/.venv/bin/python" -c 'import json,sys; print(*json.load(open(sys.argv[1]))["cuts"])' "$GENERATED/media/scenes.json")"
log "the same in a plain pipeline: GST_PLUGIN_PATH=$ROOT/target/release gst-launch-1.0 -m filesrc location=$CLIP ! decodebin ! videoconvert ! scenecut ! fakesink"
