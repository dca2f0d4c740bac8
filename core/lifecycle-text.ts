/**
 * A lifecycle event in words, for people: `vto events tail` prints it as a line, the
 * console lists it on a pack's page. Pure, and lenient about the detail (a watcher shows
 * what it is given, of any detail version).
 */

export interface LifecycleEventText {
  readonly type: string;
  readonly packId: string;
  readonly jobId?: string;
  /** `job J of pack P` or `pack P`. */
  readonly subject: string;
  /** What else the event says: non-zero counts, an error name, a recovery; '' when nothing. */
  readonly note: string;
}

export function lifecycleEventText(detail: Record<string, unknown>): LifecycleEventText {
  const packId = String(detail['packId']);
  const jobId = typeof detail['jobId'] === 'string' ? detail['jobId'] : undefined;
  const counts = typeof detail['counts'] === 'object' && detail['counts'] !== null
    ? Object.entries(detail['counts'] as Record<string, number>).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`).join(', ')
    : '';
  const error = (detail['error'] as { name?: string } | undefined)?.name;
  const recovery = detail['recovery'] as { error?: string; strategy?: string } | undefined;
  const note = [counts, error ?? '', recovery ? `${recovery.error} by ${recovery.strategy}` : ''].filter((s) => s !== '').join(' ');
  return {
    type: String(detail['type']),
    packId,
    ...(jobId !== undefined && { jobId }),
    subject: jobId !== undefined ? `job ${jobId} of pack ${packId}` : `pack ${packId}`,
    note,
  };
}
