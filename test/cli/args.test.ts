/**
 * The command line as a user meets it: one error prefix, "did you mean" for commands and flags,
 * numbers checked with plain messages, -o on every command with --out, outputs checked before any
 * work, and progress that stays short in logs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { main } from '../../src/cli/main.js';
import { type Command, optionTable } from '../../src/cli/lib/command.js';
import { outputOptions } from '../../src/cli/lib/outputs.js';
import { overallProgress, progressBar } from '../../src/cli/lib/progress-bar.js';
import { editDistance, suggest } from '../../src/util/suggest.js';

const CLI_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli');

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l), interactive: false }, out, err };
}

async function run(argv: string[]) {
  const c = capture();
  const code = await main(argv, c.io);
  return { code, out: c.out.join('\n'), err: c.err.join('\n') };
}

async function allCommands(): Promise<Command[]> {
  const names = readdirSync(CLI_DIR).filter((f) => f.endsWith('.ts') && f !== 'main.ts');
  const out: Command[] = [];
  for (const f of names) {
    const mod = (await import(pathToFileURL(join(CLI_DIR, f)).href)) as { command?: Command };
    if (mod.command) out.push(mod.command);
  }
  return out;
}

test('edit distance: optimal string alignment, checked on hand-computed cases', () => {
  assert.equal(editDistance('kitten', 'sitting'), 3); // the textbook Levenshtein example
  assert.equal(editDistance('epcohs', 'epochs'), 1); // one transposition
  assert.equal(editDistance('CA', 'ABC'), 3); // OSA (true Damerau gives 2): no edit of a transposed pair
  assert.equal(editDistance('', 'abc'), 3);
  assert.equal(editDistance('same', 'same'), 0);
  assert.equal(suggest('epoch', ['epochs', 'batch']), 'epochs');
  assert.equal(suggest('val', ['val-fraction', 'batch']), 'val-fraction');
  assert.equal(suggest('zzzzzz', ['epochs', 'batch']), undefined);
});

test('one "radml <command>:" prefix, and a "did you mean" for a misspelled command or flag', async () => {
  const unknown = await run(['train', '--data', 'x', '--epoch', '3']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.err, /^radml train: unknown option --epoch \(did you mean --epochs\?\)/);
  assert.equal(unknown.err.match(/radml train:/g)?.length, 1);
  const missing = await run(['train', '--data', 'x']);
  assert.equal(missing.err.split('\n')[0], 'radml train: --out is required. See `radml train --help`.');
  const cmd = await run(['trian']);
  assert.equal(cmd.code, 2);
  assert.match(cmd.err, /unknown command "trian" \(did you mean train\?\)/);
  const dash = await run(['train', '-out', 'm']);
  assert.match(dash.err, /unknown option -out \(did you mean --out\?\)/);
  const sw = await run(['train', '--resume=yes']);
  assert.match(sw.err, /--resume is a switch and takes no value/);
  const noValue = await run(['train', '--data', 'x', '--out']);
  assert.match(noValue.err, /--out needs a value <dir>/);
});

test('numbers are checked with plain messages (no parser internals, decimal only)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'radml-args-'));
  writeFileSync(join(dir, 'm.csv'), 'path,label\na.png,x\n');
  const m = join(dir, 'm.csv');
  const cases: [string[], RegExp][] = [
    [['--epochs', '-3'], /^radml train: --epochs must be at least 1, got -3$/],
    [['--epochs', '2.5'], /--epochs must be a whole number, got 2.5/],
    [['--epochs', '0x1F'], /--epochs must be a number, got "0x1F"/],
    [['--lr', '0'], /--lr must be greater than 0, got 0/],
    [['--val-fraction', '1'], /--val-fraction must be less than 1, got 1/],
    [['--arch', 'resnt'], /--arch must be cnn or resnet, got "resnt" \(did you mean resnet\?\)/],
  ];
  for (const [extra, re] of cases) {
    const r = await run(['train', '--data', m, '--out', join(dir, 'model'), ...extra]);
    assert.equal(r.code, 2, `${extra.join(' ')}: ${r.err}`);
    assert.match(r.err, re);
    assert.doesNotMatch(r.err, /ambiguous|To specify|at .*\.ts:\d+/);
  }
  const split = await run(['split', '--manifest', m, '--out', join(dir, 's.csv'), '--seed', '-1']);
  assert.match(split.err, /--seed must be at least 0, got -1/);
});

test('-o is --out on every command that has --out, and every --out is checked as an output', async () => {
  const cmds = await allCommands();
  const withOut = cmds.filter((c) => c.options['out']);
  assert.ok(withOut.length >= 10, `only ${withOut.length} commands with --out`);
  for (const c of withOut) {
    assert.equal(optionTable(c)['out']!.short, 'o', `radml ${c.name} has no -o`);
    // A command whose --out is a file for one subcommand and a folder for another checks it itself.
    assert.ok(outputOptions(c)['out'] || c.options['out']!.output === 'checked-by-command', `radml ${c.name}: --out not checked`);
  }
});

test('an output that cannot be written fails at once, before any work, without a stack trace', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'radml-out-'));
  writeFileSync(join(dir, 'm.csv'), 'path,label\na.png,x\nb.png,y\n');
  writeFileSync(join(dir, 'taken'), 'not a folder');
  mkdirSync(join(dir, 'folder'));
  const t0 = Date.now();
  const train = await run(['train', '--data', join(dir, 'm.csv'), '--out', join(dir, 'taken')]);
  assert.equal(train.code, 2);
  assert.match(train.err, /--out .*taken: a file of that name exists; --out needs a folder/);
  assert.doesNotMatch(train.err, /unexpected error|\n\s+at /);
  assert.ok(Date.now() - t0 < 5000);
  writeFileSync(join(dir, 'folder', 'notes.txt'), 'someone else\'s file');
  const busy = await run(['train', '--data', join(dir, 'm.csv'), '-o', join(dir, 'folder')]);
  assert.match(busy.err, /the folder exists, is not empty and is not a model folder/);
  const under = await run(['ingest', join(dir, 'm.csv'), '-o', join(dir, 'taken', 'ds')]);
  assert.match(under.err, /is a file, so the folder cannot be created/);
  const split = await run(['split', '--manifest', join(dir, 'm.csv'), '--out', join(dir, 'folder')]);
  assert.match(split.err, /that is a folder; --out needs a file name/);
});

test('progress in a log: a line per 10 % of the whole run, not per epoch', () => {
  assert.deepEqual(overallProgress('epoch 3/10', 0.5), { key: 'epoch #/10', frac: 0.25 });
  assert.deepEqual(overallProgress('decode', 0.5), { key: 'decode', frac: 0.5 });
  const lines: string[] = [];
  const bar = progressBar({ out: () => {}, err: (l) => lines.push(l), interactive: false });
  // 30 epochs of 20 steps each, as the trainer reports them.
  for (let e = 1; e <= 30; e++) for (let s = 1; s <= 20; s++) bar.callback({ stage: `epoch ${e}/30`, done: s, total: 20 });
  bar.stop();
  assert.ok(lines.length >= 10 && lines.length <= 12, `${lines.length} lines`);
  assert.match(lines.at(-1)!, /epoch 30\/30 .*100%/);
  const decode: string[] = [];
  const b2 = progressBar({ out: () => {}, err: (l) => decode.push(l), interactive: false });
  for (let i = 0; i <= 1000; i++) b2.callback({ stage: 'decode', done: i, total: 1000 });
  assert.equal(decode.length, 11);
  // A second pass of the same stage is logged again from 0 %.
  for (let i = 0; i <= 10; i++) b2.callback({ stage: 'decode', done: i, total: 10 });
  assert.equal(decode.length, 22);
});
