/**
 * The DynamoDB-backed breaker on DynamoDB Local: conditional writes on a version, so
 * writers racing on one breaker never lose an update; what GET /health reads; which
 * failures count against a provider.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CircuitOpenError, DiskFullError, InvalidInputError, MalformedResponseError, TransientNetworkError } from '../../core/errors.ts';
import { BreakerStore, breakerId, breakerSettingsFromEnv, breakersEnabled, type BreakerTransitionEvent } from '../../adapters/breaker-store.ts';
import { providerVerdict } from '../../adapters/provider-breakers.ts';
import { comfyHostBreaker } from '../../core/breaker.ts';
import { provisionFresh } from '../support/aws.ts';

let table: string;
const clients: DynamoDBDocumentClient[] = [];
const newClient = () => {
  const c = DynamoDBDocumentClient.from(new DynamoDBClient({ maxAttempts: 3 }));
  clients.push(c);
  return c;
};

beforeAll(async () => {
  table = (await provisionFresh()).tables.control;
});

afterAll(() => {
  for (const c of clients) c.destroy();
});

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection');
}

describe('two writers on one breaker', () => {
  it('lose no update: every failure of both is counted once', async () => {
    // Prepare: a threshold no count reaches, so only the count moves.
    const settings = { failureThreshold: 1000, openMs: 1000, halfOpenMaxCalls: 3 };
    const a = new BreakerStore({ table, settings, client: newClient(), maxAttempts: 50 });
    const b = new BreakerStore({ table, settings, client: newClient(), maxAttempts: 50 });
    const perWriter = 15;

    // Act
    await Promise.all([a, b].map(async (store) => {
      for (let i = 0; i < perWriter; i++) await store.onFailure('segmentation');
    }));

    // Assess
    const stored = await a.read('segmentation');
    expect(stored).toMatchObject({ breaker: { state: 'closed', failures: 2 * perWriter }, version: 2 * perWriter });
  });

  it('open the breaker once, reporting one transition, when they reach the threshold together', async () => {
    // Prepare
    const transitions: BreakerTransitionEvent[] = [];
    const settings = { failureThreshold: 5, openMs: 60_000, halfOpenMaxCalls: 3 };
    const make = () => new BreakerStore({ table, settings, client: newClient(), maxAttempts: 50, onTransition: (t) => transitions.push(t) });
    const writers = [make(), make()];

    // Act
    await Promise.all(writers.map(async (store) => {
      for (let i = 0; i < 4; i++) await store.onFailure('analyzer');
    }));

    // Assess
    expect(await writers[0]!.read('analyzer')).toMatchObject({ breaker: { state: 'open', failures: 8 } });
    expect(transitions.map((t) => [t.provider, t.from, t.to])).toEqual([['analyzer', 'closed', 'open']]);
  });
});

describe('a stored breaker', () => {
  it('refuses calls with Transient.CircuitOpen while open, half-opens after its timeout, closes on a success', async () => {
    // Prepare
    let now = Date.parse('2026-02-01T00:00:00Z');
    const transitions: string[] = [];
    const store = new BreakerStore({
      table, settings: { failureThreshold: 2, openMs: 30_000, halfOpenMaxCalls: 1 }, clock: () => now,
      onTransition: (t) => transitions.push(`${t.from}→${t.to}`),
    });
    const hook = store.hook('hosted-inpaint');
    await hook.onFailure();
    await hook.onFailure();

    // Act
    const refused = await rejection(hook.beforeCall());
    now += 30_000;
    await hook.beforeCall();
    const secondTrial = await rejection(hook.beforeCall());
    await hook.onSuccess();
    await hook.beforeCall();

    // Assess
    expect(refused).toBeInstanceOf(CircuitOpenError);
    expect(refused.name).toBe('Transient.CircuitOpen');
    expect(refused.message).toMatch(/hosted-inpaint circuit breaker is open after 2 consecutive failures; calls are refused until 2026-02-01T00:00:30\.000Z/);
    expect(secondTrial.name).toBe('Transient.CircuitOpen');
    expect(transitions).toEqual(['closed→open', 'open→half_open', 'half_open→closed']);
    const item = await newClient().send(new GetCommand({ TableName: table, Key: { id: breakerId('hosted-inpaint') }, ConsistentRead: true }));
    expect(item.Item).toMatchObject({ state: 'closed', failures: 0, recent: [{ to: 'open' }, { to: 'half_open' }, { to: 'closed' }] });
  });

  it('says how long until it admits a call, spending no trial: open until its timeout, half-open with every trial out until they renew', async () => {
    // Prepare: a host breaker no other test writes.
    let now = Date.parse('2026-02-03T00:00:00Z');
    const store = new BreakerStore({ table, settings: { failureThreshold: 1, openMs: 30_000, halfOpenMaxCalls: 2 }, clock: () => now });
    const key = comfyHostBreaker('http://127.0.0.1:8188', 'admits-in');
    const closed = await store.admitsIn(key);
    await store.onFailure(key);

    // Act
    const open = await store.admitsIn(key);
    now += 30_000;
    const timedOut = await store.admitsIn(key);
    await store.beforeCall(key);
    await store.beforeCall(key);
    now += 10_000;
    const trialsOut = await store.admitsIn(key);
    now += 20_000;
    const renewed = await store.admitsIn(key);

    // Assess
    expect([closed, open, timedOut, trialsOut, renewed]).toEqual([0, 30_000, 0, 20_000, 0]);
    expect((await store.read(key)).breaker).toMatchObject({ state: 'half_open', trials: 2 });
  });

  it('reports every provider, closed when never written', async () => {
    // Prepare
    const store = new BreakerStore({ table, settings: { failureThreshold: 1, openMs: 1000, halfOpenMaxCalls: 1 }, clock: () => Date.parse('2026-02-02T00:00:00Z') });
    await store.onFailure('comfyui');

    // Act
    const states = await store.states();

    // Assess
    expect(states.find((s) => s.dependency === 'comfyui')).toEqual({ dependency: 'comfyui', state: 'open', failures: 1, openedAt: '2026-02-02T00:00:00.000Z' });
    expect(states.map((s) => s.dependency).sort()).toEqual(['analyzer', 'comfyui', 'hosted-inpaint', 'segmentation']);
  });
});

describe('a waiting hook', () => {
  const settings = { failureThreshold: 1, openMs: 60_000, halfOpenMaxCalls: 1 };
  // Breakers of its own, whatever the tests above left in theirs.
  let table: string;
  beforeAll(async () => {
    table = (await provisionFresh()).tables.control;
  });

  it('gives up with Transient.CircuitOpen when the breaker stays open past its wait', async () => {
    // Prepare
    const store = new BreakerStore({ table, settings });
    await store.onFailure('segmentation');
    const waited: (number | null)[] = [];
    const hook = store.hook('segmentation', { waitWhileOpenMs: 100, pollMs: 10, onWait: (at) => waited.push(at) });

    // Act
    const error = await rejection(hook.beforeCall());

    // Assess
    expect(error.name).toBe('Transient.CircuitOpen');
    expect(waited).toHaveLength(1);
  });

  it('ends its wait with the abort reason when the caller stops', async () => {
    // Prepare
    const store = new BreakerStore({ table, settings });
    await store.onFailure('analyzer');
    const stop = new AbortController();
    const hook = store.hook('analyzer', { waitWhileOpenMs: 60_000, pollMs: 10, onWait: () => stop.abort(new Error('released')) });

    // Act
    const error = await rejection(hook.beforeCall(stop.signal));

    // Assess
    expect(error.message).toBe('released');
  });
});

describe('breaker configuration', () => {
  it('reads VTO_BREAKER_* and scales the open time by VTO_TIME_SCALE', () => {
    expect(breakerSettingsFromEnv({ VTO_BREAKER_OPEN_SECONDS: '20', VTO_TIME_SCALE: '0.05', VTO_BREAKER_FAILURE_THRESHOLD: '3' }))
      .toEqual({ failureThreshold: 3, openMs: 1000, halfOpenMaxCalls: 3 });
    expect(breakerSettingsFromEnv({})).toEqual({ failureThreshold: 5, openMs: 300_000, halfOpenMaxCalls: 3 });
  });

  it('names a bad value', () => {
    expect(() => breakerSettingsFromEnv({ VTO_BREAKER_HALF_OPEN_CALLS: 'three' })).toThrow(/VTO_BREAKER_HALF_OPEN_CALLS/);
  });

  it.each([
    { value: undefined, on: true }, { value: 'on', on: true }, { value: 'off', on: false }, { value: 'false', on: false },
  ])('VTO_BREAKERS=$value → on: $on', ({ value, on }) => {
    expect(breakersEnabled(value === undefined ? {} : { VTO_BREAKERS: value })).toBe(on);
  });
});

describe('which failures count against a provider', () => {
  it.each([
    { e: new TransientNetworkError('reset'), verdict: 'failure' },
    { e: new MalformedResponseError('bad json'), verdict: 'failure' },
    { e: Object.assign(new Error('503'), { name: 'Transient.ServiceUnavailable' }), verdict: 'failure' },
    { e: Object.assign(new Error('throttled'), { name: 'Transient.Throttled' }), verdict: 'neither' },
    { e: new CircuitOpenError('open'), verdict: 'neither' },
    { e: new InvalidInputError('unreadable image'), verdict: 'success' },
    { e: new DiskFullError('disk'), verdict: 'success' },
    { e: new Error('plain'), verdict: 'success' },
  ])('$e.name → $verdict', ({ e, verdict }) => {
    expect(providerVerdict(e)).toBe(verdict);
  });
});
