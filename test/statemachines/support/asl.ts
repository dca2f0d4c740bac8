/**
 * Reading the committed ASL files: the definitions that deploy and that run offline, so the
 * specification tests exercise exactly what ships, not the builders' output.
 */
import { readFileSync } from 'node:fs';
import type { STATE_MACHINES } from '../../../core/resources.ts';
import type { Catcher, Retrier, State, StateMachineDefinition } from '../../../statemachines/asl-types.ts';
import { aslPath } from '../../../statemachines/render.ts';

export type MachineKey = keyof typeof STATE_MACHINES;

export const MACHINE_KEYS: readonly MachineKey[] = ['job', 'pack'];

export function committedAslText(key: MachineKey): string {
  return readFileSync(aslPath(key), 'utf8');
}

export function committedAsl(key: MachineKey): StateMachineDefinition {
  return JSON.parse(committedAslText(key)) as StateMachineDefinition;
}

export interface LocatedState {
  readonly name: string;
  readonly state: State;
  /** Names of the Map states this state is nested in, outermost first. */
  readonly within: readonly string[];
}

interface Nested { readonly States: Record<string, State> }

const isNested = (v: unknown): v is Nested =>
  typeof v === 'object' && v !== null && typeof (v as { States?: unknown }).States === 'object';

/** Every state of a machine, including those inside Map item processors and Parallel branches. */
export function allStates(def: { readonly States: Record<string, State> }, within: readonly string[] = []): LocatedState[] {
  const out: LocatedState[] = [];
  for (const [name, state] of Object.entries(def.States)) {
    out.push({ name, state, within });
    const children = [state['ItemProcessor'], state['Iterator'], ...(Array.isArray(state['Branches']) ? state['Branches'] : [])];
    for (const child of children) if (isNested(child)) out.push(...allStates(child, [...within, name]));
  }
  return out;
}

export function stateNamed(def: StateMachineDefinition, name: string): LocatedState {
  const found = allStates(def).find((s) => s.name === name);
  if (found === undefined) throw new Error(`no state named "${name}" in the machine`);
  return found;
}

export const retriersOf = (state: State): readonly Retrier[] => (state['Retry'] as Retrier[] | undefined) ?? [];
export const catchersOf = (state: State): readonly Catcher[] => (state['Catch'] as Catcher[] | undefined) ?? [];

const FUNCTION_ARN = /^\$\{(\w+)FunctionArn\}$/;

/** The function id a Lambda task invokes (`${JobStartFunctionArn}` → `JobStart`). */
export function functionIdOf(state: State): string | undefined {
  const params = state['Parameters'] as { FunctionName?: unknown } | undefined;
  const name = params?.FunctionName;
  return typeof name === 'string' ? FUNCTION_ARN.exec(name)?.[1] : undefined;
}

/** Every `${...}` definition-substitution placeholder in a text. */
export function placeholdersIn(text: string): string[] {
  return [...text.matchAll(/\$\{(\w+)\}/g)].map((m) => m[1] ?? '');
}
