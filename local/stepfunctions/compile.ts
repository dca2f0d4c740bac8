/**
 * Turns an ASL definition into what we run with aws-local-stepfunctions.
 *
 * The library runs Pass, Choice, Succeed, Fail, Wait-by-Seconds and the state plumbing
 * (paths, Parameters, ResultSelector, Retry, Catch). We take over, as Task states with a
 * local handler each:
 * - every Task, to add callbacks, heartbeats, child executions and our own timeouts;
 * - Map and Parallel, because the library keeps starting queued Map iterations after one
 *   failed and leaves the tasks of aborted iterations pending, with their tokens open;
 * - Wait by SecondsPath/Timestamp/TimestampPath, which waitTimeOverrides cannot scale.
 *
 * Time scaling is written into the definition: each Retrier's IntervalSeconds and
 * MaxDelaySeconds are multiplied, so the library still applies BackoffRate and FULL
 * jitter per attempt (retryIntervalOverrides would replace the whole computation with
 * one fixed, unjittered delay). Wait-by-Seconds uses waitTimeOverrides (scaled ms).
 */
import { StateMachine, type StateMachineDefinition } from 'aws-local-stepfunctions';
import { InvalidDefinition } from './api-errors.ts';
import { parseReferencePath, type ReferencePath } from './reference-path.ts';
import { parseResource, UnsupportedResource, type TaskResource } from './resources.ts';
import { LIBRARY_TASK_TIMEOUT_SECONDS, MAX_TIMER_MS, scaledSleepMs } from './time-scale.ts';
import type { Json, JsonObject } from './types.ts';

export type StateType = 'Task' | 'Parallel' | 'Map' | 'Pass' | 'Wait' | 'Choice' | 'Succeed' | 'Fail';

export interface TaskSpec {
  readonly kind: 'task';
  readonly name: string;
  readonly resource: TaskResource;
  /** As written in the ASL (unscaled). */
  readonly timeoutSeconds?: number;
  readonly heartbeatSeconds?: number;
  /**
   * TimeoutSecondsPath/HeartbeatSecondsPath read the state input, which the handler
   * never sees when Parameters is set; then the library evaluates them for us as hidden
   * Parameters fields (DURATION_FIELDS), else the handler resolves these paths.
   */
  readonly timeoutSecondsPath?: ReferencePath;
  readonly heartbeatSecondsPath?: ReferencePath;
  readonly durationsInParameters: boolean;
}

/** Hidden Parameters fields carrying TimeoutSecondsPath/HeartbeatSecondsPath values. */
export const DURATION_FIELDS = { timeout: '__localSfnTimeoutSeconds', heartbeat: '__localSfnHeartbeatSeconds' } as const;
export interface WaitSpec {
  readonly kind: 'wait';
  readonly name: string;
  readonly secondsPath?: ReferencePath;
  readonly timestamp?: string;
  readonly timestampPath?: ReferencePath;
}
export interface MapSpec {
  readonly kind: 'map';
  readonly name: string;
  readonly itemsPath?: ReferencePath;
  /** A one-Pass-state machine evaluating ItemSelector (or legacy Parameters) with `$$.Map.Item`. */
  readonly itemSelector?: StateMachine;
  readonly maxConcurrency?: number;
  readonly maxConcurrencyPath?: ReferencePath;
  readonly processor: CompiledLevel;
}
export interface ParallelSpec {
  readonly kind: 'parallel';
  readonly name: string;
  readonly branches: readonly CompiledLevel[];
}
export type LocalStateSpec = TaskSpec | WaitSpec | MapSpec | ParallelSpec;

/** One state graph: the root, a Map's ItemProcessor or a Parallel branch. */
export interface CompiledLevel {
  readonly machine: StateMachine;
  readonly specs: ReadonlyMap<string, LocalStateSpec>;
  /** Wait-by-Seconds states, in scaled milliseconds. */
  readonly waitTimeOverrides: Readonly<Record<string, number>>;
}

export interface CompiledDefinition {
  readonly root: CompiledLevel;
  /** The type each state has in the ASL, at any depth (names are unique machine-wide). */
  readonly stateTypes: ReadonlyMap<string, StateType>;
  /** The definition text after substitutions, as DescribeStateMachine returns it. */
  readonly definition: string;
}

/** Stands in for the Resource of states we run ourselves; the library never calls it. */
const LOCAL_RESOURCE = 'arn:aws:states:::local:state';
const STATE_TYPES = new Set<string>(['Task', 'Parallel', 'Map', 'Pass', 'Wait', 'Choice', 'Succeed', 'Fail']);
const JSONATA_ONLY_FIELDS = ['Arguments', 'Output', 'Assign', 'Credentials'];
const DISTRIBUTED_MAP_FIELDS = ['ItemReader', 'ResultWriter', 'ItemBatcher', 'ToleratedFailurePercentage', 'ToleratedFailurePercentagePath', 'ToleratedFailureCount', 'ToleratedFailureCountPath'];

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

function pick(state: JsonObject, keys: readonly string[]): JsonObject {
  const out: JsonObject = {};
  for (const k of keys) {
    const v = state[k];
    if (Object.hasOwn(state, k) && v !== undefined) out[k] = v;
  }
  return out;
}

function optionalNumber(state: JsonObject, field: string, where: string): number | undefined {
  const v = state[field];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new InvalidDefinition(`${where}: ${field} must be a non-negative number`);
  return v;
}

function optionalPath(state: JsonObject, field: string, where: string): ReferencePath | undefined {
  const v = state[field];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new InvalidDefinition(`${where}: ${field} must be a string`);
  try {
    return parseReferencePath(v);
  } catch (e) {
    throw new InvalidDefinition(`${where}: ${field} ${(e as Error).message}`);
  }
}

/** Replaces `${Key}` like CloudFormation's DefinitionSubstitutions; a missing key is an error. */
export function substitute(text: string, substitutions: Readonly<Record<string, string>>): string {
  const missing = new Set<string>();
  const out = text.replace(/\$\{([A-Za-z0-9_.:-]+)\}/g, (whole, key: string) => {
    const value = substitutions[key];
    if (value === undefined) {
      missing.add(key);
      return whole;
    }
    return value;
  });
  if (missing.size > 0) throw new InvalidDefinition(`No substitution given for: ${[...missing].join(', ')}`);
  return out;
}

function scaleRetry(retry: Json | undefined, timeScale: number): Json[] | undefined {
  if (!Array.isArray(retry)) return undefined;
  return retry.map((r) => {
    if (!isObject(r)) return r;
    const interval = typeof r['IntervalSeconds'] === 'number' ? r['IntervalSeconds'] : 1;
    const scaled: JsonObject = { ...r, IntervalSeconds: interval * timeScale };
    if (typeof r['MaxDelaySeconds'] === 'number') scaled['MaxDelaySeconds'] = r['MaxDelaySeconds'] * timeScale;
    return scaled;
  });
}

function selectorMachine(selector: Json): StateMachine {
  const def = { StartAt: 'ItemSelector', States: { ItemSelector: { Type: 'Pass', Parameters: selector, End: true } } };
  return new StateMachine(def as unknown as StateMachineDefinition, { validationOptions: { noValidate: true } });
}

class Compiler {
  readonly stateTypes = new Map<string, StateType>();
  private readonly timeScale: number;

  constructor(timeScale: number) {
    this.timeScale = timeScale;
  }

  level(def: JsonObject, where: string, topLevel: boolean): CompiledLevel {
    const states = def['States'];
    if (!isObject(states)) throw new InvalidDefinition(`${where}: States must be an object`);
    const rewritten: JsonObject = {};
    const specs = new Map<string, LocalStateSpec>();
    const waitTimeOverrides: Record<string, number> = {};
    for (const [name, state] of Object.entries(states)) {
      if (!isObject(state) || typeof state['Type'] !== 'string' || !STATE_TYPES.has(state['Type'])) {
        throw new InvalidDefinition(`State '${name}' has no valid Type`);
      }
      if (this.stateTypes.has(name)) throw new InvalidDefinition(`State name '${name}' is used twice; names must be unique in the whole state machine`);
      const type = state['Type'] as StateType;
      this.stateTypes.set(name, type);
      this.rejectUnsupported(name, state);
      const { state: out, spec, waitMs } = this.state(name, type, state);
      rewritten[name] = out;
      if (spec) specs.set(name, spec);
      if (waitMs !== undefined) waitTimeOverrides[name] = waitMs;
    }
    const levelDef: JsonObject = { ...def, States: rewritten };
    if (topLevel && typeof def['TimeoutSeconds'] === 'number') {
      const ms = def['TimeoutSeconds'] * 1000 * this.timeScale;
      if (ms > MAX_TIMER_MS) delete levelDef['TimeoutSeconds'];
      else levelDef['TimeoutSeconds'] = Math.max(1, ms) / 1000;
    }
    const machine = new StateMachine(levelDef as unknown as StateMachineDefinition, { validationOptions: { noValidate: true } });
    return { machine, specs, waitTimeOverrides };
  }

  private rejectUnsupported(name: string, state: JsonObject): void {
    if (state['QueryLanguage'] === 'JSONata') throw new InvalidDefinition(`State '${name}': JSONata is not supported locally (the library ignores it); use JSONPath`);
    for (const f of JSONATA_ONLY_FIELDS) {
      if (f in state) throw new InvalidDefinition(`State '${name}': field ${f} is not supported locally`);
    }
  }

  private state(name: string, type: StateType, state: JsonObject): { state: JsonObject; spec?: LocalStateSpec; waitMs?: number } {
    const where = `State '${name}'`;
    const retry = scaleRetry(state['Retry'], this.timeScale);
    const withRetry = (s: JsonObject): JsonObject => (retry ? { ...s, Retry: retry } : s);
    const asLocalTask = (keep: readonly string[]): JsonObject =>
      withRetry({ Type: 'Task', Resource: LOCAL_RESOURCE, TimeoutSeconds: LIBRARY_TASK_TIMEOUT_SECONDS, ...pick(state, [...keep, 'Comment', 'Next', 'End', 'Catch']) });

    switch (type) {
      case 'Task': {
        if (typeof state['Resource'] !== 'string') throw new InvalidDefinition(`${where}: Resource must be a string`);
        let resource: TaskResource;
        try {
          resource = parseResource(state['Resource']);
        } catch (e) {
          if (e instanceof UnsupportedResource) throw new InvalidDefinition(`${where}: ${e.message}`);
          throw e;
        }
        const timeoutPath = optionalPath(state, 'TimeoutSecondsPath', where);
        const heartbeatPath = optionalPath(state, 'HeartbeatSecondsPath', where);
        const parameters = state['Parameters'];
        const durationsInParameters = isObject(parameters) && (timeoutPath !== undefined || heartbeatPath !== undefined);
        const spec: TaskSpec = {
          kind: 'task',
          name,
          resource,
          durationsInParameters,
          ...optionalField('timeoutSeconds', optionalNumber(state, 'TimeoutSeconds', where)),
          ...optionalField('timeoutSecondsPath', timeoutPath),
          ...optionalField('heartbeatSeconds', optionalNumber(state, 'HeartbeatSeconds', where)),
          ...optionalField('heartbeatSecondsPath', heartbeatPath),
        };
        const out: JsonObject = withRetry({ ...state, TimeoutSeconds: LIBRARY_TASK_TIMEOUT_SECONDS });
        if (durationsInParameters) {
          out['Parameters'] = {
            ...parameters,
            ...(timeoutPath !== undefined ? { [`${DURATION_FIELDS.timeout}.$`]: state['TimeoutSecondsPath'] ?? null } : {}),
            ...(heartbeatPath !== undefined ? { [`${DURATION_FIELDS.heartbeat}.$`]: state['HeartbeatSecondsPath'] ?? null } : {}),
          };
        }
        delete out['TimeoutSecondsPath'];
        delete out['HeartbeatSeconds'];
        delete out['HeartbeatSecondsPath'];
        return { state: out, spec };
      }
      case 'Wait': {
        const seconds = optionalNumber(state, 'Seconds', where);
        if (seconds !== undefined) return { state, waitMs: scaledSleepMs(seconds, this.timeScale) };
        const timestamp = state['Timestamp'];
        const spec: WaitSpec = {
          kind: 'wait',
          name,
          ...optionalField('secondsPath', optionalPath(state, 'SecondsPath', where)),
          ...optionalField('timestamp', typeof timestamp === 'string' ? timestamp : undefined),
          ...optionalField('timestampPath', optionalPath(state, 'TimestampPath', where)),
        };
        return { state: asLocalTask(['InputPath', 'OutputPath']), spec };
      }
      case 'Map': {
        for (const f of DISTRIBUTED_MAP_FIELDS) {
          if (f in state) throw new InvalidDefinition(`${where}: ${f} (distributed Map) is not supported locally`);
        }
        const processorDef = state['ItemProcessor'] ?? state['Iterator'];
        if (!isObject(processorDef)) throw new InvalidDefinition(`${where}: ItemProcessor must be an object`);
        const config = processorDef['ProcessorConfig'];
        if (isObject(config) && config['Mode'] === 'DISTRIBUTED') throw new InvalidDefinition(`${where}: distributed Map is not supported locally`);
        const selector = state['ItemSelector'] ?? state['Parameters'];
        const spec: MapSpec = {
          kind: 'map',
          name,
          processor: this.level(processorDef, `${where} ItemProcessor`, false),
          ...optionalField('itemsPath', optionalPath(state, 'ItemsPath', where)),
          ...optionalField('itemSelector', selector === undefined ? undefined : selectorMachine(selector)),
          ...optionalField('maxConcurrency', optionalNumber(state, 'MaxConcurrency', where)),
          ...optionalField('maxConcurrencyPath', optionalPath(state, 'MaxConcurrencyPath', where)),
        };
        return { state: asLocalTask(['InputPath', 'ResultSelector', 'ResultPath', 'OutputPath']), spec };
      }
      case 'Parallel': {
        const branches = state['Branches'];
        if (!Array.isArray(branches) || branches.length === 0) throw new InvalidDefinition(`${where}: Branches must be a non-empty array`);
        const spec: ParallelSpec = {
          kind: 'parallel',
          name,
          branches: branches.map((b, i) => {
            if (!isObject(b)) throw new InvalidDefinition(`${where}: branch ${i} must be an object`);
            return this.level(b, `${where} branch ${i}`, false);
          }),
        };
        return { state: asLocalTask(['InputPath', 'Parameters', 'ResultSelector', 'ResultPath', 'OutputPath']), spec };
      }
      default:
        return { state };
    }
  }
}

/** `{ key: value }` when value is defined, else `{}`: optional fields under exactOptionalPropertyTypes. */
function optionalField<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return value === undefined ? {} : ({ [key]: value } as { [P in K]?: V });
}

/** Validates (with the library's asl-validator), substitutes and compiles a definition. */
export function compileDefinition(
  definition: string | object,
  substitutions: Readonly<Record<string, string>>,
  timeScale: number,
): CompiledDefinition {
  const text = substitute(typeof definition === 'string' ? definition : JSON.stringify(definition), substitutions);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new InvalidDefinition(`Definition is not JSON: ${(e as Error).message}`);
  }
  if (!isObject(parsed)) throw new InvalidDefinition('Definition must be a JSON object');
  if (parsed['QueryLanguage'] === 'JSONata') throw new InvalidDefinition('JSONata is not supported locally (the library ignores it); use JSONPath');
  try {
    new StateMachine(parsed as unknown as StateMachineDefinition);
  } catch (e) {
    throw new InvalidDefinition((e as Error).message);
  }
  const compiler = new Compiler(timeScale);
  const root = compiler.level(parsed, 'Definition', true);
  return { root, stateTypes: compiler.stateTypes, definition: text };
}
