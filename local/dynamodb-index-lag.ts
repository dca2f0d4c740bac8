/**
 * A DynamoDB endpoint whose global secondary indexes lag, as on AWS. DynamoDB Local
 * answers index queries with strong consistency; on AWS a GSI is updated asynchronously,
 * so a Query on an index right after a write can miss a new item or show its old
 * version. This proxy sits in front of DynamoDB Local and makes that visible: a Query on
 * an index answers each item written in the last `lagMs` as it was before that write
 * (or leaves it out when it did not exist yet). Table reads and writes pass through.
 *
 * An item that left the queried partition within the window (its status changed, say) is
 * still listed there with its old image, when the proxy can evaluate the query's
 * conditions (a sort key comparison, begins_with or BETWEEN; a filter of
 * attribute_exists/attribute_not_exists/equality) and the answer is the last page.
 *
 * Not modelled: Select=COUNT answers, and eventually consistent reads of the table itself.
 */
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DescribeTableCommand, DynamoDBClient, GetItemCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';

type Item = Record<string, AttributeValue>;

interface TableShape {
  readonly keyNames: readonly string[];
  readonly hasIndexes: boolean;
  /** Each index's sort key attribute, if it has one. */
  readonly indexSortKeys: ReadonlyMap<string, string | undefined>;
}

interface Write {
  /** When the write was answered (epoch ms). */
  readonly at: number;
  /** The item before the write; null when it did not exist. */
  readonly prior: Item | null;
}

export interface IndexLagProxy {
  /** Give this as the DynamoDB endpoint (AWS_ENDPOINT_URL_DYNAMODB). */
  readonly url: string;
  readonly lagMs: number;
  /** Changes the lag from now on (a test can hold the index back, then let it catch up with 0). */
  setLagMs(ms: number): void;
  stop(): Promise<void>;
}

const TARGET_PREFIX = 'DynamoDB_20120810.';
/** Headers of one hop, not to be passed on: the proxy sends whole bodies with their length. */
const HOP_HEADERS = ['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'host'];
const endToEnd = (headers: Record<string, string | string[] | undefined>) =>
  Object.fromEntries(Object.entries(headers).filter(([k]) => !HOP_HEADERS.includes(k.toLowerCase())));
const WRITES = new Set(['PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem', 'TransactWriteItems']);
const SIDE_CALL_TIMEOUT_MS = 5000;

interface KeyRef {
  readonly table: string;
  readonly key: Item;
}

/** The items a write request touches, with their full item or their key. */
function writtenKeys(op: string, body: Record<string, unknown>): { table: string; itemOrKey: Item }[] {
  const out: { table: string; itemOrKey: Item }[] = [];
  if (op === 'PutItem') out.push({ table: body['TableName'] as string, itemOrKey: body['Item'] as Item });
  if (op === 'UpdateItem' || op === 'DeleteItem') out.push({ table: body['TableName'] as string, itemOrKey: body['Key'] as Item });
  if (op === 'BatchWriteItem') {
    for (const [table, requests] of Object.entries((body['RequestItems'] ?? {}) as Record<string, Record<string, { Item?: Item; Key?: Item }>[]>)) {
      for (const r of requests) {
        const itemOrKey = r['PutRequest']?.Item ?? r['DeleteRequest']?.Key;
        if (itemOrKey) out.push({ table, itemOrKey });
      }
    }
  }
  if (op === 'TransactWriteItems') {
    for (const t of (body['TransactItems'] ?? []) as Record<string, { TableName: string; Item?: Item; Key?: Item }>[]) {
      const w = t['Put'] ?? t['Update'] ?? t['Delete'];
      const itemOrKey = w?.Item ?? w?.Key;
      if (w && itemOrKey) out.push({ table: w.TableName, itemOrKey });
    }
  }
  return out;
}

const keyText = (table: string, key: Item): string => JSON.stringify([table, Object.keys(key).sort().map((k) => [k, key[k]])]);

/** Keeps only the top-level attributes a ProjectionExpression names. */
function project(item: Item, projection: string | undefined, names: Record<string, string> | undefined): Item {
  if (!projection) return item;
  const wanted = new Set(projection.split(',').map((p) => {
    const top = p.trim().split(/[.[]/)[0] ?? '';
    return names?.[top] ?? top;
  }));
  return Object.fromEntries(Object.entries(item).filter(([k]) => wanted.has(k)));
}

type Predicate = (item: Item) => boolean;

/** Orders two scalar attribute values as DynamoDB does (numbers by value, strings and binaries by bytes). */
function compare(a: AttributeValue | undefined, b: AttributeValue): number | undefined {
  if (a === undefined) return undefined;
  if ('N' in a && 'N' in b) return Number(a.N) - Number(b.N);
  if ('S' in a && 'S' in b) return a.S! < b.S! ? -1 : a.S! > b.S! ? 1 : 0;
  return undefined;
}

const same = (a: AttributeValue | undefined, b: AttributeValue): boolean => a !== undefined && JSON.stringify(a) === JSON.stringify(b);

interface QueryConditions {
  /** The partition key `attr = :v`. */
  readonly partition: { name: string; value: AttributeValue };
  /** The whole key condition and the filter, when the proxy can evaluate them. */
  readonly matches: Predicate | undefined;
}

/** One condition term the proxy understands, or undefined. */
function term(text: string, name: (n: string) => string, value: (v: string) => AttributeValue | undefined): Predicate | undefined {
  const t = text.trim().replace(/^\((.*)\)$/, '$1').trim();
  let m = /^([#\w]+)\s*(<=|>=|<>|<|>|=)\s*(:\w+)$/.exec(t);
  if (m) {
    const [attr, op, v] = [name(m[1]!), m[2]!, value(m[3]!)];
    if (!v) return undefined;
    return (item) => {
      if (op === '=') return same(item[attr], v);
      if (op === '<>') return !same(item[attr], v);
      const c = compare(item[attr], v);
      if (c === undefined) return false;
      return op === '<' ? c < 0 : op === '<=' ? c <= 0 : op === '>' ? c > 0 : c >= 0;
    };
  }
  m = /^([#\w]+)\s+BETWEEN\s+(:\w+)\s+AND\s+(:\w+)$/i.exec(t);
  if (m) {
    const [attr, lo, hi] = [name(m[1]!), value(m[2]!), value(m[3]!)];
    if (!lo || !hi) return undefined;
    return (item) => (compare(item[attr], lo) ?? -1) >= 0 && (compare(item[attr], hi) ?? 1) <= 0;
  }
  m = /^begins_with\(\s*([#\w]+)\s*,\s*(:\w+)\s*\)$/i.exec(t);
  if (m) {
    const [attr, v] = [name(m[1]!), value(m[2]!)];
    if (!v || !('S' in v)) return undefined;
    return (item) => typeof item[attr]?.S === 'string' && item[attr].S.startsWith(v.S!);
  }
  m = /^(attribute_exists|attribute_not_exists)\(\s*([#\w]+)\s*\)$/i.exec(t);
  if (m) {
    const [exists, attr] = [m[1]!.toLowerCase() === 'attribute_exists', name(m[2]!)];
    return (item) => (item[attr] !== undefined) === exists;
  }
  return undefined;
}

/** Splits on top-level AND, keeping BETWEEN's own AND inside its term. */
function conjuncts(expr: string): string[] {
  const parts = expr.split(/\s+AND\s+/i);
  const out: string[] = [];
  for (const p of parts) {
    const prev = out.at(-1);
    if (prev !== undefined && /\sBETWEEN\s+:\w+$/i.test(prev)) out[out.length - 1] = `${prev} AND ${p}`;
    else out.push(p);
  }
  return out;
}

/** The partition key condition of a Query, and the whole of its conditions as a predicate when they are simple enough. */
function queryConditions(body: Record<string, unknown>): QueryConditions | undefined {
  const expr = body['KeyConditionExpression'];
  if (typeof expr !== 'string') return undefined;
  const names = (body['ExpressionAttributeNames'] ?? {}) as Record<string, string>;
  const values = (body['ExpressionAttributeValues'] ?? {}) as Record<string, AttributeValue>;
  const name = (n: string) => names[n] ?? n;
  const value = (v: string) => values[v];
  const keyTerms = conjuncts(expr);
  const m = /^\s*\(?\s*([#\w]+)\s*=\s*(:\w+)\s*\)?\s*$/.exec(keyTerms[0] ?? '');
  const pv = m ? value(m[2]!) : undefined;
  if (!m || !pv) return undefined;
  const filter = body['FilterExpression'];
  const terms = [...keyTerms, ...(typeof filter === 'string' ? (/\b(OR|NOT)\b/i.test(filter) ? [undefined] : conjuncts(filter)) : [])];
  const predicates = terms.map((t) => (t === undefined ? undefined : term(t, name, value)));
  const known = predicates.every((p): p is Predicate => p !== undefined);
  return { partition: { name: name(m[1]!), value: pv }, matches: known ? (item) => predicates.every((p) => p!(item)) : undefined };
}

export async function startIndexLagProxy(options: { target: string; lagMs: number; region: string; credentials: { accessKeyId: string; secretAccessKey: string } }): Promise<IndexLagProxy> {
  const checked = (ms: number) => {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`lagMs must be a non-negative number, got ${ms}`);
    return ms;
  };
  let lagMs = checked(options.lagMs);
  const target = new URL(options.target);
  const client = new DynamoDBClient({ endpoint: options.target, region: options.region, credentials: options.credentials, maxAttempts: 2 });
  const shapes = new Map<string, Promise<TableShape>>();
  const writes = new Map<string, Write[]>();
  /** Writes to one item go through one at a time, so each prior image is the item's state just before its write. */
  const locks = new Map<string, Promise<void>>();

  const shapeOf = (table: string): Promise<TableShape> => {
    let shape = shapes.get(table);
    if (!shape) {
      shape = client.send(new DescribeTableCommand({ TableName: table }), { abortSignal: AbortSignal.timeout(SIDE_CALL_TIMEOUT_MS) }).then((d) => ({
        keyNames: (d.Table?.KeySchema ?? []).map((k) => k.AttributeName ?? ''),
        hasIndexes: (d.Table?.GlobalSecondaryIndexes ?? []).length > 0,
        indexSortKeys: new Map((d.Table?.GlobalSecondaryIndexes ?? []).map((g) => [g.IndexName ?? '', g.KeySchema?.find((k) => k.KeyType === 'RANGE')?.AttributeName])),
      }));
      // A table that does not exist yet (or failed to describe) is asked again next time.
      shape.catch(() => shapes.delete(table));
      shapes.set(table, shape);
    }
    return shape;
  };

  const prune = (now: number) => {
    for (const [k, list] of writes) {
      const kept = list.filter((w) => w.at > now - lagMs);
      if (kept.length === 0) writes.delete(k);
      else if (kept.length !== list.length) writes.set(k, kept);
    }
  };

  async function withLocks<T>(keys: readonly string[], fn: () => Promise<T>): Promise<T> {
    const sorted = [...new Set(keys)].sort();
    const releases: (() => void)[] = [];
    for (const k of sorted) {
      const before = locks.get(k) ?? Promise.resolve();
      let release: () => void = () => undefined;
      const mine = new Promise<void>((r) => (release = r));
      const chained = before.then(() => mine);
      locks.set(k, chained);
      releases.push(() => {
        release();
        if (locks.get(k) === chained) locks.delete(k);
      });
      await before;
    }
    try {
      return await fn();
    } finally {
      for (const r of releases) r();
    }
  }

  function forward(req: IncomingMessage, body: Buffer): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
    return new Promise((resolve, reject) => {
      const out = httpRequest({
        host: target.hostname, port: target.port, path: req.url, method: req.method,
        headers: { ...endToEnd(req.headers), host: target.host, 'content-length': String(body.length) },
        timeout: 30_000,
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 500, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      });
      out.on('timeout', () => out.destroy(new Error('DynamoDB Local did not answer within 30 s')));
      out.on('error', reject);
      out.end(body);
    });
  }

  /** Before a write: the current image of each item it touches, for tables with indexes. */
  async function priors(op: string, body: Record<string, unknown>): Promise<{ ref: KeyRef; text: string }[]> {
    const touched = writtenKeys(op, body);
    const refs: { ref: KeyRef; text: string }[] = [];
    for (const t of touched) {
      const shape = await shapeOf(t.table).catch(() => undefined);
      if (!shape?.hasIndexes) continue;
      const key = Object.fromEntries(shape.keyNames.map((n) => [n, t.itemOrKey[n]!]).filter(([, v]) => v !== undefined)) as Item;
      if (Object.keys(key).length !== shape.keyNames.length) continue;
      refs.push({ ref: { table: t.table, key }, text: keyText(t.table, key) });
    }
    return refs;
  }

  async function handleWrite(req: IncomingMessage, raw: Buffer, op: string, body: Record<string, unknown>) {
    const refs = await priors(op, body);
    if (refs.length === 0) return forward(req, raw);
    return withLocks(refs.map((r) => r.text), async () => {
      const before = await Promise.all(refs.map(async ({ ref }) => {
        const res = await client.send(new GetItemCommand({ TableName: ref.table, Key: ref.key, ConsistentRead: true }), { abortSignal: AbortSignal.timeout(SIDE_CALL_TIMEOUT_MS) });
        return res.Item ?? null;
      }));
      const res = await forward(req, raw);
      if (res.status === 200) {
        const at = Date.now();
        refs.forEach(({ text }, i) => writes.set(text, [...(writes.get(text) ?? []), { at, prior: before[i] ?? null }]));
      }
      return res;
    });
  }

  /** An index Query's answer as a lagging index gives it. */
  async function lagQuery(body: Record<string, unknown>, answer: Buffer): Promise<Buffer> {
    const now = Date.now();
    prune(now);
    const table = body['TableName'] as string;
    const index = body['IndexName'] as string;
    const shape = await shapeOf(table).catch(() => undefined);
    const parsed = JSON.parse(answer.toString('utf8')) as { Items?: Item[]; Count?: number; LastEvaluatedKey?: Item };
    if (!shape || !parsed.Items) return answer;
    const conditions = queryConditions(body);
    const projection = body['ProjectionExpression'] as string | undefined;
    const names = body['ExpressionAttributeNames'] as Record<string, string> | undefined;
    const sortKey = shape.indexSortKeys.get(index);
    const inIndex = (item: Item) => conditions !== undefined && same(item[conditions.partition.name], conditions.partition.value) && (sortKey === undefined || item[sortKey] !== undefined);
    const keyOf = (item: Item) => (shape.keyNames.every((n) => item[n] !== undefined) ? keyText(table, Object.fromEntries(shape.keyNames.map((n) => [n, item[n]!])) as Item) : undefined);
    const items: Item[] = [];
    const answered = new Set<string>();
    for (const item of parsed.Items) {
      const k = keyOf(item);
      if (k !== undefined) answered.add(k);
      const recent = k === undefined ? undefined : writes.get(k);
      if (!recent || recent.length === 0) {
        items.push(item);
        continue;
      }
      const seen = recent[0]!.prior;
      // Not yet in the index, or not yet in this partition of it.
      if (seen === null || (conditions && !inIndex(seen))) continue;
      items.push(project(seen, projection, names));
    }
    // Items that left this partition within the window: the index still lists them here.
    let ghosts = 0;
    if (conditions?.matches && parsed.LastEvaluatedKey === undefined) {
      const prefix = JSON.stringify([table]).slice(0, -1);
      for (const [k, recent] of writes) {
        if (!k.startsWith(prefix) || answered.has(k)) continue;
        const seen = recent[0]?.prior;
        if (!seen || !inIndex(seen) || !conditions.matches(seen)) continue;
        items.push(project(seen, projection, names));
        ghosts++;
      }
    }
    if (ghosts > 0 && sortKey !== undefined) {
      const forward = body['ScanIndexForward'] !== false;
      items.sort((a, b) => {
        const c = a[sortKey] && b[sortKey] ? compare(a[sortKey], b[sortKey]!) ?? 0 : 0;
        return forward ? c : -c;
      });
    }
    return Buffer.from(JSON.stringify({ ...parsed, Items: items, Count: items.length }));
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks);
    const targetHeader = String(req.headers['x-amz-target'] ?? '');
    const op = targetHeader.startsWith(TARGET_PREFIX) ? targetHeader.slice(TARGET_PREFIX.length) : '';
    let body: Record<string, unknown> = {};
    try {
      body = op ? (JSON.parse(raw.toString('utf8') || '{}') as Record<string, unknown>) : {};
    } catch {
      // Not ours to judge: DynamoDB Local answers the malformed request.
    }
    let answer;
    if (WRITES.has(op)) answer = await handleWrite(req, raw, op, body);
    else answer = await forward(req, raw);
    let payload = answer.body;
    const headers = endToEnd(answer.headers);
    if (op === 'Query' && typeof body['IndexName'] === 'string' && body['Select'] !== 'COUNT' && answer.status === 200 && lagMs > 0) {
      payload = await lagQuery(body, answer.body);
      // The checksum was of the body DynamoDB Local sent.
      delete headers['x-amz-crc32'];
    }
    headers['content-length'] = String(payload.length);
    res.writeHead(answer.status, headers);
    res.end(payload);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (res.headersSent) return res.destroy();
      res.writeHead(500, { 'content-type': 'application/x-amz-json-1.0' });
      res.end(JSON.stringify({ __type: 'com.amazonaws.dynamodb.v20120810#InternalServerError', message: `index-lag proxy: ${(e as Error).message}` }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    get lagMs() {
      return lagMs;
    },
    setLagMs(ms) {
      lagMs = checked(ms);
      // Writes older than the new lag are in the index already.
      prune(Date.now());
    },
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      client.destroy();
    },
  };
}
