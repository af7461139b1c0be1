/** Pairwise-masked secure aggregation: exact weighted mean over survivors despite dropouts; masks hide inputs. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { secureAggregate, shamirCombine, shamirSplit } from '../../src/federated/secure-aggregation.js';

test('Shamir over GF(2^8): any t shares recover the secret, fewer do not', () => {
  const secret = new Uint8Array([0, 1, 2, 127, 128, 255, 42]);
  const sh = shamirSplit(secret, 6, 4);
  assert.deepEqual(shamirCombine([sh[5]!, sh[0]!, sh[3]!, sh[2]!]), secret);
  assert.deepEqual(shamirCombine([sh[1]!, sh[2]!, sh[3]!, sh[4]!, sh[5]!]), secret);
  assert.notDeepEqual(shamirCombine([sh[1]!, sh[2]!, sh[3]!]), secret);
});

test('the server recovers Σnx/Σn of the survivors when two of six clients drop out', () => {
  const xs = Array.from({ length: 6 }, (_, i) => Float32Array.from({ length: 257 }, (_, j) => Math.sin(i * 31 + j) * (j % 5)));
  const w = [10, 3, 7, 1, 12, 5];
  const drop = new Set([1, 4]);
  const r = secureAggregate(xs, w, drop);
  assert.deepEqual(r.survivors, [0, 2, 3, 5]);
  const tot = r.survivors.reduce((s, i) => s + w[i]!, 0);
  for (let j = 0; j < 257; j++) {
    const want = r.survivors.reduce((s, i) => s + w[i]! * xs[i]![j]!, 0) / tot;
    assert.ok(Math.abs(r.mean[j]! - want) < 1e-4, `coordinate ${j}: ${r.mean[j]} vs ${want}`);
  }
  // What the server sees of a client does not resemble its input: masked words look uniform on [0, 2^32).
  const words = [...r.maskedExample];
  const mean = words.reduce((a, b) => a + b, 0) / words.length / 2 ** 32;
  assert.ok(Math.abs(mean - 0.5) < 0.1, `masked words mean ${mean}`);
  assert.throws(() => secureAggregate(xs, w, new Set([0, 1, 2, 3])), /needed to unmask/);
});
