"""Builds DICOM variants for radml's reader tests from the shared sample files, with pydicom and dcmtk.

usage: python3 make_variants.py SHARED_DICOM_DIR OUT_DIR
prints a JSON object name -> path of the files it made (a name is missing when its tool failed).
"""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, RLELossless, generate_uid

src, out = sys.argv[1], sys.argv[2]
made = {}


def run(name, args):
    target = os.path.join(out, name + ".dcm")
    r = subprocess.run(args + [target], capture_output=True, text=True)
    if r.returncode == 0 and os.path.exists(target):
        made[name] = target


mr = os.path.join(src, "mr_small.dcm")
ct = os.path.join(src, "ct_small.dcm")
# JPEG lossless, first-order prediction (1.2.840.10008.1.2.4.70) and predictor 6 (….4.57), 16-bit signed.
if shutil.which("dcmcjpeg"):
    run("ct_jpeg_lossless_sv1", ["dcmcjpeg", "+e1", ct])
    run("mr_jpeg_lossless_sv6", ["dcmcjpeg", "+el", "+sv", "6", mr])
# 12-bit JPEG extended from the 12-bit NM file (decompressed by dcmtk first), standard Huffman tables.
if shutil.which("dcmdjpeg") and shutil.which("dcmcjpeg"):
    tmp12 = os.path.join(out, "nm12_native.dcm")
    if subprocess.run(["dcmdjpeg", os.path.join(src, "jpeg_lossy.dcm"), tmp12], capture_output=True).returncode == 0:
        run("nm12_jpeg_extended", ["dcmcjpeg", "+ee", tmp12])
        run("nm12_jpeg_extended_q50", ["dcmcjpeg", "+ee", "+q", "50", tmp12])
if shutil.which("dcmconv"):
    run("mr_deflated", ["dcmconv", "+td", mr])
    run("mr_no_meta_implicit", ["dcmconv", "-F", "+ti", mr])
    run("mr_no_meta_explicit", ["dcmconv", "-F", "+te", mr])

# Colour, three frames, colour-by-plane, 8-bit RGB: frame f, pixel (r, c) has a known pattern.
rows, cols, frames = 48, 40, 3
rr, cc = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
arr = np.zeros((frames, rows, cols, 3), dtype=np.uint8)
for f in range(frames):
    arr[f, ..., 0] = (rr * 5 + cc * 3 + f * 50) % 256
    arr[f, ..., 1] = (rr * 2 + cc * 7 + f * 20) % 256
    arr[f, ..., 2] = (rr * 11 + cc + f * 90) % 256


def colour_dataset():
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.Modality = "OT"
    ds.PatientID = "COLOUR1"
    ds.Rows, ds.Columns = rows, cols
    ds.NumberOfFrames = frames
    ds.SamplesPerPixel = 3
    ds.PhotometricInterpretation = "RGB"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 8, 8, 7
    ds.PixelRepresentation = 0
    return ds


ds = colour_dataset()
ds.PlanarConfiguration = 1
ds.PixelData = np.ascontiguousarray(arr.transpose(0, 3, 1, 2)).tobytes()
target = os.path.join(out, "rgb_planar_3frames.dcm")
ds.save_as(target, enforce_file_format=True)
made["rgb_planar_3frames"] = target
np.save(os.path.join(out, "rgb_frames.npy"), arr)

try:
    ds = colour_dataset()
    ds.PlanarConfiguration = 0
    ds.PixelData = arr.tobytes()
    ds.compress(RLELossless, encoding_plugin="pydicom")
    target = os.path.join(out, "rgb_rle_3frames.dcm")
    ds.save_as(target, enforce_file_format=True)
    made["rgb_rle_3frames"] = target
except Exception as e:  # noqa: BLE001
    print(f"rle colour: {e}", file=sys.stderr)

# Colour JPEG baseline (dcmtk converts to YBR_FULL_422, one fragment per frame) and colour JPEG 2000.
if shutil.which("dcmcjpeg"):
    run("rgb_jpeg_baseline_3frames", ["dcmcjpeg", "+eb", made["rgb_planar_3frames"]])
try:
    from pydicom.uid import JPEG2000Lossless

    ds = colour_dataset()
    ds.PlanarConfiguration = 0
    ds.PixelData = arr.tobytes()
    ds.compress(JPEG2000Lossless)
    target = os.path.join(out, "rgb_j2k_3frames.dcm")
    ds.save_as(target, enforce_file_format=True)
    made["rgb_j2k_3frames"] = target
except Exception as e:  # noqa: BLE001
    print(f"j2k colour: {e}", file=sys.stderr)

# VOI LUT Sequence on the MR (16-bit LUT over 0…2047, a gamma curve; values past the end clamp).
ds = pydicom.dcmread(mr)
item = Dataset()
n = 2048
item.LUTDescriptor = [n, 0, 16]
item.LUTData = [int(round(65535 * (i / (n - 1)) ** 0.5)) for i in range(n)]
item["LUTDescriptor"].VR = "US"
item["LUTData"].VR = "US"
ds.VOILUTSequence = Sequence([item])
target = os.path.join(out, "mr_voi_lut.dcm")
ds.save_as(target)
made["mr_voi_lut"] = target

# Modality LUT Sequence on the MR: stored 0…4095 → 3·x + 100 (16-bit), keeping its window.
ds = pydicom.dcmread(mr)
item = Dataset()
item.LUTDescriptor = [4096, 0, 16]
item.ModalityLUTType = "US"
item.LUTData = [3 * i + 100 for i in range(4096)]
item["LUTDescriptor"].VR = "US"
item["LUTData"].VR = "US"
ds.ModalityLUTSequence = Sequence([item])
ds.WindowCenter, ds.WindowWidth = 3 * 600 + 100, 3 * 1600
target = os.path.join(out, "mr_modality_lut.dcm")
ds.save_as(target)
made["mr_modality_lut"] = target

# Enhanced-style multi-frame: the MR's pixels three times, per-frame rescale and window.
ds = pydicom.dcmread(mr)
ds.NumberOfFrames = 3
ds.PixelData = ds.PixelData * 3
for name in ("WindowCenter", "WindowWidth"):
    delattr(ds, name)
shared = Dataset()
shared_voi = Dataset()
shared_voi.WindowCenter, shared_voi.WindowWidth = 600, 1600
shared.FrameVOILUTSequence = Sequence([shared_voi])
ds.SharedFunctionalGroupsSequence = Sequence([shared])
per_frame = []
for slope, intercept, center, width in [(1, 0, 500, 1000), (2, 10, 1500, 3000), (0.5, -3, None, None)]:
    fg = Dataset()
    pvt = Dataset()
    pvt.RescaleSlope, pvt.RescaleIntercept, pvt.RescaleType = slope, intercept, "US"
    fg.PixelValueTransformationSequence = Sequence([pvt])
    if center is not None:
        voi = Dataset()
        voi.WindowCenter, voi.WindowWidth = center, width
        fg.FrameVOILUTSequence = Sequence([voi])
    per_frame.append(fg)
ds.PerFrameFunctionalGroupsSequence = Sequence(per_frame)
target = os.path.join(out, "mr_enhanced_3frames.dcm")
ds.save_as(target)
made["mr_enhanced_3frames"] = target

# MONOCHROME1 copy of the CT (same pixels: the display must be the inverse).
ds = pydicom.dcmread(ct)
ds.PhotometricInterpretation = "MONOCHROME1"
target = os.path.join(out, "ct_monochrome1.dcm")
ds.save_as(target)
made["ct_monochrome1"] = target

# Unsupported photometric interpretation.
ds = pydicom.dcmread(mr)
ds.PhotometricInterpretation = "HSV"
target = os.path.join(out, "mr_hsv.dcm")
ds.save_as(target)
made["mr_hsv"] = target

print(json.dumps(made))
