"""Reference decoding for radml's DICOM reader tests: pydicom (+ pylibjpeg plugins) pixels,
rescaled to modality values and put through pydicom's own VOI (LUT or window), else min-max.

usage: python3 pydicom_oracle.py OUT_DIR FILE...
writes OUT_DIR/<i>.mod.f32 and OUT_DIR/<i>.disp.f32 (float32, row-major) and prints a JSON list.
When pylibjpeg cannot decode a file, dcmtk's dcmdjpeg decompresses it first (decoder says so).
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import pydicom
from pydicom.pixels import apply_rescale, apply_voi_lut
from pydicom.pixels.processing import apply_voi, apply_windowing


def pixels(path):
    # force: the preamble-less variants have no File Meta; pydicom then infers the encoding.
    ds = pydicom.dcmread(path, force=True)
    if "TransferSyntaxUID" not in getattr(ds, "file_meta", {}):
        implicit, little = ds.original_encoding
        ds.file_meta = pydicom.dataset.FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = (
            pydicom.uid.ImplicitVRLittleEndian if implicit
            else pydicom.uid.ExplicitVRLittleEndian if little else pydicom.uid.ExplicitVRBigEndian
        )
    try:
        return ds, ds.pixel_array, "pydicom"
    except Exception as first:  # noqa: BLE001 - fall back to dcmtk, say so
        tmp = tempfile.NamedTemporaryFile(suffix=".dcm", delete=False)
        tmp.close()
        r = subprocess.run(["dcmdjpeg", path, tmp.name], capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"pydicom failed ({first}) and dcmdjpeg failed ({r.stderr.strip()})")
        ds2 = pydicom.dcmread(tmp.name)
        arr = ds2.pixel_array
        os.unlink(tmp.name)
        return ds, arr, "dcmdjpeg+pydicom"


def display(ds, mod):
    spp = int(ds.get("SamplesPerPixel", 1))
    if spp == 1 and "VOILUTSequence" in ds:
        item = ds.VOILUTSequence[0]
        bits = int(item.LUTDescriptor[2])
        out = apply_voi(np.rint(mod).astype(np.int64), ds, 0).astype(np.float64)
        top = 2**bits - 1
        data = np.asarray(item.LUTData)
        if bits == 16 and data.max() < 4096:
            top = 4095
        disp = out / top
        source = "voi-lut"
    elif spp == 1 and "WindowCenter" in ds and "WindowWidth" in ds:
        out = apply_windowing(mod, ds, 0)
        bits = int(ds.BitsStored)
        if ds.get("ModalityLUTSequence"):
            y_min, y_max = 0, 2 ** int(ds.ModalityLUTSequence[0].LUTDescriptor[2]) - 1
        elif int(ds.PixelRepresentation) == 0:
            y_min, y_max = 0, 2**bits - 1
        else:
            y_min, y_max = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
        if not ds.get("ModalityLUTSequence") and ds.get("RescaleSlope") is not None and ds.get("RescaleIntercept") is not None:
            y_min = y_min * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
            y_max = y_max * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
        disp = (out - y_min) / (y_max - y_min)
        source = "window"
    elif spp == 3:
        disp = mod / (2 ** int(ds.BitsStored) - 1)
        source = "full-range"
    else:
        lo, hi = float(mod.min()), float(mod.max())
        disp = (mod - lo) / (hi - lo) if hi > lo else np.zeros_like(mod)
        source = "min-max"
    if ds.PhotometricInterpretation == "MONOCHROME1":
        disp = 1.0 - disp
    return disp, source


def main():
    out_dir, files = sys.argv[1], sys.argv[2:]
    results = []
    for i, path in enumerate(files):
        try:
            ds, arr, decoder = pixels(path)
            frames = int(ds.get("NumberOfFrames", 1) or 1)
            spp = int(ds.get("SamplesPerPixel", 1))
            if frames > 1:
                arr = arr[frames // 2]
            if spp == 3:
                # pydicom hands back RGB (YBR converted); radml reduces colour to BT.601 luma.
                arr = arr.astype(np.float64)
                mod = 0.299 * arr[..., 0] + 0.587 * arr[..., 1] + 0.114 * arr[..., 2]
            else:
                mod = apply_rescale(arr, ds).astype(np.float64)
            disp, source = display(ds, mod)
            mod.astype("<f4").tofile(os.path.join(out_dir, f"{i}.mod.f32"))
            disp.astype("<f4").tofile(os.path.join(out_dir, f"{i}.disp.f32"))
            results.append({"file": path, "ok": True, "rows": int(mod.shape[0]), "columns": int(mod.shape[1]),
                            "decoder": decoder, "voi": source})
        except Exception as e:  # noqa: BLE001 - reported per file
            results.append({"file": path, "ok": False, "error": f"{type(e).__name__}: {e}"})
    print(json.dumps(results))


if __name__ == "__main__":
    main()
