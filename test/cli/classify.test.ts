/** `vto classify` as an operator runs it: a real child process, stdin or --text, exit codes. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const BIN = join(import.meta.dirname, '../../bin/vto.ts');

function vto(args: string[], input?: string) {
  const r = spawnSync(process.execPath, [BIN, ...args], { input: input ?? '', encoding: 'utf8', timeout: 20_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('vto classify', () => {
  it('reads the text on standard input and prints one JSON verdict line', () => {
    const r = vto(['classify'], 'torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB');
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ name: 'Gpu.OutOfMemory', family: 'Gpu', recoverable: true, strategy: 'REDUCE_PARAMS' });
    expect(JSON.parse(r.stdout).matched).toMatch(/OutOfMemoryError/);
  });

  it('exits 0 with Unclassified for a text nothing names', () => {
    const r = vto(['classify', '--text', 'the llama ate the render farm']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ name: 'Unclassified', family: 'Unclassified', recoverable: false, strategy: 'NEEDS_INTERVENTION', matched: null });
  });

  it('applies custom patterns from a file before the built-in rules', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vto-'));
    const file = join(dir, 'patterns.json');
    writeFileSync(file, JSON.stringify([{ name: 'Gpu.OutOfMemory', pattern: 'VRAM budget exceeded' }]));
    const r = vto(['classify', '--patterns', file, '--text', 'worker: VRAM budget exceeded on node 7']);
    expect(JSON.parse(r.stdout)).toMatchObject({ name: 'Gpu.OutOfMemory', matched: 'custom[0]:VRAM budget exceeded' });
  });

  it.each([
    { args: ['classify', '--text', '   '], message: 'vto: the error text is empty' },
    { args: ['classify', '--nope'], message: "unknown option '--nope'" },
    { args: ['classify', '--patterns', '/nonexistent/p.json', '--text', 'x'], message: '--patterns /nonexistent/p.json: cannot read the file (ENOENT)' },
  ])('exits 2 with a clear message on bad usage: $message', ({ args, message }) => {
    const r = vto(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
  });

  it('names each bad field of a patterns file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vto-'));
    const file = join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify([{ name: 'Gpu.Nope', pattern: '(' }]));
    const r = vto(['classify', '--patterns', file, '--text', 'x']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('[0].name: must be a taxonomy error name');
    expect(r.stderr).toContain('[0].pattern: must be a valid regular expression');
  });
});
