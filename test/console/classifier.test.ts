/**
 * The Classifier page in a real browser against the offline stack: an Unclassified failed
 * job; a dry run shows it with its name before and after; Save is offered only for the
 * pattern just dry-run; a catastrophic regular expression is refused in words; saving
 * renames the job's failure; the pattern is listed with who saved it, then removed.
 */
import { describe, expect, it } from 'vitest';
import { getJob } from '../../adapters/job-store.ts';
import { STAGES } from '../../core/strategies.ts';
import { seedFailedJob } from '../support/failed-job.ts';
import { useConsoleWorld } from './support/console-stack.ts';

const file = useConsoleWorld();

describe('the Classifier page', () => {
  it('dry-runs a pattern, refuses a catastrophic one, saves, lists and removes it', async () => {
    const { world, page } = file;
    // Prepare
    const job = await seedFailedJob('Unclassified', 'gpu broker: slot lease lost mid-flight');
    await world.open(page, '#/classifier', 'Classifier');
    await page.getByText('No pattern taught yet.').waitFor();
    expect(await page.getByLabel('Stage').locator('option').allTextContents()).toEqual(['Any stage', ...STAGES]);
    const save = page.getByRole('button', { name: 'Save…' });
    expect(await save.getAttribute('aria-disabled')).toBe('true');

    // Act: a dry run.
    await page.getByLabel('Taxonomy name').fill('Transient.Network');
    await page.getByLabel('Pattern', { exact: true }).fill('slot lease lost');
    await page.getByRole('button', { name: 'Dry run' }).click();
    // Assess: the job, its name before and after; Save now offered.
    await page.getByText(/^1 recorded failure of \d+ would match: 1 renamed, 1 deferred recovery could re-run\./).waitFor();
    const row = page.locator('.dry-run tbody tr');
    expect(await row.allTextContents()).toEqual([`${job.jobId.slice(0, 8)}segmentationUnclassifiedTransient.Networkno → yesyes`]);
    expect(await save.getAttribute('aria-disabled')).toBeNull();

    // Act + Assess: changing the pattern asks for a new dry run; a catastrophic regex is refused in words.
    await page.getByLabel('Match as').selectOption('regex');
    expect(await save.getAttribute('aria-disabled')).toBe('true');
    await page.getByText('The pattern changed: dry-run it again before saving.').waitFor();
    await page.getByLabel('Pattern', { exact: true }).fill('(a+)+$');
    await page.getByRole('button', { name: 'Dry run' }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    expect(await alert.textContent()).toMatch(/The dry run failed: .*body\.pattern: may backtrack catastrophically/);

    // Act: back to the substring, dry run, save with its confirmation.
    await page.getByLabel('Match as').selectOption('substring');
    await page.getByLabel('Pattern', { exact: true }).fill('slot lease lost');
    await page.getByLabel('Note').fill('broker restarts during deploys');
    await page.getByRole('button', { name: 'Dry run' }).click();
    await page.getByText(/^1 recorded failure of/).waitFor();
    await save.click();
    const dialog = page.getByRole('dialog', { name: 'Save this pattern?' });
    expect(await dialog.textContent()).toContain('will be named Transient.Network');
    await dialog.getByRole('button', { name: 'Save' }).click();
    // Assess: saved, listed with who and when; the job's stored failure renamed.
    await page.getByRole('status').filter({ hasText: 'Saved tp-1 (version 1): 1 failure renamed.' }).waitFor();
    const listed = page.locator('table.patterns tbody tr[data-pattern="tp-1"]');
    await listed.waitFor();
    expect(await listed.textContent()).toContain('"slot lease lost"');
    expect(await listed.textContent()).toContain(world.stack.endpoints.credentials.accessKeyId);
    expect(await listed.textContent()).toContain('broker restarts during deploys');
    expect((await getJob(job.jobId)).error?.name).toBe('Transient.Network');
    await world.shot(page, 'classifier-saved');

    // Act: remove.
    await listed.getByRole('button', { name: 'Remove…' }).click();
    await page.getByRole('dialog', { name: 'Remove tp-1?' }).getByRole('button', { name: 'Remove' }).click();
    // Assess
    await page.getByRole('status').filter({ hasText: 'Removed tp-1 (version 2).' }).waitFor();
    await page.getByText('No pattern taught yet.').waitFor();
    expect(world.jsDialogs).toEqual([]);
    expect(world.pageErrors).toEqual([]);
    expect(world.stack.iamDenials()).toEqual([]);
  });
});
