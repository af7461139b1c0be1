/**
 * Client for Orthanc: its DICOMweb plugin (QIDO-RS search, WADO-RS retrieve, STOW-RS store) for the
 * standard part, and its REST `/changes` feed to notice new studies. Every error is a PacsError that
 * says whether retrying can help (network errors, 5xx, 429) or not (4xx); the ones that say the PACS
 * itself is down or overloaded are PacsUnavailableError, which the worker's circuit breaker acts on.
 */
import { RadmlError } from '../util/errors.js';
import type { OrthancConfig } from './config.js';
import { buildMultipart, parseMultipart } from './multipart.js';

export class PacsError extends RadmlError {
  readonly retryable: boolean;
  readonly status: number | undefined;
  constructor(message: string, retryable: boolean, status?: number) {
    super('PACS_ERROR', message);
    this.retryable = retryable;
    this.status = status;
  }
}

/**
 * The PACS could not be reached, timed out, or answered 5xx/429/408: not the study's fault. The
 * worker checks the PACS health before deciding whether to hold the queue or charge the job.
 */
export class PacsUnavailableError extends PacsError {
  constructor(message: string, status?: number) {
    super(message, true, status);
  }
}

/** DICOM JSON (PS3.18 F.2): tag → { vr, Value }. */
export type DicomJson = Record<string, { vr: string; Value?: unknown[] }>;

export function jsonString(d: DicomJson, tag: string): string {
  const v = d[tag]?.Value?.[0];
  if (v === undefined || v === null) return '';
  if (typeof v === 'object' && v !== null && 'Alphabetic' in v) return String((v as { Alphabetic: unknown }).Alphabetic);
  return String(v);
}

export interface InstanceRef {
  studyUid: string;
  seriesUid: string;
  sopUid: string;
  sopClassUid: string;
  modality: string;
  bodyPartExamined: string;
  viewPosition: string;
  manufacturer: string;
}

export interface Change {
  seq: number;
  changeType: string;
  resourceType: string;
  id: string;
}

export class OrthancClient {
  private readonly auth: string | undefined;
  constructor(private readonly cfg: Pick<OrthancConfig, 'url' | 'dicomWebRoot' | 'username' | 'password' | 'timeoutMs'>) {
    this.auth = cfg.username !== undefined ? 'Basic ' + Buffer.from(`${cfg.username}:${cfg.password ?? ''}`).toString('base64') : undefined;
  }

  private url(path: string, dicomweb: boolean): string {
    const base = this.cfg.url.replace(/\/+$/, '');
    return base + (dicomweb ? this.cfg.dicomWebRoot.replace(/\/+$/, '') : '') + path;
  }

  private async request(path: string, init: { method?: string; accept?: string; body?: Buffer; contentType?: string; dicomweb?: boolean; allow404?: boolean }): Promise<Response | undefined> {
    const headers: Record<string, string> = {};
    if (init.accept) headers.accept = init.accept;
    if (init.contentType) headers['content-type'] = init.contentType;
    if (this.auth) headers.authorization = this.auth;
    let res: Response;
    try {
      res = await fetch(this.url(path, init.dicomweb ?? true), {
        method: init.method ?? 'GET', headers, ...(init.body ? { body: init.body } : {}), signal: AbortSignal.timeout(this.cfg.timeoutMs),
      });
    } catch (e) {
      throw new PacsUnavailableError(`PACS unreachable (${init.method ?? 'GET'} ${init.dicomweb === false ? '' : 'DICOMweb '}request failed: ${(e as Error).message})`);
    }
    if (res.status === 404 && init.allow404) return undefined;
    if (!res.ok) {
      const text = (await res.text().catch(() => '')).slice(0, 300);
      const retry = res.status >= 500 || res.status === 429 || res.status === 408;
      // Never echo the URL: it holds study UIDs.
      const message = `PACS answered ${res.status} to ${init.method ?? 'GET'} ${path.split('/')[1]?.split('?')[0] ?? ''}… ${text.replace(/[0-9]+(\.[0-9]+){3,}/g, '<uid>')}`;
      throw retry ? new PacsUnavailableError(message, res.status) : new PacsError(message, false, res.status);
    }
    return res;
  }

  /** Orthanc's system information (a readiness probe). */
  async system(): Promise<{ Version: string; DicomAet: string }> {
    const r = await this.request('/system', { dicomweb: false, accept: 'application/json' });
    return (await r!.json()) as { Version: string; DicomAet: string };
  }

  /** QIDO-RS: one page of studies with their number of instances. */
  async searchStudies(limit = 1000, offset = 0): Promise<{ studyUid: string; instances: number }[]> {
    const r = await this.request(`/studies?limit=${limit}&offset=${offset}&includefield=00201208`, { accept: 'application/dicom+json' });
    const list = (await r!.json()) as DicomJson[];
    return list.map((d) => ({ studyUid: jsonString(d, '0020000D'), instances: Number(jsonString(d, '00201208') || NaN) })).filter((s) => s.studyUid !== '');
  }

  /**
   * QIDO-RS: every study, page by page (a PACS caps each answer, Orthanc's DICOMweb at 100 or 1,000
   * depending on its configuration, so one request is never enough). A study stored while paging
   * can shift the pages; duplicates are dropped and the next poll sees what was missed.
   */
  async allStudies(pageSize = 500): Promise<{ studyUid: string; instances: number }[]> {
    const seen = new Map<string, { studyUid: string; instances: number }>();
    for (let offset = 0; ; offset += pageSize) {
      const page = await this.searchStudies(pageSize, offset);
      for (const s of page) seen.set(s.studyUid, s);
      if (page.length < pageSize) return [...seen.values()];
    }
  }

  /** QIDO-RS instance search plus series metadata: what is in a study and what each instance is. */
  async studyInstances(studyUid: string): Promise<InstanceRef[] | undefined> {
    const r = await this.request(`/studies/${studyUid}/metadata`, { accept: 'application/dicom+json', allow404: true });
    if (!r) return undefined;
    const list = (await r.json()) as DicomJson[];
    return list.map((d) => ({
      studyUid,
      seriesUid: jsonString(d, '0020000E'),
      sopUid: jsonString(d, '00080018'),
      sopClassUid: jsonString(d, '00080016'),
      modality: jsonString(d, '00080060'),
      bodyPartExamined: jsonString(d, '00180015'),
      viewPosition: jsonString(d, '00185101'),
      manufacturer: jsonString(d, '00080070'),
    }));
  }

  /** WADO-RS: one instance as a Part 10 file, in its stored transfer syntax. */
  async retrieveInstance(ref: Pick<InstanceRef, 'studyUid' | 'seriesUid' | 'sopUid'>): Promise<Uint8Array> {
    const r = await this.request(`/studies/${ref.studyUid}/series/${ref.seriesUid}/instances/${ref.sopUid}`, {
      accept: 'multipart/related; type="application/dicom"; transfer-syntax=*',
    });
    const body = new Uint8Array(await r!.arrayBuffer());
    const parts = parseMultipart(body, r!.headers.get('content-type') ?? '');
    if (parts.length !== 1) throw new PacsError(`WADO-RS returned ${parts.length} parts for one instance`, false);
    return parts[0]!;
  }

  /** STOW-RS: store DICOM files into a study. Throws when any instance is refused. */
  async store(studyUid: string, files: readonly Uint8Array[]): Promise<void> {
    if (files.length === 0) return;
    const { body, contentType } = buildMultipart(files);
    const r = await this.request(`/studies/${studyUid}`, { method: 'POST', body, contentType, accept: 'application/dicom+json' });
    const res = (await r!.json().catch(() => ({}))) as DicomJson;
    const failed = res['00081198']?.Value ?? [];
    if (failed.length > 0) throw new PacsError(`STOW-RS refused ${failed.length} of ${files.length} instances`, false);
  }

  /** Orthanc's change feed from `since` (exclusive). */
  async changes(since: number, limit = 100): Promise<{ changes: Change[]; last: number; done: boolean }> {
    const r = await this.request(`/changes?since=${since}&limit=${limit}`, { dicomweb: false, accept: 'application/json' });
    const j = (await r!.json()) as { Changes: { Seq: number; ChangeType: string; ResourceType: string; ID: string }[]; Last: number; Done: boolean };
    return { changes: j.Changes.map((c) => ({ seq: c.Seq, changeType: c.ChangeType, resourceType: c.ResourceType, id: c.ID })), last: j.Last, done: j.Done };
  }

  /** Study Instance UID of an Orthanc study resource id. */
  async studyUidOf(orthancId: string): Promise<string | undefined> {
    const r = await this.request(`/studies/${orthancId}`, { dicomweb: false, accept: 'application/json', allow404: true });
    if (!r) return undefined;
    const j = (await r.json()) as { MainDicomTags?: { StudyInstanceUID?: string } };
    return j.MainDicomTags?.StudyInstanceUID;
  }

  /** Number of instances of an Orthanc study resource id (undefined when it is gone). */
  async studyInstanceCount(orthancId: string): Promise<number | undefined> {
    const r = await this.request(`/studies/${orthancId}/statistics`, { dicomweb: false, accept: 'application/json', allow404: true });
    if (!r) return undefined;
    const j = (await r.json()) as { CountInstances?: number };
    return j.CountInstances;
  }
}
