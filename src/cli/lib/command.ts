/** What one CLI subcommand file exports. main.ts finds commands by file name in src/cli/. */
import { parseArgs } from 'node:util';
import { InputError } from '../../util/errors.js';
import { didYouMean } from '../../util/suggest.js';

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  /** Shown in --help, e.g. "number of images". */
  description: string;
  /** Placeholder in --help, e.g. "N" or "<dir>". */
  arg?: string;
  default?: string | boolean;
  multiple?: boolean;
  /**
   * The option names something the command writes: checked before any work starts (see outputs.ts).
   * `--out` is an output without saying so: a folder when its placeholder mentions "dir", else a file.
   * 'checked-by-command': the kind depends on the subcommand, which checks it itself (checkOutputPath).
   */
  output?: 'file' | 'dir' | 'checked-by-command';
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
  /** Options the user wrote (values also holds defaults); see `given`. */
  given?: string[];
}

/** Did the user write this option (rather than it holding its default)? */
export function given(args: ParsedArgs, name: string): boolean {
  return args.given ? args.given.includes(name) : args.values[name] !== undefined;
}

/**
 * The parser's option table: the command's options, `--help`, and `-o` for `--out` on every command
 * that has an `--out` (unless the command already uses `-o` for something else).
 */
export function optionTable(cmd: Command): Record<string, OptionSpec> {
  const t: Record<string, OptionSpec> = { ...cmd.options };
  const shorts = new Set(Object.values(t).map((o) => o.short).filter(Boolean));
  if (t['out'] && !t['out'].short && !shorts.has('o')) t['out'] = { ...t['out'], short: 'o' };
  t['help'] = { type: 'boolean', short: 'h', description: 'show this help' };
  return t;
}

const argsError = (cmd: Command, message: string) => new InputError('CLI_ARGS', `${message}\nSee \`radml ${cmd.name} --help\`.`);

/** A value that is a number, so `--epochs -3` reaches the number check instead of being read as an option. */
const NUMBER_LIKE = /^-(\d|\.\d)/;

/**
 * Check the argument list against the command's options before node:util's parser sees it, so every
 * mistake gets a plain message (unknown flag with a "did you mean", missing value, a switch given a
 * value) and negative numbers reach the number validation.
 */
function normaliseArgv(cmd: Command, table: Record<string, OptionSpec>, argv: string[]): string[] {
  const longs = Object.keys(table);
  const byShort = new Map(Object.entries(table).filter(([, o]) => o.short).map(([k, o]) => [o.short!, k] as const));
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      out.push(...argv.slice(i));
      break;
    }
    let name: string | undefined;
    let inline = false;
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      name = eq < 0 ? a.slice(2) : a.slice(2, eq);
      inline = eq >= 0;
      if (!table[name]) throw argsError(cmd, `unknown option --${name}${didYouMean(name, longs, (c) => `--${c}`)}`);
    } else if (a.length > 1 && a.startsWith('-') && !NUMBER_LIKE.test(a)) {
      const letter = a[1]!;
      // "-out" is almost always a mistyped "--out", not "-o ut".
      if (a.length > 2 && table[a.slice(1).split('=')[0]!]) throw argsError(cmd, `unknown option ${a} (did you mean --${a.slice(1).split('=')[0]}?)`);
      name = byShort.get(letter);
      if (!name) throw argsError(cmd, `unknown option -${letter}${didYouMean(a.slice(1), longs, (c) => `--${c}`)}`);
      inline = a.length > 2;
      if (inline && table[name]!.type === 'boolean') throw argsError(cmd, `unknown option ${a}; short switches cannot be combined`);
    }
    if (name === undefined) {
      out.push(a);
      continue;
    }
    const spec = table[name]!;
    const flag = a.startsWith('--') ? `--${name}` : `-${spec.short}`;
    if (spec.type === 'boolean') {
      if (inline) throw argsError(cmd, `--${name} is a switch and takes no value (got "${a}")`);
      out.push(a);
      continue;
    }
    if (inline) {
      out.push(a);
      continue;
    }
    const next = argv[i + 1];
    if (next === undefined || (next.startsWith('-') && next !== '-' && !NUMBER_LIKE.test(next))) {
      throw argsError(cmd, `${flag} needs a value${spec.arg ? ` ${spec.arg}` : ''}${next === undefined ? '' : `, got the option ${next} (write --${name}=<value> for a value that starts with "-")`}`);
    }
    out.push(`--${name}=${next}`);
    i++;
  }
  return out;
}

export function parseCommandArgs(cmd: Command, argv: string[]): ParsedArgs {
  const table = optionTable(cmd);
  const options: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {};
  for (const [k, o] of Object.entries(table)) {
    options[k] = { type: o.type };
    if (o.short) options[k].short = o.short;
    if (o.multiple) options[k].multiple = true;
  }
  const normalised = normaliseArgv(cmd, table, argv);
  try {
    const { values, positionals } = parseArgs({ args: normalised, options, allowPositionals: true, strict: true });
    const v = values as ParsedArgs['values'];
    const written = Object.keys(v).filter((k) => v[k] !== undefined);
    for (const [k, o] of Object.entries(cmd.options)) if (v[k] === undefined && o.default !== undefined) v[k] = o.default;
    return { values: v, positionals, given: written };
  } catch (e) {
    // Only what normaliseArgv does not catch reaches here; keep node's wording but not its hints.
    throw argsError(cmd, (e as Error).message.replace(/\. To specify.*$/s, '').split('\n')[0]!);
  }
}

export function formatHelp(cmd: Command): string {
  const lines = [`radml ${cmd.name} ${cmd.usage}`.trimEnd(), '', cmd.summary];
  if (cmd.help) lines.push('', cmd.help.trim());
  const opts = Object.entries(optionTable(cmd)).filter(([k]) => k !== 'help');
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
  if (v === undefined || v === '') throw new InputError('CLI_ARGS', `--${name} is required. See \`radml ${cmd} --help\`.`);
  return v;
}

/** Decimal numbers only: "0x1F", "1e", "" and " " are not numbers a user means. */
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

export interface NumberRule {
  integer?: boolean;
  /** Inclusive bounds. */
  min?: number;
  max?: number;
  /** Exclusive bounds (e.g. a learning rate above 0, a fraction below 1). */
  above?: number;
  below?: number;
}

/**
 * A number flag checked against its rule, with a message naming the flag, the rule and the value.
 *
 * @example num(args, 'epochs', { integer: true, min: 1 }) // `--epochs -3` → "--epochs must be at least 1, got -3"
 */
export function num(args: ParsedArgs, name: string, opts: NumberRule = {}): number | undefined {
  const s = str(args, name);
  if (s === undefined) return undefined;
  const v = DECIMAL.test(s.trim()) ? Number(s) : NaN;
  if (!Number.isFinite(v) || (opts.integer && !Number.isInteger(v)))
    throw new InputError('CLI_ARGS', `--${name} must be ${opts.integer ? 'a whole number' : 'a number'}, got "${s}"`);
  if (opts.min !== undefined && v < opts.min) throw new InputError('CLI_ARGS', `--${name} must be at least ${opts.min}, got ${v}`);
  if (opts.max !== undefined && v > opts.max) throw new InputError('CLI_ARGS', `--${name} must be at most ${opts.max}, got ${v}`);
  if (opts.above !== undefined && v <= opts.above) throw new InputError('CLI_ARGS', `--${name} must be greater than ${opts.above}, got ${v}`);
  if (opts.below !== undefined && v >= opts.below) throw new InputError('CLI_ARGS', `--${name} must be less than ${opts.below}, got ${v}`);
  return v;
}

/**
 * A flag that takes one of a few words, with a "did you mean" for near misses.
 *
 * @example choice(args, 'arch', ['cnn', 'resnet']) // `--arch resnt` → "--arch must be cnn or resnet, got "resnt" (did you mean resnet?)"
 */
export function choice<T extends string>(args: ParsedArgs, name: string, allowed: readonly T[]): T | undefined {
  const s = str(args, name);
  if (s === undefined) return undefined;
  if ((allowed as readonly string[]).includes(s)) return s as T;
  const list = allowed.length <= 2 ? allowed.join(' or ') : `${allowed.slice(0, -1).join(', ')} or ${allowed[allowed.length - 1]}`;
  throw new InputError('CLI_ARGS', `--${name} must be ${list}, got "${s}"${didYouMean(s, allowed)}`);
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
