/**
 * Checking where a command will write before it does any work, so a wrong `--out` fails in the
 * first second with a plain message rather than as a stack trace after an epoch of training.
 */
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { InputError } from '../../util/errors.js';
import { type Command, optionTable, type ParsedArgs, str } from './command.js';

/** The output kind of each option that writes something (see OptionSpec.output). */
export function outputOptions(cmd: Command): Record<string, 'file' | 'dir'> {
  const out: Record<string, 'file' | 'dir'> = {};
  for (const [k, o] of Object.entries(optionTable(cmd))) {
    if (o.type !== 'string') continue;
    if (o.output === 'checked-by-command') continue;
    if (o.output) out[k] = o.output;
    else if (k === 'out') out[k] = /dir/i.test(o.arg ?? '') ? 'dir' : 'file';
  }
  return out;
}

/** The nearest existing ancestor of `path` (or the path itself). */
function existingAncestor(path: string): string {
  let p = resolve(path);
  while (!existsSync(p)) {
    const up = dirname(p);
    if (up === p) break;
    p = up;
  }
  return p;
}

function writable(p: string): boolean {
  try {
    accessSync(p, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Throw an InputError when `path` cannot be written as a `kind`: a folder where a file is wanted or
 * the reverse, a file standing where a parent folder must be created, or no write permission.
 *
 * @example checkOutputPath('models/covid', 'dir', '--out') // throws if models/covid is a file
 */
export function checkOutputPath(path: string, kind: 'file' | 'dir', flag: string): void {
  const p = resolve(path);
  if (existsSync(p)) {
    const isDir = statSync(p).isDirectory();
    if (kind === 'dir' && !isDir) throw new InputError('CLI_ARGS', `${flag} ${path}: a file of that name exists; ${flag} needs a folder (choose another name or remove the file)`, { file: path });
    if (kind === 'file' && isDir) throw new InputError('CLI_ARGS', `${flag} ${path}: that is a folder; ${flag} needs a file name (e.g. ${path.replace(/\/+$/, '')}/out.csv)`, { file: path });
    if (!writable(p)) throw new InputError('CLI_ARGS', `${flag} ${path}: not writable (permission denied)`, { file: path });
    return;
  }
  const anc = existingAncestor(dirname(p));
  if (!statSync(anc).isDirectory()) throw new InputError('CLI_ARGS', `${flag} ${path}: ${anc} is a file, so the folder cannot be created`, { file: path });
  if (!writable(anc)) throw new InputError('CLI_ARGS', `${flag} ${path}: cannot create it in ${anc} (permission denied)`, { file: path });
}

/** Check every output option the user gave (see outputOptions). */
export function checkOutputs(cmd: Command, args: ParsedArgs): void {
  for (const [k, kind] of Object.entries(outputOptions(cmd))) {
    const v = str(args, k);
    if (v !== undefined && v !== '') checkOutputPath(v, kind, `--${k}`);
  }
}
