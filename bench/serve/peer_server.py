"""Peer for bench/serve: the same single-image inference as `POST /v1/predict`, written the way a
small Python service usually is — stdlib ThreadingHTTPServer + pydicom + numpy + onnxruntime.
No auth, no audit, no schema validation: it is the lower bound of work per request.

Same work as radml: the Modality LUT and VOI window of the DICOM header (pydicom's
apply_modality_lut / apply_voi_lut, PS3.3 C.11.2.1.2), MONOCHROME1 inverted, then the model's
preprocessing from model.json (area resize into a padded square, min-max normalise). run.ts checks
that both return the same scores before timing anything.

usage: python3 peer_server.py <model.onnx> <size> <port>
"""
import json
import sys
import io
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import onnxruntime as ort
import pydicom
from pydicom.pixels import apply_modality_lut, apply_voi_lut

model_path, size, port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
opts = ort.SessionOptions()
opts.intra_op_num_threads = 1
sess = ort.InferenceSession(model_path, opts, providers=["CPUExecutionProvider"])
print(f"peer: python {sys.version.split()[0]}, pydicom {pydicom.__version__}, numpy {np.__version__}, onnxruntime {ort.__version__} (1 intra-op thread)", file=sys.stderr, flush=True)


def area_resize_pad(img: np.ndarray, size: int) -> np.ndarray:
    h, w = img.shape
    long = max(h, w)
    # Box-filter downsampling by integer factor (the bench images are square multiples of size).
    f = long // size
    img = img[: (h // f) * f, : (w // f) * f].reshape(h // f, f, w // f, f).mean(axis=(1, 3))
    out = np.zeros((size, size), np.float32)
    oh, ow = img.shape
    out[(size - oh) // 2:(size - oh) // 2 + oh, (size - ow) // 2:(size - ow) // 2 + ow] = img
    return out


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_GET(self):
        body = b'{"status":"ok"}'
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        n = int(self.headers.get("content-length", "0"))
        data = self.rfile.read(n)
        ds = pydicom.dcmread(io.BytesIO(data))
        px = apply_modality_lut(ds.pixel_array, ds).astype(np.float64)
        if "WindowCenter" in ds and "WindowWidth" in ds:
            px = apply_voi_lut(px, ds, prefer_lut=False)
        if ds.PhotometricInterpretation == "MONOCHROME1":
            px = px.max() - px
        px = px.astype(np.float32)
        lo, hi = px.min(), px.max()
        px = (px - lo) / (hi - lo) if hi > lo else px * 0
        x = area_resize_pad(px, size)
        lo, hi = x.min(), x.max()
        x = (x - lo) / (hi - lo) if hi > lo else x * 0
        probs = sess.run(["probabilities"], {"input": x[None, None].astype(np.float32)})[0][0]
        body = json.dumps({"scores": {"normal": float(probs[0]), "pneumonia": float(probs[1])}}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
