// Report-labeller throughput on one core over the IU chest X-ray reports (../shared/data/iu-reports).
// Repeats the whole corpus until at least 2 s have passed, with and without explanations.
// The machine is shared with other engineers working at the same time: numbers are noisy.
// Run: node --import tsx bench/label-reports/run.ts
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { readCsv } from '../../src/util/csv.js';
import { compileLexicon, labelReport } from '../../src/labels/report-labeller.js';

const file = resolve('..', 'shared', 'data', 'iu-reports', 'reports.csv');
if (!existsSync(file)) {
  console.log(`skipped: ${file} is absent`);
  process.exit(0);
}
const reports = readCsv(file).rows.map((r) => ({ findings: r['findings'] ?? '', impression: r['impression'] ?? '' }));
const c = compileLexicon();
for (const explain of [false, true]) {
  // Warm up the regex JIT.
  for (const r of reports) labelReport(c, r, explain);
  let n = 0;
  let positives = 0;
  const t0 = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  let elapsed = 0;
  while (elapsed < 2) {
    for (const r of reports) {
      const v = labelReport(c, r, explain).values;
      if (v['Cardiomegaly'] === 1) positives++;
    }
    n += reports.length;
    elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
  }
  const cpu = process.cpuUsage(cpu0);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  console.log(
    `explanations ${explain ? 'on ' : 'off'}: ${n} reports in ${elapsed.toFixed(2)} s wall = ${Math.round(n / elapsed)} reports/s; ` +
      `${Math.round(n / cpuSeconds)} reports per CPU-second (one thread; ${c.columns.length} columns; aim ≥ 5,000) [checksum ${positives}]`,
  );
}
