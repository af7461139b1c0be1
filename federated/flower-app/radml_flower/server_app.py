"""ServerApp: Flower's own strategies (FedAvg, FedProx, FedAdam) over radml sites.

Nothing here knows radml's internals: the initial weights are an .npz whose entry names are the
model's tensor names (`radml federate export-arrays`), the sites answer Flower's standard train /
evaluate messages, and the result is written back as an .npz with the same names
(`radml federate import-arrays` turns it into a model folder).
"""
import json
import os

import numpy as np
from flwr.app import Array, ArrayRecord, ConfigRecord, Context
from flwr.serverapp import Grid, ServerApp
from flwr.serverapp.strategy import FedAdam, FedAvg, FedProx

app = ServerApp()


def _load_npz(path: str) -> ArrayRecord:
    with np.load(path, allow_pickle=False) as z:
        # Keep the file's order: the sites' reply must use the same names.
        return ArrayRecord({name: Array(np.asarray(z[name], dtype=np.float32)) for name in z.files})


def _metrics(by_round) -> dict:
    return {str(k): dict(v) for k, v in by_round.items()}


@app.main()
def main(grid: Grid, context: Context) -> None:
    cfg = context.run_config
    initial, out = str(cfg["initial-arrays"]), str(cfg["out"])
    if not initial or not os.path.isfile(initial):
        raise ValueError(f"run config initial-arrays must name an .npz from `radml federate export-arrays` (got {initial!r})")
    if not out:
        raise ValueError("run config out must name the .npz to write the global model to")
    nodes = int(cfg["min-nodes"])
    common = dict(fraction_train=1.0, fraction_evaluate=float(cfg["fraction-evaluate"]),
                  min_train_nodes=nodes, min_evaluate_nodes=nodes, min_available_nodes=nodes)
    name = str(cfg["strategy"]).lower()
    if name == "fedavg":
        strategy = FedAvg(**common)
    elif name == "fedprox":
        strategy = FedProx(**common, proximal_mu=float(cfg["proximal-mu"]))
    elif name == "fedadam":
        strategy = FedAdam(**common, eta=float(cfg["server-lr"]))
    else:
        raise ValueError(f"strategy must be fedavg, fedprox or fedadam (got {name!r})")
    result = strategy.start(
        grid=grid,
        initial_arrays=_load_npz(initial),
        num_rounds=int(cfg["num-rounds"]),
        timeout=float(cfg["timeout"]),
        train_config=ConfigRecord({"lr": float(cfg["lr"]), "local-epochs": int(cfg["local-epochs"])}),
    )
    arrays = result.arrays
    tmp = out + ".tmp.npz"
    np.savez(tmp, **{k: arrays[k].numpy() for k in arrays.keys()})
    os.replace(tmp, out)
    with open(out + ".json.tmp", "w", encoding="utf-8") as fh:
        json.dump({"strategy": name, "rounds": int(cfg["num-rounds"]),
                   "train": _metrics(result.train_metrics_clientapp),
                   "evaluate": _metrics(result.evaluate_metrics_clientapp)}, fh, indent=2)
    os.replace(out + ".json.tmp", out + ".json")
