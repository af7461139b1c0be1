/**
 * The model registry: uploaded model folders are unpacked into a staging folder, verified (every
 * artefact's SHA-256 against model.json, the ONNX loadable), then moved into
 * `<modelsDir>/<name>/v<version>/`. Uploads are streamed to disk under size and entry limits (tar.ts).
 * Versions count up per name, reserved without a race between concurrent uploads; uploading the same model.onnx
 * again returns the existing version. Champion and challenger are statuses: the bridge scores every
 * new study with the champion (results sent to the PACS) and the challenger (recorded only).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { cp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../util/atomic.js';
import { InputError } from '../util/errors.js';
import type { ModelStatus, ModelVersion } from '../store/schema.js';
import type { Store } from '../store/store.js';
import { MODEL_JSON, readModelJson, type ModelJson } from '../train/model-folder.js';
import { unpackFormData } from './multipart.js';
import { rethrow, startWorker } from './decode-pool.js';
import { InputGuard } from './input-guard.js';
import { ModelRunner } from './runner.js';
import { PathClaims, readTar, safeRelativePath, unpackTar, type TarEntry, type UnpackLimits } from './tar.js';

export const MODEL_NAME_RE = /^[a-z0-9][a-z0-9._-]{0,47}$/;

function checkModelName(name: string): void {
  if (!MODEL_NAME_RE.test(name)) throw new InputError('MODEL_NAME', `model name "${name.slice(0, 60)}" must be 1–48 characters of a-z, 0-9, ".", "_", "-"`);
}

/** Error messages reach HTTP clients: replace a server folder in them with a neutral label. */
export function redactPath(e: unknown, dir: string, label: string): unknown {
  if (e instanceof Error && dir && e.message.includes(dir)) e.message = e.message.split(dir).join(label);
  return e;
}

/**
 * Open a model folder on a worker thread (hashes verified, ONNX loaded, then released): the
 * upload path's check, so reading and hashing a large model never blocks the HTTP loop.
 * @example const { onnxSha256, classes } = await verifyModelOffThread('models/.staging/ab12', 1);
 */
export function verifyModelOffThread(dir: string, threads: number): Promise<{ onnxSha256: string; classes: string[] }> {
  return new Promise((resolve, reject) => {
    const w = startWorker('verify-worker', { dir, threads });
    let settled = false;
    w.once('message', (m: { ok: true; onnxSha256: string; classes: string[] } | { ok: false; error: { kind: string; code: string; message: string; file?: string } }) => {
      settled = true;
      void w.terminate();
      if (m.ok) resolve({ onnxSha256: m.onnxSha256, classes: m.classes });
      else {
        try {
          rethrow(m.error);
        } catch (e) {
          reject(e);
        }
      }
    });
    w.once('error', (e) => {
      if (!settled) reject(new InputError('MODEL_LOAD', `verifying the model failed: ${e.message}`));
    });
    w.once('exit', (code) => {
      if (!settled) reject(new InputError('MODEL_LOAD', `the model verification thread exited (${code}) without an answer`));
    });
  });
}

/** The folder prefix ('' or 'top/') of the shallowest model.json among upload paths. */
function modelFolderPrefix(paths: readonly string[]): string {
  const json = paths.filter((p) => p === MODEL_JSON || p.endsWith('/' + MODEL_JSON));
  if (json.length === 0) throw new InputError('MODEL_UPLOAD', 'the upload holds no model.json');
  const shallowest = json.sort((a, b) => a.split('/').length - b.split('/').length)[0]!;
  return shallowest.slice(0, shallowest.length - MODEL_JSON.length);
}

/** Files of a model folder, from a tar whose files sit at the root or inside one top folder. */
export function modelFilesFromTar(bytes: Uint8Array): TarEntry[] {
  const entries = readTar(bytes);
  const prefix = modelFolderPrefix(entries.map((e) => e.path));
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

  private newStaging(): string {
    return join(this.modelsDir, '.staging', randomBytes(8).toString('hex'));
  }

  /**
   * Verify and register a model folder given as its files (in memory: the CLI, tests). Returns the
   * version and whether it is new.
   * @example await registry.register('cxr', modelFilesFromTar(tarBytes), 'alice')
   */
  async register(name: string, files: readonly TarEntry[], user: string): Promise<{ model: ModelVersion; created: boolean }> {
    checkModelName(name);
    const staging = this.newStaging();
    try {
      const claims = new PathClaims();
      for (const f of files) {
        const path = safeRelativePath(f.path);
        claims.claimFile(path);
        writeFileAtomic(join(staging, path), f.data);
      }
      return await this.adopt(name, staging, user, staging);
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
  }

  /**
   * Register an upload read as a stream: a tar / tar.gz, or multipart/form-data when `contentType`
   * says so. The files are unpacked to a staging folder under `limits` (tar.ts), their SHA-256
   * (computed while streaming) checked against model.json before anything is loaded, then the folder
   * is verified, loaded once and moved into place.
   * @example await registry.registerUpload('cxr', req.raw, 'application/gzip', 'alice', { maxInflatedBytes: 2 ** 30, maxEntries: 1000 })
   */
  async registerUpload(name: string, body: AsyncIterable<Buffer | Uint8Array | string>, contentType: string, user: string, limits: UnpackLimits): Promise<{ model: ModelVersion; created: boolean }> {
    checkModelName(name);
    const staging = this.newStaging();
    try {
      const files = contentType.startsWith('multipart/form-data') ? await unpackFormData(body, contentType, staging, limits) : await unpackTar(body, staging, limits);
      const prefix = modelFolderPrefix(files.map((f) => f.path));
      const root = join(staging, prefix);
      const byPath = new Map(files.filter((f) => f.path.startsWith(prefix)).map((f) => [f.path.slice(prefix.length), f]));
      const meta = readModelJson(root);
      for (const [rel, expected] of Object.entries(meta.artefacts)) {
        const f = byPath.get(rel);
        if (!f) throw new InputError('MODEL_TAMPERED', `upload: ${rel} is listed in model.json but missing from the upload`);
        if (f.sha256 !== expected) throw new InputError('MODEL_TAMPERED', `upload: ${rel}: SHA-256 ${f.sha256.slice(0, 16)}… does not match model.json (${expected.slice(0, 16)}…); refusing it`);
      }
      return await this.adopt(name, root, user, staging, true);
    } catch (e) {
      throw redactPath(e, staging, 'upload');
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
  }

  /**
   * Verify and load the folder `dir` (inside `staging`), then move it to `<name>/v<version>`. The
   * version is reserved without a race: `mkdir` of the version folder claims it on disk (atomic,
   * also between processes sharing modelsDir) and the store's primary key (name, version) claims it
   * in the database; a lost claim moves on to the next number.
   */
  private async adopt(name: string, dir: string, user: string, staging: string, offThread = false): Promise<{ model: ModelVersion; created: boolean }> {
    let sha: string;
    let classes: string[];
    try {
      if (offThread) ({ onnxSha256: sha, classes } = await verifyModelOffThread(dir, this.threads));
      else {
        const runner = await ModelRunner.load(dir, { threads: this.threads }); // verifies hashes and loads the ONNX
        sha = runner.onnxSha256;
        classes = runner.meta.classes;
        await runner.release();
      }
    } catch (e) {
      throw redactPath(e, staging, 'upload');
    }
    const meta = { classes };
    const existing = await this.store.findModelByHash(name, sha);
    if (existing) return { model: existing, created: false };
    mkdirSync(join(this.modelsDir, name), { recursive: true });
    let version = await this.store.nextModelVersion(name);
    for (let tries = 0; ; tries++) {
      const rel = join(name, `v${version}`);
      const dest = join(this.modelsDir, rel);
      try {
        mkdirSync(dest); // the claim: fails with EEXIST when another upload (or a crashed one) holds it
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || tries >= 1000) throw e;
        version = Math.max(version + 1, await this.store.nextModelVersion(name));
        continue;
      }
      renameSync(dir, dest); // replaces the empty folder just claimed
      const model: ModelVersion = { name, version, onnxSha256: sha, dir: rel, status: 'registered', classes: meta.classes, createdAt: Date.now(), createdBy: user };
      try {
        await this.store.insertModelVersion(model);
        return { model, created: true };
      } catch (e) {
        if (!/UNIQUE|PRIMARY|duplicate key/i.test((e as Error).message) || tries >= 1000) {
          await rm(dest, { recursive: true, force: true });
          throw e;
        }
        renameSync(dest, dir); // another process (another modelsDir) took this number first
        version++;
      }
    }
  }

  /** Register a model folder already on disk (the demo, the CLI). */
  async registerFolder(name: string, dir: string, user: string): Promise<{ model: ModelVersion; created: boolean }> {
    checkModelName(name);
    const staging = this.newStaging();
    try {
      await cp(dir, staging, { recursive: true });
      return await this.adopt(name, staging, user, staging);
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
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
    if (version !== undefined && !name) throw new InputError('MODEL_NAME_MISSING', '?version= needs ?model= to say which model it is a version of');
    if (name && version !== undefined) {
      // Only the versions that were activated serve: a retired version (withdrawn, perhaps for a
      // safety reason) or a never-activated one (not yet validated for this site) must not answer.
      const m = await this.get(name, version);
      if (m.status !== 'champion' && m.status !== 'challenger') {
        throw new InputError('MODEL_NOT_ACTIVE', `model ${name} version ${version} is ${m.status === 'retired' ? 'retired' : 'registered but not activated'}; only the champion and challenger versions serve (activate it with POST /v1/models/${name}/${version}/status)`);
      }
      return m;
    }
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
      r = ModelRunner.load(join(this.modelsDir, m.dir), { threads: this.threads }).catch((e: unknown) => {
        throw redactPath(e, this.modelsDir, 'models');
      });
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
      g = InputGuard.load(join(this.modelsDir, m.dir), { threads: this.threads }).catch((e: unknown) => {
        throw redactPath(e, this.modelsDir, 'models');
      });
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
