/**
 * What an operator reads when things are not right, from the real CLI process: no stack,
 * a stack that does not answer, a request that times out, an answer that is not the API's,
 * and bad usage. Exit codes: 1 for the API or the machine, 2 for the wording.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runVto } from './support/run-vto.ts';

const dir = mkdtempSync(join(tmpdir(), 'vto-cli-msg-'));
const endpointsFor = (name: string, api: string) => {
  const path = join(dir, `${name}.json`);
  writeFileSync(path, JSON.stringify({ api, region: 'us-east-1', credentials: { accessKeyId: 'k', secretAccessKey: 's' } }));
  return path;
};

const listen = async (server: Server) => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
};
const close = (server: Server) => new Promise<void>((resolve) => {
  server.closeAllConnections();
  server.close(() => resolve());
});

let silent: Server;
let proxy: Server;
let silentApi: string;
let proxyApi: string;
let deadApi: string;

beforeAll(async () => {
  // Accepts and never answers.
  silent = createServer(() => undefined);
  silentApi = await listen(silent);
  // Answers like a proxy in front of the API would, not with the API's error body.
  proxy = createServer((_req, res) => {
    res.writeHead(502, { 'content-type': 'text/html' });
    res.end('<html>Bad gateway</html>');
  });
  proxyApi = await listen(proxy);
  // A port that was free a moment ago: nothing listens there.
  const gone = createServer();
  deadApi = await listen(gone);
  await close(gone);
});
afterAll(async () => {
  await close(silent);
  await close(proxy);
});

describe('when the API cannot be reached', () => {
  it('says how to start the offline stack when there is no endpoints file (exit 1)', async () => {
    const missing = join(dir, 'none.json');
    const r = await runVto(['health', '--endpoints', missing]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`vto: no offline stack found: start it with \`npm start -- --serve\` (no endpoints file at ${missing})\n`);
    expect(r.stdout).toBe('');
  });

  it('prints the error as one JSON document on stdout with --json', async () => {
    const r = await runVto(['packs', 'list', '--json', '--endpoints', join(dir, 'none.json')]);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toEqual({ error: { code: 'NoOfflineStack', message: expect.stringContaining('no offline stack found') } });
  });

  it('asks whether the stack still runs when nothing answers at its address (exit 1)', async () => {
    const r = await runVto(['packs', 'list', '--endpoints', endpointsFor('dead', deadApi)]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`vto: the offline stack at ${deadApi} does not answer (is \`npm start -- --serve\` still running?) [ECONNREFUSED]`);
  });

  it('gives up after --timeout when the API accepts but does not answer (exit 1)', async () => {
    const r = await runVto(['health', '--timeout', '0.5', '--endpoints', endpointsFor('silent', silentApi)]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`vto: no answer from ${silentApi} within 0.5 s (wait longer with --timeout SECONDS)\n`);
  });

  it('reports an answer that is not the API\'s own error body with its status and text (exit 1)', async () => {
    const r = await runVto(['health', '--endpoints', endpointsFor('proxy', proxyApi)]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('vto: the API failed GET /health (502 HTTP502): <html>Bad gateway</html>\n');
  });
});

describe('bad usage (exit 2, nothing sent)', () => {
  const id = '0b7c9a52-4bd4-4c34-8f8e-3f4a2c9b8d11';
  it.each([
    { args: ['packs', 'show', 'abc'], message: 'vto: abc: not a pack id' },
    { args: ['jobs', 'retry', 'ABC'], message: 'vto: ABC: not a job id' },
    { args: ['packs', 'refine', id], message: "required option '--scope <scope>' not specified" },
    { args: ['packs', 'refine', id, '--scope', 'everything'], message: 'Allowed choices are successful_only, all_completed' },
    { args: ['packs', 'submit', '--name', 'x'], message: 'vto: no jobs: give at least one --person FILE and one --garment FILE' },
    { args: ['packs', 'submit', '--name', 'x', '-p', 'a.png', '-g', 'b.png', '--param', 'steps=9999'], message: 'vto: bad inpaint parameters: steps: Too big' },
    { args: ['packs', 'submit', '--name', 'x', '-p', '/nonexistent/a.png', '-g', '/nonexistent/b.png'], message: 'vto: /nonexistent/a.png: cannot read the file (ENOENT)' },
    { args: ['stats', '--since', 'yesterday'], message: 'vto: --since yesterday: give a time' },
    { args: ['health', '--timeout', '0'], message: '--timeout must be a number of seconds' },
    { args: ['health', '--endpoint', 'https://x.example/v1', '--endpoints', 'f.json'], message: 'vto: give either --endpoint (a deployed API) or --endpoints (an offline stack), not both' },
    { args: ['packs', 'frobnicate'], message: "unknown command 'frobnicate'" },
  ])('$args: $message', async ({ args, message }) => {
    const r = await runVto(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
  });
});
