/** Typed errors. Library code throws these; only src/cli turns them into messages and exit codes. */

export class RadmlError extends Error {
  /** Stable machine-readable code, e.g. `MANIFEST_INVALID`, `DICOM_UNSUPPORTED`. */
  readonly code: string;
  /** The file the error is about, when there is one (never a patient identifier). */
  readonly file?: string;
  constructor(code: string, message: string, options: { file?: string; cause?: unknown } = {}) {
    super(message, options.cause !== undefined ? { cause: options.cause } : undefined);
    this.name = new.target.name;
    this.code = code;
    if (options.file !== undefined) this.file = options.file;
  }
}

/** Input the user gave us is wrong (bad manifest, bad flag value, unreadable file). */
export class InputError extends RadmlError {}

/** A file could be read but its format is not one radml handles (e.g. a DICOM without pixels). */
export class UnsupportedError extends RadmlError {}

/** One problem in a manifest cell, named by row (1-based, as in a spreadsheet incl. header), column and value. */
export interface ManifestIssue {
  row: number;
  column: string;
  value: string;
  message: string;
}

export class ManifestError extends InputError {
  readonly issues: ManifestIssue[];
  constructor(file: string, issues: ManifestIssue[]) {
    const shown = issues
      .slice(0, 10)
      .map((i) => `  row ${i.row}, column "${i.column}", value "${i.value}": ${i.message}`)
      .join('\n');
    const more = issues.length > 10 ? `\n  … and ${issues.length - 10} more` : '';
    super('MANIFEST_INVALID', `${file}: ${issues.length} problem(s) in the manifest:\n${shown}${more}`, { file });
    this.issues = issues;
  }
}

/** Message of any thrown value, for reports that must not crash on odd throws. */
export function errorMessage(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}
