/**
 * Shared helpers for the serve tests: a real tiny model folder (engine-built ONNX, model.json per
 * the training schema), a private Orthanc on loopback, free ports and tokens for every role.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { buildArchitecture, exportInferenceModel, initParameters } from '../../src/engine/index.js';
import { writeModelFolder } from '../../src/train/model-folder.js';
import { generateToken, hashToken, type TokenRecord } from '../../src/serve/auth.js';
import type { Role } from '../../src/store/schema.js';

export const SHARED_DICOM = resolve('..', 'shared', 'data', 'dicom');
export const ORTHANC_BIN = ['/usr/sbin/Orthanc', '/usr/bin/Orthanc'].find((p) => existsSync(p));
export const DICOMWEB_PLUGIN = ['/usr/share/orthanc/plugins/libOrthancDicomWeb.so', '/usr/lib/orthanc/libOrthancDicomWeb.so.1.7'].find((p) => existsSync(p));

/** A binary model folder ('normal'/'pneumonia', 32 px input, operating point 0.5 on pneumonia). */
export function makeModelFolder(dir: string, seed = 1, opts: { size?: number; operatingPoint?: boolean } = {}): string {
  const size = opts.size ?? 32;
  const graph = buildArchitecture({ kind: 'cnn', width: 4, depth: 2 }, { inChannels: 1, imageSize: size, numOutputs: 2 });
  const params = initParameters(graph, seed);
  const onnx = exportInferenceModel(graph, params, { activation: 'softmax' });
  mkdirSync(dir, { recursive: true });
  writeModelFolder(dir, onnx, {
    format: 'radml-model', version: 1, origin: 'trained', labelKind: 'categorical', classes: ['normal', 'pneumonia'], positiveClass: 'pneumonia',
    input: { name: 'input', channels: 1, size }, output: { name: 'probabilities', kind: 'probabilities', activation: 'softmax' },
    preprocessing: { size, resize: 'pad', normalise: 'minmax', equalise: false },
    architecture: { kind: 'cnn', width: 4, depth: 2 }, training: null, validation: null,
  });
  if (opts.operatingPoint !== false) {
    const file = join(dir, 'model.json');
    const j = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    j.operatingPoint = { threshold: 0.5, class: 'pneumonia', rule: 'fixed_0.5' };
    writeFileSync(file, JSON.stringify(j, null, 2));
  }
  return dir;
}

export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => res(port));
    });
  });
}

export function roleTokens(): { tokens: Record<Role, string>; records: TokenRecord[] } {
  const tokens = { admin: generateToken(), radiologist: generateToken(), service: generateToken() } as Record<Role, string>;
  return { tokens, records: (Object.keys(tokens) as Role[]).map((r) => ({ name: `test-${r}`, role: r, sha256: hashToken(tokens[r]) })) };
}

export interface OrthancHandle {
  url: string;
  /** The DICOM (DIMSE) port; it only accepts the modality given in `startOrthanc`'s `dicom` option. */
  dicomPort: number;
  aet: string;
  proc: ChildProcess;
  stop(): Promise<void>;
  /** Kill it at once (SIGKILL): a PACS that crashes, with no graceful shutdown to let work finish. */
  kill(): Promise<void>;
  /** Start it again after stop(): same port, same storage (a PACS outage ending). */
  restart(): Promise<void>;
  upload(bytes: Uint8Array): Promise<void>;
  /** Instances of a study via Orthanc's REST API: [{ modality, sopClassUid, orthancId }]. */
  studyInstances(studyUid: string): Promise<{ modality: string; sopClassUid: string; id: string; sopUid: string }[]>;
  instanceFile(id: string): Promise<Uint8Array>;
}

export const orthancSkip = !ORTHANC_BIN || !DICOMWEB_PLUGIN ? 'needs Debian orthanc + orthanc-dicomweb' : false;

export interface OrthancOptions {
  /** Enable Orthanc's C-STORE receiver, accepting only this modality (AE title) from 127.0.0.1.
   *  Orthanc 1.10 cannot bind its DICOM port to loopback, so the host check is what keeps it private. */
  dicom?: { modalityAet: string };
  /** Orthanc's StableAge (seconds without a new instance before StableStudy). */
  stableAge?: number;
}

/** Start a private Orthanc (loopback only: remote access off, DICOM port off unless asked) in `dir`. */
export async function startOrthanc(dir: string, opts: OrthancOptions = {}): Promise<OrthancHandle> {
  const port = await freePort();
  const dicomPort = await freePort();
  const aet = 'RADMLTEST';
  mkdirSync(join(dir, 'db'), { recursive: true });
  const cfg = {
    Name: 'radml-test', HttpPort: port, DicomServerEnabled: Boolean(opts.dicom), DicomPort: dicomPort, DicomAet: aet, RemoteAccessAllowed: false,
    AuthenticationEnabled: false, StorageDirectory: join(dir, 'db'), IndexDirectory: join(dir, 'db'),
    Plugins: [DICOMWEB_PLUGIN], DicomWeb: { Enable: true, Root: '/dicom-web/' }, StableAge: opts.stableAge ?? 1, OverwriteInstances: true,
    HttpThreadsCount: 8, ConcurrentJobs: 1,
    ...(opts.dicom ? {
      DicomAlwaysAllowStore: false, DicomAlwaysAllowEcho: false, DicomCheckModalityHost: true, DicomCheckCalledAet: true,
      DicomModalities: { modality: [opts.dicom.modalityAet, '127.0.0.1', 104] },
    } : {}),
  };
  writeFileSync(join(dir, 'orthanc.json'), JSON.stringify(cfg));
  const url = `http://127.0.0.1:${port}`;
  const launch = async (): Promise<ChildProcess> => {
    const proc = spawn(ORTHANC_BIN!, [join(dir, 'orthanc.json')], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    proc.stderr!.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-4000); });
    const t0 = Date.now();
    for (;;) {
      try {
        const r = await fetch(url + '/system');
        if (r.ok) return proc;
      } catch {
        // not up yet
      }
      if (proc.exitCode !== null || Date.now() - t0 > 15_000) {
        proc.kill('SIGKILL');
        throw new Error(`Orthanc did not start: ${stderr}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const handle: OrthancHandle = {
    url,
    dicomPort,
    aet,
    proc: await launch(),
    async stop() {
      const proc = handle.proc;
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000).unref())]);
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGKILL');
        await exited;
      }
    },
    async kill() {
      const proc = handle.proc;
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGKILL');
      await exited;
    },
    async restart() {
      handle.proc = await launch();
    },
    async upload(bytes) {
      const r = await fetch(url + '/instances', { method: 'POST', body: Buffer.from(bytes) });
      if (!r.ok) throw new Error(`Orthanc upload: ${r.status} ${await r.text()}`);
    },
    async studyInstances(studyUid) {
      const find = await fetch(url + '/tools/find', { method: 'POST', body: JSON.stringify({ Level: 'Instance', Query: { StudyInstanceUID: studyUid }, Expand: true }) });
      const list = (await find.json()) as { ID: string; MainDicomTags: { SOPInstanceUID: string }; ParentSeries: string }[];
      const out = [];
      for (const i of list) {
        const tags = (await (await fetch(`${url}/instances/${i.ID}/simplified-tags`)).json()) as Record<string, string>;
        out.push({ id: i.ID, modality: tags.Modality ?? '', sopClassUid: tags.SOPClassUID ?? '', sopUid: i.MainDicomTags.SOPInstanceUID });
      }
      return out;
    },
    async instanceFile(id) {
      return new Uint8Array(await (await fetch(`${url}/instances/${id}/file`)).arrayBuffer());
    },
  };
  return handle;
}

/** dcmtk available? */
export const dcmtkSkip = spawnSync('dcmdump', ['--version']).error ? 'needs dcmtk (dcmdump, dsrdump)' : false;
