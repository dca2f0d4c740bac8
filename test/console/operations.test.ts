/**
 * The statistics and health page in a real browser against the offline stack: the
 * emergency stop and resume, each confirmed with what it does; the recovery statistics
 * and health drawn as charts; and API errors put into words rather than a blank page.
 */
import { describe, expect, it } from 'vitest';
import type { JobView } from '../../lambdas/api/schemas.ts';
import { finished, useConsoleWorld } from './support/console-stack.ts';

const file = useConsoleWorld();

describe('API errors', () => {
  it('are shown in words with what to do, never as a blank page', async () => {
    const { world, page } = file;
    // Act
    const missing = '00000000-0000-4000-8000-000000000000';
    await page.goto(`${world.console.url}#/jobs/${missing}`);
    // Assess
    const alert = page.getByRole('alert');
    await alert.waitFor();
    expect(await alert.textContent()).toContain(`Loading the job failed: job ${missing} does not exist`);
    expect(await alert.textContent()).toContain('HTTP 404, NotFound');
    await world.open(page, '#/nowhere', 'Page not found');
  });
});

describe('the statistics and health page', () => {
  let packId: string;

  it('stops everything with the emergency stop and resumes, each after a confirmation that says what happens', async () => {
    const { world, page } = file;
    // Prepare: a pack whose first job hangs on the GPU, so the pack is surely running; its
    // second job runs out of GPU memory and recovers.
    await world.open(page, '#/stats', 'Statistics & health');
    const created = await world.createPack('operations drill', [{}, { params: { width: 1536, height: 1536, batch: 4, steps: 40 } }]);
    packId = created.packId;
    world.stack.workers[0]!.comfy.setFault(created.jobIds[0]!, 'hang', 1);
    await expect.poll(async () => ((await world.call('GET', `/jobs/${created.jobIds[0]}`)).body as unknown as JobView).status, { timeout: 30_000 }).toBe('inpainting');
    // Act: stop
    await page.getByRole('button', { name: 'Emergency stop…' }).click();
    const stop = page.getByRole('dialog', { name: 'Stop everything now?' });
    expect(await stop.textContent()).toContain('Nothing is lost');
    await stop.getByLabel('Reason').fill('console drill');
    await stop.getByRole('button', { name: 'Stop everything' }).click();
    // Assess: stopped, in words, in the header and in the API
    await page.getByRole('status').filter({ hasText: /^Emergency stop active: 1 pack and \d+ executions? stopped/ }).waitFor();
    await page.locator('.stop-badge:not([hidden])').waitFor();
    expect(await page.locator('.stop-state').textContent()).toContain('console drill');
    expect((await world.call('GET', `/packs/${packId}`)).body['status']).toBe('stopped');
    await world.shot(page, 'stats-stopped');
    // Act: resume
    await expect.poll(() => page.getByRole('button', { name: 'Resume…' }).getAttribute('aria-disabled')).toBeNull();
    await page.getByRole('button', { name: 'Resume…' }).click();
    const resume = page.getByRole('dialog', { name: 'Resume the pipeline?' });
    expect(await resume.textContent()).toContain('continue from their checkpoints');
    await resume.getByRole('button', { name: 'Resume' }).click();
    // Assess: resumed, and nothing was lost
    await page.getByRole('status').filter({ hasText: /^Resumed: 1 pack started again/ }).waitFor();
    await page.locator('.stop-badge[hidden]').waitFor({ state: 'attached' });
    const view = await world.waitForPack(packId, finished);
    expect(view).toMatchObject({ status: 'complete', progress: { done: 2, total: 2 } });
  });

  it('draws the recovery rate over time, the errors per taxonomy name and per strategy, and the health of the pipeline', async () => {
    const { world, page } = file;
    // Act: a window change reads the statistics again at once
    await page.getByLabel('Window').selectOption('72');
    // Assess
    const byError = page.getByRole('img', { name: /^Errors per taxonomy name: .*Gpu\.OutOfMemory 1/ });
    await byError.waitFor();
    expect(await byError.locator('text.bar-label').allTextContents()).toContain('Gpu.OutOfMemory');
    await page.getByRole('img', { name: /^Errors per strategy: .*REDUCE_PARAMS 1/ }).waitFor();
    const hourly = page.getByRole('img', { name: /^Recoveries per hour:/ });
    // One bar per hour bucket the window touches (72 hours span 72 or 73 buckets).
    expect(await hourly.locator('rect.bar-recovered').count()).toBeGreaterThanOrEqual(72);
    expect(await hourly.locator('path.rate-line').count()).toBe(1);
    expect(await page.locator('.tile', { hasText: 'Time to recover, p50' }).locator('.tile-value').textContent()).not.toBe('—');
    expect(await page.locator('.card', { hasText: 'GPU queue' }).locator('.tile-value').allTextContents()).toHaveLength(3);
    const breakers = await page.locator('.card', { hasText: 'Circuit breakers' }).textContent();
    expect(breakers).toMatch(/No breaker data\.|closed|open|half-open/);
    expect(await page.locator('.card', { hasText: 'Stuck jobs' }).locator('.big-number').textContent()).toBe('0');
    expect(world.pageErrors).toEqual([]);
    await world.shot(page, 'stats');
  });
});
