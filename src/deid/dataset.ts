/**
 * A dataset folder (radml ingest) made safe to leave the site: its index and summary rewritten with
 * the site's keyed pseudonyms, without source paths. The cached pixels are untouched.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic, writeJsonAtomic } from '../util/atomic.js';
import { formatCsv, readCsv } from '../util/csv.js';
import { deidentifiedHeader, deidentifyRow } from './manifest.js';
import type { DeidOption } from './profile.js';
import type { Pseudonymiser } from './pseudonyms.js';

/**
 * @example deidentifyDatasetTables('ds', makePseudonymiser(readKeyFile('site.key').key), [])
 */
export function deidentifyDatasetTables(dir: string, pseudonyms: Pseudonymiser, options: readonly DeidOption[]): void {
  const index = readCsv(join(dir, 'index.csv'));
  const header = deidentifiedHeader(index.header);
  const rows = index.rows.map((r) => deidentifyRow(r, { pseudonyms, options, ...(r['sop_uid'] ? {} : { path: `deid/${r['cache_index'] ?? ''}` }) }));
  writeFileAtomic(join(dir, 'index.csv'), formatCsv(header, rows));
  const summaryFile = join(dir, 'summary.json');
  const summary = JSON.parse(readFileSync(summaryFile, 'utf8')) as { skipped?: { path?: string; reason?: string; code?: string }[]; source?: string };
  // Skip reasons name source files; only their number leaves the site.
  if (Array.isArray(summary.skipped)) summary.skipped = summary.skipped.map(() => ({ reason: 'skipped (details kept on site)' }));
  delete summary.source;
  writeJsonAtomic(summaryFile, summary);
  const datasetFile = join(dir, 'dataset.json');
  const dataset = JSON.parse(readFileSync(datasetFile, 'utf8')) as Record<string, unknown>;
  delete dataset['source'];
  dataset['deidentified'] = { options, tool: 'radml deidentify (PS3.15 Annex E pseudonyms)' };
  writeJsonAtomic(datasetFile, dataset);
}
