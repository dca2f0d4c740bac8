/**
 * The committed ASL files: what they must say, read as files. They are what deploys and
 * what runs offline, so they must equal the builders' output and keep the taxonomy's rules.
 */
import { StateMachine } from 'aws-local-stepfunctions';
import { describe, expect, it } from 'vitest';
import { ERROR_NAMES, entryFor, isErrorName } from '../../core/taxonomy.ts';
import { STATE_FUNCTION_DEFS } from '../../lambdas/catalog.ts';
import { BUILDERS, renderAsl } from '../../statemachines/render.ts';
import { GPU_QUEUE_URL_KEY, JOB_STATE_MACHINE_ARN_KEY, STATE_FUNCTIONS, functionArnKey } from '../../statemachines/tasks.ts';
import { MACHINE_KEYS, allStates, catchersOf, committedAsl, committedAslText, placeholdersIn, retriersOf, type MachineKey } from './support/asl.ts';
import { validateAsl } from './support/validate-asl.ts';

const SERVICE_NAMES = ['States.ALL', 'States.TaskFailed'];
const isAllowedName = (n: string) => isErrorName(n) || SERVICE_NAMES.includes(n) || /^StepFunctions\.\w+$/.test(n);

/** Every ErrorEquals list of a machine, with where it sits. */
function errorLists(key: MachineKey) {
  return allStates(committedAsl(key)).flatMap(({ name, state }) => [
    ...retriersOf(state).map((r, i) => ({ where: `${name} Retry[${i}]`, kind: 'Retry' as const, names: r.ErrorEquals })),
    ...catchersOf(state).map((c, i) => ({ where: `${name} Catch[${i}]`, kind: 'Catch' as const, names: c.ErrorEquals })),
  ]);
}

describe('the committed state machines', () => {
  it.each(MACHINE_KEYS)('%s.asl.json is exactly what the builders render', (key) => {
    // Prepare
    const rendered = renderAsl(BUILDERS[key]());
    // Act
    const committed = committedAslText(key);
    // Assess
    expect(committed, `statemachines/${key}.asl.json drifted from its builder: run \`npm run render\` and commit it`).toBe(rendered);
  });

  it.each(MACHINE_KEYS)('%s.asl.json passes asl-validator with path and ARN checks', (key) => {
    const { valid, errors } = validateAsl(committedAslText(key));
    expect(errors).toBe('');
    expect(valid).toBe(true);
  });

  it.each(MACHINE_KEYS)('%s.asl.json is accepted by the local Step Functions runner with its own validation on', (key) => {
    const def = committedAsl(key) as unknown as ConstructorParameters<typeof StateMachine>[0];
    expect(() => new StateMachine(def, { validationOptions: { checkPaths: true, checkArn: true } })).not.toThrow();
  });

  it.each(MACHINE_KEYS)('every state of %s.asl.json, nested ones included, has a Comment', (key) => {
    const uncommented = allStates(committedAsl(key)).filter(({ state }) => typeof state.Comment !== 'string' || state.Comment.trim() === '');
    expect(uncommented.map((s) => s.name)).toEqual([]);
  });

  it.each(MACHINE_KEYS)('every name %s.asl.json matches is a taxonomy name, States.ALL, States.TaskFailed or a StepFunctions service error', (key) => {
    const unknown = errorLists(key).flatMap(({ where, names }) => names.filter((n) => !isAllowedName(n)).map((n) => `${where}: ${n}`));
    expect(unknown).toEqual([]);
  });

  it.each(MACHINE_KEYS)('every taxonomy name is matched by some Retry or Catch of %s.asl.json', (key) => {
    const matched = new Set(errorLists(key).flatMap((l) => l.names));
    expect(ERROR_NAMES.filter((n) => !matched.has(n))).toEqual([]);
  });

  it.each(MACHINE_KEYS)('in %s.asl.json States.ALL stands alone in the last Catch and never in a Retry', (key) => {
    const misplaced = allStates(committedAsl(key)).flatMap(({ name, state }) => {
      const catchers = catchersOf(state);
      return [
        ...retriersOf(state).filter((r) => r.ErrorEquals.includes('States.ALL')).map(() => `${name}: States.ALL in a Retry`),
        ...catchers.flatMap((c, i) => c.ErrorEquals.includes('States.ALL') && (c.ErrorEquals.length !== 1 || i !== catchers.length - 1)
          ? [`${name}: Catch[${i}] has States.ALL not alone or not last`] : []),
      ];
    });
    expect(misplaced).toEqual([]);
  });

  it.each(MACHINE_KEYS)('no Retry of %s.asl.json lists a non-recoverable name', (key) => {
    const retried = errorLists(key).filter((l) => l.kind === 'Retry')
      .flatMap(({ where, names }) => names.filter((n) => isErrorName(n) && !entryFor(n).recoverable).map((n) => `${where}: ${n}`));
    expect(retried).toEqual([]);
  });

  it.each(MACHINE_KEYS)('every taxonomy name retried in %s.asl.json is retried with its taxonomy policy', (key) => {
    const drifted = allStates(committedAsl(key)).flatMap(({ name, state }) => retriersOf(state).flatMap((r) =>
      r.ErrorEquals.filter(isErrorName).flatMap((n) => {
        const policy = entryFor(n).retry;
        const actual = { IntervalSeconds: r.IntervalSeconds, BackoffRate: r.BackoffRate, MaxAttempts: r.MaxAttempts, MaxDelaySeconds: r.MaxDelaySeconds, JitterStrategy: r.JitterStrategy };
        return JSON.stringify(actual) === JSON.stringify(policy) ? [] : [`${name}: ${n} retried with ${JSON.stringify(actual)}, taxonomy says ${JSON.stringify(policy)}`];
      })));
    expect(drifted).toEqual([]);
  });

  it.each(MACHINE_KEYS)('within one state of %s.asl.json no name is listed by two catchers (the second would never run)', (key) => {
    const dead: string[] = [];
    for (const { name, state } of allStates(committedAsl(key))) {
      const seen = new Set<string>();
      for (const n of catchersOf(state).flatMap((c) => c.ErrorEquals)) {
        if (seen.has(n)) dead.push(`${name}: ${n}`);
        seen.add(n);
      }
    }
    expect(dead).toEqual([]);
  });

  it.each(MACHINE_KEYS)('every Task of %s.asl.json catches its errors itself or inside a Map that catches them', (key) => {
    const located = allStates(committedAsl(key));
    const catchingAll = new Set(located.filter(({ state }) => catchersOf(state).some((c) => c.ErrorEquals.includes('States.ALL'))).map((s) => s.name));
    const uncaught = located.filter(({ name, state, within }) => state.Type === 'Task' && !catchingAll.has(name) && !within.some((m) => catchingAll.has(m)));
    expect(uncaught.map((s) => s.name)).toEqual([]);
  });
});

describe('the functions the machines invoke', () => {
  const placeholders = new Set(MACHINE_KEYS.flatMap((k) => placeholdersIn(committedAslText(k))));
  const functionKeys = [...placeholders].filter((p) => p.endsWith('FunctionArn'));

  it('every ${…FunctionArn} placeholder names a STATE_FUNCTIONS id that the Lambda catalog defines', () => {
    const known = new Set<string>(STATE_FUNCTIONS.map(functionArnKey));
    const catalogued = new Set<string>(Object.keys(STATE_FUNCTION_DEFS).map((id) => `${id}FunctionArn`));
    expect(functionKeys.filter((p) => !known.has(p) || !catalogued.has(p))).toEqual([]);
  });

  it('every function of the Lambda catalog is invoked by a machine', () => {
    const invoked = new Set(functionKeys);
    expect(Object.keys(STATE_FUNCTION_DEFS).filter((id) => !invoked.has(`${id}FunctionArn`))).toEqual([]);
    expect([...STATE_FUNCTIONS].sort()).toEqual(Object.keys(STATE_FUNCTION_DEFS).sort());
  });

  it('the only other placeholders are the GPU queue URL and the job machine ARN', () => {
    const others = [...placeholders].filter((p) => !p.endsWith('FunctionArn')).sort();
    expect(others).toEqual([GPU_QUEUE_URL_KEY, JOB_STATE_MACHINE_ARN_KEY].sort());
  });
});
