"""Regenerate test/fixtures/dicom/expected.json: pydicom's values for the committed real DICOM files,
so readers.test can check them where Python is absent.

usage: python3 test/data/dicom/fixture_expectations.py   (from the repository root, with the test venv)
Per file: status as in corpus_oracle.py; for "ok" the frames compared and, per frame, the mean, min,
max and 64 sample values (evenly spaced pixels) of the grey values radml reports as modalityValues.
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
fixtures = os.path.join(here, "..", "..", "fixtures", "dicom")
files = sorted(f for f in os.listdir(fixtures) if f.endswith(".dcm"))
with tempfile.TemporaryDirectory() as out:
    lines = subprocess.run([sys.executable, os.path.join(here, "corpus_oracle.py"), out, *[os.path.join(fixtures, f) for f in files]],
                           check=True, capture_output=True, text=True).stdout.splitlines()
    result = {}
    for i, (name, line) in enumerate(zip(files, lines)):
        rec = json.loads(line)
        entry = {"status": rec["status"]}
        if rec["status"] == "ok":
            vals = np.fromfile(os.path.join(out, f"{i}.f32"), dtype="<f4").astype(np.float64)
            n = rec["rows"] * rec["columns"]
            frames = []
            for k, frame in enumerate(rec["compared"]):
                v = vals[k * n:(k + 1) * n]
                idx = [int(j * n / 64) for j in range(64)]
                frames.append({"frame": frame, "mean": float(v.mean()), "min": float(v.min()), "max": float(v.max()),
                               "samples": [float(v[j]) for j in idx]})
            entry.update(rows=rec["rows"], columns=rec["columns"], frames=rec["frames"], transferSyntax=rec["transferSyntax"], compared=frames)
        elif "error" in rec:
            entry["pydicom"] = rec["error"].splitlines()[0][:200]
        result[name] = entry
with open(os.path.join(fixtures, "expected.json"), "w") as fh:
    json.dump(result, fh, indent=1)
    fh.write("\n")
print(f"wrote {len(result)} entries")
