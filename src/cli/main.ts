/**
 * radml command-line entry. Each subcommand is one file in src/cli/ exporting `command`; this file
 * finds them by name, parses flags, and turns typed errors into messages and exit codes.
 */
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { RadmlError } from '../util/errors.js';
import { didYouMean } from '../util/suggest.js';
import { type Command, type CommandIO, formatHelp, parseCommandArgs } from './lib/command.js';
import { checkOutputs } from './lib/outputs.js';

const here = dirname(fileURLToPath(import.meta.url));
const ext = fileURLToPath(import.meta.url).endsWith('.ts') ? '.ts' : '.js';

function commandNames(): string[] {
  return readdirSync(here)
    .filter((f) => f.endsWith(ext) && !f.endsWith('.d.ts') && f !== `main${ext}`)
    .map((f) => f.slice(0, -ext.length))
    .sort();
}

async function loadCommand(name: string): Promise<Command | undefined> {
  if (!/^[a-z][a-z0-9-]*$/.test(name) || !commandNames().includes(name)) return undefined;
  const mod = (await import(pathToFileURL(join(here, name + ext)).href)) as { command?: Command };
  return mod.command;
}

export function defaultIO(): CommandIO {
  return {
    out: (l) => process.stdout.write(l + '\n'),
    err: (l) => process.stderr.write(l + '\n'),
    interactive: Boolean(process.stderr.isTTY),
  };
}

async function overview(): Promise<string> {
  const lines = ['radml — machine learning for clinical radiology, on ONNX Runtime', '', 'Usage: radml <command> [options]', '', 'Commands:'];
  for (const n of commandNames()) {
    const c = await loadCommand(n);
    if (c) lines.push(`  ${n.padEnd(16)}${c.summary}`);
  }
  lines.push(
    '',
    'Your own images: split (patients) → ingest (decode once) → train → predict → evaluate, e.g.',
    '  radml split --manifest metadata.csv --columns path=filename,label=finding,patient_id=patientid -o my/split.csv',
    '  radml ingest my/split.csv -o my/ds',
    '  radml train --data my/ds --positive COVID-19 -o my/model',
    '  radml predict --model my/model --data my/ds -o my/preds.csv',
    '  radml evaluate --predictions my/preds.csv --positive COVID-19 --groups sex -o my/eval',
    '',
    'Run `radml <command> --help` for the options of one command.',
  );
  return lines.join('\n');
}

export async function main(argv: string[], io: CommandIO = defaultIO()): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    io.out(await overview());
    return name ? 0 : 1;
  }
  if (name === '--version' || name === '-v') {
    const { readFileSync } = await import('node:fs');
    const pkg = JSON.parse(readFileSync(join(here, '..', '..', ext === '.ts' ? '' : '..', 'package.json'), 'utf8')) as { version: string };
    io.out(pkg.version);
    return 0;
  }
  const cmd = await loadCommand(name);
  if (!cmd) {
    io.err(`radml: unknown command "${name}"${didYouMean(name, commandNames())}. Commands: ${commandNames().join(', ')}`);
    return 2;
  }
  try {
    const args = parseCommandArgs(cmd, rest);
    if (args.values['help']) {
      io.out(formatHelp(cmd));
      return 0;
    }
    checkOutputs(cmd, args);
    return await cmd.run(args, io);
  } catch (e) {
    if (e instanceof RadmlError) {
      // Some messages already name the command; never print the prefix twice.
      const prefix = `radml ${name}: `;
      io.err(e.message.startsWith(prefix) ? e.message : prefix + e.message);
      return e.code === 'CLI_ARGS' ? 2 : 1;
    }
    io.err(`radml ${name}: unexpected error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    return 70;
  }
}

// Run directly with tsx (`node --import tsx src/cli/main.ts demo`).
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  process.exitCode = await main(process.argv.slice(2));
}
