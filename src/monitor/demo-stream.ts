/**
 * The demo's production stream (radml demo, monitoring stage): the reference is the held-out (val)
 * studies of every site but the distinct one; the stream replays the test studies of the other
 * sites in a seeded random order and, from `onset` on, mixes in the distinct site — a new
 * manufacturer with a sicker case mix, so a new site appears mid-way and prevalence shifts.
 */
import { dirname, join } from 'node:path';
import { readManifest } from '../data/manifest.js';
import { formatCsv } from '../util/csv.js';
import { writeFileAtomic } from '../util/atomic.js';
import { Rng } from '../util/rng.js';

/**
 * Write `monitor-reference.csv` and `monitor-stream.csv` beside the split manifest (or say why not).
 * @example const s = writeDemoStream('radml-demo/cohort/manifest-split.csv', 'site_D', 1);
 */
export function writeDemoStream(splitManifest: string, newSite: string, seed: number): { reference: string; stream: string; onset: number; rows: number } | { skipped: string } {
  const m = readManifest(splitManifest);
  const cols = m.header;
  const rows = m.records.map((r) => r.columns);
  const rng = new Rng(`demo-monitor:${seed}`);
  const ref = rows.filter((r) => r['split'] === 'val' && r['site'] !== newSite);
  const known = rng.shuffle(rows.filter((r) => r['split'] === 'test' && r['site'] !== newSite));
  const fresh = rng.shuffle(rows.filter((r) => r['split'] !== 'val' && r['site'] === newSite));
  if (ref.length < 20 || known.length < 40 || fresh.length < 10) return { skipped: `too few studies for the monitoring stage (reference ${ref.length}, stream ${known.length} + ${fresh.length} from ${newSite}); use a larger --n` };
  const onset = Math.floor(known.length * 0.6);
  const after = rng.shuffle([...known.slice(onset), ...fresh.slice(0, Math.round((known.length - onset) * 0.8))]);
  const stream = [...known.slice(0, onset), ...after];
  const dir = dirname(splitManifest);
  const reference = join(dir, 'monitor-reference.csv');
  const streamFile = join(dir, 'monitor-stream.csv');
  writeFileAtomic(reference, formatCsv(cols, ref));
  writeFileAtomic(streamFile, formatCsv(cols, stream));
  return { reference, stream: streamFile, onset, rows: stream.length };
}
