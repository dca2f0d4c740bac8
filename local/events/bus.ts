/**
 * A local EventBridge bus: a node:http server on 127.0.0.1 that answers the SDK's
 * PutEvents (JSON 1.1 protocol), keeps the events it was given, hands each to the rules
 * whose pattern matches (as EventBridge hands an event to its targets), and lets anyone
 * watch them: GET /events?after=SEQ&pack=ID&waitMs=N long-polls for newer events
 * (`vto events tail`, the console). Bounded: the oldest events are forgotten first.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** An event as EventBridge delivers it to a target. */
export interface BusEvent {
  readonly version: '0';
  readonly id: string;
  readonly 'detail-type': string;
  readonly source: string;
  readonly account: string;
  readonly time: string;
  readonly region: string;
  readonly resources: readonly string[];
  readonly detail: Record<string, unknown>;
}

export interface BusRule {
  readonly name: string;
  /** EventBridge's pattern language, the part rules here use: `source` and `detail-type` lists. */
  readonly pattern: { readonly source?: readonly string[]; readonly 'detail-type'?: readonly string[] };
  readonly target: (event: BusEvent) => Promise<void>;
}

export interface LocalBusOptions {
  readonly busName: string;
  readonly region: string;
  readonly accountId: string;
  readonly rules?: readonly BusRule[];
  /** Events kept for watchers. @default 10000 */
  readonly keep?: number;
  /** Called when a rule's target fails (EventBridge would retry it, then drop or dead-letter it). */
  readonly onTargetError?: (rule: string, error: unknown) => void;
}

export interface LocalBus {
  readonly url: string;
  readonly busName: string;
  /** Every event kept, oldest first, with its sequence number. */
  events(): readonly { seq: number; event: BusEvent }[];
  stop(): Promise<void>;
}

const matches = (p: BusRule['pattern'], e: BusEvent) =>
  (p.source === undefined || p.source.includes(e.source)) && (p['detail-type'] === undefined || p['detail-type'].includes(e['detail-type']));

const MAX_BODY = 1024 * 1024;
const MAX_WAIT_MS = 25_000;

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_BODY) throw new Error('request too large');
    chunks.push(c as Buffer);
  }
  return JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>;
}

function send(res: ServerResponse, status: number, body: unknown, contentType = 'application/json'): void {
  res.writeHead(status, { 'content-type': contentType });
  res.end(JSON.stringify(body));
}

export async function startLocalBus(o: LocalBusOptions): Promise<LocalBus> {
  const keep = o.keep ?? 10_000;
  const log: { seq: number; event: BusEvent }[] = [];
  let seq = 0;
  const waiters = new Set<() => void>();

  const put = (entry: Record<string, unknown>): BusEvent => {
    const detailText = entry['Detail'];
    const source = entry['Source'];
    const detailType = entry['DetailType'];
    if (typeof detailText !== 'string' || typeof source !== 'string' || typeof detailType !== 'string') throw new Error('Source, DetailType and Detail are required');
    const bus = entry['EventBusName'];
    if (bus !== undefined && bus !== o.busName && !(typeof bus === 'string' && bus.endsWith(`:event-bus/${o.busName}`))) throw new Error(`no event bus ${String(bus)}`);
    const time = typeof entry['Time'] === 'number' ? new Date(entry['Time'] * 1000) : new Date();
    const event: BusEvent = {
      version: '0', id: randomUUID(), 'detail-type': detailType, source, account: o.accountId, time: time.toISOString().replace(/\.\d{3}Z$/, 'Z'),
      region: o.region, resources: [], detail: JSON.parse(detailText) as Record<string, unknown>,
    };
    log.push({ seq: ++seq, event });
    if (log.length > keep) log.splice(0, log.length - keep);
    for (const w of waiters) w();
    for (const rule of o.rules ?? []) {
      if (matches(rule.pattern, event)) rule.target(event).catch((e: unknown) => o.onTargetError?.(rule.name, e));
    }
    return event;
  };

  const watch = async (url: URL, res: ServerResponse) => {
    const after = Number(url.searchParams.get('after') ?? '0');
    const pack = url.searchParams.get('pack');
    const waitMs = Math.min(MAX_WAIT_MS, Math.max(0, Number(url.searchParams.get('waitMs') ?? '0')));
    const pick = () => log.filter((x) => x.seq > after && (pack === null || x.event.detail['packId'] === pack));
    let found = pick();
    if (found.length === 0 && waitMs > 0) {
      await new Promise<void>((resolve) => {
        const done = () => { clearTimeout(timer); waiters.delete(done); resolve(); };
        const timer = setTimeout(done, waitMs);
        waiters.add(done);
        res.once('close', done);
      });
      found = pick();
    }
    send(res, 200, { events: found, next: found.length > 0 ? found[found.length - 1]!.seq : Math.max(after, 0) });
  };

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    (async () => {
      if (req.method === 'GET' && url.pathname === '/events') return watch(url, res);
      if (req.method === 'POST' && req.headers['x-amz-target'] === 'AWSEvents.PutEvents') {
        const body = await readJson(req);
        const entries = Array.isArray(body['Entries']) ? (body['Entries'] as Record<string, unknown>[]) : [];
        const results = entries.map((e) => {
          try {
            return { EventId: put(e).id };
          } catch (err) {
            return { ErrorCode: 'InvalidArgument', ErrorMessage: (err as Error).message };
          }
        });
        return send(res, 200, { FailedEntryCount: results.filter((r) => 'ErrorCode' in r).length, Entries: results }, 'application/x-amz-json-1.1');
      }
      send(res, 400, { __type: 'UnknownOperationException', message: `${req.method} ${url.pathname} is not served here` }, 'application/x-amz-json-1.1');
    })().catch((e: unknown) => send(res, 400, { __type: 'ValidationException', message: (e as Error).message }, 'application/x-amz-json-1.1'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    busName: o.busName,
    events: () => log,
    async stop() {
      for (const w of waiters) w();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
