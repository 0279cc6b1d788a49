#!/usr/bin/env python3
"""Builds the plugin with cargo for meson and copies the shared library to meson's output."""

import argparse
import os
import shutil
import subprocess
import sys


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--manifest", required=True)
    parser.add_argument("--target-dir", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--features", default="")
    parser.add_argument("--examples", action="store_true")
    parser.add_argument("--datadir", required=True,
                        help="where the plugin looks for its installed default models")
    parser.add_argument("--libdir", required=True,
                        help="where the plugin looks for its installed ONNX Runtime library")
    args = parser.parse_args()

    env = dict(os.environ, EXEMPLAR_INSTALLED_DATADIR=args.datadir, EXEMPLAR_INSTALLED_LIBDIR=args.libdir)
    command = ["cargo", "build", "--release", "--locked", "--manifest-path", args.manifest,
               "--target-dir", args.target_dir, "--lib"]
    if args.examples:
        command.append("--examples")
    if args.features:
        command += ["--features", args.features]
    result = subprocess.run(command, env=env)
    if result.returncode != 0:
        return result.returncode
    shutil.copy2(os.path.join(args.target_dir, "release", "libgstexemplar.so"), args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
