// Development helper: score the default lexicon on the IU reports (dev part by default; `--heldout` for the 30%).
// `--show Finding` prints disagreements on the dev part with the deciding sentence and trigger.
import { resolve } from 'node:path';
import { readCsv } from '../../src/util/csv.js';
import { compileLexicon, labelReport } from '../../src/labels/report-labeller.js';
import { scorePositives, isDevelopmentId } from '../../src/labels/scoring.js';
import { CHESTXRAY14_FINDINGS } from '../../src/labels/lexicon.js';

const dir = resolve('..', 'shared', 'data', 'iu-reports');
const reports = readCsv(resolve(dir, 'reports.csv')).rows;
const labels = new Map(readCsv(resolve(dir, 'labels.csv')).rows.map((r) => [r['filename']!, r]));
const heldout = process.argv.includes('--heldout');
const showIdx = process.argv.indexOf('--show');
const show = showIdx >= 0 ? process.argv[showIdx + 1] : undefined;
const c = compileLexicon();
const pred: Record<string, 1 | 0 | -1 | null>[] = [];
const ref: Record<string, 1 | 0 | -1 | null>[] = [];
const cols = [...CHESTXRAY14_FINDINGS, 'normal'];
for (const r of reports) {
  if (isDevelopmentId(r['id']!) === heldout) continue;
  const out = labelReport(c, { findings: r['findings'], impression: r['impression'] });
  const l = labels.get(r['id']!)!;
  const rr: Record<string, 1 | 0 | -1 | null> = {};
  for (const f of cols) rr[f] = l[f] === '1' ? 1 : 0;
  pred.push(out.values);
  ref.push(rr);
  if (show && !heldout) {
    const p = out.values[show];
    if ((p === 1) !== (rr[show] === 1)) {
      const e = out.explanations.find((x) => x.finding === show);
      console.log(`${rr[show] === 1 ? 'FN' : 'FP'} pred=${p} | ${e ? `[${e.section}] "${e.sentence}" m=${e.mention} t=${e.trigger}` : ''}\n     F: ${r['findings']}\n     I: ${r['impression']}`);
    }
  }
}
for (const unc of [false, true]) {
  for (const set of [cols, [...CHESTXRAY14_FINDINGS]]) {
    const s = scorePositives(pred, ref, set, { uncertainAsPositive: unc });
    if (show || unc || set.length !== cols.length) continue;
    console.log(`${heldout ? 'HELD-OUT' : 'DEV'} n=${pred.length} uncertainAsPositive=${unc} ${set.length} cols`);
    for (const f of s.perFinding) console.log(`  ${f.finding.padEnd(20)} sup=${String(f.support).padStart(4)} tp=${String(f.truePositives).padStart(4)} fp=${String(f.falsePositives).padStart(4)} fn=${String(f.falseNegatives).padStart(4)} P=${f.precision.toFixed(3)} R=${f.recall.toFixed(3)} F1=${f.f1.toFixed(3)}`);
    console.log(`  MICRO P=${s.micro.precision.toFixed(3)} R=${s.micro.recall.toFixed(3)} F1=${s.micro.f1.toFixed(3)}`);
  }
  const s = scorePositives(pred, ref, cols, { uncertainAsPositive: unc });
  const s14 = scorePositives(pred, ref, [...CHESTXRAY14_FINDINGS], { uncertainAsPositive: unc });
  console.log(`uncAsPos=${unc} micro15 F1=${s.micro.f1.toFixed(4)} (P ${s.micro.precision.toFixed(3)} R ${s.micro.recall.toFixed(3)})  micro14 F1=${s14.micro.f1.toFixed(4)} (P ${s14.micro.precision.toFixed(3)} R ${s14.micro.recall.toFixed(3)})`);
}

// How the expert labels treat hedged mentions and "chronic/old/healed/stable/no change" wording (dev part only):
// for each mention category, the share of (report, finding) pairs the experts coded positive.
if (process.argv.includes('--conventions')) {
  const cats: Record<string, { n: number; pos: number }> = {};
  const bump = (k: string, p: boolean) => {
    cats[k] ??= { n: 0, pos: 0 };
    cats[k].n++;
    if (p) cats[k].pos++;
  };
  for (const r of reports) {
    if (!isDevelopmentId(r['id']!)) continue;
    const out = labelReport(c, { findings: r['findings'], impression: r['impression'] });
    const l = labels.get(r['id']!)!;
    for (const e of out.explanations) {
      if (!(CHESTXRAY14_FINDINGS as readonly string[]).includes(e.finding) || e.finding === 'Hernia') continue;
      const p = l[e.finding] === '1';
      bump(`value ${e.value}${e.value === -1 ? ` (${e.trigger.toLowerCase()})` : ''}`, p);
      if (e.value === 1) {
        const s = e.sentence.toLowerCase();
        for (const w of ['chronic', 'old', 'healed', 'stable', 'unchanged', 'no change', 'again', 'redemonstrat', 'residual', 'resolving', 'improv', 'consistent with', 'compatible with', 'versus', 'likely', 'probabl', 'xxxx'])
          if (new RegExp(`\\b${w}`).test(s)) bump(`positive, sentence has "${w}"`, p);
      }
    }
  }
  for (const [k, v] of Object.entries(cats).sort((a, b) => b[1].n - a[1].n)) if (v.n >= 3) console.log(`${k.padEnd(45)} n=${String(v.n).padStart(4)} expert-positive ${(v.pos / v.n).toFixed(2)}`);
}
