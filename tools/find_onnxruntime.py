#!/usr/bin/env python3
"""Prints the ONNX Runtime library of the project's .venv (the onnxruntime wheel), or nothing."""

import glob
import os
import sys

root = sys.argv[1] if len(sys.argv) > 1 else "."
pattern = os.path.join(root, ".venv/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so.*")
found = sorted(glob.glob(pattern))
print(found[-1] if found else "")
