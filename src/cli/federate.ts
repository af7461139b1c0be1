/**
 * `radml federate <site|export-arrays|import-arrays>`: take part in a Flower federation as a site,
 * and move a radml model's weights in and out of Flower's array form.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { loadOrIngest } from '../data/ingest/index.js';
import { exportArrays, importArrays, loadModelWeights } from '../federated/arrays.js';
import { loadOrCreateNodeKey } from '../federated/fleet-client.js';
import { createSiteApp } from '../federated/site.js';
import { runSupernode } from '../federated/supernode.js';
import { saveSimulation, simulateFederation, type PoisonSpec } from '../federated/simulate.js';
import type { PartitionSpec } from '../federated/partition.js';
import type { AggregationRule } from '../federated/strategies.js';
import { parseTrainOptions, trainOptionsSchema } from '../train/options.js';
import { InputError } from '../util/errors.js';
import { bool, choice, type Command, num, requireStr, str } from './lib/command.js';
import { progressBar } from './lib/progress-bar.js';

const SUBCOMMANDS = ['site', 'export-arrays', 'import-arrays', 'simulate'] as const;
const D = trainOptionsSchema.parse({ threads: 1 });

export const command: Command = {
  name: 'federate',
  summary: 'federated learning: join a Flower federation as a site; export/import model weights as Flower arrays',
  usage: '<site|export-arrays|import-arrays|simulate> [options]',
  help: `
radml federate site --superlink <url> --data <manifest> --model <model-dir>
  Runs this site as a Flower SuperNode (Fleet API over HTTP, flwr 1.40–1.42) and answers
  train / evaluate / query instructions from any ServerApp, including Flower's stock FedAvg:
  the "arrays" ArrayRecord holds the model's parameters and BatchNorm buffers by name (float32);
  config may carry local-epochs, lr, proximal-mu (FedProx); the reply holds the updated arrays and
  a MetricRecord with num-examples, loss and auroc. Only weights and aggregate metrics leave the
  site. Training rows: split train/blank; evaluation rows: split val/test. The node key (EC P-384)
  is kept in --state-dir so the site keeps its identity across restarts. Ctrl-C leaves cleanly.

radml federate export-arrays --model <model-dir> --out arrays.npz
  The model's weights as an .npz with the ArrayRecord names (numpy.load reads it).

radml federate import-arrays --model <model-dir> --arrays arrays.npz --out <new-model-dir>
  A complete, hashed model folder with those weights (e.g. a ServerApp's global model), usable by
  predict, evaluate, explain and serve.

radml federate simulate --data <manifest> --site-column site --rounds N --local-epochs E
    --strategy fedavg|fedprox|fedadam|fedyogi|fedbn [--dp-clip C --dp-noise σ]
    [--aggregation mean|median|trimmed|krum|multikrum] --out <dir>
  In-process federation over the sites named by a column (or --partition dirichlet:α /
  quantity:α with --sites K). Writes a standard model folder (global model; model.json records the
  federation) and federation.json (per round and site: loss, test AUROC, examples, bytes, ε).
  Also trains the pooled model and each site's local-only model for as many epochs, for comparison
  (--no-baselines skips them). Test rows: split=test, else 25 % of each site's patients.
  --poison <site>:sign-flip|scale:<factor> makes one site send g + f·(w − g) (robustness studies).

Flower App for \`flwr run\` (FedAvg, FedProx, FedAdam from a radml model): federated/flower-app/.

Example:
  radml federate export-arrays --model models/base --out base.npz
  radml federate site --superlink http://127.0.0.1:8000 --data site-a/manifest.csv --model models/base`,
  options: {
    superlink: { type: 'string', arg: '<url>', description: 'site: SuperLink Fleet API address, e.g. http://127.0.0.1:8000 (flower-superlink --port)' },
    data: { type: 'string', arg: '<manifest>', description: "site: the site's manifest CSV or dataset folder" },
    model: { type: 'string', arg: '<model-dir>', description: 'radml model folder (architecture, preprocessing, weights)' },
    out: { type: 'string', arg: '<path>', description: 'export-arrays: .npz to write; import-arrays: model folder to write' },
    arrays: { type: 'string', arg: '<npz>', description: 'import-arrays: weights to put into the model' },
    'state-dir': { type: 'string', arg: '<dir>', description: "site: where the node key is kept (default: .radml-flower next to --data)" },
    threads: { type: 'string', arg: 'N', description: 'site: training threads (default: all cores)' },
    'local-epochs': { type: 'string', arg: 'N', description: 'site: local epochs when the instruction does not say', default: '1' },
    heartbeat: { type: 'string', arg: 'S', description: 'site: heartbeat interval announced to the SuperLink, seconds', default: '30' },
    'poll-seconds': { type: 'string', arg: 'S', description: 'site: wait between empty polls for instructions (Flower waits 3)', default: '3' },
    'exit-after-run': { type: 'boolean', description: 'site: leave the federation once the run it worked for has finished' },
    'site-column': { type: 'string', arg: '<column>', description: 'simulate: manifest column naming each row\'s site', default: 'site' },
    partition: { type: 'string', arg: 'dirichlet:α|quantity:α', description: 'simulate: split into --sites sites by label skew or size skew instead of a column' },
    sites: { type: 'string', arg: 'K', description: 'simulate: number of sites for --partition', default: '4' },
    rounds: { type: 'string', arg: 'N', description: 'simulate: federated rounds', default: '10' },
    strategy: { type: 'string', arg: '<name>', description: 'simulate: fedavg, fedprox, fedadam, fedyogi or fedbn', default: 'fedavg' },
    'proximal-mu': { type: 'string', arg: 'μ', description: 'simulate: FedProx proximal coefficient', default: '0.01' },
    'server-lr': { type: 'string', arg: 'η', description: 'simulate: FedAdam/FedYogi server learning rate', default: '0.01' },
    aggregation: { type: 'string', arg: '<rule>', description: 'simulate: mean, median, trimmed, krum or multikrum', default: 'mean' },
    trim: { type: 'string', arg: 'β', description: 'simulate: trimmed mean fraction cut from each end', default: '0.25' },
    byzantine: { type: 'string', arg: 'f', description: 'simulate: Krum\'s assumed number of Byzantine sites', default: '1' },
    'dp-clip': { type: 'string', arg: 'C', description: 'simulate: client-level DP: clip each site\'s update to L2 norm C' },
    'dp-noise': { type: 'string', arg: 'σ', description: 'simulate: client-level DP noise multiplier (noise sd σC/m)' },
    'dp-delta': { type: 'string', arg: 'δ', description: 'simulate: δ for the reported (ε, δ)', default: '1e-5' },
    poison: { type: 'string', arg: '<site>:sign-flip|scale:<f>', description: 'simulate: one site sends a poisoned update' },
    'secure-aggregation': { type: 'boolean', description: 'simulate: average through pairwise-masked secure aggregation (the server sees only masked updates)' },
    'no-baselines': { type: 'boolean', description: 'simulate: skip the pooled and local-only comparison models' },
    arch: { type: 'string', arg: 'cnn|resnet', description: 'simulate: architecture', default: D.arch },
    width: { type: 'string', arg: 'N', description: 'simulate: channels of the first stage', default: String(D.width) },
    'image-size': { type: 'string', arg: 'PX', description: 'simulate: model input size', default: String(D.imageSize) },
    batch: { type: 'string', arg: 'N', description: 'simulate: images per local step', default: String(D.batch) },
    lr: { type: 'string', arg: 'X', description: 'simulate: local learning rate', default: String(D.lr) },
    seed: { type: 'string', arg: 'N', description: 'simulate: random seed', default: String(D.seed) },
    'no-augment': { type: 'boolean', description: 'simulate: turn augmentation off' },
  },
  async run(args, io) {
    const sub = args.positionals[0];
    if (!sub || !(SUBCOMMANDS as readonly string[]).includes(sub)) throw new InputError('CLI_ARGS', `radml federate: name a subcommand (${SUBCOMMANDS.join(', ')}); see \`radml federate --help\``);
    if (sub === 'simulate') return simulate(args, io);
    const model = requireStr(args, 'model', `federate ${sub}`);
    if (sub === 'export-arrays') {
      const out = requireStr(args, 'out', 'federate export-arrays');
      const r = exportArrays(model, out);
      io.out(`${r.arrays} arrays (${r.values} values) written to ${out}`);
      return 0;
    }
    if (sub === 'import-arrays') {
      const npz = requireStr(args, 'arrays', 'federate import-arrays');
      const out = requireStr(args, 'out', 'federate import-arrays');
      const meta = importArrays(model, npz, out);
      io.out(`model folder written to ${out} (${Object.keys(meta.artefacts).length} hashed artefacts)`);
      return 0;
    }
    const superlink = requireStr(args, 'superlink', 'federate site');
    const data = requireStr(args, 'data', 'federate site');
    if (!existsSync(data)) throw new InputError('FILE_UNREADABLE', `${data}: no such manifest or dataset folder`, { file: data });
    const weights = loadModelWeights(model);
    const bar = progressBar(io);
    const { dataset, skipped } = await loadOrIngest(data, { imageSize: weights.meta.input.size, resize: weights.meta.preprocessing.resize, onProgress: bar.callback });
    bar.stop();
    if (skipped.length) io.err(`skipped ${skipped.length} unreadable image(s)`);
    const threads = num(args, 'threads', { integer: true, min: 1 });
    const localEpochs = num(args, 'local-epochs', { integer: true, min: 1 }) ?? 1;
    const app = await createSiteApp(weights, dataset, {
      ...(threads ? { threads } : {}), localEpochs,
      onRound: (r) => io.err(`${r.messageType}${r.round !== null ? ` round ${r.round}` : ''}: ${r.examples} examples${r.loss !== null ? `, loss ${r.loss.toFixed(4)}` : ''}${r.auroc !== null ? `, AUROC ${r.auroc.toFixed(4)}` : ''} (${r.seconds.toFixed(1)} s)`),
    });
    io.err(`site ready: ${app.site.trainRows.length} training / ${app.site.evalRows.length} evaluation images${app.site.evalOnTrain ? ' (no val/test split: evaluating on training images)' : ''}`);
    const stateDir = str(args, 'state-dir') ?? join(dirname(resolve(data)), '.radml-flower');
    const keyFile = join(stateDir, 'node-key.pem');
    const key = loadOrCreateNodeKey(keyFile);
    const ac = new AbortController();
    const stop = (): void => {
      io.err('leaving the federation…');
      ac.abort();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    try {
      const s = await runSupernode(app.handler, {
        superlink, key, signal: ac.signal, renewKey: () => {
          io.err('the SuperLink retired this node key (the site left before); joining with a new key');
          return loadOrCreateNodeKey(keyFile, { renew: true });
        }, heartbeatInterval: num(args, 'heartbeat', { min: 10, max: 1800 }) ?? 30, pollSeconds: num(args, 'poll-seconds', { min: 0.1, max: 600 }) ?? 3, exitAfterRun: bool(args, 'exit-after-run'),
        onEvent: (e) => {
          if (e.kind === 'connected') io.err(`connected to ${superlink} as node ${e.nodeId}`);
          else if (e.kind === 'run') io.err(`run ${e.runId}`);
          else if (e.kind === 'retrying') io.err(`${e.rpc}: ${e.reason}${e.inSeconds ? `; retrying in ${e.inSeconds} s` : ''}`);
          else if (e.kind === 'replied' && e.error) io.err(`replied to ${e.messageType} with an error: ${e.error}`);
          else if (e.kind === 'run-finished') io.err(`run ${e.runId} finished`);
          else if (e.kind === 'left') io.err(`node ${e.nodeId} left the federation`);
        },
      });
      io.out(`site done: ${s.instructions} instruction(s), ${s.errors} error(s), ${s.bytesSent} bytes sent, ${s.bytesReceived} bytes received`);
      return s.errors ? 1 : 0;
    } finally {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      await app.close();
    }
  },
};

function parsePartition(args: Parameters<Command['run']>[0]): PartitionSpec {
  const p = str(args, 'partition');
  if (!p) return { kind: 'column', column: str(args, 'site-column') ?? 'site' };
  const m = /^(dirichlet|quantity):([0-9]*\.?[0-9]+(?:e-?\d+)?)$/.exec(p);
  if (!m) throw new InputError('CLI_ARGS', `--partition must be dirichlet:<α> or quantity:<α> (got "${p}")`);
  return { kind: m[1] as 'dirichlet' | 'quantity', alpha: Number(m[2]), sites: num(args, 'sites', { integer: true, min: 2 }) ?? 4 };
}

function parsePoison(p: string | undefined): PoisonSpec | undefined {
  if (!p) return undefined;
  const m = /^(.+):(sign-flip|scale):([0-9]*\.?[0-9]+)$/.exec(p);
  if (!m) throw new InputError('CLI_ARGS', `--poison must be <site>:sign-flip:<factor> or <site>:scale:<factor> (got "${p}")`);
  return { site: m[1]!, kind: m[2] as PoisonSpec['kind'], factor: Number(m[3]) };
}

async function simulate(args: Parameters<Command['run']>[0], io: Parameters<Command['run']>[1]): Promise<number> {
  const data = requireStr(args, 'data', 'federate simulate');
  const out = requireStr(args, 'out', 'federate simulate');
  if (!existsSync(data)) throw new InputError('FILE_UNREADABLE', `${data}: no such manifest or dataset folder`, { file: data });
  const train = parseTrainOptions({
    arch: (str(args, 'arch') ?? D.arch) as 'cnn' | 'resnet', width: num(args, 'width', { integer: true, min: 1 }) ?? D.width,
    imageSize: num(args, 'image-size', { integer: true, min: 8 }) ?? D.imageSize, batch: num(args, 'batch', { integer: true, min: 2 }) ?? D.batch,
    lr: num(args, 'lr', { above: 0 }) ?? D.lr, seed: num(args, 'seed', { integer: true, min: 0 }) ?? D.seed, augment: !bool(args, 'no-augment'),
    ...(num(args, 'threads', { integer: true, min: 1 }) ? { threads: num(args, 'threads', { integer: true, min: 1 })! } : {}),
  });
  const strategy = choice(args, 'strategy', ['fedavg', 'fedprox', 'fedadam', 'fedyogi', 'fedbn'] as const) ?? 'fedavg';
  const rule = choice(args, 'aggregation', ['mean', 'median', 'trimmed', 'krum', 'multikrum'] as const) ?? 'mean';
  const clip = num(args, 'dp-clip', { above: 0 });
  const noise = num(args, 'dp-noise', { min: 0 });
  if ((clip === undefined) !== (noise === undefined)) throw new InputError('CLI_ARGS', '--dp-clip and --dp-noise go together (client-level DP needs both)');
  if (clip !== undefined && rule !== 'mean') throw new InputError('CLI_ARGS', '--dp-clip/--dp-noise apply to mean aggregation; drop --aggregation or the DP flags');
  const rounds = num(args, 'rounds', { integer: true, min: 1 }) ?? 10;
  const localEpochs = num(args, 'local-epochs', { integer: true, min: 1 }) ?? 1;
  const poison = parsePoison(str(args, 'poison'));
  const partition = parsePartition(args);
  const bar = progressBar(io);
  const { dataset, skipped } = await loadOrIngest(data, { imageSize: train.imageSize, onProgress: bar.callback });
  bar.stop();
  if (skipped.length) io.err(`skipped ${skipped.length} unreadable image(s)`);
  const dp = clip !== undefined ? { clip, noise: noise!, delta: num(args, 'dp-delta', { above: 0, below: 1 }) ?? 1e-5 } : undefined;
  const r = await simulateFederation(dataset, {
    train, partition, rounds, localEpochs, strategy, proximalMu: num(args, 'proximal-mu', { min: 0 }) ?? 0.01, serverLr: num(args, 'server-lr', { above: 0 }) ?? 0.01,
    aggregation: { rule: rule as AggregationRule, trimFraction: num(args, 'trim', { min: 0, below: 0.5 }) ?? 0.25, byzantine: num(args, 'byzantine', { integer: true, min: 0 }) ?? 1 },
    ...(dp ? { dp } : {}), ...(poison ? { poison } : {}), baselines: !bool(args, 'no-baselines'), secureAggregation: bool(args, 'secure-aggregation'),
    onRound: (rec) => io.err(`round ${rec.round}: pooled test AUROC ${rec.testAuroc?.toFixed(4) ?? 'n/a'}${rec.epsilon !== null ? `, ε ${rec.epsilon.toFixed(2)}` : ''} — ${rec.sites.map((s) => `${s.site} ${s.testAuroc?.toFixed(3) ?? 'n/a'}`).join(', ')} (${rec.seconds.toFixed(1)} s)`),
  });
  saveSimulation(out, r, {
    data, strategy, aggregation: rule, rounds, localEpochs, partition, secureAggregation: bool(args, 'secure-aggregation'), ...(dp ? { dp } : {}), ...(poison ? { poison } : {}),
    options: { ...train },
  });
  const f = (x: number | null | undefined) => (x === null || x === undefined ? 'n/a' : x.toFixed(4));
  io.out(`model folder written to ${out} (federation.json has per-round, per-site details)`);
  io.out(`test AUROC over all sites: federated (${strategy}, ${rule}) ${f(r.federated.pooledAuroc)}; pooled ${f(r.pooled?.pooledAuroc)}; local-only ${f(r.localOnly?.pooledAuroc)}`);
  for (const s of r.sites) io.out(`  ${s.name}: federated ${f(r.federated.perSite[s.name])}  pooled ${f(r.pooled?.perSite[s.name])}  local-only ${f(r.localOnly?.perSite[s.name])}  (${s.trainRows} train / ${s.testRows} test)`);
  if (r.privacy) io.out(`client-level DP: clip ${r.privacy.clip}, noise multiplier ${r.privacy.noiseMultiplier}: (ε = ${r.privacy.epsilon.toFixed(3)}, δ = ${r.privacy.delta}) after ${rounds} rounds`);
  io.out(`wall time ${r.seconds.toFixed(1)} s`);
  return 0;
}
