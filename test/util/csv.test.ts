import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatCsv, parseCsv, parseCsvRecords } from '../../src/util/csv.js';

test('parses quoted fields with commas, quotes and newlines, CRLF and BOM', () => {
  const text = '\ufeffa,b,c\r\n1,"x, y","he said ""hi"""\r\n2,"multi\nline",\r\n';
  const t = parseCsv(text, 'f.csv');
  assert.deepEqual(t.header, ['a', 'b', 'c']);
  assert.deepEqual(t.rows[0], { a: '1', b: 'x, y', c: 'he said "hi"' });
  assert.deepEqual(t.rows[1], { a: '2', b: 'multi\nline', c: '' });
  assert.deepEqual(t.lines, [2, 3]);
});

test('round-trips through formatCsv', () => {
  const rows = [{ a: 'p,q', b: 'say "x"', c: ' lead' }, { a: '', b: 'z', c: 'line\nbreak' }];
  const text = formatCsv(['a', 'b', 'c'], rows);
  assert.deepEqual(parseCsv(text).rows, rows);
});

test('errors name the file and line', () => {
  assert.throws(() => parseCsv('a,b\n1,"open\n', 'bad.csv'), /bad\.csv: a quoted field starting on or before line 2/);
  assert.throws(() => parseCsv('a,a\n1,2\n', 'dup.csv'), /dup\.csv: column "a" appears twice/);
  assert.throws(() => parseCsv('a,b\n1,2,3\n', 'wide.csv'), /wide\.csv: line 2 has 3 cells/);
  assert.throws(() => parseCsv('', 'empty.csv'), /empty\.csv: the file is empty/);
});

test('blank lines are ignored, missing trailing cells are empty', () => {
  const { records } = parseCsvRecords('a,b\n\n1\n');
  assert.deepEqual(records, [['a', 'b'], ['1']]);
  assert.deepEqual(parseCsv('a,b\n\n1\n').rows, [{ a: '1', b: '' }]);
});
