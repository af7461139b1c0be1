/** `radml label-reports`: rule-based labels (1/0/-1/blank) from free-text radiology reports. */
import { readCsv, writeCsv } from '../util/csv.js';
import { InputError } from '../util/errors.js';
import { DEFAULT_LEXICON, loadLexicon } from '../labels/lexicon.js';
import { compileLexicon, labelReportTable } from '../labels/report-labeller.js';
import { type Command, list, requireStr, str } from './lib/command.js';
import { progressBar } from './lib/progress-bar.js';

export const command: Command = {
  name: 'label-reports',
  summary: 'label free-text radiology reports (negation and uncertainty aware)',
  usage: '--in reports.csv --out labels.csv [--id-column id] [--text-columns findings,impression] [--lexicon extra.json] [--explain explanations.csv]',
  help: `
Reads a CSV of reports and writes one row per report: the id, then one column per finding with
1 (positive), 0 (negated), -1 (uncertain: "possible", "cannot be excluded", "question of") or blank
(not mentioned). Columns: the 14 ChestX-ray14 findings (Atelectasis, Cardiomegaly, Effusion,
Infiltration, Mass, Nodule, Pneumonia, Pneumothorax, Consolidation, Edema, Emphysema, Fibrosis,
Pleural_Thickening, Hernia), the other CheXpert observations (Enlarged_Cardiomediastinum,
Lung_Opacity, Lung_Lesion, Pleural_Other, Fracture, Support_Devices), then No_Finding (1 when no
pathology is positive or uncertain) and normal (1 when nothing abnormal at all is mentioned,
incidental findings and devices included).

Rules: a mention is negated or hedged by the nearest trigger before it in the same clause (scope
ends at sentence ends and at terminators such as "but", "however", "which", ";"), or by a trigger
shortly after it ("has resolved", "cannot be excluded"); negation wins over a hedge in the same
scope. "consistent with", "compatible with", "represents" and "X versus Y" count as positive;
"may", "possible", "suggestive of", "concerning for", "question of", "cannot be excluded" count as
uncertain. All mentions in all text columns are combined per finding: positive beats uncertain
beats negative. Anonymisation tokens such as XXXX are ordinary words (no sentence break, no mention).

--lexicon adds to or overrides the built-in lexicon with a JSON file, e.g.
  {"findings": {"Effusion": {"mentions": ["pleural fluid collection"]}},
   "negation": {"pre": ["no convincing"]}, "uncertainty": {"post": ["is not entirely excluded"]}}
Lists are appended; "replace": true on a finding or trigger set replaces it; "remove": ["Hernia"]
drops a finding; {"replaceAll": true, ...} supplies a complete lexicon.
--explain writes, per label, the sentence, mention and trigger that decided it.

Example:
  radml label-reports --in reports.csv --out labels.csv --explain why.csv`,
  options: {
    in: { type: 'string', arg: '<reports.csv>', description: 'CSV with an id column and report text columns' },
    out: { type: 'string', arg: '<labels.csv>', description: 'where to write the labels' },
    'id-column': { type: 'string', arg: '<name>', description: 'the id column', default: 'id' },
    'text-columns': { type: 'string', arg: '<a,b>', description: 'text columns (sections), comma-separated', default: 'findings,impression' },
    lexicon: { type: 'string', arg: '<file.json>', description: 'lexicon extension (or full lexicon) JSON' },
    explain: { type: 'string', arg: '<file.csv>', description: 'also write one explanation row per label', output: 'file' },
  },
  async run(args, io) {
    const input = requireStr(args, 'in', 'label-reports');
    const output = requireStr(args, 'out', 'label-reports');
    const idColumn = str(args, 'id-column') ?? 'id';
    const textColumns = list(args, 'text-columns') ?? ['findings', 'impression'];
    const lexiconFile = str(args, 'lexicon');
    const lexicon = lexiconFile ? loadLexicon(lexiconFile) : DEFAULT_LEXICON;
    let compiled;
    try {
      compiled = compileLexicon(lexicon);
    } catch (e) {
      throw new InputError('LEXICON_INVALID', `${lexiconFile ?? 'built-in lexicon'}: ${(e as Error).message}`, lexiconFile ? { file: lexiconFile } : {});
    }
    const table = readCsv(input);
    for (const col of [idColumn, ...textColumns])
      if (!table.header.includes(col)) throw new InputError('CSV_COLUMN', `${input}: no column "${col}" (columns: ${table.header.join(', ')})`, { file: input });
    const bar = progressBar(io);
    const explainFile = str(args, 'explain');
    const result = labelReportTable(compiled, table.rows, table.lines, { idColumn, textColumns, explain: explainFile !== undefined, onProgress: bar.callback });
    bar.stop();
    writeCsv(output, result.header, result.rows);
    if (explainFile) writeCsv(explainFile, ['id', 'finding', 'value', 'section', 'sentence', 'mention', 'trigger'], result.explanations.map((e) => ({ ...e })));
    for (const s of result.skipped.slice(0, 10)) io.err(`skipped line ${s.line}: ${s.reason}`);
    if (result.skipped.length > 10) io.err(`… and ${result.skipped.length - 10} more skipped rows`);
    const counts = compiled.columns
      .filter((c) => c !== 'No_Finding' && c !== 'normal')
      .map((c) => [c, result.rows.filter((r) => r[c] === 1).length] as const)
      .filter(([, n]) => n > 0)
      .map(([c, n]) => `${c} ${n}`);
    io.out(`labelled ${result.rows.length} report(s) (${result.skipped.length} skipped) with lexicon ${lexicon.name} → ${output}`);
    if (counts.length) io.out(`positives: ${counts.join(', ')}`);
    return result.skipped.length > 0 && result.rows.length === 0 ? 1 : 0;
  },
};
