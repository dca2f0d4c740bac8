/**
 * POST /prompt validation, ported from ComfyUI's execution.py validate_prompt /
 * validate_inputs (@a125cd8) so the 400 bodies have the real shapes: node_errors per node
 * with dependent_outputs, `details` of prompt_outputs_failed_validation listing only the
 * output nodes' own errors (often ""), Python reprs in messages, and min/max/combo checks
 * skipped for inputs a class validates itself (LoadImage's image).
 */
import type { NodeDef, InputSpec } from './node-defs.ts';

export interface ValidationError {
  readonly type: string;
  readonly message: string;
  readonly details: string;
  readonly extra_info: Record<string, unknown>;
}

export interface NodeErrors {
  errors: ValidationError[];
  dependent_outputs: string[];
  class_type: string;
}

export type PromptGraph = Record<string, { class_type?: unknown; inputs?: unknown }>;

export type ValidationResult =
  | { readonly ok: true; readonly outputs: string[]; readonly nodeErrors: Record<string, NodeErrors> }
  | { readonly ok: false; readonly error: ValidationError; readonly nodeErrors: Record<string, NodeErrors> };

export interface ValidateOptions {
  readonly defs: Readonly<Record<string, NodeDef>>;
  /** Whether an annotated image name ("x.png", "sub/x.png", "x.png [output]") exists. */
  readonly imageExists: (name: string) => boolean;
  /** Error type for an unknown class_type: ComfyUI @a125cd8 says invalid_prompt; PR #12194 (2026-01) missing_node_type. */
  readonly missingNodeErrorType: 'invalid_prompt' | 'missing_node_type';
}

/** A Python exception raised inside validation (KeyError, IndexError...). */
class PyError extends Error {
  override readonly name = 'PyError';
  readonly pyType: string;
  constructor(pyType: string, message: string) {
    super(message);
    this.pyType = pyType;
  }
}

/** Python's repr() of a str. */
export function pyStr(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  const body = s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/\t/g, '\\t');
  return quote + (quote === "'" ? body.replace(/'/g, "\\'") : body) + quote;
}

/** Python's str() of a JSON value (what an f-string prints). */
export function pyFormat(v: unknown, { asFloat = false }: { asFloat?: boolean } = {}): string {
  if (v === null || v === undefined) return 'None';
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'number') return asFloat && Number.isInteger(v) ? `${v}.0` : String(v);
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) return `[${v.map(pyRepr).join(', ')}]`;
  if (typeof v === 'object') return `{${Object.entries(v).map(([k, x]) => `${pyStr(k)}: ${pyRepr(x)}`).join(', ')}}`;
  return String(v);
}

function pyRepr(v: unknown): string {
  return typeof v === 'string' ? pyStr(v) : pyFormat(v);
}

const typeName = (v: unknown): string =>
  v === null ? 'NoneType' : Array.isArray(v) ? 'list' : typeof v === 'object' ? 'dict' : typeof v === 'boolean' ? 'bool' : typeof v === 'number' ? (Number.isInteger(v) ? 'int' : 'float') : 'str';

function pyTruthy(v: unknown): boolean {
  if (v === null || v === undefined || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object') return Object.keys(v).length > 0;
  return true;
}

/** Python's int()/float()/str()/bool() as validate_inputs applies them; throws the Python message. */
function convert(inputType: string, v: unknown): unknown {
  switch (inputType) {
    case 'INT': {
      if (typeof v === 'boolean') return v ? 1 : 0;
      if (typeof v === 'number') {
        if (!Number.isFinite(v)) throw new Error(Number.isNaN(v) ? 'cannot convert float NaN to integer' : 'cannot convert float infinity to integer');
        return Math.trunc(v);
      }
      if (typeof v === 'string') {
        if (/^\s*[-+]?\d+(?:_\d+)*\s*$/.test(v)) return Number(v.replace(/_/g, ''));
        throw new Error(`invalid literal for int() with base 10: ${pyStr(v)}`);
      }
      throw new Error(`int() argument must be a string, a bytes-like object or a real number, not '${typeName(v)}'`);
    }
    case 'FLOAT': {
      if (typeof v === 'boolean') return v ? 1 : 0;
      if (typeof v === 'number') return v;
      if (typeof v === 'string') {
        const n = Number(v.trim());
        if (v.trim() !== '' && Number.isFinite(n)) return n;
        throw new Error(`could not convert string to float: ${pyStr(v)}`);
      }
      throw new Error(`float() argument must be a string or a real number, not '${typeName(v)}'`);
    }
    case 'STRING':
      return typeof v === 'string' ? v : pyFormat(v);
    case 'BOOLEAN':
      return pyTruthy(v);
    default:
      return v;
  }
}

function typesMatch(received: string, expected: string | readonly string[]): boolean {
  if (typeof expected !== 'string') return received === 'COMBO' || received === '*';
  if (received === expected || received === '*' || expected === '*') return true;
  const r = new Set(received.split(','));
  return expected.split(',').some((t) => r.has(t));
}

type Validated = Map<string, { ok: boolean; errors: ValidationError[] }>;

function specOf(def: NodeDef, name: string): { spec: InputSpec; required: boolean } | null {
  const r = def.required[name];
  if (r !== undefined) return { spec: r, required: true };
  const o = def.optional?.[name];
  return o === undefined ? null : { spec: o, required: false };
}

function validateNode(prompt: PromptGraph, id: string, validated: Validated, opts: ValidateOptions): { ok: boolean; errors: ValidationError[] } {
  const memo = validated.get(id);
  if (memo !== undefined) return memo;
  const node = prompt[id];
  if (node === undefined) throw new PyError('KeyError', pyStr(id));
  if (node.inputs === undefined || node.inputs === null || typeof node.inputs !== 'object') throw new PyError('KeyError', "'inputs'");
  const inputs = node.inputs as Record<string, unknown>;
  const def = opts.defs[String(node.class_type)];
  if (def === undefined) throw new PyError('KeyError', pyStr(String(node.class_type)));
  const names = [...Object.keys(def.required), ...Object.keys(def.optional ?? {})];
  const errors: ValidationError[] = [];
  let valid = true;

  for (const x of names) {
    const { spec, required } = specOf(def, x)!;
    const [inputType, extra = {}] = spec;
    const info = [inputType, extra];
    if (!(x in inputs)) {
      if (required) errors.push({ type: 'required_input_missing', message: 'Required input is missing', details: x, extra_info: { input_name: x } });
      continue;
    }
    let val = inputs[x];
    if (Array.isArray(val)) {
      if (val.length !== 2) {
        errors.push({
          type: 'bad_linked_input', message: 'Bad linked input, must be a length-2 list of [node_id, slot_index]', details: x,
          extra_info: { input_name: x, input_config: info, received_value: val },
        });
        continue;
      }
      const oId = String(val[0]);
      const linked = prompt[oId];
      if (linked === undefined) throw new PyError('KeyError', pyStr(oId));
      const linkedDef = opts.defs[String(linked.class_type)];
      const slot = Number(val[1]);
      const receivedType = linkedDef?.output[slot];
      if (receivedType === undefined) throw new PyError('IndexError', 'tuple index out of range');
      if (!typesMatch(receivedType, inputType)) {
        errors.push({
          type: 'return_type_mismatch', message: 'Return type mismatch between linked nodes',
          details: `${x}, received_type(${receivedType}) mismatch input_type(${pyFormat(inputType)})`,
          extra_info: { input_name: x, input_config: info, received_type: receivedType, linked_node: val },
        });
        continue;
      }
      try {
        if (!validateNode(prompt, oId, validated, opts).ok) valid = false;
      } catch (e) {
        valid = false;
        const ex = e instanceof PyError ? e : new PyError('Exception', String(e));
        validated.set(oId, {
          ok: false,
          errors: [{
            type: 'exception_during_inner_validation', message: 'Exception when validating inner node', details: ex.message,
            extra_info: { input_name: x, input_config: info, exception_message: ex.message, exception_type: ex.pyType, traceback: [], linked_node: val },
          }],
        });
      }
      continue;
    }
    if (val !== null && typeof val === 'object' && '__value__' in val) val = (val as { __value__: unknown }).__value__;
    if (typeof inputType === 'string') {
      try {
        val = convert(inputType, val);
      } catch (e) {
        const msg = (e as Error).message;
        errors.push({
          type: 'invalid_input_type', message: `Failed to convert an input value to a ${inputType} value`,
          details: `${x}, ${pyFormat(val)}, ${msg}`,
          extra_info: { input_name: x, input_config: info, received_value: val, exception_message: msg },
        });
        continue;
      }
    }
    if (def.validatedBy?.includes(x)) continue;
    const asFloat = inputType === 'FLOAT';
    const min = extra['min'];
    const max = extra['max'];
    if (typeof min === 'number' && typeof val === 'number' && val < min) {
      errors.push({
        type: 'value_smaller_than_min', message: `Value ${pyFormat(val, { asFloat })} smaller than min of ${pyFormat(min, { asFloat })}`, details: x,
        extra_info: { input_name: x, input_config: info, received_value: val },
      });
      continue;
    }
    if (typeof max === 'number' && typeof val === 'number' && val > max) {
      errors.push({
        type: 'value_bigger_than_max', message: `Value ${pyFormat(val, { asFloat })} bigger than max of ${pyFormat(max, { asFloat })}`, details: x,
        extra_info: { input_name: x, input_config: info, received_value: val },
      });
      continue;
    }
    if (typeof inputType !== 'string' && !inputType.includes(val as string)) {
      const long = inputType.length > 20;
      const listInfo = long ? `(list of length ${inputType.length})` : pyFormat([...inputType]);
      errors.push({
        type: 'value_not_in_list', message: 'Value not in list', details: `${x}: '${pyFormat(val)}' not in ${listInfo}`,
        extra_info: { input_name: x, input_config: long ? null : info, received_value: val },
      });
      continue;
    }
  }

  for (const x of def.validatedBy ?? []) {
    const v = inputs[x];
    if (v === undefined || Array.isArray(v)) continue;
    const name = typeof v === 'string' ? v : pyFormat(v);
    if (!opts.imageExists(name)) {
      errors.push({
        type: 'custom_validation_failed', message: 'Custom validation failed for node', details: `${x} - Invalid image file: ${name}`,
        extra_info: { input_name: x },
      });
    }
  }

  const result = { ok: errors.length === 0 && valid, errors };
  validated.set(id, result);
  return result;
}

/** validate_prompt: which outputs can run, or the 400 error. */
export function validatePrompt(prompt: unknown, opts: ValidateOptions): ValidationResult {
  if (prompt === null || typeof prompt !== 'object' || Array.isArray(prompt)) {
    return { ok: false, error: { type: 'invalid_prompt', message: 'Cannot execute because a node is missing the class_type property.', details: "Node ID '#0'", extra_info: {} }, nodeErrors: {} };
  }
  const graph = prompt as PromptGraph;
  const outputs: string[] = [];
  for (const [id, node] of Object.entries(graph)) {
    if (node === null || typeof node !== 'object' || !('class_type' in node)) {
      return { ok: false, error: { type: 'invalid_prompt', message: 'Cannot execute because a node is missing the class_type property.', details: `Node ID '#${id}'`, extra_info: {} }, nodeErrors: {} };
    }
    const def = opts.defs[String(node.class_type)];
    if (def === undefined) {
      return {
        ok: false,
        error: { type: opts.missingNodeErrorType, message: `Cannot execute because node ${String(node.class_type)} does not exist.`, details: `Node ID '#${id}'`, extra_info: {} },
        nodeErrors: {},
      };
    }
    if (def.outputNode) outputs.push(id);
  }
  if (outputs.length === 0) {
    return { ok: false, error: { type: 'prompt_no_outputs', message: 'Prompt has no outputs', details: '', extra_info: {} }, nodeErrors: {} };
  }

  const good: string[] = [];
  const failed: [string, ValidationError[]][] = [];
  const nodeErrors: Record<string, NodeErrors> = {};
  const validated: Validated = new Map();
  for (const o of outputs) {
    let ok: boolean;
    let reasons: ValidationError[];
    try {
      ({ ok, errors: reasons } = validateNode(graph, o, validated, opts));
    } catch (e) {
      const ex = e instanceof PyError ? e : new PyError('Exception', String(e));
      ok = false;
      reasons = [{ type: 'exception_during_validation', message: 'Exception when validating node', details: ex.message, extra_info: { exception_type: ex.pyType, traceback: [] } }];
      validated.set(o, { ok: false, errors: reasons });
    }
    if (ok) {
      good.push(o);
      continue;
    }
    failed.push([o, reasons]);
    for (const [nodeId, r] of validated) {
      if (r.ok || r.errors.length === 0) continue;
      nodeErrors[nodeId] ??= { errors: r.errors, dependent_outputs: [], class_type: String(graph[nodeId]?.class_type) };
      nodeErrors[nodeId].dependent_outputs.push(o);
    }
  }
  if (good.length === 0) {
    const details = failed.flatMap(([, errs]) => errs.map((e) => `${e.message}: ${e.details}`)).join('\n');
    return { ok: false, error: { type: 'prompt_outputs_failed_validation', message: 'Prompt outputs failed validation', details, extra_info: {} }, nodeErrors };
  }
  return { ok: true, outputs: good, nodeErrors };
}
