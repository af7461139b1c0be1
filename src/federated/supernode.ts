/**
 * A Flower SuperNode in TypeScript: registers and activates the site's node, keeps it alive with
 * heartbeats, pulls instructions, fetches their object trees (checking every id), hands the content
 * to a handler, and pushes the reply (only the objects the SuperLink asks for). Network failures
 * are retried with back-off and the node re-registers when the SuperLink has forgotten it (e.g.
 * after a restart); stopping deactivates and unregisters the node (a clean leave).
 *
 * The handler sees only the instruction's content and returns the reply's content, so everything
 * that leaves the site passes through one place (see `onPush` for inspecting it).
 */
import { createHash } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { FleetClient, FleetError, FleetUnreachableError } from './fleet-client.js';
import {
  deflateMessage, FlowerObjectError, inflateMessage, metadataFromProto, metadataProto, postOrder, type Metadata, type ObjectTree, type RecordDict,
} from './objects.js';
import { big, s64, u64 } from './proto.js';

/** What a site does with one instruction: the reply's content (or a thrown error, sent as an error reply). */
export type InstructionHandler = (instruction: { messageType: string; runId: bigint; groupId: string; content: RecordDict; runConfig: Record<string, unknown> }) => Promise<RecordDict>;

export type SupernodeEvent =
  | { kind: 'connected'; nodeId: bigint }
  | { kind: 'run'; runId: bigint; fabHash: string }
  | { kind: 'instruction'; runId: bigint; messageType: string; groupId: string; bytesIn: number }
  | { kind: 'replied'; runId: bigint; messageType: string; groupId: string; bytesOut: number; seconds: number; error?: string }
  | { kind: 'retrying'; rpc: string; inSeconds: number; reason: string }
  | { kind: 'run-finished'; runId: bigint }
  | { kind: 'left'; nodeId: bigint };

export interface SupernodeOptions {
  superlink: string;
  key: KeyObject;
  /** Heartbeat interval announced to the SuperLink, seconds (10..1800; flwr uses 30). */
  heartbeatInterval?: number;
  /** Wait between empty polls, seconds (flwr: 3). */
  pollSeconds?: number;
  /** Give up after the SuperLink has been unreachable this long, seconds. */
  maxRetrySeconds?: number;
  /** Leave once a run this node worked for has finished. */
  exitAfterRun?: boolean;
  signal?: AbortSignal;
  onEvent?: (e: SupernodeEvent) => void;
  /**
   * A fresh key when the SuperLink refuses to activate this one (a node that left cleanly is
   * unregistered for good, so its key cannot join again); without it that refusal is an error.
   */
  renewKey?: () => KeyObject;
  /** Sees every object about to be pushed (id → bytes) and the message metadata. */
  onPush?: (objects: Map<string, Uint8Array>, metadata: Metadata) => void;
}

export interface SupernodeSummary {
  nodeId: bigint;
  instructions: number;
  errors: number;
  bytesSent: number;
  bytesReceived: number;
  runs: bigint[];
}

const RUN_NOT_RUNNING = 2007;

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(() => { signal?.removeEventListener('abort', done); resolve(); }, ms);
    const done = (): void => { clearTimeout(t); resolve(); };
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * Run a SuperNode until `signal` aborts (or, with `exitAfterRun`, until its run finishes).
 *
 * @example
 *   const ac = new AbortController();
 *   await runSupernode(handler, { superlink: 'http://127.0.0.1:8000', key: loadOrCreateNodeKey('node.pem'), signal: ac.signal });
 */
export async function runSupernode(handler: InstructionHandler, opts: SupernodeOptions): Promise<SupernodeSummary> {
  const hb = opts.heartbeatInterval ?? 30;
  const poll = (opts.pollSeconds ?? 3) * 1000;
  const maxRetry = (opts.maxRetrySeconds ?? 600) * 1000;
  const summary: SupernodeSummary = { nodeId: 0n, instructions: 0, errors: 0, bytesSent: 0, bytesReceived: 0, runs: [] };
  const newClient = (key: KeyObject): FleetClient => new FleetClient({ superlink: opts.superlink, key, onBytes: (s, r) => { summary.bytesSent += s; summary.bytesReceived += r; } });
  let client = newClient(opts.key);
  const emit = (e: SupernodeEvent): void => opts.onEvent?.(e);
  const runs = new Map<string, { config: Record<string, unknown>; finished: boolean }>();
  let nodeId = 0n;

  /** Retry an RPC through network failures (back-off 1, 2, 4 … 30 s) for up to maxRetrySeconds. */
  async function retrying<T>(rpc: string, f: () => Promise<T>): Promise<T> {
    const since = Date.now();
    let wait = 1;
    for (;;) {
      try {
        return await f();
      } catch (e) {
        const transient = e instanceof FleetUnreachableError || (e instanceof FleetError && e.status >= 500);
        if (!transient || Date.now() - since > maxRetry || opts.signal?.aborted) throw e;
        emit({ kind: 'retrying', rpc, inSeconds: wait, reason: (e as Error).message });
        await sleep(wait * 1000, opts.signal);
        wait = Math.min(30, wait * 2);
      }
    }
  }

  async function connect(renewed = false): Promise<void> {
    try {
      await retrying('register-node', () => client.call('register-node', 'RegisterNodeFleetRequest', { public_key: client.publicKeyPem }, 'RegisterNodeFleetResponse'));
    } catch (e) {
      // A key registered before (a restarted site) is refused here; activation below decides.
      if (!(e instanceof FleetError) || e.status >= 500) throw e;
    }
    let a: { node_id: string };
    try {
      a = await retrying('activate-node', () => client.call<{ node_id: string }>('activate-node', 'ActivateNodeRequest', { public_key: client.publicKeyPem, heartbeat_interval: hb }, 'ActivateNodeResponse'));
    } catch (e) {
      if (!(e instanceof FleetError) || e.status !== 412 || !opts.renewKey || renewed) throw e;
      client = newClient(opts.renewKey());
      return connect(true);
    }
    nodeId = big(a.node_id);
    summary.nodeId = nodeId;
    emit({ kind: 'connected', nodeId });
  }

  const node = (): Record<string, unknown> => ({ node: { node_id: u64(nodeId) } });

  /** A node-level call; when the SuperLink no longer knows the node (401/404), reconnect once and retry. */
  async function nodeCall<T>(rpc: string, reqType: string, req: () => Record<string, unknown>, resType: string): Promise<T> {
    try {
      return await retrying(rpc, () => client.call<T>(rpc, reqType, req(), resType));
    } catch (e) {
      if (e instanceof FleetError && (e.status === 401 || e.status === 404) && !opts.signal?.aborted) {
        await connect();
        return retrying(rpc, () => client.call<T>(rpc, reqType, req(), resType));
      }
      throw e;
    }
  }

  await connect();
  let heartbeatTimer: NodeJS.Timeout | undefined;
  let beating = false;
  const beat = async (): Promise<void> => {
    if (beating) return;
    beating = true;
    try {
      await client.call('send-node-heartbeat', 'SendNodeHeartbeatRequest', { ...node(), heartbeat_interval: hb }, 'SendNodeHeartbeatResponse');
    } catch (e) {
      emit({ kind: 'retrying', rpc: 'send-node-heartbeat', inSeconds: hb / 3, reason: (e as Error).message });
    } finally {
      beating = false;
    }
  };
  heartbeatTimer = setInterval(() => void beat(), Math.max(1000, (hb * 1000 * 2) / 3));
  heartbeatTimer.unref();

  async function ensureRun(runId: bigint): Promise<{ config: Record<string, unknown>; finished: boolean }> {
    const key = runId.toString();
    const known = runs.get(key);
    if (known) return known;
    const r = await nodeCall<{ run: { fab_hash: string; override_config: Record<string, unknown> } }>('get-run', 'GetRunRequest', () => ({ ...node(), run_id: u64(runId) }), 'GetRunResponse');
    const fabHash = r.run?.fab_hash ?? '';
    if (fabHash) {
      const f = await nodeCall<{ fab: { hash_str: string; content: Uint8Array } }>('get-fab', 'GetFabRequest', () => ({ ...node(), hash_str: fabHash, run_id: u64(runId) }), 'GetFabResponse');
      const got = createHash('sha256').update(f.fab?.content ?? new Uint8Array()).digest('hex');
      if (got !== fabHash) throw new FlowerObjectError(`run ${runId}: the FAB's SHA-256 ${got.slice(0, 12)}… does not match the run's ${fabHash.slice(0, 12)}…`);
    }
    const entry = { config: r.run?.override_config ?? {}, finished: false };
    runs.set(key, entry);
    summary.runs.push(runId);
    emit({ kind: 'run', runId, fabHash });
    return entry;
  }

  async function pullTree(runId: bigint, tree: ObjectTree): Promise<Map<string, Uint8Array>> {
    const objects = new Map<string, Uint8Array>();
    for (const id of postOrder(tree)) {
      if (objects.has(id)) continue;
      for (let attempt = 0; ; attempt++) {
        const r = await nodeCall<{ object_found: boolean; object_available: boolean; object_content: Uint8Array }>('pull-object', 'PullObjectRequest', () => ({ ...node(), run_id: u64(runId), object_id: id }), 'PullObjectResponse');
        if (!r.object_found) throw new FlowerObjectError(`object ${id} is not on the SuperLink`);
        if (r.object_available) {
          const got = createHash('sha256').update(r.object_content).digest('hex');
          if (got !== id) throw new FlowerObjectError(`object ${id}: content hashes to ${got}`);
          objects.set(id, r.object_content);
          break;
        }
        if (attempt > 600) throw new FlowerObjectError(`object ${id} never became available`);
        await sleep(200, opts.signal);
      }
    }
    return objects;
  }

  async function handleOne(msgProto: Record<string, unknown>, tree: ObjectTree): Promise<void> {
    const meta = metadataFromProto((msgProto['metadata'] ?? {}) as Record<string, unknown>);
    const t0 = Date.now();
    const run = await ensureRun(meta.runId);
    const objects = await pullTree(meta.runId, tree);
    const bytesIn = [...objects.values()].reduce((s, b) => s + b.length, 0);
    await nodeCall('confirm-message-received', 'ConfirmMessageReceivedRequest', () => ({ ...node(), run_id: u64(meta.runId), message_object_id: meta.messageId }), 'ConfirmMessageReceivedResponse');
    emit({ kind: 'instruction', runId: meta.runId, messageType: meta.messageType, groupId: meta.groupId, bytesIn });
    summary.instructions++;
    let content: RecordDict | null = null;
    let error: { code: bigint; reason: string } | undefined;
    let localError: string | undefined;
    try {
      const inflated = inflateMessage(tree.object_id, objects);
      if (!inflated.content) throw new FlowerObjectError('the instruction has no content');
      content = await handler({ messageType: meta.messageType, runId: meta.runId, groupId: meta.groupId, content: inflated.content, runConfig: run.config });
    } catch (e) {
      summary.errors++;
      // Only the error's kind leaves the site: messages can name local files, whose names may identify patients.
      const code = (e as { code?: unknown }).code;
      error = { code: 2n, reason: `radml site could not process the instruction (${typeof code === 'string' ? code : (e as Error).name}); details are in the site's log` };
      localError = (e as Error).message;
    }
    const now = Date.now() / 1000;
    const reply: Metadata = {
      runId: meta.runId, messageId: '', srcNodeId: nodeId, dstNodeId: meta.srcNodeId, replyToMessageId: meta.messageId, groupId: meta.groupId,
      ttl: Math.max(1, meta.createdAt + meta.ttl - now), messageType: meta.messageType, createdAt: now,
      ...(meta.dstTaskId !== undefined ? { srcTaskId: meta.dstTaskId } : {}), ...(meta.srcTaskId !== undefined ? { dstTaskId: meta.srcTaskId } : {}),
    };
    const d = deflateMessage(reply, error ? null : content, error);
    reply.messageId = d.rootId;
    opts.onPush?.(d.objects, reply);
    const pushed = await nodeCall<{ objects_to_push: string[]; session_id: string }>('push-messages', 'PushMessagesRequest', () => ({
      ...node(),
      messages_list: [{ metadata: metadataProto(reply), ...(error ? { error: { code: s64(error.code), reason: error.reason } } : { content: {} }) }],
      message_object_trees: [d.tree],
      clientapp_runtime_list: [(Date.now() - t0) / 1000],
    }), 'PushMessagesResponse');
    let bytesOut = 0;
    for (const id of pushed.objects_to_push ?? []) {
      const bytes = d.objects.get(id);
      if (!bytes) throw new FlowerObjectError(`the SuperLink asked for object ${id}, which is not part of the reply`);
      bytesOut += bytes.length;
      await nodeCall('push-object', 'PushObjectRequest', () => ({ ...node(), run_id: u64(meta.runId), object_id: id, object_content: bytes, session_id: pushed.session_id }), 'PushObjectResponse');
    }
    emit({ kind: 'replied', runId: meta.runId, messageType: meta.messageType, groupId: meta.groupId, bytesOut, seconds: (Date.now() - t0) / 1000, ...(localError !== undefined ? { error: localError } : {}) });
  }

  /** Has the (only) run this node worked for finished? get-run answers 403/2007 or a finished status. */
  async function runsFinished(): Promise<boolean> {
    if (runs.size === 0) return false;
    for (const [key, r] of runs) {
      if (r.finished) continue;
      try {
        const g = await client.call<{ run: { status: { status: string } } }>('get-run', 'GetRunRequest', { ...node(), run_id: u64(BigInt(key)) }, 'GetRunResponse');
        if (g.run?.status?.status === 'finished') r.finished = true;
      } catch (e) {
        if (e instanceof FleetError && (e.flowerCode === RUN_NOT_RUNNING || e.status === 403)) r.finished = true;
        else throw e;
      }
      if (r.finished) emit({ kind: 'run-finished', runId: BigInt(key) });
    }
    return [...runs.values()].every((r) => r.finished);
  }

  try {
    let lastRunCheck = 0;
    while (!opts.signal?.aborted) {
      const res = await nodeCall<{ messages_list: Record<string, unknown>[]; message_object_trees: ObjectTree[]; reconnect: { reconnect: string } | null }>('pull-messages', 'PullMessagesRequest', () => node(), 'PullMessagesResponse');
      if (res.messages_list.length && res.message_object_trees.length) {
        try {
          await handleOne(res.messages_list[0]!, res.message_object_trees[0]!);
        } catch (e) {
          // The run ended while we worked on it: nothing to reply to.
          if (!(e instanceof FleetError && (e.flowerCode === RUN_NOT_RUNNING || e.status === 403))) throw e;
        }
        continue;
      }
      const reconnect = res.reconnect ? Number(big(res.reconnect.reconnect)) : 0;
      if (opts.exitAfterRun && Date.now() - lastRunCheck > poll) {
        lastRunCheck = Date.now();
        if (await runsFinished()) break;
      }
      await sleep(reconnect > 0 ? reconnect * 1000 : poll, opts.signal);
    }
  } finally {
    clearInterval(heartbeatTimer);
    // A clean leave: the SuperLink stops sending work and answers outstanding instructions itself.
    try {
      await client.call('deactivate-node', 'DeactivateNodeRequest', { node_id: u64(nodeId) }, 'DeactivateNodeResponse');
      await client.call('unregister-node', 'UnregisterNodeFleetRequest', { node_id: u64(nodeId) }, 'UnregisterNodeFleetResponse');
      emit({ kind: 'left', nodeId });
    } catch (e) {
      emit({ kind: 'retrying', rpc: 'deactivate-node', inSeconds: 0, reason: `could not leave cleanly: ${(e as Error).message}` });
    }
  }
  return summary;
}
