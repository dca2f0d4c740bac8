/**
 * Reading execution histories: transitions, false recoveries and recovery episodes, on
 * synthetic histories shaped like the ones the local Step Functions service writes.
 */
import type { HistoryEvent } from '@aws-sdk/client-sfn';
import { describe, expect, it } from 'vitest';
import { episodes, finalPromptId, fromSdk, lambdaUse, readExecution, type HistEvent } from '../../bench/history.ts';

const LAMBDA = 'lambda:invoke';
const GPU = 'sqs:sendMessage.waitForTaskToken';
const RECOVERY_STATES = ['Reduce GPU parameters', 'Resume from checkpoint'];

/** A tiny history writer: each call is one event, one millisecond after the previous. */
function history() {
  const events: HistEvent[] = [];
  let t = 1_000;
  const add = (e: Omit<HistEvent, 'timestamp'>) => void events.push({ timestamp: (t += 1), ...e });
  const w = {
    events,
    wait: (ms: number) => ((t += ms), w),
    enter: (name: string, type = 'Task') => (add({ type: `${type}StateEntered`, stateName: name }), w),
    lambda: (fn: string) => (add({ type: 'TaskScheduled', resource: LAMBDA, fn }), w),
    gpu: (attempt: number) => (add({ type: 'TaskScheduled', resource: GPU, fn: 'GPU', attempt }), w),
    ok: (resource = LAMBDA, output?: string) => (add({ type: 'TaskSucceeded', resource, ...(output !== undefined && { output }) }), w),
    fail: (error: string, resource = LAMBDA) => (add({ type: 'TaskFailed', resource, error }), w),
    timeout: (error: string, resource = GPU) => (add({ type: 'TaskTimedOut', resource, error }), w),
  };
  return w;
}

describe('false recoveries', () => {
  it('are none when a non-recoverable failure goes straight to the failure recorder', () => {
    const h = history().enter('Run the inpaint on a GPU').gpu(1).fail('Fatal.DiskFull', GPU)
      .enter('Record the failure').lambda('JobFail').ok().enter('Job failed', 'Fail');
    const x = readExecution(h.events, RECOVERY_STATES);
    expect(x.failures).toEqual([expect.objectContaining({ fn: 'GPU', error: 'Fatal.DiskFull', recoverable: false, falseRecovery: false })]);
  });

  it('count a non-recoverable failure whose function is scheduled again (a blind retry)', () => {
    const h = history().enter('Run the GPU stage', 'Parallel').enter('Run the inpaint on a GPU').gpu(1).fail('Fatal.DiskFull', GPU)
      .wait(100).enter('Prepare the GPU workflow').lambda('InpaintPrepare').ok().enter('Run the inpaint on a GPU').gpu(2).fail('Fatal.DiskFull', GPU)
      .enter('Record the failure').lambda('JobFail').ok();
    const x = readExecution(h.events, RECOVERY_STATES);
    expect(x.failures.map((f) => f.falseRecovery)).toEqual([true, false]);
  });

  it('count a retry in place (a new scheduling without a new state entry)', () => {
    const h = history().enter('Check the quality').lambda('QaCheck').fail('Fatal.DataCorruption').wait(50).lambda('QaCheck').fail('Fatal.DataCorruption')
      .enter('Record the failure').lambda('JobFail').ok();
    const x = readExecution(h.events, RECOVERY_STATES);
    expect(x.failures.filter((f) => f.falseRecovery)).toHaveLength(1);
    // Two states entered, one billed retry.
    expect(x.transitions).toBe(3);
  });

  it('count a recovery state entered after a non-recoverable failure', () => {
    const h = history().enter('Run the inpaint on a GPU').gpu(1).fail('Unclassified', GPU).enter('Resume from checkpoint').lambda('ResumeCheckpoint').ok();
    expect(readExecution(h.events, RECOVERY_STATES).failures[0]?.falseRecovery).toBe(true);
  });

  it('are never counted for recoverable failures, retried or not', () => {
    const h = history().enter('Segment with one prompt').lambda('SegmentationCall').fail('Transient.RateLimited').wait(250).lambda('SegmentationCall').ok()
      .enter('Run the inpaint on a GPU').gpu(1).fail('Gpu.OutOfMemory', GPU).enter('Reduce GPU parameters').lambda('ReduceParams').ok();
    expect(readExecution(h.events, RECOVERY_STATES).failures.map((f) => [f.error, f.recoverable, f.falseRecovery])).toEqual([
      ['Transient.RateLimited', true, false], ['Gpu.OutOfMemory', true, false],
    ]);
  });
});

describe('transitions and Lambda use', () => {
  it('bill every state entered plus every retry', () => {
    const h = history().enter('Start the job').lambda('JobStart').ok().enter('Choose the stage to run', 'Choice')
      .enter('Plan the segmentation calls').lambda('SegmentationPlan').fail('Transient.Network').lambda('SegmentationPlan').fail('Transient.Network').lambda('SegmentationPlan').ok();
    const x = readExecution(h.events, []);
    expect(x.statesEntered).toEqual(['Start the job', 'Choose the stage to run', 'Plan the segmentation calls']);
    expect(x.transitions).toBe(5);
    expect(lambdaUse([x])).toMatchObject({ invocations: 4, byFunction: { JobStart: { invocations: 1 }, SegmentationPlan: { invocations: 3 } } });
  });

  it('find the prompt of the last successful GPU attempt', () => {
    const h = history().enter('Run the inpaint on a GPU').gpu(1).ok(GPU, JSON.stringify({ promptId: 'p-1', outputs: ['a'] }))
      .enter('Check the quality').lambda('QaCheck').fail('Qa.Rejected')
      .enter('Run the inpaint on a GPU').gpu(2).ok(GPU, JSON.stringify({ promptId: 'p-2', outputs: ['b'] }));
    expect(finalPromptId([readExecution(h.events, [])])).toBe('p-2');
  });
});

describe('recovery episodes', () => {
  it('recover when the failed function next succeeds, with the time it took', () => {
    const h = history().enter('Run the inpaint on a GPU').gpu(1).fail('Gpu.OutOfMemory', GPU).wait(500).enter('Reduce GPU parameters').lambda('ReduceParams').ok()
      .enter('Run the inpaint on a GPU').gpu(2).wait(1000).ok(GPU);
    const [e] = episodes([readExecution(h.events, RECOVERY_STATES)], { complete: true, error: null });
    expect(e).toMatchObject({ fn: 'GPU', error: 'Gpu.OutOfMemory', failures: 1, outcome: 'recovered' });
    expect(e!.timeToRecoverMs).toBe(1506);
  });

  it('fail when the job failed of that error once its bound ran out', () => {
    const h = history().enter('Run the inpaint on a GPU').gpu(1).timeout('States.HeartbeatTimeout').gpu(2).timeout('States.HeartbeatTimeout')
      .enter('Record the failure').lambda('JobFail').ok();
    expect(episodes([readExecution(h.events, RECOVERY_STATES)], { complete: false, error: 'States.HeartbeatTimeout' })).toEqual([
      expect.objectContaining({ error: 'States.HeartbeatTimeout', failures: 2, outcome: 'failed', timeToRecoverMs: null }),
    ]);
  });

  it('fail the last episode before an exhausted recovery', () => {
    const h = history().enter('Run the inpaint on a GPU').gpu(1).fail('Gpu.Timeout', GPU).enter('Resume from checkpoint').lambda('ResumeCheckpoint').fail('Recovery.Exhausted')
      .enter('Record the failure').lambda('JobFail').ok();
    expect(episodes([readExecution(h.events, RECOVERY_STATES)], { complete: false, error: 'Recovery.Exhausted' })[0]?.outcome).toBe('failed');
  });

  it('count as recovered what came before a planned fatal fault that ended the job', () => {
    const h = history().enter('Run the inpaint on a GPU').gpu(1).fail('Gpu.OutOfMemory', GPU).enter('Reduce GPU parameters').lambda('ReduceParams').ok()
      .enter('Run the inpaint on a GPU').gpu(2).fail('Fatal.DiskFull', GPU);
    const x = [readExecution(h.events, RECOVERY_STATES)];
    expect(episodes(x, { complete: false, error: 'Fatal.DiskFull' }, new Set(['Gpu.OutOfMemory', 'Fatal.DiskFull']))[0]?.outcome).toBe('recovered');
    // Unplanned, the fatal error is what the recovery ran into: the episode before it failed.
    expect(episodes(x, { complete: false, error: 'Fatal.DiskFull' }, new Set())[0]?.outcome).toBe('failed');
  });

  it('continue across executions (an emergency stop in between) and ignore the stop itself', () => {
    const first = history().enter('Run the inpaint on a GPU').gpu(1).fail('Gpu.Timeout', GPU).enter('Resume from checkpoint').lambda('ResumeCheckpoint').fail('Control.Stopped');
    const second = history().wait(5000).enter('Run the inpaint on a GPU').gpu(2).ok(GPU);
    const list = episodes([readExecution(first.events, RECOVERY_STATES), readExecution(second.events, RECOVERY_STATES)], { complete: true, error: null });
    expect(list).toEqual([expect.objectContaining({ error: 'Gpu.Timeout', outcome: 'recovered' })]);
  });
});

describe('SDK history events', () => {
  const at = new Date(1_700_000_000_000);
  it.each<[string, HistoryEvent, Partial<HistEvent>]>([
    ['a state entered', { timestamp: at, type: 'TaskStateEntered', id: 2, stateEnteredEventDetails: { name: 'Start the job' } }, { stateName: 'Start the job' }],
    ['a Lambda invoke scheduled', {
      timestamp: at, type: 'TaskScheduled', id: 3,
      taskScheduledEventDetails: { resourceType: 'lambda', resource: 'invoke', region: 'us-east-1', parameters: JSON.stringify({ FunctionName: 'arn:aws:lambda:us-east-1:000000000000:function:vto-JobStart', Payload: {} }) },
    }, { fn: 'JobStart', resource: 'lambda:invoke' }],
    ['a GPU task scheduled', {
      timestamp: at, type: 'TaskScheduled', id: 4,
      taskScheduledEventDetails: { resourceType: 'sqs', resource: 'sendMessage.waitForTaskToken', region: 'us-east-1', parameters: JSON.stringify({ QueueUrl: 'q', MessageBody: { jobId: 'j', attempt: 3 } }) },
    }, { fn: 'GPU', attempt: 3, resource: 'sqs:sendMessage.waitForTaskToken' }],
    ['a task failure', { timestamp: at, type: 'TaskFailed', id: 5, taskFailedEventDetails: { resourceType: 'lambda', resource: 'invoke', error: 'Qa.Rejected', cause: '{}' } }, { error: 'Qa.Rejected', resource: 'lambda:invoke' }],
    ['a heartbeat timeout', { timestamp: at, type: 'TaskTimedOut', id: 6, taskTimedOutEventDetails: { resourceType: 'sqs', resource: 'sendMessage.waitForTaskToken', error: 'States.HeartbeatTimeout' } }, { error: 'States.HeartbeatTimeout', resource: 'sqs:sendMessage.waitForTaskToken' }],
  ])('reads %s', (_name, event, expected) => {
    expect(fromSdk(event)).toEqual({ timestamp: at.getTime(), type: event.type, ...expected });
  });
});
