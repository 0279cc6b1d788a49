#!/usr/bin/env bash
# The main job end to end: sets everything up, builds the plugin and runs it on a real clip.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/setup.sh"
cd "$ROOT"

log "building the plugin (release)"
cargo build --locked --release --quiet

OUT="$GENERATED/demo"
mkdir -p "$OUT"
rm -rf "$OUT/refs"
cp -r "$GENERATED/media/refs" "$OUT/refs"
CLIP="$GENERATED/media/scenes_grey.mp4"
log "colorizing ${CLIP#"$ROOT"/} with the references in ${OUT#"$ROOT"/}/refs (6 scene photos, 3 distractors)"
export GST_PLUGIN_PATH="$ROOT/target/release${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"
started=$(date +%s%N)
PIPELINE=(filesrc location="$CLIP" ! decodebin ! videoconvert ! scenecut
    ! exemplarcolorize refs="$OUT/refs" ! videoconvert ! x264enc ! mp4mux
    ! filesink location="$OUT/colour.mp4")
GST_DEBUG="exemplarcolorize:4,scenecut:4" GST_DEBUG_FILE="$OUT/debug.log" GST_DEBUG_NO_COLOR=1 \
    gst-launch-1.0 -m "${PIPELINE[@]}" >"$OUT/messages.log"
ns=$(($(date +%s%N) - started))
elapsed=$(printf "%d.%03d" $((ns / 1000000000)) $(((ns / 1000000) % 1000)))
grep -E "scene-change|reference-changed" "$OUT/messages.log" | sed 's/^Got message #[0-9]* from element "\([a-z0-9]*\)" (element): /\1: /'
"$ROOT/.venv/bin/python" "$ROOT/tools/report.py" --messages "$OUT/messages.log" --debug-log "$OUT/debug.log" \
    --grey "$CLIP" --colour "$OUT/colour.mp4" --truth "$GENERATED/media/scenes.json" \
    --elapsed "$elapsed" --pipeline "${PIPELINE[*]}" --out "$OUT/report.html"
log "colour video: $OUT/colour.mp4"
log "report:       $OUT/report.html"
