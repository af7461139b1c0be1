/** Reading JSON files that users or earlier runs wrote: one error shape naming the file and the reason. */
import { readFileSync } from 'node:fs';
import type { z } from 'zod';
import { InputError } from './errors.js';

/**
 * Parse a JSON file; unreadable or malformed files throw InputError(`code`) naming the file.
 * @example const raw = readJsonFile('serve.json', 'CONFIG_INVALID');
 */
export function readJsonFile(file: string, code: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new InputError(code, `${file}: not valid JSON (${(e as Error).message})`, { file, cause: e });
  }
}

/** `path.to.field: message` for the first few problems of a failed zod parse. */
export function describeZodIssues(error: z.ZodError, max = 5): string {
  return error.issues.slice(0, max).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
}

/**
 * Parse a JSON file and validate it with a zod schema; the error names the file, the field and the
 * problem, plus an optional hint on where the format is documented.
 * @example const meta = readJsonWithSchema('model/model.json', modelJsonSchema, 'MODEL_CORRUPT');
 */
export function readJsonWithSchema<S extends z.ZodType>(file: string, schema: S, code: string, hint?: string): z.infer<S> {
  const r = schema.safeParse(readJsonFile(file, code));
  if (!r.success) throw new InputError(code, `${file}: ${describeZodIssues(r.error)}${hint ? ` — ${hint}` : ''}`, { file });
  return r.data;
}
