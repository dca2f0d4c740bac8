/**
 * A process that ends without stopping its offline stack (a timed-out benchmark run told to
 * stop, an uncaught error) takes its child processes with it: local/child-processes.ts.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { eventually } from '../support/eventually.ts';

const MODULE = join(import.meta.dirname, '../../local/child-processes.ts');

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Starts a parent that spawns a long-lived child under killOnExit, prints the child's pid, then ends as told. */
async function parentEnding(how: 'exit' | 'throw' | 'sigterm' | 'child-first'): Promise<{ child: number; parent: ReturnType<typeof spawn> }> {
  const script = `
    import { spawn } from 'node:child_process';
    import { killOnExit } from ${JSON.stringify(MODULE)};
    process.once('SIGTERM', () => process.exit(143));
    const c = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    killOnExit(c);
    console.log(c.pid);
    const how = ${JSON.stringify(how)};
    if (how === 'exit') setTimeout(() => process.exit(0), 200);
    if (how === 'throw') setTimeout(() => { throw new Error('crash'); }, 200);
    if (how === 'child-first') { c.once('exit', () => console.log('listeners', process.listenerCount('exit'))); setTimeout(() => c.kill(), 200); }
    if (how === 'sigterm') setInterval(() => {}, 1000);
  `;
  const parent = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'ignore'] });
  const pid = await new Promise<number>((resolve) => parent.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim().split('\n')[0]))));
  return { child: pid, parent };
}

describe('killOnExit', () => {
  it.each(['exit', 'throw', 'sigterm'] as const)('kills the child when the parent ends by %s', async (how) => {
    const { child, parent } = await parentEnding(how);
    expect(alive(child)).toBe(true);
    if (how === 'sigterm') parent.kill('SIGTERM');
    await eventually(() => alive(child), (a) => !a, `the child ${child} to be gone`, { timeoutMs: 10_000 });
  });

  it('forgets a child that exits first (no listener left behind)', async () => {
    const { parent } = await parentEnding('child-first');
    const lines = await new Promise<string>((resolve) => {
      let out = '';
      parent.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      parent.once('exit', () => resolve(out));
      setTimeout(() => parent.kill('SIGKILL'), 5000);
    });
    expect(lines).toMatch(/listeners 0/);
  });
});
