/**
 * What the console's browser tests share: one offline stack and one console server per
 * file, one headless Chromium (Debian's, driven by playwright-core) with a page open on the
 * console, signed API calls to prepare packs, and screenshots kept under
 * test-results/console/. A test file calls useConsoleWorld() once.
 */
import { mkdirSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import { signedFetch } from '../../../client/signed-fetch.ts';
import { startConsoleServer, type ConsoleServer } from '../../../console/server/server.ts';
import { targetFromEndpoints } from '../../../console/server/target.ts';
import type { PackCreated, PackView } from '../../../lambdas/api/schemas.ts';
import { startOfflineStack, type OfflineStack } from '../../../local/stack.ts';
import { garmentImage, personImage } from '../../../local/synthetic-images.ts';
import { eventually } from '../../support/eventually.ts';

export const CHROMIUM = '/usr/bin/chromium';
export const SCREENSHOTS = new URL('../../../test-results/console/', import.meta.url);

export interface ConsoleWorld {
  readonly stack: OfflineStack;
  readonly console: ConsoleServer;
  readonly browser: Browser;
  /** A fresh page on the console, recording any dialog the page itself opens (alert, confirm) and its errors. */
  page(): Promise<Page>;
  /** Goes to a console route (`#/classifier`) and waits for its page's heading. */
  open(page: Page, route: string, heading: string | RegExp): Promise<void>;
  /** Dialogs (alert/confirm/prompt) the pages tried to open: an XSS would show here. */
  readonly jsDialogs: string[];
  /** Errors thrown in the pages, and errors they logged (a Content-Security-Policy violation is one). */
  readonly pageErrors: string[];
  call(method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }>;
  createPack(name: string, jobs: readonly { params?: Record<string, unknown> }[]): Promise<PackCreated>;
  waitForPack(packId: string, done: (p: PackView) => boolean, deadlineMs?: number): Promise<PackView>;
  shot(page: Page, name: string): Promise<string>;
  stop(): Promise<void>;
}

export async function startConsoleWorld(o: { profile?: string } = {}): Promise<ConsoleWorld> {
  const stack = await startOfflineStack({ timeScale: 0.1, workers: 1, profile: o.profile ?? 'none', prefix: `con${randomUUID().slice(0, 6)}` });
  let server: ConsoleServer | undefined;
  let browser: Browser | undefined;
  try {
    server = await startConsoleServer({ target: targetFromEndpoints(stack.endpoints) });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      timeout: 30_000,
    });
  } catch (e) {
    await browser?.close();
    await server?.stop();
    await stack.stop();
    throw e;
  }
  const jsDialogs: string[] = [];
  const pageErrors: string[] = [];
  const b = browser;
  const s = server;
  mkdirSync(SCREENSHOTS, { recursive: true });

  const call = async (method: string, path: string, body?: unknown) => {
    const res = await signedFetch(`${stack.endpoints.api}${path}`, {
      method, ...(body !== undefined && { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
    }, { credentials: stack.endpoints.credentials, region: stack.endpoints.region, timeoutMs: 20_000 });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  return {
    stack, console: s, browser: b, jsDialogs, pageErrors, call,
    async page() {
      const context = await b.newContext({ viewport: { width: 1360, height: 900 }, deviceScaleFactor: 1 });
      const page = await context.newPage();
      page.setDefaultTimeout(20_000);
      page.on('dialog', (d) => {
        jsDialogs.push(`${d.type()}: ${d.message()}`);
        void d.dismiss();
      });
      page.on('pageerror', (e) => pageErrors.push(e.message));
      page.on('console', (m) => {
        // A refused API call logs "Failed to load resource"; the pages show those in words.
        if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) pageErrors.push(`console: ${m.text()}`);
      });
      await page.goto(s.url);
      return page;
    },
    async open(page, route, heading) {
      await page.goto(`${s.url}${route}`);
      await page.getByRole('heading', { level: 1, name: heading }).waitFor();
    },
    async createPack(name, jobs) {
      const person = await personImage(256, 256);
      const garment = await garmentImage(256, 256, [200, 30, 40]);
      const up = await call('POST', '/uploads', { files: [
        { name: 'person.png', contentType: 'image/png', size: person.length },
        { name: 'garment.png', contentType: 'image/png', size: garment.length },
      ] });
      if (up.status !== 200) throw new Error(`POST /uploads: ${up.status} ${JSON.stringify(up.body)}`);
      const files = up.body['files'] as { key: string; url: string; headers: Record<string, string> }[];
      await Promise.all(files.map(async (f, i) => {
        const put = await fetch(f.url, { method: 'PUT', headers: f.headers, body: new Uint8Array(i === 0 ? person : garment), signal: AbortSignal.timeout(10_000) });
        if (put.status !== 200) throw new Error(`upload ${f.key}: ${put.status}`);
      }));
      const keys = { person: files[0]!.key, garment: files[1]!.key };
      const res = await call('POST', '/packs', {
        name, packId: up.body['packId'],
        pipeline: { inpaint: 'comfyui', params: { width: 512, height: 512, steps: 20, batch: 1 } },
        jobs: jobs.map((j) => ({ ...keys, ...(j.params && { params: j.params }) })),
      });
      if (res.status !== 202) throw new Error(`POST /packs: ${res.status} ${JSON.stringify(res.body)}`);
      return res.body as unknown as PackCreated;
    },
    async waitForPack(packId, done, deadlineMs = 60_000) {
      return eventually(async () => (await call('GET', `/packs/${packId}`)).body as unknown as PackView, done, `pack ${packId} to get there`, { timeoutMs: deadlineMs, everyMs: 250 });
    },
    async shot(page, name) {
      const path = new URL(`${name}.png`, SCREENSHOTS).pathname;
      await page.screenshot({ path, fullPage: true, animations: 'disabled' });
      return path;
    },
    async stop() {
      await b.close().catch(() => undefined);
      await s.stop().catch(() => undefined);
      await stack.stop();
    },
  };
}

export interface ConsoleFile {
  readonly world: ConsoleWorld;
  /** The file's page, opened on the console before its first test; its tests share it. */
  readonly page: Page;
}

/**
 * The test file's world and page: started before its first test, stopped after its last
 * (the stack, the console server and the browser, also when starting failed half-way).
 */
export function useConsoleWorld(o: { profile?: string } = {}): ConsoleFile {
  let world: ConsoleWorld | undefined;
  let page: Page | undefined;
  beforeAll(async () => {
    world = await startConsoleWorld(o);
    page = await world.page();
  });
  afterAll(async () => {
    await world?.stop();
  });
  const started = <T>(v: T | undefined): T => {
    if (v === undefined) throw new Error('the console world is not started: useConsoleWorld() starts it in beforeAll, which failed or has not run');
    return v;
  };
  return {
    get world() { return started(world); },
    get page() { return started(page); },
  };
}

export const finished = (p: PackView) => ['complete', 'completed_with_failures', 'failed', 'stopped'].includes(p.status) && (p.progress?.done ?? 0) === p.jobCount;
