/**
 * The execution history store of the local Step Functions service: paging, data
 * exclusion, and the 25,000-event limit at which AWS fails an execution.
 */
import { describe, expect, it } from 'vitest';
import { InvalidToken } from '../../local/stepfunctions/api-errors.ts';
import { History, HISTORY_EVENT_LIMIT } from '../../local/stepfunctions/history.ts';

function historyOf(n: number): History {
  const h = new History(() => undefined);
  for (let i = 0; i < n; i++) h.add('PassStateEntered', 'stateEnteredEventDetails', { name: `S${i}`, input: `{"i":${i}}`, inputDetails: { truncated: false } });
  return h;
}

function allIds(h: History, reverseOrder: boolean, maxResults: number): number[] {
  const ids: number[] = [];
  let nextToken: string | undefined;
  do {
    const page = h.page({ reverseOrder, maxResults, ...(nextToken !== undefined ? { nextToken } : {}) });
    ids.push(...page.events.map((e) => e['id'] as number));
    nextToken = page.nextToken;
  } while (nextToken !== undefined);
  return ids;
}

describe('execution history', () => {
  it.each([
    [7, false, 3],
    [7, true, 3],
    [6, false, 3],
    [6, true, 6],
    [1, true, 100],
  ])('pages %i events (reverse: %s, %i a page) without gaps or repeats', (n, reverse, max) => {
    const ids = allIds(historyOf(n), reverse, max);
    const expected = Array.from({ length: n }, (_, i) => i + 1);
    expect(ids).toEqual(reverse ? expected.reverse() : expected);
  });

  it('leaves input and output out when includeExecutionData is false', () => {
    const [event] = historyOf(1).page({ includeExecutionData: false }).events;
    expect(event?.['stateEnteredEventDetails']).toEqual({ name: 'S0' });
  });

  it('gives timestamps in epoch seconds and links each event to the one before', () => {
    const [first, second] = historyOf(2).page({}).events;
    expect(first?.['timestamp']).toBeCloseTo(Date.now() / 1000, -1);
    expect(second?.['previousEventId']).toBe(1);
  });

  it('refuses a token it did not issue', () => {
    expect(() => historyOf(2).page({ nextToken: 'garbage' })).toThrow(InvalidToken);
  });

  it('stops at the event limit, reports it once, and still takes the terminal event', () => {
    // Prepare
    let reported = 0;
    const h = new History(() => reported++);
    // Act
    for (let i = 0; i < HISTORY_EVENT_LIMIT + 10; i++) h.add('PassStateEntered');
    h.close('ExecutionFailed', 'executionFailedEventDetails', { error: 'States.Runtime' });
    h.add('PassStateExited');
    // Assess
    expect(reported).toBe(1);
    expect(h.length).toBe(HISTORY_EVENT_LIMIT);
    expect(h.all().at(-1)?.type).toBe('ExecutionFailed');
  });
});
