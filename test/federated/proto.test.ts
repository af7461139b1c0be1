/** The vendored Flower .proto files are exactly what the pinned flwr wheel's descriptors say. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureFlwrVenv, FLWR_PYTHON, REPO } from './helpers.js';
import { msgType } from '../../src/federated/proto.js';

const skip = ensureFlwrVenv();

test('vendored flwr protos match the flwr 1.42.0 wheel byte for byte', { skip }, () => {
  const out = mkdtempSync(join(tmpdir(), 'radml-proto-'));
  const r = spawnSync(FLWR_PYTHON, [join(REPO, 'test/federated/proto_from_wheel.py'), out], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const vendored = join(REPO, 'src/federated/proto/flwr/proto');
  const files = readdirSync(join(out, 'flwr/proto')).sort();
  assert.deepEqual(readdirSync(vendored).sort(), files);
  for (const f of files) assert.equal(readFileSync(join(vendored, f), 'utf8'), readFileSync(join(out, 'flwr/proto', f), 'utf8'), `${f} differs from the wheel`);
});

test('protobufjs reads the vendored protos with the field numbers flwr uses', () => {
  const md = msgType('Metadata');
  assert.equal(md.fields['src_task_id']!.id, 10);
  assert.equal(md.fields['dst_task_id']!.id, 11);
  assert.equal(md.fields['src_task_id']!.options?.['proto3_optional'] ?? md.fields['src_task_id']!.partOf?.name.startsWith('_'), true);
  assert.equal(msgType('PushMessagesRequest').fields['clientapp_runtime_list']!.id, 4);
});
