/**
 * Polls until a read satisfies a predicate, or fails naming what it waited for and the
 * last value read. Bounded: a test never waits forever.
 */
export async function eventually<T>(
  read: () => Promise<T> | T,
  ok: (v: T) => boolean,
  what: string,
  { timeoutMs = 30_000, everyMs = 100 }: { timeoutMs?: number; everyMs?: number } = {},
): Promise<T> {
  const giveUpAt = Date.now() + timeoutMs;
  let last: T | undefined;
  let lastError: unknown;
  for (;;) {
    try {
      last = await read();
      if (ok(last)) return last;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() > giveUpAt) {
      const seen = lastError !== undefined && last === undefined ? String(lastError) : JSON.stringify(last)?.slice(0, 800);
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last seen: ${seen}`);
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
