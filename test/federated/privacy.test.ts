/** The RDP accountant against Google's dp-accounting (PyPI) to 1e-3 in ε; clipping and noise scale. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { clipUpdate, epsilonAfter, l2Norm, privateMean } from '../../src/federated/privacy.js';
import { Rng } from '../../src/util/rng.js';

const probe = spawnSync('python3', ['-c', 'import dp_accounting'], { stdio: 'ignore' });
const skip = probe.status === 0 ? undefined : 'python3 cannot import dp_accounting (pip install dp-accounting; see test/requirements.txt)';

test('ε of the sampled Gaussian mechanism matches dp-accounting RdpAccountant', { skip }, () => {
  const cases = [
    { samplingRate: 1, noiseMultiplier: 1.1, rounds: 10, delta: 1e-5 },
    { samplingRate: 1, noiseMultiplier: 4, rounds: 50, delta: 1e-3 },
    { samplingRate: 0.5, noiseMultiplier: 1.0, rounds: 20, delta: 1e-5 },
    { samplingRate: 0.1, noiseMultiplier: 0.8, rounds: 100, delta: 1e-5 },
    { samplingRate: 0.01, noiseMultiplier: 1.3, rounds: 1000, delta: 1e-6 },
    { samplingRate: 0.25, noiseMultiplier: 2.5, rounds: 5, delta: 1e-4 },
  ];
  const py = `
import json, sys
import dp_accounting
out = []
for c in json.load(sys.stdin):
    acc = dp_accounting.rdp.RdpAccountant()
    ev = dp_accounting.GaussianDpEvent(c["noiseMultiplier"])
    if c["samplingRate"] < 1:
        ev = dp_accounting.PoissonSampledDpEvent(c["samplingRate"], ev)
    acc.compose(ev, c["rounds"])
    out.append(acc.get_epsilon(c["delta"]))
print(json.dumps(out))`;
  const r = spawnSync('python3', ['-c', py], { input: JSON.stringify(cases), encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const ref = JSON.parse(r.stdout) as number[];
  cases.forEach((c, i) => {
    const mine = epsilonAfter(c).epsilon;
    assert.ok(Math.abs(mine - ref[i]!) < 1e-3, `${JSON.stringify(c)}: ε ${mine} vs dp-accounting ${ref[i]}`);
  });
});

test('clipping bounds the norm; the noise of the private mean has standard deviation σC/m', () => {
  const d = new Map([['w', Float32Array.from([3, 4])]]);
  const c = clipUpdate(d, 1);
  assert.ok(Math.abs(l2Norm(c.delta) - 1) < 1e-6 && c.clipped && Math.abs(c.norm - 5) < 1e-6);
  assert.equal(clipUpdate(d, 10).clipped, false);
  const zeros = Array.from({ length: 4 }, () => new Map([['w', new Float32Array(20000)]]));
  const { mean } = privateMean(zeros, { clip: 2, noiseMultiplier: 1.5 }, new Rng('noise'));
  const x = mean.get('w')!;
  const sd = Math.sqrt(x.reduce((s, v) => s + v * v, 0) / x.length);
  assert.ok(Math.abs(sd - (1.5 * 2) / 4) < 0.02, `noise sd ${sd}`);
});
