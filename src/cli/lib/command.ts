/** What one CLI subcommand file exports. main.ts finds commands by file name in src/cli/. */
import { parseArgs } from 'node:util';
import { InputError } from '../../util/errors.js';

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  /** Shown in --help, e.g. "number of images". */
  description: string;
  /** Placeholder in --help, e.g. "N" or "<dir>". */
  arg?: string;
  default?: string | boolean;
  multiple?: boolean;
}

export interface CommandIO {
  /** Normal output (results, summaries). */
  out: (line: string) => void;
  /** Diagnostics and progress. */
  err: (line: string) => void;
  /** True when stderr is a terminal, so progress bars may redraw in place. */
  interactive: boolean;
}

export interface Command {
  name: string;
  summary: string;
  /** Usage line after `radml <name>`, e.g. "<folder|manifest> --out <dir>". */
  usage: string;
  /** Longer help text: what it does, defaults, examples. */
  help?: string;
  options: Record<string, OptionSpec>;
  /** Returns the process exit code. */
  run(args: ParsedArgs, io: CommandIO): Promise<number>;
}

export interface ParsedArgs {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

export function parseCommandArgs(cmd: Command, argv: string[]): ParsedArgs {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {};
  for (const [k, o] of Object.entries(cmd.options)) {
    options[k] = { type: o.type };
    if (o.short) options[k].short = o.short;
    if (o.multiple) options[k].multiple = true;
  }
  options['help'] = { type: 'boolean', short: 'h' };
  try {
    const { values, positionals } = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
    const v = values as ParsedArgs['values'];
    for (const [k, o] of Object.entries(cmd.options)) if (v[k] === undefined && o.default !== undefined) v[k] = o.default;
    return { values: v, positionals };
  } catch (e) {
    throw new InputError('CLI_ARGS', `radml ${cmd.name}: ${(e as Error).message.replace(/\. To specify.*$/s, '')}\nSee \`radml ${cmd.name} --help\`.`);
  }
}

export function formatHelp(cmd: Command): string {
  const lines = [`radml ${cmd.name} ${cmd.usage}`.trimEnd(), '', cmd.summary];
  if (cmd.help) lines.push('', cmd.help.trim());
  const opts = Object.entries(cmd.options);
  if (opts.length) {
    lines.push('', 'Options:');
    const rows = opts.map(([k, o]) => {
      const flag = `${o.short ? `-${o.short}, ` : '    '}--${k}${o.type === 'string' ? ` ${o.arg ?? '<value>'}` : ''}`;
      const def = o.default !== undefined && o.default !== false ? ` (default: ${o.default})` : '';
      return [flag, o.description + def] as const;
    });
    const w = Math.max(...rows.map((r) => r[0].length)) + 2;
    for (const [f, d] of rows) lines.push(`  ${f.padEnd(w)}${d}`);
  }
  lines.push(`  ${'-h, --help'.padEnd(2)}  show this help`);
  return lines.join('\n');
}

/** Typed getters that turn bad flag values into clear errors. */
export function str(args: ParsedArgs, name: string): string | undefined {
  const v = args.values[name];
  if (v === undefined || typeof v === 'boolean') return undefined;
  return Array.isArray(v) ? v[v.length - 1] : v;
}

export function requireStr(args: ParsedArgs, name: string, cmd: string): string {
  const v = str(args, name);
  if (v === undefined || v === '') throw new InputError('CLI_ARGS', `radml ${cmd}: --${name} is required. See \`radml ${cmd} --help\`.`);
  return v;
}

export function num(args: ParsedArgs, name: string, opts: { integer?: boolean; min?: number; max?: number } = {}): number | undefined {
  const s = str(args, name);
  if (s === undefined) return undefined;
  const v = Number(s);
  if (!Number.isFinite(v) || (opts.integer && !Number.isInteger(v)))
    throw new InputError('CLI_ARGS', `--${name} must be ${opts.integer ? 'a whole number' : 'a number'}, got "${s}"`);
  if (opts.min !== undefined && v < opts.min) throw new InputError('CLI_ARGS', `--${name} must be at least ${opts.min}, got ${v}`);
  if (opts.max !== undefined && v > opts.max) throw new InputError('CLI_ARGS', `--${name} must be at most ${opts.max}, got ${v}`);
  return v;
}

export function bool(args: ParsedArgs, name: string): boolean {
  return args.values[name] === true;
}

/** Comma-separated list flag, e.g. `--groups sex,site`. */
export function list(args: ParsedArgs, name: string): string[] | undefined {
  const s = str(args, name);
  if (s === undefined) return undefined;
  return s.split(',').map((x) => x.trim()).filter((x) => x !== '');
}
