/**
 * The model registry: uploaded model folders are unpacked into a staging folder, verified (every
 * artefact's SHA-256 against model.json, the ONNX loadable), then moved into
 * `<modelsDir>/<name>/v<version>/`. Versions count up per name; uploading the same model.onnx
 * again returns the existing version. Champion and challenger are statuses: the bridge scores every
 * new study with the champion (results sent to the PACS) and the challenger (recorded only).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { writeFileAtomic } from '../util/atomic.js';
import { InputError } from '../util/errors.js';
import type { ModelStatus, ModelVersion } from '../store/schema.js';
import type { Store } from '../store/store.js';
import { MODEL_JSON, type ModelJson } from '../train/model-folder.js';
import { InputGuard } from './input-guard.js';
import { ModelRunner } from './runner.js';
import { readTar, safeRelativePath, type TarEntry } from './tar.js';

export const MODEL_NAME_RE = /^[a-z0-9][a-z0-9._-]{0,47}$/;

/** Files of a model folder, from a tar whose files sit at the root or inside one top folder. */
export function modelFilesFromTar(bytes: Uint8Array): TarEntry[] {
  const entries = readTar(bytes);
  const json = entries.filter((e) => e.path === MODEL_JSON || e.path.endsWith('/' + MODEL_JSON));
  if (json.length === 0) throw new InputError('MODEL_UPLOAD', 'the archive holds no model.json');
  const shallowest = json.sort((a, b) => a.path.split('/').length - b.path.split('/').length)[0]!;
  const prefix = shallowest.path.slice(0, shallowest.path.length - MODEL_JSON.length);
  return entries.filter((e) => e.path.startsWith(prefix)).map((e) => ({ path: e.path.slice(prefix.length), data: e.data }));
}

export interface ModelCard {
  model: ModelVersion;
  meta: ModelJson;
  operatingPoint: { thresholds: Record<string, number>; rule: string | undefined };
  /** Text of a model card file shipped in the folder (model-card.md / MODEL_CARD.md / model-card.html), if any. */
  card: string | undefined;
}

const CARD_FILES = ['model-card.md', 'MODEL_CARD.md', 'model_card.md', 'model-card.html'];

export class ModelRegistry {
  private readonly runners = new Map<string, Promise<ModelRunner>>();
  private readonly guards = new Map<string, Promise<InputGuard | undefined>>();

  constructor(private readonly store: Store, readonly modelsDir: string, private readonly threads = 1) {
    mkdirSync(modelsDir, { recursive: true });
  }

  /**
   * Verify and register a model folder given as its files. Returns the version and whether it is new.
   * @example await registry.register('cxr', modelFilesFromTar(tarBytes), 'alice')
   */
  async register(name: string, files: readonly TarEntry[], user: string): Promise<{ model: ModelVersion; created: boolean }> {
    if (!MODEL_NAME_RE.test(name)) throw new InputError('MODEL_NAME', `model name "${name}" must be 1–48 characters of a-z, 0-9, ".", "_", "-"`);
    const staging = join(this.modelsDir, '.staging', randomBytes(8).toString('hex'));
    try {
      for (const f of files) writeFileAtomic(join(staging, safeRelativePath(f.path)), f.data);
      const runner = await ModelRunner.load(staging, { threads: this.threads }); // verifies hashes and loads the ONNX
      const meta = runner.meta;
      const sha = runner.onnxSha256;
      await runner.release();
      const existing = await this.store.findModelByHash(name, sha);
      if (existing) return { model: existing, created: false };
      const version = await this.store.nextModelVersion(name);
      const rel = join(name, `v${version}`);
      const dest = join(this.modelsDir, rel);
      if (existsSync(dest)) rmSync(dest, { recursive: true, force: true }); // left by a crash before the insert below
      mkdirSync(dirname(dest), { recursive: true });
      renameSync(staging, dest);
      const model: ModelVersion = { name, version, onnxSha256: sha, dir: rel, status: 'registered', classes: meta.classes, createdAt: Date.now(), createdBy: user };
      await this.store.insertModelVersion(model);
      return { model, created: true };
    } finally {
      rmSync(staging, { recursive: true, force: true });
    }
  }

  /** Register a model folder already on disk (the demo, the CLI). */
  async registerFolder(name: string, dir: string, user: string): Promise<{ model: ModelVersion; created: boolean }> {
    const files: TarEntry[] = [];
    const walk = (d: string, rel: string) => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        const r = rel ? `${rel}/${e.name}` : e.name;
        if (e.isDirectory()) walk(join(d, e.name), r);
        else if (e.isFile()) files.push({ path: r, data: new Uint8Array(readFileSync(join(d, e.name))) });
      }
    };
    walk(dir, '');
    return this.register(name, files, user);
  }

  async get(name: string, version: number): Promise<ModelVersion> {
    const m = await this.store.getModelVersion(name, version);
    if (!m) throw new InputError('MODEL_NOT_FOUND', `no model ${name} version ${version}`);
    return m;
  }

  async card(name: string, version: number): Promise<ModelCard> {
    const model = await this.get(name, version);
    const runner = await this.runner(model);
    const dir = join(this.modelsDir, model.dir);
    const cardFile = CARD_FILES.map((f) => join(dir, f)).find((f) => existsSync(f));
    return { model, meta: runner.meta, operatingPoint: runner.operatingPoint, card: cardFile ? readFileSync(cardFile, 'utf8') : undefined };
  }

  async setStatus(name: string, version: number, status: ModelStatus): Promise<ModelVersion> {
    const m = await this.get(name, version);
    if (status !== 'retired') {
      await this.runner(m); // re-verifies the artefacts before it can serve
      await this.guard(m); // and refuses a stale ood.json
    }
    await this.store.setModelStatus(name, version, status);
    if (status === 'retired') await this.unload(m);
    return this.get(name, version);
  }

  /** Champion and challenger versions, the ones new studies are scored with. */
  async active(): Promise<ModelVersion[]> {
    return (await this.store.listModelVersions()).filter((m) => m.status === 'champion' || m.status === 'challenger');
  }

  /** The version sync inference uses when none is named: the champion (of `name`, or the only one). */
  async resolve(name?: string, version?: number): Promise<ModelVersion> {
    if (name && version) return this.get(name, version);
    const champions = (await this.store.listModelVersions()).filter((m) => m.status === 'champion' && (!name || m.name === name));
    if (champions.length === 0) throw new InputError('NO_ACTIVE_MODEL', name ? `model ${name} has no champion version` : 'no model is active (activate one as champion)');
    if (champions.length > 1) throw new InputError('MODEL_AMBIGUOUS', `several models are active (${champions.map((m) => m.name).join(', ')}); name one with ?model=`);
    return champions[0]!;
  }

  /** A loaded runner for a version (loaded once, hashes verified at load). */
  runner(m: ModelVersion): Promise<ModelRunner> {
    const key = `${m.name}@${m.version}`;
    let r = this.runners.get(key);
    if (!r) {
      r = ModelRunner.load(join(this.modelsDir, m.dir), { threads: this.threads });
      r.catch(() => this.runners.delete(key));
      this.runners.set(key, r);
    }
    return r;
  }

  /** The out-of-distribution gate of a version (undefined when its folder has no ood.json). */
  guard(m: ModelVersion): Promise<InputGuard | undefined> {
    const key = `${m.name}@${m.version}`;
    let g = this.guards.get(key);
    if (!g) {
      g = InputGuard.load(join(this.modelsDir, m.dir), { threads: this.threads });
      g.catch(() => this.guards.delete(key));
      this.guards.set(key, g);
    }
    return g;
  }

  private async unload(m: ModelVersion): Promise<void> {
    const key = `${m.name}@${m.version}`;
    const r = this.runners.get(key);
    const g = this.guards.get(key);
    this.runners.delete(key);
    this.guards.delete(key);
    if (r) await (await r.catch(() => undefined))?.release();
    if (g) await (await g.catch(() => undefined))?.release();
  }

  async close(): Promise<void> {
    const all = [...this.runners.values()];
    const guards = [...this.guards.values()];
    this.runners.clear();
    this.guards.clear();
    for (const r of all) await (await r.catch(() => undefined))?.release();
    for (const g of guards) await (await g.catch(() => undefined))?.release();
  }
}
