/**
 * Runs bin/vto.ts as an operator would, in a child process of the running Node, without
 * blocking this process (the offline stack under test answers from it).
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';

export const VTO_BIN = join(import.meta.dirname, '../../../bin/vto.ts');

export interface VtoRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** `input`: written to the command's stdin, which is then closed (without it stdin is empty). */
export function runVto(args: readonly string[], o: { timeoutMs?: number; env?: Record<string, string>; input?: string } = {}): Promise<VtoRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [VTO_BIN, ...args], { stdio: [o.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], env: { ...process.env, ...o.env } });
    if (o.input !== undefined) child.stdin?.end(o.input);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on('data', (c: Buffer) => out.push(c));
    child.stderr!.on('data', (c: Buffer) => err.push(c));
    const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 30_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
    });
  });
}
