/** `radml deidentify`: DICOM PS3.15 de-identification of a folder or manifest, with keyed pseudonyms. */
import { z } from 'zod';
import { readBlackoutConfig } from '../deid/burned-in.js';
import { parseOptions } from '../deid/profile.js';
import { readKeyFile } from '../deid/pseudonyms.js';
import { deidentifyFiles } from '../deid/run.js';
import { readTextLexicon } from '../deid/text.js';
import { readJsonWithSchema } from '../util/json.js';
import { InputError } from '../util/errors.js';
import { bool, type Command, list, requireStr, str } from './lib/command.js';
import { progressBar } from './lib/progress-bar.js';

const SafePrivateFileSchema = z.array(
  z.object({ creator: z.string().min(1), element: z.string().regex(/^(0x)?[0-9a-fA-F]{2}$/), group: z.string().regex(/^(0x)?[0-9a-fA-F]{4}$/).optional() }).strict(),
);

export const command: Command = {
  name: 'deidentify',
  summary: 'de-identify DICOM files (PS3.15 Basic Profile + options, keyed pseudonyms, burned-in text check)',
  usage: '<folder|manifest> --out <dir> [--profile basic] [--options a,b] [--key-file <secret>]',
  help: `
Applies the DICOM PS3.15 Basic Application Level Confidentiality Profile (Table E.1-1, edition
2024e) to every file: each listed attribute gets its action (D dummy, Z empty, X remove, K keep,
C clean, U new UID) at every depth of nested sequences; private attributes are removed unless
--options retain-safe-private keeps those on --safe-private; Patient ID and Patient's Name become a
keyed pseudonym; UIDs are replaced by keyed 2.25 UIDs, so references between studies, series,
instances and radml's SR/SC results stay intact and the same source UID maps to the same new UID
at every site and in every run holding the key; Pixel Data is copied byte for byte. Patient
Identity Removed, De-identification Method and its Code Sequence and Longitudinal Temporal
Information Modified are written as the standard asks.

Options (comma-separated): retain-safe-private, retain-uids, retain-device-identity,
retain-institution-identity, retain-patient-characteristics, retain-longitudinal-full-dates,
retain-longitudinal-dates (dates shifted per patient by a keyed offset of 1–3,650 days, so
intervals survive), clean-descriptors, clean-structured-content, clean-graphics.

Outputs in --out: dicom/<StudyUID>/<SOPInstanceUID>.dcm (source file names often carry names);
deid-log.csv (output file, attribute path, tag, keyword, action — never an original value);
burned-in-review.csv (images whose Burned In Annotation is YES or whose pixels look like text near
the borders: review them before release); manifest.csv for a manifest input (paths replaced,
patient_id and study_id pseudonymised, patient_name dropped); summary.json (counts, the options,
the key's fingerprint, and the skipped source files with reasons — keep it on site).

Without --key-file a new key is written to <out>/deid.key (mode 0600): keep it to link later runs;
the same key at another site gives the same pseudonyms.

Examples:
  openssl rand -hex 32 > site.key && chmod 600 site.key
  radml deidentify radml-demo/cohort/dicom --out deid --key-file site.key --options retain-longitudinal-dates`,
  options: {
    out: { type: 'string', arg: '<dir>', description: 'output folder', output: 'dir' },
    profile: { type: 'string', arg: '<name>', description: 'confidentiality profile (only "basic", Table E.1-1)', default: 'basic' },
    options: { type: 'string', arg: '<a,b>', description: 'profile options, comma-separated (see above)' },
    'key-file': { type: 'string', arg: '<file>', description: 'secret key for pseudonyms, UIDs and date shifts (≥ 16 bytes)' },
    'safe-private': { type: 'string', arg: '<file.json>', description: 'private attributes kept with retain-safe-private: [{"creator":"…","element":"10","group":"0019"}]' },
    lexicon: { type: 'string', arg: '<file.json>', description: 'names, institutions and patterns for cleaning text (clean-descriptors)' },
    blackout: { type: 'string', arg: '<file.json>', description: 'pixel regions to black out per manufacturer/model: {"rules":[{"manufacturer":"…","boxes":[[x,y,w,h]]}]}' },
    'no-pixel-check': { type: 'boolean', description: 'skip the burned-in text check on pixels (faster)' },
    columns: { type: 'string', arg: '<to=from,…>', description: "map a manifest's own column names, e.g. path=file,patient_id=mrn" },
  },
  async run(args, io) {
    const input = args.positionals[0];
    if (!input) throw new InputError('CLI_ARGS', 'give the folder or manifest to de-identify: radml deidentify <folder|manifest> --out <dir>');
    const out = requireStr(args, 'out', 'deidentify');
    const profile = str(args, 'profile') ?? 'basic';
    if (profile !== 'basic') throw new InputError('CLI_ARGS', `unknown profile "${profile}": radml implements the PS3.15 Basic Profile ("basic") with its options (--options)`);
    const options = parseOptions(str(args, 'options'));
    const keyFile = str(args, 'key-file');
    let key: Buffer | undefined;
    if (keyFile) {
      const k = readKeyFile(keyFile);
      key = k.key;
      if (k.worldReadable) io.err(`warning: ${keyFile} is readable by other users; chmod 600 it (whoever holds the key can recompute the pseudonyms)`);
    }
    const safeFile = str(args, 'safe-private');
    const safePrivate = safeFile
      ? readJsonWithSchema(safeFile, SafePrivateFileSchema, 'DEID_SAFE_PRIVATE').map((r) => ({
          creator: r.creator,
          element: parseInt(r.element.replace(/^0x/, ''), 16),
          ...(r.group ? { group: parseInt(r.group.replace(/^0x/, ''), 16) } : {}),
        }))
      : undefined;
    if (safePrivate && !options.includes('retain-safe-private')) io.err('warning: --safe-private is ignored without --options retain-safe-private');
    const lexiconFile = str(args, 'lexicon');
    const blackoutFile = str(args, 'blackout');
    const columns = list(args, 'columns');
    const bar = progressBar(io);
    const summary = await deidentifyFiles({
      input,
      out,
      options,
      ...(key ? { key } : {}),
      ...(safePrivate ? { safePrivate } : {}),
      ...(lexiconFile ? { lexicon: readTextLexicon(lexiconFile) } : {}),
      ...(blackoutFile ? { blackout: readBlackoutConfig(blackoutFile) } : {}),
      checkPixels: !bool(args, 'no-pixel-check'),
      ...(columns ? { columns: Object.fromEntries(columns.map((c) => c.split('=') as [string, string])) } : {}),
      onProgress: bar.callback,
    });
    bar.stop();
    for (const s of summary.skipped.slice(0, 10)) io.err(`skipped ${s.file}: ${s.reason}`);
    if (summary.skipped.length > 10) io.err(`… and ${summary.skipped.length - 10} more skipped (summary.json lists them)`);
    io.out(`de-identified ${summary.written} of ${summary.files} file(s) → ${out} (${summary.changes} attribute change(s); ${summary.skipped.length} skipped)`);
    if (summary.burnedIn.length) io.out(`${summary.burnedIn.length} image(s) may carry burned-in text: review ${out}/burned-in-review.csv before release`);
    if (summary.keyFile) io.out(`new key written to ${summary.keyFile} (mode 0600): keep it on site to link later runs`);
    return summary.written === 0 && summary.files > 0 ? 1 : 0;
  },
};
