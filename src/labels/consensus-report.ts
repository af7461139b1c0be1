/**
 * Consensus for a whole reader table: per finding, agreement statistics (with bootstrap CIs) and a
 * consensus label; the rows form a training manifest (`id`, carried columns such as `path`, one
 * column per finding with 1 / 0 / -1 / blank, and `soft_<finding>` soft labels).
 */
import type { FindingValue } from '../data/manifest.js';
import type { ProgressCallback } from '../util/progress.js';
import { agreementSummary, type AgreementSummary } from './agreement.js';
import { consensus, type ConsensusMethod, type ReaderEstimate } from './consensus.js';
import type { ReaderTable } from './readers.js';

export interface FindingStats {
  cases: number;
  /** Cases with at least one 1/0 read. */
  casesRead: number;
  agreement: AgreementSummary;
  /** Dawid–Skene only. */
  prevalence?: number;
  readers?: Record<string, ReaderEstimate>;
  iterations?: number;
  converged?: boolean;
}

export interface ConsensusStats {
  method: ConsensusMethod;
  readers: string[];
  bootstrap: { resamples: number; seed: number };
  findings: Record<string, FindingStats>;
}

export interface ConsensusResult {
  header: string[];
  rows: Record<string, FindingValue | number | string>[];
  stats: ConsensusStats;
}

/**
 * @example const r = buildConsensus(parseReaderTable(readCsv('readers.csv')), { method: 'dawid-skene' });
 */
export function buildConsensus(
  table: ReaderTable,
  options: { method: ConsensusMethod; resamples?: number; seed?: number; onProgress?: ProgressCallback },
): ConsensusResult {
  const resamples = options.resamples ?? 1000;
  const seed = options.seed ?? 1;
  const rows: Record<string, FindingValue | number | string>[] = table.ids.map((id, i) => ({ id, ...table.extra[i] }));
  const findings: Record<string, FindingStats> = {};
  table.findings.forEach((f, k) => {
    options.onProgress?.({ stage: 'consensus', done: k, total: table.findings.length, detail: f });
    const ratings = table.ratings.get(f)!;
    const c = consensus(ratings, options.method);
    ratings.forEach((_, i) => {
      rows[i]![f] = c.label[i]!;
      const s = c.soft[i]!;
      rows[i]![`soft_${f}`] = Number.isNaN(s) ? '' : Math.round(s * 1e6) / 1e6;
    });
    // Agreement on the 1/0 reads (an uncertain read is not a category readers agreed on).
    const binary = ratings.map((r) => r.map((v) => (v === 1 || v === 0 ? v : null)));
    const st: FindingStats = {
      cases: ratings.length,
      casesRead: binary.filter((r) => r.some((v) => v !== null)).length,
      agreement: agreementSummary(binary, table.readers, { resamples, seed }),
    };
    if (c.readers) {
      st.prevalence = c.prevalence!;
      st.readers = Object.fromEntries(table.readers.map((r, j) => [r, c.readers![j]!]));
      st.iterations = c.iterations!;
      st.converged = c.converged!;
    }
    findings[f] = st;
  });
  options.onProgress?.({ stage: 'consensus', done: table.findings.length, total: table.findings.length });
  return {
    header: ['id', ...table.extraColumns, ...table.findings, ...table.findings.map((f) => `soft_${f}`)],
    rows,
    stats: { method: options.method, readers: table.readers, bootstrap: { resamples, seed }, findings },
  };
}
