"""scikit-learn peer for bench/evaluate: AUROC + stratified bootstrap CI by a loop of roc_auc_score calls."""
import sys, time, json
import numpy as np
from sklearn.metrics import roc_auc_score

path, resamples, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
data = np.fromfile(path, dtype=np.float64).reshape(2, -1)
scores, labels = data[0], data[1].astype(int)
t0 = time.perf_counter()
auc = roc_auc_score(labels, scores)
rng = np.random.default_rng(seed)
pos = np.flatnonzero(labels == 1)
neg = np.flatnonzero(labels == 0)
aucs = np.empty(resamples)
for b in range(resamples):
    idx = np.concatenate([rng.choice(pos, pos.size), rng.choice(neg, neg.size)])
    aucs[b] = roc_auc_score(labels[idx], scores[idx])
lo, hi = np.percentile(aucs, [2.5, 97.5])
print(json.dumps({"auroc": auc, "ci95": [lo, hi], "seconds": time.perf_counter() - t0, "resamples": resamples}))
