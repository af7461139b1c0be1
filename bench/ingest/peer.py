"""Peer for bench/ingest: DICOM decode + rescale + VOI (window, else min-max; MONOCHROME1 inverted)
+ resize to 256x256 with pydicom + pylibjpeg + numpy, and PIL's BOX (area) filter when PIL is present
(else a numpy area average). Same work as radml's side.

usage: python3 peer.py MIN_SECONDS FILE...   -> prints JSON {images, seconds, per_file_ms, resize}
"""
import json
import sys
import time

import numpy as np
import pydicom
from pydicom.pixels import apply_rescale
from pydicom.pixels.processing import apply_windowing

try:
    from PIL import Image

    def resize(img):
        return np.asarray(Image.fromarray(img, mode="F").resize((256, 256), Image.BOX))

    RESIZE = "PIL BOX"
except ImportError:  # pragma: no cover - depends on the machine

    def resize(img):
        h, w = img.shape
        ys = (np.arange(257) * h / 256).astype(int)
        xs = (np.arange(257) * w / 256).astype(int)
        rows = np.add.reduceat(img, ys[:-1], axis=0) / np.diff(ys)[:, None]
        return np.add.reduceat(rows, xs[:-1], axis=1) / np.diff(xs)[None, :]

    RESIZE = "numpy area"


def ingest(path):
    ds = pydicom.dcmread(path)
    arr = ds.pixel_array
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    if frames > 1:
        arr = arr[frames // 2]
    mod = apply_rescale(arr, ds)
    if "WindowCenter" in ds and "WindowWidth" in ds:
        out = apply_windowing(mod, ds, 0)
        lo, hi = float(out.min()), float(out.max())
        bits = int(ds.BitsStored)
        y_min, y_max = (0, 2**bits - 1) if int(ds.PixelRepresentation) == 0 else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
        disp = (out - y_min) / (y_max - y_min)
    else:
        lo, hi = float(mod.min()), float(mod.max())
        disp = (mod - lo) / (hi - lo) if hi > lo else np.zeros_like(mod, dtype=np.float64)
    if ds.PhotometricInterpretation == "MONOCHROME1":
        disp = 1.0 - disp
    return resize(disp.astype(np.float32))


def main():
    min_seconds = float(sys.argv[1])
    files = sys.argv[2:]
    for f in files:  # warm-up: plugin imports, caches
        ingest(f)
    per_file = {f: 0.0 for f in files}
    images = 0
    start = time.perf_counter()
    while True:
        for f in files:
            t = time.perf_counter()
            out = ingest(f)
            assert out.shape == (256, 256)
            per_file[f] += time.perf_counter() - t
            images += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            break
    rounds = images // len(files)
    print(json.dumps({"images": images, "seconds": elapsed, "resize": RESIZE,
                      "per_file_ms": {f: 1000 * s / rounds for f, s in per_file.items()}}))


if __name__ == "__main__":
    main()
