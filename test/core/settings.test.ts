/** One settings loader: a schema keyed by variable names, the environment passed in, errors naming each variable. */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { loadSettings } from '../../core/settings.ts';

const schema = z.object({
  VTO_COUNT: z.coerce.number().int().positive().default(3),
  VTO_NAME: z.string().min(1),
});

class TestSettingsError extends Error {
  override readonly name = 'TestSettingsError';
}

describe('loadSettings', () => {
  it('parses the environment it is given, with defaults', () => {
    expect(loadSettings(schema, { VTO_NAME: 'a' })).toEqual({ VTO_COUNT: 3, VTO_NAME: 'a' });
    expect(loadSettings(schema, { VTO_NAME: 'a', VTO_COUNT: '7' })).toEqual({ VTO_COUNT: 7, VTO_NAME: 'a' });
  });

  it('names every bad variable and why, in the error class and words the caller chose', () => {
    const run = () => loadSettings(schema, { VTO_COUNT: '-1' }, { what: 'test settings', error: TestSettingsError });
    expect(run).toThrow(TestSettingsError);
    expect(run).toThrow(/^Invalid test settings: VTO_COUNT: .+; VTO_NAME: .+/);
  });

  it('reads a blank variable as unset only when asked', () => {
    expect(loadSettings(schema, { VTO_NAME: 'a', VTO_COUNT: ' ' }, { blankIsUnset: true }).VTO_COUNT).toBe(3);
    expect(() => loadSettings(schema, { VTO_NAME: 'a', VTO_COUNT: 'x' })).toThrow(/VTO_COUNT/);
  });
});
