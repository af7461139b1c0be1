"""Evidently's data-drift report per window, as radml's monitor evaluates: every STEP rows, the last
WINDOW rows against the reference. Prints JSON: version, seconds (excluding one warm-up report),
windows, windows with dataset drift detected."""
import json, sys, time, warnings
warnings.filterwarnings('ignore')
import pandas as pd
import evidently
from evidently import Report, Dataset, DataDefinition
from evidently.presets import DataDriftPreset

ref_csv, cur_csv, window, step, max_windows = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
ref = pd.read_csv(ref_csv); cur = pd.read_csv(cur_csv)
cat = [c for c in ref.columns if ref[c].dtype == object]
num = [c for c in ref.columns if c not in cat]
for c in cat:
    ref[c] = ref[c].astype(str); cur[c] = cur[c].astype(str)
dd = DataDefinition(numerical_columns=num, categorical_columns=cat)
ref_ds = Dataset.from_pandas(ref, data_definition=dd)

def run(w):
    rep = Report([DataDriftPreset()])
    snap = rep.run(Dataset.from_pandas(w, data_definition=dd), ref_ds)
    d = snap.dict()
    drifted = None
    for m in d.get('metrics', []):
        v = m.get('value')
        if isinstance(v, dict) and 'share' in v and 'count' in v and 'DriftedColumnsCount' in str(m.get('metric_id', m.get('metric_name', ''))):
            drifted = v['share']
    return drifted

run(cur.iloc[:window])  # warm-up
ends = list(range(window, len(cur) + 1, step))[:max_windows]
t = time.perf_counter()
shares = [run(cur.iloc[e - window:e]) for e in ends]
sec = time.perf_counter() - t
print(json.dumps({'version': evidently.__version__, 'seconds': sec, 'windows': len(ends), 'drift_share': shares[:5], 'windows_with_drift_share_over_half': sum(1 for s in shares if s is not None and s >= 0.5)}))
