/**
 * An S3 endpoint with object versioning and object tagging, in front of fauxqs, which has
 * neither (its DeleteObjectTagging deletes the object). The deployed artifacts bucket is
 * versioned and its lifecycle rule selects uploads by tag (lib/data.ts), so what erases a
 * pack must remove every version and delete marker, and what claims an upload must change
 * its tag: offline, both are checked here as S3 answers them.
 *
 * For a bucket with versioning enabled (PutBucketVersioning, as provisioning does): PUT and
 * CompleteMultipartUpload create a version (answered with `x-amz-version-id`); DELETE without
 * a version id adds a delete marker; DELETE (and DeleteObjects) with a version id removes that
 * version, and the one before becomes current again; `GET ?versions` answers
 * ListObjectVersions; GET/HEAD with `versionId` reads that version; `?tagging` (GET, PUT,
 * DELETE) reads and writes the tags of a version, which `x-amz-tagging` sets on PUT. A
 * presigned PUT must carry every header its `X-Amz-SignedHeaders` names (S3 answers
 * SignatureDoesNotMatch otherwise), so a client cannot drop a signed `x-amz-tagging`.
 *
 * fauxqs holds each key's current object; the proxy holds the versions' metadata and tags,
 * and the bodies of noncurrent versions. Not modelled: suspended versioning, `delimiter` in
 * ListObjectVersions, CopyObject's source version, tags on other buckets (refused with 501
 * rather than passed to fauxqs, which would overwrite or delete the object).
 */
import { randomBytes } from 'node:crypto';
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

interface Version {
  readonly id: string;
  readonly deleteMarker: boolean;
  readonly lastModified: Date;
  readonly etag?: string;
  readonly size?: number;
  tags: Record<string, string>;
  /** Kept once the version is no longer current (fauxqs holds only the current one). */
  body?: Buffer;
  contentType?: string;
}

export interface S3VersioningProxy {
  /** Give this as the S3 endpoint (AWS_ENDPOINT_URL_S3). */
  readonly url: string;
  stop(): Promise<void>;
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

const HOP_HEADERS = ['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'host'];
const endToEnd = (headers: Record<string, string | string[] | undefined>) =>
  Object.fromEntries(Object.entries(headers).filter(([k]) => !HOP_HEADERS.includes(k.toLowerCase())));
const XMLNS = 'http://s3.amazonaws.com/doc/2006-03-01/';
const OWNER = '<Owner><ID>vtolocal</ID><DisplayName>vtolocal</DisplayName></Owner>';
const FORWARD_TIMEOUT_MS = 30_000;
/** S3's limits: 10 tags per object, keys up to 128 and values up to 256 characters. */
const MAX_TAGS = 10;

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
const unesc = (s: string) => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&#(\d+);/g, (_m, n: string) => String.fromCodePoint(Number(n))).replace(/&amp;/g, '&');
const xml = (body: string): Buffer => Buffer.from(`<?xml version="1.0" encoding="UTF-8"?>\n${body}`);
/** The text of each `<name>` element of a small XML document. */
const elements = (doc: string, name: string): string[] => [...doc.matchAll(new RegExp(`<${name}>([\\s\\S]*?)</${name}>`, 'g'))].map((m) => m[1]!);
const text = (doc: string, name: string): string | undefined => {
  const v = elements(doc, name)[0];
  return v === undefined ? undefined : unesc(v);
};

function s3Error(status: number, code: string, message: string, extra: Record<string, string> = {}): Answer {
  const more = Object.entries(extra).map(([k, v]) => `<${k}>${esc(v)}</${k}>`).join('');
  return { status, headers: { 'content-type': 'application/xml' }, body: xml(`<Error><Code>${code}</Code><Message>${esc(message)}</Message>${more}<RequestId>vtolocal</RequestId></Error>`) };
}

/** S3's version ids are opaque, URL-safe and ordered by nothing a client may rely on. */
const newVersionId = () => randomBytes(24).toString('base64url');

/** `a=1&b=2` (the x-amz-tagging header) as tags, or an error message. */
function parseTaggingHeader(value: string): Record<string, string> | string {
  const tags: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(value)) tags[k] = v;
  return checkTags(tags);
}

function checkTags(tags: Record<string, string>): Record<string, string> | string {
  const entries = Object.entries(tags);
  if (entries.length > MAX_TAGS) return `Object tags cannot be greater than ${MAX_TAGS}`;
  for (const [k, v] of entries) {
    if (k.length === 0 || k.length > 128) return 'The TagKey you have provided is invalid';
    if (v.length > 256) return 'The TagValue you have provided is invalid';
  }
  return tags;
}

const tagSetXml = (tags: Record<string, string>) =>
  `<Tagging xmlns="${XMLNS}"><TagSet>${Object.entries(tags).map(([k, v]) => `<Tag><Key>${esc(k)}</Key><Value>${esc(v)}</Value></Tag>`).join('')}</TagSet></Tagging>`;

export async function startS3VersioningProxy(options: { target: string }): Promise<S3VersioningProxy> {
  const target = new URL(options.target);
  /** bucket → key → versions, oldest first. */
  const buckets = new Map<string, Map<string, Version[]>>();

  function send(method: string, path: string, headers: Record<string, string | string[] | undefined>, body: Buffer): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const out = httpRequest({
        host: target.hostname, port: target.port, path, method,
        headers: { ...endToEnd(headers), host: target.host, 'content-length': String(body.length) },
        timeout: FORWARD_TIMEOUT_MS,
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 500, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      });
      out.on('timeout', () => out.destroy(new Error(`fauxqs did not answer within ${FORWARD_TIMEOUT_MS} ms`)));
      out.on('error', reject);
      out.end(body);
    });
  }

  const objectPath = (bucket: string, key: string) => `/${encodeURIComponent(bucket)}/${key.split('/').map(encodeURIComponent).join('/')}`;

  /** Before a new version or a delete marker hides the current object: keep its body. */
  async function keepCurrentBody(bucket: string, key: string, versions: Version[]): Promise<void> {
    const current = versions.at(-1);
    if (!current || current.deleteMarker || current.body) return;
    const res = await send('GET', objectPath(bucket, key), {}, Buffer.alloc(0));
    if (res.status !== 200) return;
    current.body = res.body;
    const type = res.headers['content-type'];
    if (typeof type === 'string') current.contentType = type;
  }

  /** After the current version was removed: fauxqs shows the one before it, or nothing. */
  async function restoreCurrent(bucket: string, key: string, versions: Version[]): Promise<void> {
    const current = versions.at(-1);
    if (!current || current.deleteMarker) {
      await send('DELETE', objectPath(bucket, key), {}, Buffer.alloc(0));
      return;
    }
    await send('PUT', objectPath(bucket, key), current.contentType ? { 'content-type': current.contentType } : {}, current.body ?? Buffer.alloc(0));
    // fauxqs holds it again; the proxy keeps no second copy.
    delete current.body;
  }

  const versionsOf = (bucket: string, key: string): Version[] | undefined => buckets.get(bucket)?.get(key);

  function setVersions(bucket: string, key: string, versions: Version[]): void {
    const keys = buckets.get(bucket)!;
    if (versions.length === 0) keys.delete(key);
    else keys.set(key, versions);
  }

  /** Deletes one key (a delete marker) or one version of it; the answer's fields for DeleteObject(s). */
  async function deleteOne(bucket: string, key: string, versionId: string | undefined): Promise<{ versionId?: string; deleteMarker: boolean; error?: Answer }> {
    const versions = [...(versionsOf(bucket, key) ?? [])];
    if (versionId === undefined) {
      await keepCurrentBody(bucket, key, versions);
      const marker: Version = { id: newVersionId(), deleteMarker: true, lastModified: new Date(), tags: {} };
      setVersions(bucket, key, [...versions, marker]);
      await send('DELETE', objectPath(bucket, key), {}, Buffer.alloc(0));
      return { versionId: marker.id, deleteMarker: true };
    }
    const i = versions.findIndex((v) => v.id === versionId);
    // S3 answers a delete of a version that does not exist as done.
    if (i < 0) return { versionId, deleteMarker: false };
    const [removed] = versions.splice(i, 1);
    setVersions(bucket, key, versions);
    if (i === versions.length) await restoreCurrent(bucket, key, versions);
    return { versionId, deleteMarker: removed!.deleteMarker };
  }

  async function handleDeleteObjects(bucket: string, body: Buffer): Promise<Answer> {
    const doc = body.toString('utf8');
    const quiet = text(doc, 'Quiet') === 'true';
    const objects = elements(doc, 'Object');
    if (objects.length > 1000) return s3Error(400, 'MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema');
    const parts: string[] = [];
    for (const o of objects) {
      const key = text(o, 'Key') ?? '';
      const versionId = text(o, 'VersionId');
      const r = await deleteOne(bucket, key, versionId);
      if (quiet) continue;
      parts.push(`<Deleted><Key>${esc(key)}</Key>${versionId !== undefined ? `<VersionId>${esc(versionId)}</VersionId>` : ''}${r.deleteMarker ? `<DeleteMarker>true</DeleteMarker>${versionId === undefined ? `<DeleteMarkerVersionId>${esc(r.versionId!)}</DeleteMarkerVersionId>` : ''}` : ''}</Deleted>`);
    }
    return { status: 200, headers: { 'content-type': 'application/xml' }, body: xml(`<DeleteResult xmlns="${XMLNS}">${parts.join('')}</DeleteResult>`) };
  }

  function listVersions(bucket: string, query: URLSearchParams): Answer {
    const prefix = query.get('prefix') ?? '';
    const keyMarker = query.get('key-marker') ?? '';
    const versionIdMarker = query.get('version-id-marker') ?? '';
    const maxKeys = Math.min(Number(query.get('max-keys') ?? 1000) || 1000, 1000);
    const keys = [...(buckets.get(bucket)?.keys() ?? [])].filter((k) => k.startsWith(prefix)).sort();
    // Keys in order, each key's versions newest first; the markers name the last one answered.
    const rows: { key: string; v: Version; latest: boolean }[] = [];
    for (const key of keys) {
      const versions = buckets.get(bucket)!.get(key)!;
      rows.push(...[...versions].reverse().map((v, i) => ({ key, v, latest: i === 0 })));
    }
    let start = 0;
    if (keyMarker !== '') {
      if (versionIdMarker !== '') {
        const at = rows.findIndex((r) => r.key === keyMarker && r.v.id === versionIdMarker);
        start = at >= 0 ? at + 1 : rows.findIndex((r) => r.key > keyMarker);
      } else {
        start = rows.findIndex((r) => r.key > keyMarker);
      }
      if (start < 0) start = rows.length;
    }
    const page = rows.slice(start, start + maxKeys);
    const truncated = start + maxKeys < rows.length;
    const last = page.at(-1);
    const entries = page.map(({ key, v, latest }) => v.deleteMarker
      ? `<DeleteMarker><Key>${esc(key)}</Key><VersionId>${v.id}</VersionId><IsLatest>${latest}</IsLatest><LastModified>${v.lastModified.toISOString()}</LastModified>${OWNER}</DeleteMarker>`
      : `<Version><Key>${esc(key)}</Key><VersionId>${v.id}</VersionId><IsLatest>${latest}</IsLatest><LastModified>${v.lastModified.toISOString()}</LastModified><ETag>${esc(v.etag ?? '')}</ETag><Size>${v.size ?? 0}</Size><StorageClass>STANDARD</StorageClass>${OWNER}</Version>`).join('');
    const next = truncated && last ? `<NextKeyMarker>${esc(last.key)}</NextKeyMarker><NextVersionIdMarker>${last.v.id}</NextVersionIdMarker>` : '';
    const body = `<ListVersionsResult xmlns="${XMLNS}"><Name>${esc(bucket)}</Name><Prefix>${esc(prefix)}</Prefix><KeyMarker>${esc(keyMarker)}</KeyMarker><VersionIdMarker>${esc(versionIdMarker)}</VersionIdMarker><MaxKeys>${maxKeys}</MaxKeys><IsTruncated>${truncated}</IsTruncated>${next}${entries}</ListVersionsResult>`;
    return { status: 200, headers: { 'content-type': 'application/xml' }, body: xml(body) };
  }

  /** The version a `versionId` query names, or the current one; an error when there is none. */
  function versionFor(bucket: string, key: string, versionId: string | null): Version | Answer {
    const versions = versionsOf(bucket, key) ?? [];
    if (versionId !== null) {
      const v = versions.find((x) => x.id === versionId);
      if (!v) return s3Error(404, 'NoSuchVersion', 'The specified version does not exist.', { Key: key, VersionId: versionId });
      if (v.deleteMarker) return s3Error(405, 'MethodNotAllowed', 'The specified method is not allowed against this resource.', { Method: 'GET', ResourceType: 'DeleteMarker' });
      return v;
    }
    const current = versions.at(-1);
    if (!current || current.deleteMarker) return s3Error(404, 'NoSuchKey', 'The specified key does not exist.', { Key: key });
    return current;
  }

  async function handleTagging(method: string, bucket: string, key: string, query: URLSearchParams, body: Buffer): Promise<Answer> {
    const v = versionFor(bucket, key, query.get('versionId'));
    if (!('id' in v)) return v;
    const headers = { 'x-amz-version-id': v.id };
    if (method === 'GET') return { status: 200, headers: { ...headers, 'content-type': 'application/xml' }, body: xml(tagSetXml(v.tags)) };
    if (method === 'DELETE') {
      v.tags = {};
      return { status: 204, headers, body: Buffer.alloc(0) };
    }
    const doc = body.toString('utf8');
    const tags: Record<string, string> = {};
    for (const t of elements(doc, 'Tag')) tags[text(t, 'Key') ?? ''] = text(t, 'Value') ?? '';
    const checked = checkTags(tags);
    if (typeof checked === 'string') return s3Error(400, 'InvalidTag', checked);
    v.tags = checked;
    return { status: 200, headers, body: Buffer.alloc(0) };
  }

  async function handleVersioned(req: IncomingMessage, bucket: string, key: string, query: URLSearchParams, raw: Buffer): Promise<Answer> {
    const method = req.method ?? 'GET';
    const headers = req.headers;
    if (key === '') {
      if (method === 'GET' && query.has('versions')) return listVersions(bucket, query);
      if (method === 'POST' && query.has('delete')) return handleDeleteObjects(bucket, raw);
      return send(method, req.url ?? '/', headers, raw);
    }
    if (query.has('tagging')) return handleTagging(method, bucket, key, query, raw);
    const versions = [...(versionsOf(bucket, key) ?? [])];
    const creates = (method === 'PUT' && !query.has('uploadId') && !query.has('renameObject')) || (method === 'POST' && query.has('uploadId'));
    if (creates) {
      const tagHeader = headers['x-amz-tagging'];
      const tags = typeof tagHeader === 'string' ? parseTaggingHeader(tagHeader) : {};
      if (typeof tags === 'string') return s3Error(400, 'InvalidTag', tags);
      await keepCurrentBody(bucket, key, versions);
      const res = await send(method, req.url ?? '/', headers, raw);
      if (res.status !== 200) return res;
      const head = await send('HEAD', objectPath(bucket, key), {}, Buffer.alloc(0));
      const etag = typeof head.headers['etag'] === 'string' ? head.headers['etag'] : undefined;
      const version: Version = { id: newVersionId(), deleteMarker: false, lastModified: new Date(), tags, size: Number(head.headers['content-length'] ?? 0), ...(etag !== undefined && { etag }) };
      setVersions(bucket, key, [...versions, version]);
      return { ...res, headers: { ...res.headers, 'x-amz-version-id': version.id } };
    }
    if (method === 'DELETE' && !query.has('uploadId')) {
      const r = await deleteOne(bucket, key, query.get('versionId') ?? undefined);
      return { status: 204, headers: { ...(r.versionId !== undefined && { 'x-amz-version-id': r.versionId }), ...(r.deleteMarker && { 'x-amz-delete-marker': 'true' }) }, body: Buffer.alloc(0) };
    }
    if (method === 'GET' || method === 'HEAD') {
      const versionId = query.get('versionId');
      const current = versions.at(-1);
      if (versionId !== null && versionId !== current?.id) {
        const v = versionFor(bucket, key, versionId);
        if (!('id' in v)) return method === 'HEAD' ? { ...v, body: Buffer.alloc(0) } : v;
        const body = v.body ?? Buffer.alloc(0);
        return {
          status: 200,
          headers: { 'x-amz-version-id': v.id, 'content-type': v.contentType ?? 'application/octet-stream', 'last-modified': v.lastModified.toUTCString(), ...(v.etag !== undefined && { etag: v.etag }), 'x-amz-tag-count': String(Object.keys(v.tags).length), 'content-length': String(body.length) },
          body: method === 'HEAD' ? Buffer.alloc(0) : body,
        };
      }
      query.delete('versionId');
      const qs = query.toString();
      const res = await send(method, `${objectPath(bucket, key)}${qs ? `?${qs}` : ''}`, headers, raw);
      if (current?.deleteMarker) return { ...res, headers: { ...res.headers, 'x-amz-delete-marker': 'true', 'x-amz-version-id': current.id } };
      if (current && res.status < 300) {
        const tagCount = Object.keys(current.tags).length;
        return { ...res, headers: { ...res.headers, 'x-amz-version-id': current.id, ...(tagCount > 0 && { 'x-amz-tag-count': String(tagCount) }) } };
      }
      return res;
    }
    return send(method, req.url ?? '/', headers, raw);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks);
    const url = new URL(req.url ?? '/', 'http://s3.local');
    const [bucketPart = '', ...keyParts] = url.pathname.slice(1).split('/');
    const bucket = decodeURIComponent(bucketPart);
    const key = keyParts.map(decodeURIComponent).join('/');
    const query = url.searchParams;
    let answer: Answer;
    const signed = query.get('X-Amz-SignedHeaders');
    const missing = signed?.split(';').filter((h) => h !== 'host' && req.headers[h] === undefined) ?? [];
    if (missing.length > 0) {
      answer = s3Error(403, 'SignatureDoesNotMatch', `The request signature we calculated does not match the signature you provided: signed header(s) missing: ${missing.join(', ')}`);
    } else if (bucket !== '' && key === '' && query.has('versioning') && req.method === 'PUT') {
      const status = text(raw.toString('utf8'), 'Status');
      if (status !== 'Enabled') answer = s3Error(501, 'NotImplemented', `Only versioning Status Enabled is modelled offline, got ${status ?? 'none'}`);
      else {
        if (!buckets.has(bucket)) buckets.set(bucket, new Map());
        answer = { status: 200, headers: {}, body: Buffer.alloc(0) };
      }
    } else if (bucket !== '' && key === '' && query.has('versioning') && req.method === 'GET') {
      answer = { status: 200, headers: { 'content-type': 'application/xml' }, body: xml(`<VersioningConfiguration xmlns="${XMLNS}">${buckets.has(bucket) ? '<Status>Enabled</Status>' : ''}</VersioningConfiguration>`) };
    } else if (buckets.has(bucket)) {
      answer = await handleVersioned(req, bucket, key, query, raw);
    } else if (key !== '' && query.has('tagging')) {
      answer = s3Error(501, 'NotImplemented', `Object tagging is modelled offline only on versioned buckets; ${bucket} is not`);
    } else {
      answer = await send(req.method ?? 'GET', req.url ?? '/', req.headers, raw);
    }
    const headers = endToEnd(answer.headers);
    headers['content-length'] = String(req.method === 'HEAD' ? (answer.headers['content-length'] ?? 0) : answer.body.length);
    res.writeHead(answer.status, headers);
    res.end(req.method === 'HEAD' ? undefined : answer.body);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (res.headersSent) return res.destroy();
      const a = s3Error(500, 'InternalError', `s3-versioning proxy: ${(e as Error).message}`);
      res.writeHead(a.status, a.headers);
      res.end(a.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
