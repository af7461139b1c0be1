/** `radml deidentify-reports`: remove names, dates, identifiers, contacts and institutions from report text. */
import { readKeyFile, makePseudonymiser } from '../deid/pseudonyms.js';
import { makeTextScrubber, readTextLexicon } from '../deid/text.js';
import { readCsv, writeCsv } from '../util/csv.js';
import { InputError } from '../util/errors.js';
import { type Command, list, requireStr, str } from './lib/command.js';
import { progressBar } from './lib/progress-bar.js';

export const command: Command = {
  name: 'deidentify-reports',
  summary: 'de-identify free-text reports (names, dates, IDs, phones, addresses, institutions)',
  usage: '--in reports.csv --out deid.csv [--text-columns findings,impression] [--lexicon extra.json] [--id-columns id --key-file <secret>]',
  help: `
Rewrites the text columns of a reports CSV: person names (after titles such as "Dr.", before
degrees such as "MD", after "signed by", "discussed with", "called to" …), dates in numeric and
written forms, record/accession/ID numbers and long digit runs, phone and pager numbers, e-mail
and web addresses, street addresses and ZIP codes, institution names and ages over 89 become
bracketed tags ([NAME], [DATE], [ID], [PHONE], [EMAIL], [URL], [ADDRESS], [INSTITUTION], [AGE]), so
sentences, negations and section cues stay as they were and the report labeller reads them as
before. Other columns are copied, except those named by --id-columns, which become keyed
pseudonyms (the same as radml deidentify gives with the same --key-file).

--lexicon adds names, institutions and patterns, e.g.
  {"names": ["Okafor"], "institutions": ["Riverside"], "patterns": [{"regex": "\\\\bBed \\\\d+", "replace": "[ID]"}]}

Example:
  radml deidentify-reports --in reports.csv --out reports-deid.csv --id-columns accession --key-file site.key`,
  options: {
    in: { type: 'string', arg: '<reports.csv>', description: 'CSV with report text columns' },
    out: { type: 'string', arg: '<file.csv>', description: 'where to write the de-identified CSV' },
    'text-columns': { type: 'string', arg: '<a,b>', description: 'columns of free text', default: 'findings,impression' },
    'id-columns': { type: 'string', arg: '<a,b>', description: 'identifier columns to replace by keyed pseudonyms (needs --key-file)' },
    'key-file': { type: 'string', arg: '<file>', description: 'secret key for pseudonyms (as for radml deidentify)' },
    lexicon: { type: 'string', arg: '<file.json>', description: 'extra names, institutions and patterns' },
  },
  async run(args, io) {
    const input = requireStr(args, 'in', 'deidentify-reports');
    const output = requireStr(args, 'out', 'deidentify-reports');
    const textColumns = list(args, 'text-columns') ?? ['findings', 'impression'];
    const idColumns = list(args, 'id-columns') ?? [];
    const keyFile = str(args, 'key-file');
    if (idColumns.length && !keyFile) throw new InputError('CLI_ARGS', '--id-columns needs --key-file: pseudonyms must come from a key kept on site');
    const pseudonyms = keyFile ? makePseudonymiser(readKeyFile(keyFile).key) : undefined;
    const lexiconFile = str(args, 'lexicon');
    const scrubber = makeTextScrubber(lexiconFile ? readTextLexicon(lexiconFile) : {});
    const table = readCsv(input);
    for (const c of [...textColumns, ...idColumns])
      if (!table.header.includes(c)) throw new InputError('CSV_COLUMN', `${input}: no column "${c}" (columns: ${table.header.join(', ')})`, { file: input });
    const bar = progressBar(io);
    const totals: Record<string, number> = {};
    const rows = table.rows.map((row, i) => {
      if (i % 500 === 0) bar.callback({ stage: 'deidentify-reports', done: i, total: table.rows.length });
      const next = { ...row };
      for (const c of textColumns) {
        const r = scrubber.scrub(row[c] ?? '');
        next[c] = r.text;
        for (const [k, n] of Object.entries(r.counts)) totals[k] = (totals[k] ?? 0) + (n ?? 0);
      }
      for (const c of idColumns) next[c] = row[c] ? pseudonyms!.patient(`${c}:${row[c]}`) : '';
      return next;
    });
    bar.callback({ stage: 'deidentify-reports', done: table.rows.length, total: table.rows.length });
    bar.stop();
    writeCsv(output, table.header, rows);
    const summary = Object.entries(totals).map(([k, n]) => `${k} ${n}`).join(', ');
    io.out(`de-identified ${rows.length} report(s) → ${output}${summary ? ` (replaced: ${summary})` : ' (nothing to replace)'}`);
    return 0;
  },
};
