/**
 * The service's API as the dashboard uses it: the bearer token kept in sessionStorage (gone when
 * the tab closes), JSON in and out, errors carried with the service's message and code.
 */

export type Role = 'admin' | 'radiologist' | 'service';
export interface Me { name: string; role: Role }

const KEY = 'radml.token';

export function token(): string | null {
  return sessionStorage.getItem(KEY);
}
export function setToken(t: string | null): void {
  if (t) sessionStorage.setItem(KEY, t);
  else sessionStorage.removeItem(KEY);
}

export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

async function request(method: string, path: string, body?: unknown, tok = token()): Promise<Response> {
  const headers: Record<string, string> = {};
  if (tok) headers.authorization = `Bearer ${tok}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const r = await fetch(path, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  if (!r.ok) {
    const j = (await r.json().catch(() => ({}))) as { error?: string; code?: string };
    throw new ApiError(r.status, j.code ?? 'HTTP_' + r.status, j.error ?? `${method} ${path}: HTTP ${r.status}`);
  }
  return r;
}

export async function api<T>(method: string, path: string, body?: unknown, tok?: string): Promise<T> {
  const r = await request(method, path, body, tok ?? token());
  return (await r.json()) as T;
}

export async function apiBinary(path: string): Promise<{ body: ArrayBuffer; headers: Headers }> {
  const r = await request('GET', path);
  return { body: await r.arrayBuffer(), headers: r.headers };
}

// ---------------------------------------------------------------- shapes (the service's zod schemas, as the browser sees them)

export interface Finding { finding: string; score: number; threshold: number | null; positive: boolean | null }
export interface WorklistRow {
  studyUid: string; model: string; version: number; modelStatus: string | null; jobId: number | null; state: string;
  attempts: number | null; lastError: string | null; time: number; instancesScored: number; findings: Finding[];
  refusals: { sopUid: string; reason: string }[]; feedback: number; silent: boolean;
}
export interface Worklist { total: number; offset: number; limit: number; rows: WorklistRow[]; models: string[]; counts: Record<string, number> }
export interface Prediction { id: number; studyUid: string; seriesUid: string; sopUid: string; modelName: string; modelVersion: number; scores: Record<string, number>; decisions: Record<string, boolean>; silent: boolean; createdAt: number }
export interface Skipped { studyUid: string; sopUid: string; modelName: string; modelVersion: number; reason: string; createdAt: number }
export interface Feedback { id: number; studyUid: string; finding: string; verdict: 'confirm' | 'reject'; user: string; comment: string; createdAt: number }
export interface StudyRecord { predictions: Prediction[]; skipped: Skipped[]; feedback: Feedback[] }
export interface ModelVersion { name: string; version: number; onnxSha256: string; status: string; classes: string[]; createdAt: number; createdBy: string }
export interface ModelCard { model: ModelVersion; meta: Record<string, unknown>; operatingPoint: { thresholds: Record<string, number>; rule?: string }; card?: string }
export interface Heatmap { finding: string; method: string; grid: number; values: number[]; region: { x: number; y: number; width: number; height: number } }
export interface MonitorAlarm { detector: string; feature: string; kind: string; index: number; statistic: number; p_value: number | null; message: string; rule: string; ended: number | null; acknowledged: { by: string; at: string; note?: string } | null }
export interface MonitorModel {
  model: string; version: number; studies: number; drift_detected: boolean; open_alarms: number; alarms: MonitorAlarm[];
  estimated_prevalence: Record<string, number | null>;
  series: { index: number; tests: { detector: string; feature: string; statistic: number; p_value: number | null; rejected: boolean }[] }[];
}

export const fmtTime = (ms: number): string => new Date(ms).toISOString().replace('T', ' ').slice(0, 19) + 'Z';
export const shortUid = (uid: string): string => (uid.length > 22 ? '…' + uid.slice(-20) : uid);
