/**
 * `radml serve --config <file>`: run the deployment service until SIGTERM/SIGINT.
 */
import { InputError } from '../util/errors.js';
import { ROLES, roleSchema } from '../store/schema.js';
import { addToken } from '../serve/auth.js';
import { readServeConfig } from '../serve/config.js';
import { redactPostgresUrl } from '../store/postgres.js';
import { startService } from '../serve/service.js';
import { type Command, bool, requireStr, str } from './lib/command.js';

const LEVELS = ['silent', 'error', 'warn', 'info', 'debug'] as const;

export const command: Command = {
  name: 'serve',
  summary: 'Run the deployment service (HTTP API, model registry, Orthanc bridge, jobs)',
  usage: '--config <serve.json>',
  help: `Starts the service described by a JSON config file (paths relative to the file):

  {
    "listen":    { "host": "127.0.0.1", "port": 8470 },   host defaults to loopback
    "store":     "radml-serve/radml.db",        SQLite (WAL): jobs, registry, predictions, feedback, audit;
                                                 or "postgres://user:pw@host/db": several services share one queue
    "storeSync": "normal",                       "full" adds an fsync per commit (survives power loss)
    "modelsDir": "radml-serve/models",          verified model versions
    "tokensFile":"radml-serve/tokens.json",     hashed API tokens (see --add-token)
    "orthanc": {                                 optional PACS bridge
      "url": "http://127.0.0.1:8042", "dicomWebRoot": "/dicom-web",
      "username": "…", "password": "…",
      "watch": "changes",                        "changes" (Orthanc /changes), "qido" (QIDO-RS polling) or "off"
      "pollIntervalMs": 2000, "startFrom": "now" "now" or "beginning" (first start only)
      "stableMs": 60000, "pageSize": 500        qido: queue a study once unchanged this long; studies per page
      "probeMinMs": 1000, "probeMaxMs": 30000   PACS outage: health probe backoff while jobs are held
    },
    "notAnalysedReport": true,                   short SR "not analysed: <reason>" for refused studies
    "silent": false,                             shadow mode: record predictions, send nothing to the PACS
    "selection": { "modalities": ["CR","DX"], "bodyParts": ["CHEST"], "views": ["PA","AP"] },
    "worker": { "enabled": true, "concurrency": 1, "leaseMs": 60000, "maxAttempts": 5,
                "baseBackoffMs": 2000, "maxBackoffMs": 300000,
                "studyRetryMs": 30000, "studyWaitMaxMs": 86400000 },   a job queued before its study waits
    "maxQueued": 10000,                          back-pressure: 503 + Retry-After beyond this
    "limits": { "imageBytes": 67108864, "modelBytes": 536870912, "jsonBytes": 1048576,
                "modelInflatedBytes": 2147483648, "modelEntries": 1000,   model uploads: unpacked size, files
                "dicomInflatedBytes": 134217728 },       deflated DICOM: refused past this when inflated
    "decodeThreads": 2, "decodeQueue": 64,      decode workers; 503 + Retry-After past this many waiting
    "heatmapGrid": 8, "heatmapLayout": "per-finding", "heatmapMaxFindings": 4,   or "grid": one SC per image
    "auditKeyFile": "radml-serve/audit.key",    HMAC key of the audit chain, outside the database (0600)
    "threads": 1, "logLevel": "info"
  }

Every field has a default, so {} is a valid config; unknown keys are refused. While the PACS is
unreachable no job is leased and none spends an attempt (jobs wait in the queue; /ready says so);
see \`radml jobs\` to list and requeue failed jobs. Only the champion version's results go back to
the PACS (a Comprehensive SR and Secondary Captures with the positive findings' heatmaps, in the source study); challenger
versions and silent mode record predictions only. The API is described at GET /openapi.json; every
route except /health and /ready needs "Authorization: Bearer <token>" with an allowed role
(admin, radiologist, service). Logs are JSON lines on stderr with study UIDs pseudonymised.

Examples:
  radml serve --config serve.json --add-token alice:radiologist     prints the new token once
  radml serve --config serve.json`,
  options: {
    config: { type: 'string', arg: '<file>', description: 'service configuration (JSON)' },
    'add-token': { type: 'string', arg: '<name>:<role>', description: `create a token (role: ${ROLES.join(', ')}), print it once and exit` },
    check: { type: 'boolean', description: 'validate the config and exit' },
  },
  async run(args, io) {
    const cfg = readServeConfig(requireStr(args, 'config', 'serve'));
    const add = str(args, 'add-token');
    if (add !== undefined) {
      const m = /^([^:]+):(.+)$/.exec(add);
      const role = roleSchema.safeParse(m?.[2]);
      if (!m || !role.success) throw new InputError('CLI_ARGS', `--add-token must be <name>:<role> with role one of ${ROLES.join(', ')}, got "${add}"`);
      io.out(addToken(cfg.tokensFile, m[1]!, role.data));
      io.err(`token for ${m[1]} (${role.data}) added to ${cfg.tokensFile}; it is shown only this once`);
      return 0;
    }
    if (bool(args, 'check')) {
      io.out(JSON.stringify({ ...cfg, store: redactPostgresUrl(cfg.store), orthanc: cfg.orthanc ? { ...cfg.orthanc, password: cfg.orthanc.password ? '***' : undefined } : undefined }, null, 2));
      return 0;
    }
    const level = LEVELS.indexOf(cfg.logLevel);
    const log = (l: Record<string, unknown>) => {
      const lv = /error|failed/.test(String(l.msg)) ? 2 : /retry|lost|full/.test(String(l.msg)) ? 3 : l.msg === 'request' ? 4 : 3;
      if (lv <= level) io.err(JSON.stringify({ time: new Date().toISOString(), ...l }));
    };
    const svc = await startService(cfg, { log });
    io.err(`radml serve listening on ${svc.url}; dashboard at ${svc.url}/ (sign in with a token); OpenAPI at ${svc.url}/openapi.json (any API token) and Prometheus metrics at ${svc.url}/metrics (admin or service token); /health and /ready need none; Ctrl-C or SIGTERM stops it`);
    await new Promise<void>((resolve) => {
      const onSignal = (sig: string) => {
        io.err(`${sig}: stopping (finishing or releasing running jobs)…`);
        process.off('SIGTERM', onTerm);
        process.off('SIGINT', onInt);
        void svc.stop({ graceMs: 15_000 }).then(resolve);
      };
      const onTerm = () => onSignal('SIGTERM');
      const onInt = () => onSignal('SIGINT');
      process.on('SIGTERM', onTerm);
      process.on('SIGINT', onInt);
    });
    return 0;
  },
};
