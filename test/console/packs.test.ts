/**
 * The packs page and the job page in a real browser (Debian's Chromium, headless) against
 * the console server in front of the whole offline stack: a pack submitted through the
 * signed API shows up and finishes live; its failed job is restarted and the pack
 * refined from the page; a job's recovery path is on its timeline, linked to the
 * execution's local history; nothing a pack or an error holds becomes markup; a running
 * pack and a running job are cancelled from their pages.
 */
import { describe, expect, it } from 'vitest';
import { useConsoleWorld } from './support/console-stack.ts';

const XSS_NAME = '<img src=x onerror=alert(1)>';

const file = useConsoleWorld();
let packId: string;
let jobIds: string[];

const packRow = (id: string) => file.page.locator(`section.pack[data-pack-id="${id}"]`);

/** The pack's own link: the packs page with its row open. */
async function openPack(id: string) {
  await file.page.goto(`${file.world.console.url}#/packs/${id}`);
  const row = packRow(id);
  await row.locator('.pack-panel:not([hidden])').waitFor();
  return row;
}

describe('the packs page', () => {
  it('shows a pack submitted through the API and follows it live until it finishes', async () => {
    const { world, page } = file;
    // Prepare: the page is open before the pack exists; one job meets GPU physics (out of
    // memory), one an analyzer 502 page, one a full disk (fatal).
    await page.getByRole('heading', { level: 1, name: 'Virtual Try-On Packs' }).waitFor();
    const created = await world.createPack(XSS_NAME, [{}, { params: { width: 1536, height: 1536, batch: 4, steps: 40 } }, {}, {}]);
    packId = created.packId;
    jobIds = created.jobIds;
    world.stack.providers.setFault('analyzer', jobIds[2]!, 'htmlError', 1);
    world.stack.workers[0]!.comfy.setFault(jobIds[3]!, 'diskFull', 1);
    // Act: no reload; the page polls
    const row = packRow(packId);
    await row.waitFor();
    await row.locator('.pack-badge', { hasText: 'completed with failures' }).waitFor({ timeout: 60_000 });
    // Assess
    await expect.poll(() => row.locator('.pack-done').textContent()).toBe('4/4 done');
    expect(await row.locator('.chips').textContent()).toBe('3 complete1 failed');
    expect(await row.locator('.pack-name').textContent()).toBe(XSS_NAME);
  });

  it('opens a pack from the keyboard and filters its jobs by status', async () => {
    const { world, page } = file;
    // Act
    const toggle = packRow(packId).locator('.pack-toggle');
    await toggle.focus();
    await page.keyboard.press('Enter');
    // Assess: an accordion region labelled by its button
    expect(await toggle.getAttribute('aria-expanded')).toBe('true');
    const region = page.getByRole('region', { name: new RegExp(XSS_NAME.replace(/[()[\]]/g, '\\$&')) });
    await region.waitFor();
    await expect.poll(() => region.locator('tbody tr').count()).toBe(4);
    await region.getByLabel('Status').selectOption('failed');
    await expect.poll(() => region.locator('tbody tr').count()).toBe(1);
    expect(await region.locator('tbody tr').first().textContent()).toContain('Fatal.DiskFull');
    await region.getByLabel('Status').selectOption('');
    await expect.poll(() => region.locator('tbody tr').count()).toBe(4);
    await world.shot(page, 'packs');
  });
});

describe('the job page', () => {
  it('shows a recovered job\'s images, its parameters now and originally, its QA report and its recovery path', async () => {
    const { world, page } = file;
    // Act: follow the job's link from the pack's table
    await packRow(packId).locator(`.jobs-table a[href="#/jobs/${jobIds[1]}"]`).click();
    await page.getByRole('heading', { level: 1, name: new RegExp(`Job ${jobIds[1]!.slice(0, 8)}`) }).waitFor();
    // Assess: the recovery path names the failure and the strategy taken
    const step = page.locator('li.tl-item[data-error="Gpu.OutOfMemory"]');
    await step.waitFor();
    expect(await step.getAttribute('data-strategy')).toBe('REDUCE_PARAMS');
    expect(await step.getAttribute('class')).toContain('outcome-recovered');
    expect(await step.textContent()).toContain('Reduce GPU parameters');
    expect(await page.locator('li.tl-end').textContent()).toContain('Job complete');
    // Parameters: reduced from the original
    const width = page.getByRole('row', { name: /^Width/ });
    expect(await width.getAttribute('class')).toBe('changed');
    expect(await width.locator('td').allTextContents()).toEqual(['1232 changed', '1536']);
    // Images: inputs and outputs load side by side from their pre-signed URLs
    for (const alt of ['Person image', 'Garment image', 'Expanded garment mask', 'Inpainted image', 'Composited result']) {
      const img = page.locator(`img[alt^="${alt}"]`);
      await expect.poll(() => img.evaluate((el) => (el as HTMLImageElement).naturalWidth)).toBeGreaterThan(0);
    }
    expect(await page.locator('.img-fig.missing').count()).toBe(0);
    expect(await page.locator('.qa-score').textContent()).toBe('Score 100 / threshold 70');
    await world.shot(page, 'job');
  });

  it('links the job to its execution\'s local history, where the recovery state appears', async () => {
    const { world, page } = file;
    // Act
    await page.getByRole('link', { name: /Execution history, run 1/ }).click();
    await page.getByRole('heading', { level: 1, name: 'Execution history' }).waitFor();
    // Assess
    await page.locator('table.history tbody tr').first().waitFor();
    const states = await page.locator('table.history tbody td:nth-child(4)').allTextContents();
    expect(states).toContain('Reduce GPU parameters');
    expect(states).toContain('Job complete');
    expect(await page.locator('.meta-grid').textContent()).toContain('SUCCEEDED');
    await world.shot(page, 'execution-history');
  });

  it('shows an error text holding HTML as text, and a pack name holding markup as text', async () => {
    const { world, page } = file;
    // Act
    await page.goto(`${world.console.url}#/jobs/${jobIds[2]}`);
    const step = page.locator('li.tl-item[data-error="Transient.ServiceUnavailable"]');
    await step.waitFor();
    await step.locator('summary').click();
    // Assess: the nginx page is in the <pre> as characters, not parsed
    const cause = await step.locator('pre.cause').textContent();
    expect(cause).toContain('<title>502 Bad Gateway</title>');
    expect(await page.locator('center').count()).toBe(0);
    expect(await page.locator('h1').count()).toBe(1);
    await expect.poll(() => page.locator('.crumbs').textContent()).toContain(XSS_NAME);
    expect(await page.locator('img[src="x"]').count()).toBe(0);
    expect(world.jsDialogs).toEqual([]);
    expect(world.pageErrors).toEqual([]);
  });
});

describe('the pack tools', () => {
  it('refines the pack with the scope chosen in its dialog and links to the new pack', async () => {
    const { page } = file;
    // Prepare
    const row = await openPack(packId);
    // Act
    await row.getByRole('button', { name: 'Refine Pack…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Refine Pack' });
    expect(await dialog.textContent()).toContain('Also the 1 failed job');
    await dialog.getByRole('radio', { name: 'All completed' }).check();
    await dialog.getByRole('button', { name: 'Create refinement pack' }).click();
    const link = row.locator('a.new-pack-link');
    await link.waitFor();
    const href = await link.getAttribute('href');
    await link.click();
    // Assess: the new pack, open, linked to its source, with the complete and the failed jobs
    const newId = href!.replace('#/packs/', '');
    expect(newId).not.toBe(packId);
    const refined = packRow(newId);
    await refined.locator('.pack-panel:not([hidden])').waitFor();
    expect(await refined.locator('.meta-grid').textContent()).toContain(`Refined frompack ${packId.slice(0, 8)} (all completed)`);
    await expect.poll(() => refined.locator('.pack-done').textContent()).toMatch(/\/4 done$/);
    await refined.locator(`a[href="#/packs/${packId}"]`).waitFor();
  });

  it('restarts the incomplete jobs after a confirmation that counts them, and the pack completes', async () => {
    const { world, page } = file;
    // Prepare
    const row = await openPack(packId);
    const button = row.getByRole('button', { name: 'Restart Incomplete (1)' });
    await button.waitFor();
    // Act
    await button.click();
    const dialog = page.getByRole('dialog', { name: 'Restart 1 incomplete job?' });
    await dialog.waitFor();
    expect(await dialog.textContent()).toContain('1 failed');
    await dialog.getByRole('button', { name: 'Restart 1 job' }).click();
    // Assess: focus back on the tool, the answer in words, the pack runs again to the end
    await dialog.waitFor({ state: 'detached' });
    expect(await page.evaluate(() => document.activeElement?.textContent)).toMatch(/^Restart Incomplete/);
    await row.getByRole('status').filter({ hasText: 'Restarted: 1 job reset to pending' }).waitFor();
    await row.locator('.pack-badge', { hasText: /^complete$/ }).waitFor({ timeout: 60_000 });
    await expect.poll(() => row.locator('.chips').textContent()).toBe('4 complete');
    expect(await row.locator('.meta-grid').textContent()).toContain('Runs2');
    expect(world.jsDialogs).toEqual([]);
    await world.shot(page, 'packs-after-tools');
  });

  it('retries a complete job only with Force, which its dialog explains and ticks', async () => {
    const { world, page } = file;
    // Prepare
    await page.goto(`${world.console.url}#/jobs/${jobIds[0]}`);
    await page.locator('.title-badge', { hasText: 'complete' }).waitFor();
    // Act
    await page.getByRole('button', { name: 'Retry job…' }).click();
    const dialog = page.getByRole('dialog', { name: `Retry job ${jobIds[0]!.slice(0, 8)}?` });
    const force = dialog.getByRole('checkbox', { name: 'Force' });
    // Assess: Force is explained and ticked for a complete job
    expect(await dialog.textContent()).toContain('The job is complete, so it needs Force.');
    expect(await force.isChecked()).toBe(true);
    expect(await dialog.textContent()).toContain('resets its attempt counters');
    // Act: without Force the API refuses, in words
    await force.uncheck();
    await dialog.getByRole('button', { name: 'Retry' }).click();
    await page.getByRole('alert').filter({ hasText: 'Retry failed' }).waitFor();
    expect(await page.getByRole('alert').filter({ hasText: 'Retry failed' }).textContent()).toContain('409');
    // Act: with Force it runs again
    await page.getByRole('button', { name: 'Retry job…' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Retry' }).click();
    await page.getByRole('status').filter({ hasText: /^Job started again \(forced\)/ }).waitFor();
    expect(world.pageErrors).toEqual([]);
  });
  it('erases a finished pack after a confirmation naming what goes: its row leaves the list and the API answers 404', async () => {
    const { world, page } = file;
    // Prepare
    const created = await world.createPack('to be erased', [{}]);
    await world.waitForPack(created.packId, (p) => p.status === 'complete');
    const row = await openPack(created.packId);
    // Act
    await row.getByRole('button', { name: 'Erase Pack…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Erase pack to be erased?' });
    await dialog.waitFor();
    const text = await dialog.textContent();
    await dialog.getByRole('button', { name: 'Erase pack' }).click();
    // Assess
    expect(text).toContain('1 job');
    expect(text).toMatch(/\d+ stored images? \(\d+ stored versions?\)/);
    await page.getByRole('status').filter({ hasText: 'Pack to be erased erased:' }).waitFor();
    await row.waitFor({ state: 'detached' });
    expect((await world.call('GET', `/packs/${created.packId}`)).status).toBe(404);
    expect(world.pageErrors).toEqual([]);
  });

  it('cancels a running pack after a confirmation that counts its unfinished jobs; Cancel Pack is then not offered', async () => {
    const { world, page } = file;
    // Prepare: the pack's one job hangs on the GPU, so the pack is surely running.
    const created = await world.createPack('to be cancelled', [{}]);
    world.stack.workers[0]!.comfy.setFault(created.jobIds[0]!, 'hang', 1);
    const row = await openPack(created.packId);
    await expect.poll(() => row.locator('.chips').textContent(), { timeout: 30_000 }).toBe('1 inpainting');
    // Act
    await row.getByRole('button', { name: 'Cancel Pack…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Cancel pack to be cancelled?' });
    expect(await dialog.textContent()).toContain('1 unfinished job ends cancelled');
    await dialog.getByRole('button', { name: 'Cancel pack' }).click();
    // Assess: the answer in words, the pack and its job cancelled, the tool says why it rests
    await row.getByRole('status').filter({ hasText: 'Pack cancelled: 1 job cancelled.' }).waitFor();
    await row.locator('.pack-badge', { hasText: /^cancelled$/ }).waitFor();
    await row.getByText('The pack is cancelled: nothing to cancel.').waitFor();
    expect(await row.getByRole('button', { name: 'Cancel Pack…' }).getAttribute('aria-disabled')).toBe('true');
    expect((await world.call('GET', `/packs/${created.packId}`)).body['status']).toBe('cancelled');
    expect((await world.call('GET', `/jobs/${created.jobIds[0]}`)).body['status']).toBe('cancelled');
    expect(world.pageErrors).toEqual([]);
  });

  it('cancels a running job from its page after a confirmation; Cancel job stays held and the job ends cancelled', async () => {
    const { world, page } = file;
    // Prepare: the job hangs on the GPU, so it is surely running.
    const created = await world.createPack('job to be cancelled', [{}]);
    const jobId = created.jobIds[0]!;
    world.stack.workers[0]!.comfy.setFault(jobId, 'hang', 1);
    await page.goto(`${world.console.url}#/jobs/${jobId}`);
    await page.locator('.title-badge', { hasText: 'inpainting' }).waitFor({ timeout: 30_000 });
    // Act
    const cancel = page.getByRole('button', { name: 'Cancel job…' });
    await cancel.click();
    const dialog = page.getByRole('dialog', { name: `Cancel job ${jobId.slice(0, 8)}?` });
    expect(await dialog.textContent()).toContain('It ends cancelled.');
    await dialog.getByRole('button', { name: 'Cancel job' }).click();
    // Assess
    await page.getByRole('status').filter({ hasText: 'Job cancelled.' }).waitFor();
    expect(await cancel.getAttribute('aria-disabled')).toBe('true');
    await page.locator('.title-badge', { hasText: 'cancelled' }).waitFor();
    expect(await cancel.getAttribute('aria-disabled')).toBe('true');
    expect((await world.call('GET', `/jobs/${jobId}`)).body['status']).toBe('cancelled');
    expect(world.pageErrors).toEqual([]);
  });
});
