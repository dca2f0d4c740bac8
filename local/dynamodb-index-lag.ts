/**
 * A DynamoDB endpoint whose global secondary indexes lag, as on AWS. DynamoDB Local
 * answers index queries with strong consistency; on AWS a GSI is updated asynchronously,
 * so a Query on an index right after a write can miss a new item or show its old
 * version. This proxy sits in front of DynamoDB Local and makes that visible: a Query on
 * an index answers each item written in the last `lagMs` as it was before that write
 * (or leaves it out when it did not exist yet). Table reads and writes pass through.
 *
 * Not modelled: an item that moved out of the queried index partition within the window
 * (AWS would still list it there), Select=COUNT answers, and eventually consistent reads
 * of the table itself.
 */
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DescribeTableCommand, DynamoDBClient, GetItemCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';

type Item = Record<string, AttributeValue>;

interface TableShape {
  readonly keyNames: readonly string[];
  readonly hasIndexes: boolean;
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
  stop(): Promise<void>;
}

const TARGET_PREFIX = 'DynamoDB_20120810.';
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

/** The partition key condition `attr = :v` (or `#n = :v`) of a KeyConditionExpression. */
function partitionCondition(body: Record<string, unknown>): { name: string; value: AttributeValue } | undefined {
  const expr = body['KeyConditionExpression'];
  if (typeof expr !== 'string') return undefined;
  const names = body['ExpressionAttributeNames'] as Record<string, string> | undefined;
  const values = body['ExpressionAttributeValues'] as Record<string, AttributeValue> | undefined;
  const m = /^\s*\(?\s*([#\w]+)\s*=\s*(:\w+)/.exec(expr);
  if (!m) return undefined;
  const value = values?.[m[2]!];
  if (!value) return undefined;
  return { name: names?.[m[1]!] ?? m[1]!, value };
}

export async function startIndexLagProxy(options: { target: string; lagMs: number; region: string; credentials: { accessKeyId: string; secretAccessKey: string } }): Promise<IndexLagProxy> {
  const { lagMs } = options;
  if (!Number.isFinite(lagMs) || lagMs < 0) throw new RangeError(`lagMs must be a non-negative number, got ${lagMs}`);
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
        headers: { ...req.headers, host: target.host, 'content-length': String(body.length) },
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
    const shape = await shapeOf(table).catch(() => undefined);
    const parsed = JSON.parse(answer.toString('utf8')) as { Items?: Item[]; Count?: number };
    if (!shape || !parsed.Items) return answer;
    const partition = partitionCondition(body);
    const projection = body['ProjectionExpression'] as string | undefined;
    const names = body['ExpressionAttributeNames'] as Record<string, string> | undefined;
    const items: Item[] = [];
    for (const item of parsed.Items) {
      const key = Object.fromEntries(shape.keyNames.map((n) => [n, item[n]!])) as Item;
      const recent = shape.keyNames.every((n) => item[n] !== undefined) ? writes.get(keyText(table, key)) : undefined;
      if (!recent || recent.length === 0) {
        items.push(item);
        continue;
      }
      const seen = recent[0]!.prior;
      // Not yet in the index, or not yet in this partition of it.
      if (seen === null) continue;
      if (partition && JSON.stringify(seen[partition.name]) !== JSON.stringify(partition.value)) continue;
      items.push(project(seen, projection, names));
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
    const headers = { ...answer.headers };
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
    lagMs,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      client.destroy();
    },
  };
}
