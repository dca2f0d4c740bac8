/**
 * The classifier against real failures: the corpus in test/fixtures/errors (texts and
 * shapes from ComfyUI, PyTorch, HTTP servers, Node, undici and the AWS SDK), errors
 * produced live on loopback, custom patterns, and the bounds that keep it safe and cheap.
 */
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import {
  MAX_TEXT_CHARS,
  builtInRules,
  classify,
  createClassifier,
  customPatternSchema,
  customPatternsSchema,
  extractFacts,
  type CustomPattern,
  type Verdict,
} from '../../core/classifier.ts';
import * as errors from '../../core/errors.ts';
import { PipelineError, UnclassifiedError } from '../../core/errors.ts';
import { ERROR_NAMES, entryFor, type ErrorName } from '../../core/taxonomy.ts';
import { loadCorpus, type CorpusCase } from '../fixtures/errors/corpus.ts';
import { loadPublicCorpus, sourceGroup, splitSide } from '../../bench/public-corpus.ts';
import { score } from '../../bench/classifier-score.ts';
import { textSignals } from '../../core/classifier-signals.ts';

const corpus = loadCorpus();
const byKey = (key: string): CorpusCase => {
  const c = corpus.find((x) => x.key === key);
  if (c === undefined) throw new Error(`no corpus case ${key}`);
  return c;
};

/** A verdict always agrees with the taxonomy entry of its name. */
function expectConsistent(v: Verdict): void {
  const e = entryFor(v.name);
  expect({ family: v.family, recoverable: v.recoverable, strategy: v.strategy }).toEqual({
    family: e.family, recoverable: e.recoverable, strategy: e.strategy,
  });
}

describe('the corpus of real failures', () => {
  it('is large and covers every name the built-in rules give', () => {
    expect(corpus.length).toBeGreaterThan(150);
    const expected = new Set(corpus.map((c) => c.expected));
    // DegenerateMask is our own segmentation code's wording, thrown with its name.
    for (const { name } of builtInRules()) if (name !== 'Segmentation.DegenerateMask') expect(expected, name).toContain(name);
  });

  it.each(corpus)('$key → $expected', ({ input, expected }) => {
    const v = classify(input);
    expect(v.name).toBe(expected);
    expectConsistent(v);
    if (v.name !== 'Unclassified') expect(v.matched).not.toBeNull();
  });
});

describe('the public corpus (real texts from public repositories)', () => {
  const dev = loadPublicCorpus('dev');
  const heldout = loadPublicCorpus('heldout');
  // Dev texts the rules deliberately leave alone, each with why. Both stay non-recoverable.
  const KNOWN_DEV_MISSES: Record<string, string> = {
    // A bare 400 is as often our own malformed request as the caller's input: no rule names it.
    'dev:199': 'Error: urllib.error.HTTPError: HTTP Error 400: Bad Request',
  };

  it('is split by source, with no repository on both sides, and large', () => {
    expect(dev.length + heldout.length).toBeGreaterThanOrEqual(400);
    expect(heldout.length).toBeGreaterThanOrEqual(100);
    const devGroups = new Set(dev.map((c) => c.group));
    expect(heldout.filter((c) => devGroups.has(c.group))).toEqual([]);
    // The split is a function of the source alone: an example of each side.
    expect(splitSide(sourceGroup(dev[0]?.source ?? ''))).toBe('dev');
    expect(splitSide(sourceGroup(heldout[0]?.source ?? ''))).toBe('heldout');
    expect(sourceGroup('https://github.com/Comfy-Org/ComfyUI/issues/4852')).toBe('comfy-org/comfyui');
  });

  it.each(dev.filter((c) => KNOWN_DEV_MISSES[c.key] === undefined))('$key → $expected', ({ text, expected }) => {
    const v = classify(text);
    expect(v.name).toBe(expected);
    expectConsistent(v);
  });

  it.each(Object.entries(KNOWN_DEV_MISSES))('%s is a known miss that stays non-recoverable', (key, head) => {
    const c = dev.find((x) => x.key === key);
    expect(c?.text.startsWith(head)).toBe(true);
    const v = classify(c?.text);
    expect(v.name).not.toBe(c?.expected);
    expect(v.recoverable).toBe(false);
  });

  it('keeps its held-out floor: ≥ 93 % named right and no false recovery', () => {
    // 96.7 % of the first 121 texts when first scored, 94.5 % with the 7 texts collected
    // after the rules were settled (docs/benchmarks.md); the floor catches regressions.
    const s = score(heldout, (t) => classify(t));
    expect(s.falseRecoveries).toEqual([]);
    expect(s.right / s.size).toBeGreaterThanOrEqual(0.93);
  });
});

describe('signals printed in failure texts', () => {
  it('reads class names, Node and AWS codes wherever the text prints them', () => {
    const signals = textSignals([
      'aiohttp.client_exceptions.ServerDisconnectedError: Server disconnected',
      "  [cause]: SocketError: other side closed { code: 'UND_ERR_SOCKET' }",
      'botocore.exceptions.ClientError: An error occurred (Throttling) when calling the Foo operation: Rate exceeded',
      '<Error><Code>SlowDown</Code></Error> (Service: Amazon EC2; Status Code: 503; Error Code: RequestLimitExceeded)',
      'Error "Lambda.TooManyRequestsException"',
    ].join('\n'));
    for (const s of ['ServerDisconnectedError', 'SocketError', 'UND_ERR_SOCKET', 'Throttling', 'SlowDown', 'RequestLimitExceeded', 'Lambda.TooManyRequestsException']) {
      expect(signals).toContain(s);
    }
    expect(textSignals('the job failed because nothing happened')).toEqual([]);
  });

  it('a printed throttling code outranks the 503 it came with', () => {
    expect(classify('Request limit exceeded. (Service: AmazonEC2; Status Code: 503; Error Code: RequestLimitExceeded)').name).toBe('Transient.Throttled');
    expect(classify('Error: Lambda.TooManyRequestsException\nRate Exceeded. (Status Code: 429)').name).toBe('Lambda.TooManyRequestsException');
  });

  it('a 401, 403 or 404 anywhere in the cause chain stops recovery', () => {
    const inner = Object.assign(new Error('denied'), { $metadata: { httpStatusCode: 403 } });
    const outer = Object.assign(new Error('upload failed', { cause: inner }), { $metadata: { httpStatusCode: 503 } });
    expect(classify(outer)).toMatchObject({ name: 'Unclassified', recoverable: false });
    expect(classify(Object.assign(new Error('upload failed'), { $metadata: { httpStatusCode: 503 } })).name).toBe('Transient.ServiceUnavailable');
  });

  it('a 500 whose body says the input is bad is not an outage', () => {
    expect(classify({ status: 500, body: '{"error":{"code":500,"message":"Invalid base64 value","type":"server_error"}}' })).toMatchObject({ name: 'Fatal.InvalidInput', recoverable: false });
  });
});

describe('safety: a non-recoverable wording never becomes recoverable', () => {
  // Positive fatal evidence: cases a non-recoverable rule matched (not merely "nothing matched").
  const fatal = corpus.filter((c) => !entryFor(c.expected).recoverable && classify(c.input).matched !== null);
  // Recoverable wordings, but not explicit taxonomy names (a name is our code's decision, not a
  // wording) nor a missing model (decided before ComfyUI's validation envelope, by design).
  const noise = corpus.filter((c) => {
    const v = classify(c.input);
    return v.recoverable && !(v.matched ?? '').startsWith('name:') && v.name !== 'Gpu.ModelMissing';
  });

  it('has both kinds of evidence to mix', () => {
    expect(fatal.length).toBeGreaterThan(40);
    expect(noise.length).toBeGreaterThan(60);
  });

  it.each(fatal)('$key stays non-recoverable beside any recoverable wording', ({ key, input }) => {
    for (const n of noise) {
      for (const mixed of [
        { message: 'job failed', cause: input, errors: [n.input] },
        { message: 'job failed', cause: n.input, errors: [input] },
      ]) {
        const v = classify(mixed);
        if (v.recoverable) throw new Error(`${key} + ${n.key} was classified ${v.name} (${v.matched ?? ''})`);
      }
    }
  });
});

describe('verdicts', () => {
  it('name the rule and the fragment that decided', () => {
    expect(classify('RuntimeError: CUDA error: out of memory').matched).toBe('out-of-memory:CUDA error: out of memory');
    expect(classify(byKey('model-missing/prompt-400-ckpt-not-in-empty-list').input).matched).toBe(
      "model-missing:Value not in list: ckpt_name: 'v1-5-pruned-emaonly-fp16.safetensors' not in []",
    );
    expect(classify({ status: 503 }).matched).toBe('service-unavailable:HTTP 503');
    expect(classify('read ECONNRESET').matched).toBe('network:ECONNRESET');
  });

  it('cut the fragment to 200 characters', () => {
    const v = classify(`Invalid image file: ${'x'.repeat(1000)}.png`);
    expect(v.name).toBe('Fatal.InvalidInput');
    expect((v.matched ?? '').length).toBeLessThanOrEqual('invalid-input:'.length + 200);
  });

  it('say null when nothing matched', () => {
    expect(classify('KeyError: \'foo\'')).toEqual({ name: 'Unclassified', family: 'Unclassified', recoverable: false, strategy: 'NEEDS_INTERVENTION', matched: null });
  });

  it('give the same answer twice (no stateful patterns)', () => {
    for (const c of corpus.slice(0, 40)) expect(classify(c.input)).toEqual(classify(c.input));
  });
});

describe('inputs that are not failures', () => {
  it.each([
    ['undefined', undefined], ['null', null], ['zero', 0], ['a status number', 503], ['NaN', Number.NaN],
    ['true', true], ['a symbol', Symbol('ECONNRESET')], ['a function', () => 'CUDA out of memory'], ['a bigint', 429n],
    ['an empty array', []], ['whitespace', '   \n\t'],
  ])('%s is Unclassified and not recoverable', (_what, raw) => {
    const v = classify(raw);
    expect(v.name).toBe('Unclassified');
    expect(v.recoverable).toBe(false);
    expect(v.matched).toBeNull();
  });

  it('never throws, even on objects whose properties throw', () => {
    const hostile = new Proxy({}, { get: () => { throw new Error('trap'); }, ownKeys: () => { throw new Error('trap'); } });
    const getter = Object.defineProperty({ message: 'read ECONNRESET' }, 'cause', { get: () => { throw new Error('trap'); }, enumerable: true });
    expect(classify(hostile).name).toBe('Unclassified');
    expect(classify(getter).name).toBe('Transient.Network');
  });
});

describe('pipeline errors', () => {
  const classes = Object.values(errors).filter(
    (v): v is new (message: string, options?: ErrorOptions) => PipelineError => typeof v === 'function' && v.prototype instanceof PipelineError,
  );

  it.each(classes.map((C) => [new C('m').name, C] as const))('%s keeps its name whatever its message says', (name, C) => {
    if (name === 'Unclassified') return; // covered below: Unclassified is not a decision
    const v = classify(new C('OSError: [Errno 28] No space left on device; CUDA out of memory; read ECONNRESET'));
    expect(v).toMatchObject({ name, matched: `name:${name}` });
  });

  it('keeps a name found down a cause chain, and the outermost name first', () => {
    const inner = new errors.GpuOutOfMemoryError('VRAM');
    expect(classify(new Error('wrapped', { cause: inner })).name).toBe('Gpu.OutOfMemory');
    expect(classify(new errors.RecoveryExhaustedError('budget spent', { cause: inner })).name).toBe('Recovery.Exhausted');
  });

  it('lets the rules read what an UnclassifiedError wraps (Unclassified is not a decision)', () => {
    expect(classify(new UnclassifiedError('HIP out of memory. Tried to allocate 2.25 GiB.')).name).toBe('Gpu.OutOfMemory');
    expect(classify(new UnclassifiedError('no idea')).name).toBe('Unclassified');
  });

  it('reads Step Functions Catch outputs and Lambda error payloads by name', () => {
    for (const name of ERROR_NAMES) {
      expect(classify({ Error: name, Cause: 'x' }).name).toBe(name);
      expect(classify({ errorType: name, errorMessage: 'x' }).name).toBe(name);
    }
  });
});

describe('nested causes', () => {
  const chain = (depth: number, root: unknown): unknown => {
    let e: unknown = root;
    for (let i = 0; i < depth; i++) e = new Error(`layer ${i}`, { cause: e });
    return e;
  };
  const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET', errno: -104, syscall: 'read' });

  it.each([1, 3, 7])('finds ECONNRESET %i causes down', (depth) => {
    expect(classify(chain(depth, reset)).name).toBe('Transient.Network');
  });

  it('stops following causes past its depth bound (8), which reads as Unclassified', () => {
    expect(classify(chain(12, reset)).name).toBe('Unclassified');
  });

  it('reads an AggregateError inside a cause inside a TypeError (undici happy eyeballs)', () => {
    const e = new TypeError('fetch failed', {
      cause: Object.assign(new AggregateError([
        Object.assign(new Error('connect ECONNREFUSED ::1:8188'), { code: 'ECONNREFUSED' }),
        Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8188'), { code: 'ECONNREFUSED' }),
      ], ''), { code: 'ECONNREFUSED' }),
    });
    expect(classify(e)).toMatchObject({ name: 'Transient.Network', matched: 'network:ECONNREFUSED' });
  });

  it('terminates on cycles', () => {
    const a = new Error('outer') as Error & { cause?: unknown };
    const b = new Error('Allocation on device', { cause: a });
    a.cause = b;
    expect(classify(a).name).toBe('Gpu.OutOfMemory');
    const self = new Error('alone') as Error & { cause?: unknown };
    self.cause = self;
    expect(classify(self).name).toBe('Unclassified');
  });

  it('reads JSON bodies and Lambda causes given as strings', () => {
    const body = JSON.stringify(byKey('model-missing/prompt-400-ckpt-not-in-empty-list').input);
    expect(classify({ status: 400, body }).name).toBe('Gpu.ModelMissing');
    expect(classify(body).name).toBe('Gpu.ModelMissing');
  });
});

describe('facts', () => {
  it('pull status, names, codes and node errors out of any shape', () => {
    const f = extractFacts({
      name: 'ThrottlingException', __type: 'com.amazonaws.dynamodb.v20120810#ThrottlingException', $metadata: { httpStatusCode: 400 },
      $retryable: { throttling: true }, cause: { code: 'ECONNRESET' },
    });
    expect(f).toMatchObject({ status: 400, names: ['ThrottlingException'], codes: ['ECONNRESET'], throttling: true });
    const g = extractFacts(byKey('model-missing/prompt-400-lora-list-of-length').input);
    expect(g.promptErrorType).toBe('prompt_outputs_failed_validation');
    expect(g.nodeErrors).toEqual([expect.objectContaining({
      type: 'value_not_in_list', inputName: 'lora_name', classType: 'LoraLoaderBlockWeight //Inspire',
      receivedValue: '..\\ComfyUI\\models\\loras\\Pony\\char\\mika-imascgPDXL-01.safetensors',
    })]);
  });

  it('take a status from the text when no field carries one', () => {
    expect(extractFacts('AxiosError: Request failed with status code 503').status).toBe(503);
    expect(extractFacts('ComfyUI /prompt answered HTTP 429: slow down').status).toBe(429);
  });
});

describe('custom patterns', () => {
  it('match before the built-in rules, case-insensitively by default', () => {
    const c = createClassifier({ patterns: [{ name: 'Gpu.OutOfMemory', pattern: 'VRAM exhausted' }] });
    expect(c.classify('worker 3: vram EXHAUSTED on card 0')).toMatchObject({ name: 'Gpu.OutOfMemory', recoverable: true, matched: 'custom[0]:vram EXHAUSTED' });
    expect(classify('worker 3: vram EXHAUSTED on card 0').name).toBe('Unclassified');
  });

  it('can override a built-in wording, and keep flags the operator chose', () => {
    const c = createClassifier({ patterns: [
      { name: 'Unclassified', pattern: 'ECONNRESET', flags: '' },
      { name: 'Transient.Network', pattern: '^upstream hiccup$', flags: 'm' },
    ] });
    expect(c.classify('read ECONNRESET')).toMatchObject({ name: 'Unclassified', matched: 'custom[0]:ECONNRESET' });
    expect(c.classify('read econnreset').name).toBe('Transient.Network');
    expect(c.classify('first line\nupstream hiccup\nlast line')).toMatchObject({ name: 'Transient.Network', matched: 'custom[1]:upstream hiccup' });
  });

  it('default their flags to i', () => {
    expect(customPatternSchema.parse({ name: 'Gpu.OutOfMemory', pattern: 'x' }).flags).toBe('i');
  });

  it.each([
    ['an unknown name', { name: 'Gpu.OOM', pattern: 'x' }, ['name'], /taxonomy error name/],
    ['an invalid regex', { name: 'Gpu.OutOfMemory', pattern: '(unclosed' }, ['pattern'], /valid regular expression.*Unterminated group/],
    ['a nested quantifier', { name: 'Gpu.OutOfMemory', pattern: '(a+)+$' }, ['pattern'], /nest quantifiers/],
    ['an empty pattern', { name: 'Gpu.OutOfMemory', pattern: '' }, ['pattern'], /too small|at least/i],
    ['a global flag', { name: 'Gpu.OutOfMemory', pattern: 'x', flags: 'g' }, ['flags'], /flags i, m, s and u/],
    ['a repeated flag', { name: 'Gpu.OutOfMemory', pattern: 'x', flags: 'ii' }, ['flags'], /each at most once/],
    ['an unknown field', { name: 'Gpu.OutOfMemory', pattern: 'x', flag: 'i' }, [], /Unrecognized key/],
  ])('reject %s with a zod error naming the field and the reason', (_what, bad, path, reason) => {
    let thrown: unknown;
    try {
      createClassifier({ patterns: [{ name: 'Transient.Network', pattern: 'fine' }, bad as CustomPattern] });
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(z.ZodError);
    const issue = (thrown as z.ZodError).issues[0];
    expect(issue?.path).toEqual([1, ...path]);
    expect(issue?.message).toMatch(reason);
  });

  it('validate a whole list at once, as configuration does', () => {
    expect(customPatternsSchema.safeParse([{ name: 'Qa.Rejected', pattern: 'score \\d+ below' }]).success).toBe(true);
    expect(customPatternsSchema.safeParse([{ name: 'Qa.Rejected' }]).success).toBe(false);
  });
});

describe('bounded work on huge failures', () => {
  // No timings are asserted: each case must simply finish inside the test timeout, which a
  // quadratic rule on a megabyte would not; the text bound is asserted directly.
  const MB = 1 << 20;
  const tail = 'torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 20.00 MiB.';

  it('reads at most MAX_TEXT_CHARS of any failure, keeping head and tail', () => {
    const traceback = `${'  File "/ComfyUI/comfy/ldm/modules/attention.py", line 1, in forward\n'.repeat(MB / 64)}${tail}`;
    const f = extractFacts({ message: traceback, cause: { message: traceback }, details: traceback, body: traceback });
    expect(f.text.length).toBeLessThanOrEqual(MAX_TEXT_CHARS + 3);
    expect(f.text).toContain(tail);
    expect(classify(traceback).name).toBe('Gpu.OutOfMemory');
    expect(classify({ status: 502, body: `<html>\r\n<head><title>502 Bad Gateway</title></head>${' '.repeat(MB)}</html>` }).name).toBe('Transient.ServiceUnavailable');
  });

  it.each([
    ['one long word', 'a'.repeat(MB)],
    ['almost a list rejection', "ab: 'x".repeat(MB / 6)],
    ['repeated prefixes', 'Value not in list: '.repeat(MB / 19)],
    ['open tags', '<'.repeat(MB)],
    ['errno openings', '[Errno '.repeat(MB / 7)],
    ['digits', '7'.repeat(MB)],
    ['half a node sentence', 'Cannot execute because node '.repeat(MB / 28)],
  ])('finishes on a megabyte of %s', (_what, text) => {
    expect(classify(text).name).toBe('Unclassified');
    expect(classify({ message: text, cause: { message: text, body: text }, errors: [text, text] }).name).toBe('Unclassified');
  });

  it('visits a bounded number of objects', () => {
    const wide = { errors: Array.from({ length: 100_000 }, () => ({ message: 'nothing' })) };
    const deep = Array.from({ length: 50_000 }).reduce<object>((acc) => ({ cause: acc }), { code: 'ECONNRESET' });
    expect(classify(wide).name).toBe('Unclassified');
    expect(classify(deep).name).toBe('Unclassified');
  });
});

describe('errors produced live on this machine', () => {
  let refusingPort = 0;
  const servers: http.Server[] = [];
  const listen = async (handler: http.RequestListener): Promise<string> => {
    const s = http.createServer(handler);
    servers.push(s);
    s.listen(0, '127.0.0.1');
    await once(s, 'listening');
    return `http://127.0.0.1:${(s.address() as net.AddressInfo).port}`;
  };

  beforeAll(async () => {
    const probe = net.createServer().listen(0, '127.0.0.1');
    await once(probe, 'listening');
    refusingPort = (probe.address() as net.AddressInfo).port;
    await new Promise((r) => probe.close(r));
  });
  afterAll(async () => {
    for (const s of servers) {
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    }
  });

  const caught = async (p: Promise<unknown>): Promise<unknown> => {
    try {
      await p;
    } catch (e) {
      return e;
    }
    throw new Error('expected a failure');
  };
  const name = (e: unknown): ErrorName => classify(e).name;

  it('fetch to a closed port is Transient.Network', async () => {
    expect(name(await caught(fetch(`http://127.0.0.1:${refusingPort}/prompt`, { signal: AbortSignal.timeout(5000) })))).toBe('Transient.Network');
  });

  it('a server that drops the socket is Transient.Network, for fetch and node:http', async () => {
    const url = await listen((req) => req.socket.destroy());
    expect(name(await caught(fetch(url, { signal: AbortSignal.timeout(5000) })))).toBe('Transient.Network');
    const hangUp = await new Promise<unknown>((resolve) => http.get(url, { timeout: 5000 }).on('error', resolve));
    expect(hangUp).toMatchObject({ message: 'socket hang up', code: 'ECONNRESET' });
    expect(name(hangUp)).toBe('Transient.Network');
  });

  it('AbortSignal.timeout on a silent server is Transient.Network, not Gpu.Timeout', async () => {
    const url = await listen(() => undefined);
    const e = await caught(fetch(url, { signal: AbortSignal.timeout(50) }));
    expect(e).toMatchObject({ name: 'TimeoutError' });
    expect(name(e)).toBe('Transient.Network');
  });

  it('an nginx page parsed as JSON is Transient.ServiceUnavailable; a cut body is Provider.MalformedResponse', async () => {
    const url = await listen((_req, res) => res.writeHead(502, { 'content-type': 'text/html' }).end('<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n</html>\r\n'));
    const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
    expect(name(await caught(res.json()))).toBe('Transient.ServiceUnavailable');
    expect(name(await caught(Promise.resolve().then(() => JSON.parse('{"masks":[1,2'))))).toBe('Provider.MalformedResponse');
  });

  it('a zod 4 schema rejection of a provider payload is Provider.MalformedResponse', () => {
    const result = z.object({ score: z.number(), masks: z.array(z.string()) }).safeParse({ score: 'high', masks: null });
    expect(result.success).toBe(false);
    expect(name(result.error)).toBe('Provider.MalformedResponse');
  });

  it('AWS SDK v3 errors parsed from real answers keep their meaning', async () => {
    let answer: { status: number; type: string; body: string } = { status: 500, type: 'text/plain', body: '' };
    const endpoint = await listen((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(answer.status, { 'content-type': answer.type, 'x-amzn-requestid': 'r1' }).end(answer.body));
    });
    const common = { endpoint, region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' }, maxAttempts: 1 };
    const ddb = new DynamoDBClient(common);
    const s3 = new S3Client({ ...common, forcePathStyle: true });
    try {
      const get = () => ddb.send(new GetItemCommand({ TableName: 'jobs', Key: { id: { S: '1' } } }));
      answer = { status: 400, type: 'application/x-amz-json-1.0', body: JSON.stringify({ __type: 'com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException', message: 'The level of configured provisioned throughput for the table was exceeded.' }) };
      expect(name(await caught(get()))).toBe('Transient.Throttled');
      answer = { status: 502, type: 'text/html', body: '<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n</html>\r\n' };
      expect(name(await caught(get()))).toBe('Transient.ServiceUnavailable');
      answer = { status: 400, type: 'application/x-amz-json-1.0', body: JSON.stringify({ __type: 'com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException', message: 'The conditional request failed' }) };
      expect(name(await caught(get()))).toBe('Unclassified');
      answer = { status: 503, type: 'application/xml', body: '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message><RequestId>r1</RequestId></Error>' };
      expect(name(await caught(s3.send(new GetObjectCommand({ Bucket: 'artifacts', Key: 'k' }))))).toBe('Transient.RateLimited');
    } finally {
      ddb.destroy();
      s3.destroy();
    }
  });
});
