"""pydicom's decoding of a corpus of DICOM files, as radml's reader compares it (corpus.test.ts).

usage: python3 corpus_oracle.py OUT_DIR FILE...
For each file prints one JSON record: status "ok" (pydicom decoded the pixels), "no-pixels" (no
Pixel Data / Float Pixel Data / Double Float Pixel Data: nothing to compare) or "refused" (pydicom
raised; its message is kept). For "ok" it writes OUT_DIR/<i>.f32: the grey value radml reports as
`modalityValues` for each compared frame, concatenated (float32, row-major):
  grey images  - stored values through pydicom's apply_rescale / Modality LUT (apply_modality_lut),
  colour       - BT.601 luma of pydicom's RGB (YBR is converted to RGB by pydicom),
  PALETTE COLOR - BT.601 luma of pydicom's apply_color_lut output.
Frames compared: all of them up to 8, else the first, middle and last.
"""
import json
import os
import sys
import warnings

import numpy as np
import pydicom
from pydicom.pixels import apply_color_lut, apply_modality_lut

PIXEL_TAGS = (0x7FE00010, 0x7FE00008, 0x7FE00009)


def frames_to_compare(n):
    return list(range(n)) if n <= 8 else [0, n // 2, n - 1]


def frame_rescale(ds, k):
    """Enhanced objects keep Rescale in the Pixel Value Transformation macro of the per-frame, else the
    shared, functional groups (PS3.3 C.7.6.16.2.9); pydicom's apply_modality_lut reads the top level only."""
    for seq, idx in (("PerFrameFunctionalGroupsSequence", k), ("SharedFunctionalGroupsSequence", 0)):
        groups = ds.get(seq)
        if groups and len(groups) > idx and "PixelValueTransformationSequence" in groups[idx]:
            item = groups[idx].PixelValueTransformationSequence[0]
            if "RescaleSlope" in item or "RescaleIntercept" in item:
                return float(item.get("RescaleSlope", 1) or 1), float(item.get("RescaleIntercept", 0) or 0)
    return None


def grey(ds, arr, k=0):
    """Frame k (rows, cols[, 3]) -> radml's modalityValues for it."""
    pi = str(ds.get("PhotometricInterpretation", "")).strip()
    if pi == "PALETTE COLOR":
        arr = apply_color_lut(arr, ds)
    if arr.ndim == 3:
        a = arr.astype(np.float64)
        return 0.299 * a[..., 0] + 0.587 * a[..., 1] + 0.114 * a[..., 2]
    if any(t in ds for t in PIXEL_TAGS[1:]):
        return arr.astype(np.float64)
    if "RescaleSlope" not in ds and "ModalityLUTSequence" not in ds and frame_rescale(ds, k):
        slope, intercept = frame_rescale(ds, k)
        return arr.astype(np.float64) * slope + intercept
    return apply_modality_lut(arr, ds).astype(np.float64)


def main():
    out_dir, files = sys.argv[1], sys.argv[2:]
    warnings.simplefilter("ignore")
    for i, path in enumerate(files):
        rec = {"file": path}
        try:
            ds = pydicom.dcmread(path, force=True)
        except Exception as e:  # noqa: BLE001 - reported per file
            rec.update(status="unreadable", error=f"{type(e).__name__}: {e}")
            print(json.dumps(rec), flush=True)
            continue
        if not any(t in ds for t in PIXEL_TAGS):
            rec["status"] = "no-pixels"
            print(json.dumps(rec), flush=True)
            continue
        try:
            if "TransferSyntaxUID" not in getattr(ds, "file_meta", {}):
                implicit, little = ds.original_encoding
                ds.file_meta = getattr(ds, "file_meta", pydicom.dataset.FileMetaDataset())
                ds.file_meta.TransferSyntaxUID = (
                    pydicom.uid.ImplicitVRLittleEndian if implicit
                    else pydicom.uid.ExplicitVRLittleEndian if little else pydicom.uid.ExplicitVRBigEndian
                )
            arr = ds.pixel_array
            n = int(ds.get("NumberOfFrames", 1) or 1)
            spp = int(ds.get("SamplesPerPixel", 1))
            multi = n > 1
            if not multi:
                arr = arr[np.newaxis]
            idx = frames_to_compare(arr.shape[0])
            parts = [grey(ds, arr[k], k) for k in idx]
            np.concatenate([p.ravel() for p in parts]).astype("<f4").tofile(os.path.join(out_dir, f"{i}.f32"))
            rec.update(status="ok", frames=int(arr.shape[0]), compared=idx, rows=int(parts[0].shape[0]),
                       columns=int(parts[0].shape[1]), spp=spp,
                       transferSyntax=str(ds.file_meta.TransferSyntaxUID),
                       photometric=str(ds.get("PhotometricInterpretation", "")))
        except Exception as e:  # noqa: BLE001 - reported per file
            rec.update(status="refused", error=f"{type(e).__name__}: {e}"[:300])
        print(json.dumps(rec), flush=True)


if __name__ == "__main__":
    main()
