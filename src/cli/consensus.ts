/** `radml consensus`: agreement statistics and consensus labels from several readers. */
import { readCsv, writeCsv } from '../util/csv.js';
import { writeJsonAtomic } from '../util/atomic.js';
import { InputError } from '../util/errors.js';
import { parseReaderTable, type ReaderFormat } from '../labels/readers.js';
import { buildConsensus } from '../labels/consensus-report.js';
import type { ConsensusMethod } from '../labels/consensus.js';
import { type Command, list, num, requireStr, str } from './lib/command.js';
import { progressBar } from './lib/progress-bar.js';

const fmt = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : 'n/a');

export const command: Command = {
  name: 'consensus',
  summary: 'reader agreement (kappa, alpha) and consensus labels (majority, Dawid–Skene, soft)',
  usage: '--in readers.csv --out consensus.csv [--format long|wide] [--method majority|dawid-skene|soft] [--stats stats.json]',
  help: `
Input layouts (1 / 0 / -1 uncertain / blank = not read):
  long  one row per case and reader: id,reader,Effusion,Nodule,...   (other columns, e.g. path, are
        carried to the output from each case's first row)
  wide  one row per case: id,Effusion__r1,Effusion__r2,Nodule__r1,...  (finding, two underscores, reader)
The layout is detected (a "reader" column means long) unless --format is given.

Agreement per finding on the 1/0 reads: Cohen's kappa for each reader pair, Fleiss' kappa,
Krippendorff's alpha (nominal), each with a percentile bootstrap 95% CI over cases (seeded).

Consensus per finding (-1 and blank reads count as no read):
  majority     more 1 than 0 → 1, more 0 → 0, tie → -1; soft_ = fraction of 1 votes
  dawid-skene  EM estimate of each reader's sensitivity and specificity and the prevalence;
               label = posterior ≥ 0.5, soft_ = posterior P(present)   (default)
  soft         soft_ = vote fraction; label 1/0 only when unanimous, else -1
The output CSV (id, carried columns, one column per finding, soft_<finding>) is a training manifest
once it has a path column. The stats JSON holds the agreement statistics and reader estimates.`,
  options: {
    in: { type: 'string', arg: '<readers.csv>', description: 'per-reader labels (long or wide)' },
    out: { type: 'string', arg: '<consensus.csv>', description: 'consensus labels' },
    format: { type: 'string', arg: '<long|wide>', description: 'input layout (default: detected)' },
    method: { type: 'string', arg: '<name>', description: 'majority, dawid-skene or soft', default: 'dawid-skene' },
    stats: { type: 'string', arg: '<stats.json>', description: 'agreement and reader estimates (default: <out>.json)', output: 'file' },
    findings: { type: 'string', arg: '<a,b>', description: 'finding columns to use (default: all 1/0/-1 columns)' },
    'id-column': { type: 'string', arg: '<name>', description: 'case id column', default: 'id' },
    bootstrap: { type: 'string', arg: 'N', description: 'bootstrap resamples for the CIs', default: '1000' },
    seed: { type: 'string', arg: 'N', description: 'bootstrap seed', default: '1' },
  },
  async run(args, io) {
    const input = requireStr(args, 'in', 'consensus');
    const output = requireStr(args, 'out', 'consensus');
    const method = str(args, 'method') ?? 'dawid-skene';
    if (!['majority', 'dawid-skene', 'soft'].includes(method)) throw new InputError('CLI_ARGS', `--method must be majority, dawid-skene or soft, got "${method}"`);
    const format = str(args, 'format');
    if (format !== undefined && format !== 'long' && format !== 'wide') throw new InputError('CLI_ARGS', `--format must be long or wide, got "${format}"`);
    const findings = list(args, 'findings');
    const table = parseReaderTable(readCsv(input), {
      file: input,
      idColumn: str(args, 'id-column') ?? 'id',
      ...(format ? { format: format as ReaderFormat } : {}),
      ...(findings ? { findings } : {}),
    });
    const bar = progressBar(io);
    const result = buildConsensus(table, {
      method: method as ConsensusMethod,
      resamples: num(args, 'bootstrap', { integer: true, min: 0 }) ?? 1000,
      seed: num(args, 'seed', { integer: true }) ?? 1,
      onProgress: bar.callback,
    });
    bar.stop();
    writeCsv(output, result.header, result.rows);
    const statsFile = str(args, 'stats') ?? output.replace(/\.csv$/i, '') + '.json';
    writeJsonAtomic(statsFile, result.stats);
    io.out(`${table.ids.length} case(s), ${table.readers.length} reader(s), ${table.findings.length} finding(s); method ${method} → ${output}, ${statsFile}`);
    for (const [f, s] of Object.entries(result.stats.findings)) {
      const a = s.agreement;
      io.out(`${f}: Fleiss κ ${fmt(a.fleiss.value)} [${fmt(a.fleiss.ci.lower)}, ${fmt(a.fleiss.ci.upper)}], Krippendorff α ${fmt(a.krippendorff.value)} [${fmt(a.krippendorff.ci.lower)}, ${fmt(a.krippendorff.ci.upper)}]`);
      if (s.readers)
        io.out(`  ${Object.entries(s.readers).map(([r, e]) => `${r}: sens ${fmt(e.sensitivity)} spec ${fmt(e.specificity)} (${e.reads} reads)`).join('; ')}`);
    }
    return 0;
  },
};
