/** `radml label-audit`: rank likely label errors from out-of-fold predictions (confident learning). */
import { readCsv, writeCsv } from '../util/csv.js';
import { InputError } from '../util/errors.js';
import { auditPredictions } from '../labels/label-audit.js';
import type { RankBy } from '../labels/confident-learning.js';
import { type Command, requireStr, str } from './lib/command.js';

export const command: Command = {
  name: 'label-audit',
  summary: 'rank likely mislabelled cases from out-of-fold predictions (confident learning)',
  usage: '--predictions oof.csv --out review.csv [--label label] [--positive class] [--rank-by self-confidence|normalized-margin]',
  help: `
The predictions MUST be out-of-fold: each case scored by a model that never trained on it (e.g.
k-fold cross-validation). In-sample scores have memorised the labels, including the wrong ones.

Input: the predictions contract (the manifest's columns plus score_<class>).
  categorical  a label column (--label, default "label") and score_<class> for every class; with a
               single score_<positive> column (or --positive) the audit is binary
  multi-label  without a label column, every finding column F with a score_F column is audited on
               its 1/0 labels (-1 and blank are skipped)

Method (Northcutt et al., JAIR 2021): per-class thresholds = mean self-confidence, the confident
joint, prune by noise rate, then rank the flagged cases by self-confidence (default) or normalised
margin, most suspicious first. The review list has rank, id (id/path/study_id), the audited column,
the given and suggested label, self-confidence, margin and the scores.`,
  options: {
    predictions: { type: 'string', arg: '<oof.csv>', description: 'out-of-fold predictions CSV' },
    out: { type: 'string', arg: '<review.csv>', description: 'ranked review list' },
    label: { type: 'string', arg: '<column>', description: 'categorical label column (default: "label" when present)' },
    positive: { type: 'string', arg: '<class>', description: 'positive class of a binary label with one score column' },
    'rank-by': { type: 'string', arg: '<how>', description: 'self-confidence or normalized-margin', default: 'self-confidence' },
    'id-column': { type: 'string', arg: '<name>', description: 'id column (default: id, path, study_id or patient_id)' },
  },
  async run(args, io) {
    const input = requireStr(args, 'predictions', 'label-audit');
    const output = requireStr(args, 'out', 'label-audit');
    const rankBy = str(args, 'rank-by') ?? 'self-confidence';
    if (rankBy !== 'self-confidence' && rankBy !== 'normalized-margin') throw new InputError('CLI_ARGS', `--rank-by must be self-confidence or normalized-margin, got "${rankBy}"`);
    const label = str(args, 'label');
    const positive = str(args, 'positive');
    const idColumn = str(args, 'id-column');
    const r = auditPredictions(readCsv(input), {
      file: input,
      rankBy: rankBy as RankBy,
      ...(label ? { label } : {}),
      ...(positive ? { positive } : {}),
      ...(idColumn ? { idColumn } : {}),
    });
    writeCsv(output, r.header, r.rows.map((x) => ({ ...x })));
    for (const s of r.skipped.slice(0, 10)) io.err(`skipped line ${s.line}: ${s.reason}`);
    if (r.skipped.length > 10) io.err(`… and ${r.skipped.length - 10} more skipped rows`);
    for (const s of r.summary) io.out(`${s.column}: ${s.examples} examples, ${s.flagged} flagged for review (estimated label errors ${s.estimatedErrors})`);
    io.out(`${r.rows.length} case(s) to review → ${output}`);
    return 0;
  },
};
