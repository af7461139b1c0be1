"""Build a reply Message with flwr itself and print every object (id -> hex bytes) and the tree as JSON.
The TS test builds the same message with src/federated/objects.ts and compares byte for byte."""
import json
import sys

import numpy as np
from flwr.app import Array, ArrayRecord, ConfigRecord, Message, Metadata, MetricRecord, RecordDict
from flwr.supercore.inflatable.inflatable_object import get_all_nested_objects, get_object_tree

spec = json.load(sys.stdin)
arrays = ArrayRecord()
for name, a in spec["arrays"].items():
    # "mod7" stands for the large array (i % 7) * 0.5, built here rather than sent as JSON.
    v = (np.arange(int(np.prod(a["shape"]))) % 7) * 0.5 if a["values"] == "mod7" else a["values"]
    arrays[name] = Array(np.asarray(v, dtype=np.float32).reshape(a["shape"]))
content = RecordDict({
    "arrays": arrays,
    "metrics": MetricRecord({"num-examples": spec["n"], "loss": spec["loss"], "auroc": spec["auroc"], "per-class": [0.5, 0.25]}),
    "config": ConfigRecord({"lr": 0.01, "server-round": 2, "name": "site-ü", "flag": True, "ids": [1, 2, 3]}),
})
m = spec["meta"]
md = Metadata(run_id=int(m["run_id"]), message_id="", src_node_id=int(m["src"]), dst_node_id=int(m["dst"]),
              reply_to_message_id=m["reply_to"], group_id=m["group"], created_at=m["created_at"], ttl=m["ttl"],
              message_type=m["type"], src_task_id=int(m["src_task"]), dst_task_id=None)
msg = Message(content=content, metadata=md)
objs = get_all_nested_objects(msg)


def tree(t):
    return {"object_id": t.object_id, "children": [tree(c) for c in t.children]}


print(json.dumps({"root": msg.object_id, "objects": {k: v.deflate().hex() for k, v in objs.items()}, "tree": tree(get_object_tree(msg))}))
