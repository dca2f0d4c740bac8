/**
 * The watchdog never overlaps itself: a lease item in the control table, taken with a
 * conditional write. A run that finds the lease held exits at once without sweeping.
 */
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { documentClient } from '../../adapters/aws-clients.ts';
import { acquireWatchdogLease, releaseWatchdogLease, WATCHDOG_LEASE_ID } from '../../adapters/watchdog-lease.ts';
import type { SweepReport } from '../../adapters/watchdog-sweep.ts';
import { provisionFresh } from '../support/aws.ts';
import { lambdaContext } from '../support/lambda.ts';

type Handler = (event: unknown, context: ReturnType<typeof lambdaContext>) => Promise<SweepReport>;
let handler: Handler;

beforeAll(async () => {
  await provisionFresh();
  handler = ((await import('../../lambdas/handlers/watchdog.ts')) as { handler: Handler }).handler;
});

const lease = async () =>
  (await documentClient().send(new GetCommand({ TableName: process.env['CONTROL_TABLE'], Key: { id: WATCHDOG_LEASE_ID }, ConsistentRead: true }))).Item;

const scheduled = { source: 'aws.events', 'detail-type': 'Scheduled Event' };

describe('the watchdog lease', () => {
  it('is held by one holder at a time, taken over only once it expired, and released only by its holder', async () => {
    // Prepare
    const now = Date.now();
    // Act + Assess
    expect(await acquireWatchdogLease('a', now + 60_000, now)).toBe(true);
    expect(await acquireWatchdogLease('b', now + 60_000, now)).toBe(false);
    expect(await acquireWatchdogLease('b', now + 120_000, now + 60_001)).toBe(true);
    await releaseWatchdogLease('a');
    expect((await lease())?.['holder']).toBe('b');
    await releaseWatchdogLease('b');
    expect(await lease()).toBeUndefined();
  });

  it('makes a second run exit at once while a sweep holds it, and lets the next one sweep', async () => {
    // Prepare: a sweep in progress holds the lease.
    expect(await acquireWatchdogLease('running-sweep', Date.now() + 60_000)).toBe(true);
    // Act
    const overlapped = await handler(scheduled, lambdaContext('vto-watchdog'));
    // Assess
    expect(overlapped.skipped).toBe('overlap');
    expect(overlapped.jobs).toEqual([]);
    expect((await lease())?.['holder']).toBe('running-sweep');

    // Act: the first sweep ends; the next scheduled run sweeps and gives the lease back.
    await releaseWatchdogLease('running-sweep');
    const swept = await handler(scheduled, lambdaContext('vto-watchdog'));
    // Assess
    expect(swept.skipped).toBeUndefined();
    expect(await lease()).toBeUndefined();
  });
});
