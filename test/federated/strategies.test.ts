/**
 * Aggregation rules against Flower's own implementations (flwr.server.strategy.aggregate for
 * FedAvg / median / trimmed mean / Krum / multi-Krum; flwr.serverapp.strategy.FedAdam / FedYogi
 * driven through aggregate_train), on random updates.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { ensureFlwrVenv, FLWR_PYTHON } from './helpers.js';
import { aggregate, fedAvg, krum, ServerOptimizer, type ClientUpdate, type Weights } from '../../src/federated/strategies.js';
import { Rng } from '../../src/util/rng.js';

const skip = ensureFlwrVenv();

function updates(n: number, seed: string): ClientUpdate[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, (_, i) => ({
    examples: 5 + i * 3,
    weights: new Map([['a.weight', Float32Array.from({ length: 6 }, () => rng.normal(0, 1))], ['a.bias', Float32Array.from({ length: 3 }, () => rng.normal(i === 2 ? 5 : 0, 1))]]),
  }));
}

const asJson = (u: ClientUpdate[]) => u.map((x) => ({ n: x.examples, w: [...x.weights.values()].map((t) => [...t]) }));

function close(a: Weights, b: number[][], what: string, tol = 1e-5): void {
  [...a.values()].forEach((t, i) => t.forEach((v, j) => assert.ok(Math.abs(v - b[i]![j]!) <= tol * Math.max(1, Math.abs(b[i]![j]!)), `${what}: tensor ${i}[${j}] ${v} vs flwr ${b[i]![j]}`)));
}

test('FedAvg, median, trimmed mean, Krum and multi-Krum equal flwr.server.strategy.aggregate', { skip }, () => {
  const u = updates(7, 'agg');
  const py = `
import json, sys, numpy as np
from flwr.server.strategy.aggregate import aggregate, aggregate_median, aggregate_trimmed_avg, aggregate_krum
u = json.load(sys.stdin)
res = [([np.asarray(t, dtype=np.float32) for t in x["w"]], x["n"]) for x in u]
out = {"avg": aggregate(res), "median": aggregate_median(res), "trimmed": aggregate_trimmed_avg(res, 0.2),
       "krum": aggregate_krum(res, 2, 0), "multikrum": aggregate_krum(res, 2, 4)}
print(json.dumps({k: [np.asarray(t, dtype=np.float64).ravel().tolist() for t in v] for k, v in out.items()}))`;
  const r = JSON.parse(execFileSync(FLWR_PYTHON, ['-c', py], { input: JSON.stringify(asJson(u)) }).toString()) as Record<string, number[][]>;
  close(fedAvg(u), r['avg']!, 'FedAvg');
  close(aggregate(u, { rule: 'median' }), r['median']!, 'median');
  close(aggregate(u, { rule: 'trimmed', trimFraction: 0.2 }), r['trimmed']!, 'trimmed mean');
  close(krum(u, 2).weights, r['krum']!, 'Krum');
  close(krum(u, 2, 4).weights, r['multikrum']!, 'multi-Krum');
  // The outlier client (index 2, shifted bias) is never Krum's choice.
  assert.ok(!krum(u, 2, 4).selected.includes(2));
});

test('FedAdam and FedYogi follow flwr.serverapp.strategy over three rounds', { skip }, () => {
  const rounds = [updates(3, 'r1'), updates(3, 'r2'), updates(3, 'r3')];
  const init: Weights = new Map([['a.weight', new Float32Array(6).fill(0.1)], ['a.bias', new Float32Array(3).fill(-0.2)]]);
  const py = `
import json, sys, numpy as np
from flwr.app import Array, ArrayRecord, MetricRecord, RecordDict, Message, Metadata
from flwr.serverapp.strategy import FedAdam, FedYogi
spec = json.load(sys.stdin)
names = ["a.weight", "a.bias"]
out = {}
for cls in (FedAdam, FedYogi):
    s = cls(eta=0.05, eta_l=0.1, beta_1=0.9, beta_2=0.99, tau=1e-3)
    cur = {k: np.asarray(v, dtype=np.float32) for k, v in zip(names, spec["init"])}
    traj = []
    for rnd, ups in enumerate(spec["rounds"], start=1):
        s.current_arrays = {k: v.copy() for k, v in cur.items()}
        replies = []
        for i, x in enumerate(ups):
            rd = RecordDict({"arrays": ArrayRecord({k: Array(np.asarray(t, dtype=np.float32)) for k, t in zip(names, x["w"])}),
                             "metrics": MetricRecord({"num-examples": x["n"]})})
            m = Message(content=rd, metadata=Metadata(run_id=1, message_id=str(i), src_node_id=i + 1, dst_node_id=0, reply_to_message_id="x", group_id=str(rnd), created_at=0.0, ttl=100.0, message_type="train"))
            replies.append(m)
        arrays, _ = s.aggregate_train(rnd, replies)
        cur = {k: arrays[k].numpy() for k in names}
        traj.append([cur[k].astype(np.float64).ravel().tolist() for k in names])
    out[cls.__name__] = traj
print(json.dumps(out))`;
  const spec = { init: [...init.values()].map((t) => [...t]), rounds: rounds.map(asJson) };
  const r = JSON.parse(execFileSync(FLWR_PYTHON, ['-c', py], { input: JSON.stringify(spec) }).toString()) as Record<string, number[][][]>;
  for (const [kind, name] of [['adam', 'FedAdam'], ['yogi', 'FedYogi']] as const) {
    const opt = new ServerOptimizer({ kind, eta: 0.05, beta1: 0.9, beta2: 0.99, tau: 1e-3 });
    let cur = init;
    rounds.forEach((u, i) => {
      cur = opt.step(cur, fedAvg(u), i + 1);
      close(cur, r[name]![i]!, `${name} round ${i + 1}`, 1e-4);
    });
  }
});
