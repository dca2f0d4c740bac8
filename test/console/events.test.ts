/**
 * A pack's lifecycle events on its page, in a real browser against the console server in
 * front of the whole offline stack: the page is open while the pack runs, and its events
 * (pack started, each job completed, pack completed) arrive from the local bus without a
 * reload, each with its time and its job.
 */
import { describe, expect, it } from 'vitest';
import { useConsoleWorld } from './support/console-stack.ts';

const file = useConsoleWorld();

describe('a pack\'s events', () => {
  it('appear on its page while it runs, from pack started to pack completed, with a recovery in words', async () => {
    const { world, page } = file;
    // Prepare: the packs page is open before the pack exists; one job meets GPU physics
    // (out of memory) and is recovered, which keeps the pack running for a while.
    await page.getByRole('heading', { level: 1, name: 'Virtual Try-On Packs' }).waitFor();
    const created = await world.createPack('events pack', [{}, { params: { width: 1536, height: 1536, batch: 4, steps: 40 } }]);
    const row = page.locator(`section.pack[data-pack-id="${created.packId}"]`);
    const events = row.locator('.pack-events');
    // Act: open the pack; no reload after this
    await row.locator('.pack-toggle').click();
    await events.locator('li.event').first().waitFor();
    await events.locator('li.event[data-type="pack.completed"]').waitFor({ timeout: 90_000 });
    // Assess: in order, jobs linked, times shown. (Whether the first poll came before the
    // end depends on the machine's speed, so the test does not assert it.)
    const types = await events.locator('li.event').evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset['type']));
    expect(types[0]).toBe('pack.started');
    expect(types.at(-1)).toBe('pack.completed');
    expect(types.filter((t) => t === 'job.completed')).toHaveLength(2);
    const jobLinks = await events.locator('li.event[data-type="job.completed"] a').evaluateAll((els) => els.map((e) => e.getAttribute('href')));
    expect(jobLinks.sort()).toEqual(created.jobIds.map((id) => `#/jobs/${id}`).sort());
    expect(await events.locator('li.event[data-type="job.recovered"]').first().textContent()).toContain('Gpu.OutOfMemory by REDUCE_PARAMS');
    expect(await events.locator('li.event[data-type="pack.completed"]').textContent()).toContain('complete 2');
    expect(await events.locator('li.event time').first().getAttribute('datetime')).toMatch(/^\d{4}-\d{2}-\d{2}T/);
    expect(world.pageErrors).toEqual([]);
    await world.shot(page, 'pack-events');
  });
});
