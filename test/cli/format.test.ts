/** The CLI's text building blocks: aligned tables, key/value blocks, counts, durations, ages. */
import { describe, expect, it } from 'vitest';
import { ago, formatCounts, formatMs, formatRatio, formatTime, keyValues, table, truncate } from '../../cli/format.ts';
import { emptyCounts } from '../../core/status.ts';

describe('table', () => {
  it('aligns columns two spaces apart under capitalised headers, numbers right-aligned, no trailing spaces', () => {
    // Act
    const out = table(['pack', 'status', 'runs'], [['a1', 'complete', 1], ['b22', 'running', 12]], { align: ['left', 'left', 'right'] });
    // Assess
    expect(out.split('\n')).toEqual([
      'PACK  STATUS    RUNS',
      'a1    complete     1',
      'b22   running     12',
    ]);
  });

  it('cuts cells longer than their column\'s maximum with an ellipsis and keeps each row on one line', () => {
    const out = table(['name', 'x'], [['a very long pack name', 'multi\nline']], { maxWidth: [10] });
    expect(out.split('\n')).toEqual(['NAME        X', 'a very lo…  multi line']);
  });

  it('prints the headers alone for no rows', () => {
    expect(table(['job', 'status'], [])).toBe('JOB  STATUS');
  });
});

describe('keyValues', () => {
  it('aligns the values and leaves out undefined ones', () => {
    expect(keyValues([['pack', 'p1'], ['error', undefined], ['execution', 'arn:x']])).toBe('pack       p1\nexecution  arn:x');
  });
});

describe('small formats', () => {
  it('lists non-zero counts in pipeline order, or none', () => {
    expect(formatCounts({ ...emptyCounts(), failed: 1, complete: 3, inpainting: 2 })).toBe('inpainting 2, complete 3, failed 1');
    expect(formatCounts(emptyCounts())).toBe('none');
  });

  it.each([
    [null, 'n/a'], [0, '0.0 %'], [0.9534, '95.3 %'], [1, '100.0 %'],
  ])('formats the ratio %s as %s', (r, text) => {
    expect(formatRatio(r)).toBe(text);
  });

  it.each([
    [null, 'n/a'], [12.4, '12 ms'], [999, '999 ms'], [12_340, '12.3 s'], [250_000, '4 min 10 s'], [7_500_000, '2 h 5 min'],
  ])('formats %s ms as %s', (ms, text) => {
    expect(formatMs(ms)).toBe(text);
  });

  const now = new Date('2025-06-01T12:00:00Z');
  it.each([
    ['2025-06-01T12:00:00Z', 'just now'], ['2025-06-01T11:59:18Z', '42 s ago'], ['2025-06-01T11:57:00Z', '3 min ago'],
    ['2025-06-01T07:00:00Z', '5 h ago'], ['2025-05-30T12:00:00Z', '2 d ago'], ['2025-06-01T12:05:00Z', 'in the future'], ['not a time', 'not a time'],
  ])('says %s was %s', (iso, text) => {
    expect(ago(iso, now)).toBe(text);
  });

  it('prints times to the second in UTC', () => {
    expect(formatTime('2025-06-01T08:49:04.123Z')).toBe('2025-06-01 08:49:04Z');
  });

  it('truncates by characters, not bytes', () => {
    expect(truncate('ééééé', 3)).toBe('éé…');
    expect(truncate('abc', 3)).toBe('abc');
  });
});
