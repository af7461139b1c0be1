/**
 * The radml site application: answers Flower `train`, `evaluate` and `query` instructions from any
 * ServerApp — including Flower's stock `flwr.serverapp.strategy.FedAvg`, which knows nothing of
 * radml — with the site's data and the model folder's architecture.
 *
 *   train    content {arrays: ArrayRecord, config: ConfigRecord{lr?, local-epochs?, proximal-mu?, server-round?}}
 *            reply   {arrays: ArrayRecord (same names), metrics: MetricRecord{num-examples, loss, auroc}}
 *   evaluate content {arrays, config}     reply {metrics: MetricRecord{num-examples, loss, auroc}}
 *   query    reply   {metrics: MetricRecord{num-examples, num-eval-examples}}
 *
 * Nothing but arrays and aggregate metrics leaves the site: no images, rows, identifiers, labels or
 * per-example scores are ever put in a reply.
 */
import type { Dataset } from '../data/dataset.js';
import { InputError } from '../util/errors.js';
import type { ProgressCallback } from '../util/progress.js';
import { arraysToParams, flwrArraysValues, paramsToArrays, type ModelWeights } from './arrays.js';
import { LocalSite } from './local.js';
import type { ConfigValue, FlwrRecord, MetricValue, RecordDict } from './objects.js';
import type { InstructionHandler } from './supernode.js';

export interface SiteAppOptions {
  threads?: number;
  /** Defaults when the instruction's config does not say. */
  localEpochs?: number;
  lr?: number;
  onProgress?: ProgressCallback;
  /** Called after each answered instruction with its aggregate numbers (for the site's log). */
  onRound?: (r: { messageType: string; round: number | null; examples: number; loss: number | null; auroc: number | null; seconds: number }) => void;
}

function numberOf(v: ConfigValue | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  throw new InputError('FEDERATE_CONFIG', `config "${name}" must be a number`);
}

function single<K extends FlwrRecord['kind']>(content: RecordDict, kind: K, preferred: string): Extract<FlwrRecord, { kind: K }> | undefined {
  const p = content.get(preferred);
  if (p && p.kind === kind) return p as Extract<FlwrRecord, { kind: K }>;
  const all = [...content.values()].filter((r) => r.kind === kind);
  if (all.length > 1) throw new InputError('FEDERATE_CONTENT', `the instruction holds ${all.length} ${kind} records and none is named "${preferred}"`);
  return all[0] as Extract<FlwrRecord, { kind: K }> | undefined;
}

function metrics(values: [string, MetricValue | null][]): FlwrRecord {
  return { kind: 'metric', values: new Map(values.filter((e): e is [string, MetricValue] => e[1] !== null && !(typeof e[1] === 'number' && !Number.isFinite(e[1])))) };
}

/**
 * Build the instruction handler of a site (and its LocalSite, to close when done).
 *
 * @example
 *   const { handler, close } = await createSiteApp(loadModelWeights('models/base'), dataset, { threads: 1 });
 *   await runSupernode(handler, { superlink, key });
 *   await close();
 */
export async function createSiteApp(model: ModelWeights, data: Dataset, opts: SiteAppOptions = {}): Promise<{ handler: InstructionHandler; site: LocalSite; close: () => Promise<void> }> {
  const site = await LocalSite.create(model.meta, model.graph, model.params, data, { ...(opts.threads ? { threads: opts.threads } : {}) });
  const handler: InstructionHandler = async ({ messageType, content }) => {
    const t0 = Date.now();
    const action = messageType.split('.')[0];
    const config = single(content, 'config', 'config');
    const cfg = config?.values ?? new Map<string, ConfigValue>();
    const round = numberOf(cfg.get('server-round'), 'server-round') ?? null;
    if (action === 'query') {
      const reply: RecordDict = new Map([['metrics', metrics([['num-examples', BigInt(site.trainRows.length)], ['num-eval-examples', BigInt(site.evalRows.length)]])]]);
      opts.onRound?.({ messageType, round, examples: site.trainRows.length, loss: null, auroc: null, seconds: (Date.now() - t0) / 1000 });
      return reply;
    }
    if (action !== 'train' && action !== 'evaluate') throw new InputError('FEDERATE_CONTENT', `message type "${messageType}" is not one a radml site answers (train, evaluate, query)`);
    const arrays = single(content, 'array', 'arrays');
    if (!arrays) throw new InputError('FEDERATE_CONTENT', `a ${action} instruction needs an ArrayRecord with the model's weights`);
    const params = arraysToParams(model.params, flwrArraysValues(arrays.arrays), 'the received ArrayRecord');
    if (action === 'evaluate') {
      const s = await site.evaluate(params);
      opts.onRound?.({ messageType, round, examples: site.evalRows.length, loss: s.loss, auroc: s.auroc, seconds: (Date.now() - t0) / 1000 });
      return new Map([['metrics', metrics([['num-examples', BigInt(site.evalRows.length)], ['loss', s.loss], ['auroc', s.auroc]])]]);
    }
    const epochs = Math.max(1, Math.round(numberOf(cfg.get('local-epochs'), 'local-epochs') ?? opts.localEpochs ?? 1));
    const lr = numberOf(cfg.get('lr'), 'lr') ?? opts.lr ?? site.options.lr;
    const mu = numberOf(cfg.get('proximal-mu'), 'proximal-mu') ?? 0;
    if (!(lr > 0) || !(mu >= 0)) throw new InputError('FEDERATE_CONFIG', `lr must be > 0 and proximal-mu ≥ 0 (got lr ${lr}, proximal-mu ${mu})`);
    const r = await site.train(params, { epochs, lr, proximalMu: mu, round: round ?? 0, ...(opts.onProgress ? { onProgress: opts.onProgress } : {}) });
    const s = await site.evaluate(r.params);
    opts.onRound?.({ messageType, round, examples: r.examples, loss: r.loss, auroc: s.auroc, seconds: (Date.now() - t0) / 1000 });
    // Same array names (and order) as received: stock FedAvg requires the keys to match.
    const out = paramsToArrays(r.params);
    const ordered = new Map([...arrays.arrays.keys()].map((k) => [k, out.get(k)!]));
    return new Map<string, FlwrRecord>([
      ['arrays', { kind: 'array', arrays: ordered }],
      ['metrics', metrics([['num-examples', BigInt(r.examples)], ['loss', r.loss], ['auroc', s.auroc]])],
    ]);
  };
  return { handler, site, close: () => site.close() };
}
