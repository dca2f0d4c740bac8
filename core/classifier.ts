/**
 * The classifier: from a raw failure to a taxonomy name.
 *
 * A raw failure is whatever the pipeline meets: a text, a Node/AWS SDK error, an HTTP
 * status with its body, a ComfyUI `execution_error` event or a `/prompt` 400 answer.
 * Rules run in order and the first that matches names the failure. What no rule names is
 * `Unclassified`, which is never retried.
 */
import { z } from 'zod';
import { entryFor, isErrorName, type ErrorName, type Family, type Strategy } from './taxonomy.ts';

export interface Verdict {
  readonly name: ErrorName;
  readonly family: Family;
  readonly recoverable: boolean;
  readonly strategy: Strategy;
  /** The rule and the fragment of the failure that decided the name; null when nothing matched. */
  readonly matched: string | null;
}

/** What the rules look at, extracted once from any raw failure. */
export interface Facts {
  readonly text: string;
  readonly names: readonly string[];
  readonly codes: readonly string[];
  readonly status: number | null;
  readonly exceptionType: string | null;
  /** ComfyUI validation errors: error type and the input they concern. */
  readonly nodeErrors: readonly { type: string; inputName: string | null; classType: string | null; text: string }[];
  /** The `error.type` of a ComfyUI /prompt 400 answer. */
  readonly promptErrorType: string | null;
}

export const customPatternSchema = z.object({
  name: z.string().refine(isErrorName, { message: 'must be a taxonomy error name (see `vto classify --list`)' }),
  pattern: z.string().min(1).refine((p) => { try { new RegExp(p); return true; } catch { return false; } },
    { message: 'must be a valid regular expression' }),
  flags: z.string().regex(/^[imsu]*$/, 'may hold only the flags i, m, s, u').default('i'),
});
export const customPatternsSchema = z.array(customPatternSchema);
export type CustomPattern = z.input<typeof customPatternSchema>;

interface Rule {
  readonly id: string;
  readonly name: ErrorName;
  readonly test: (f: Facts) => string | null;
}

const MODEL_INPUTS = new Set([
  'ckpt_name', 'lora_name', 'vae_name', 'unet_name', 'clip_name', 'clip_name1', 'clip_name2',
  'control_net_name', 'model_name', 'upscale_model_name', 'style_model_name', 'gligen_name', 'hypernetwork_name',
]);

const WORKFLOW_ERROR_TYPES = new Set([
  'prompt_outputs_failed_validation', 'invalid_prompt', 'missing_node_type', 'prompt_no_outputs', 'no_prompt',
  'required_input_missing', 'bad_linked_input', 'return_type_mismatch', 'invalid_input_type',
  'value_smaller_than_min', 'value_bigger_than_max', 'value_not_in_list', 'exception_during_inner_validation',
]);

function re(pattern: RegExp): (f: Facts) => string | null {
  return (f) => pattern.exec(f.text)?.[0] ?? null;
}

function anyOf(...tests: ((f: Facts) => string | null)[]): (f: Facts) => string | null {
  return (f) => {
    for (const t of tests) {
      const hit = t(f);
      if (hit !== null) return hit;
    }
    return null;
  };
}

const hasName = (...names: string[]) => (f: Facts) =>
  f.names.find((n) => names.includes(n)) ?? f.codes.find((c) => names.includes(c)) ?? null;
const hasCode = (...codes: string[]) => (f: Facts) => f.codes.find((c) => codes.includes(c)) ?? null;
const hasStatus = (...statuses: number[]) => (f: Facts) =>
  f.status !== null && statuses.includes(f.status) ? `HTTP ${f.status}` : null;
const exceptionType = (pattern: RegExp) => (f: Facts) =>
  f.exceptionType !== null && pattern.test(f.exceptionType) ? f.exceptionType : null;

/**
 * The built-in rules, most specific first. Order matters where wordings overlap:
 * CUDA faults before out-of-memory, model and image problems before generic validation,
 * HTML error pages before malformed JSON.
 */
const RULES: readonly Rule[] = [
  {
    id: 'disk-full', name: 'Fatal.DiskFull',
    test: anyOf(hasCode('ENOSPC'), re(/\[Errno 28\]|No space left on device|disk (?:is )?full|Kein Speicherplatz|Auf dem Gerät ist kein Speicherplatz|Aucun espace disponible|No queda espacio en el dispositivo|Spazio esaurito|Nessuno spazio rimasto|Brak miejsca na urządzeniu|Нет места на устройстве|デバイスに空き領域がありません|设备上没有空间|裝置上沒有多餘的空間/i)),
  },
  {
    // Faults of the GPU itself: reducing parameters does not cure them, so they are not OOM.
    id: 'cuda-fault', name: 'Unclassified',
    test: re(/illegal memory access|device-side assert|misaligned address|CUBLAS_STATUS_EXECUTION_FAILED|CUDNN_STATUS_EXECUTION_FAILED|unspecified launch failure|ECC error|Xid \d+/i),
  },
  {
    id: 'invalid-image', name: 'Fatal.InvalidInput',
    test: anyOf(
      (f) => f.nodeErrors.find((e) => e.type === 'custom_validation_failed' && /invalid image|image file/i.test(e.text))?.text ?? null,
      exceptionType(/UnidentifiedImageError/),
      re(/Invalid image file[^\n]*|cannot identify image file[^\n]*|image file is truncated|unsupported image format|Input buffer contains unsupported image format|VipsJpeg: Premature end|pngload: [^\n]*|Input file is missing|not a valid (?:PNG|JPEG|image)|Invalid input image/i),
    ),
  },
  {
    // A corrupt or half-downloaded model file is cured the same way as a missing one.
    id: 'model-missing', name: 'Gpu.ModelMissing',
    test: anyOf(
      (f) => f.nodeErrors.find((e) => e.type === 'value_not_in_list' && e.inputName !== null && MODEL_INPUTS.has(e.inputName))?.text ?? null,
      exceptionType(/SafetensorError/),
      re(/Value not in list:? ?(?:ckpt|lora|vae|unet|clip\w*|control_net|model|upscale_model|style_model)_name[^\n]*|(?:ckpt|lora|vae|unet|control_net|upscale_model)_name: '[^']*' not in [^\n]*|Model in folder '[^']*' with filename '[^']*' not found|Error while deserializing header[^\n]*|HeaderTooLarge|MetadataIncompleteBuffer|\[Errno 2\] No such file or directory: '[^']*\.(?:safetensors|ckpt|pt|pth|bin|gguf)'|(?:checkpoint|lora|vae|model) (?:file )?not found[^\n]*/i),
    ),
  },
  {
    id: 'out-of-memory', name: 'Gpu.OutOfMemory',
    test: anyOf(
      exceptionType(/OutOfMemoryError/),
      re(/(?:CUDA|HIP|MPS backend|XPU|GPU) out of memory|CUDA error: out of memory|Allocation on device|OutOfMemoryError|CUBLAS_STATUS_ALLOC_FAILED|CUDNN_STATUS_ALLOC_FAILED|can't allocate memory|out of VRAM|not enough (?:GPU |video )?memory|显存不足|内存不足|顯示記憶體不足|メモリ不足|メモリが不足|VRAMが不足|메모리 부족|memoria (?:insuficiente|esaurita|GPU insuficiente)|sin memoria de GPU|mémoire (?:insuffisante|GPU insuffisante)|plus de mémoire|nicht genügend (?:GPU-)?Speicher|Speicher (?:nicht ausreichend|erschöpft)|недостаточно (?:видео)?памяти|нехватка видеопамяти/i),
    ),
  },
  {
    id: 'workflow-invalid', name: 'Fatal.WorkflowInvalid',
    test: anyOf(
      (f) => (f.promptErrorType !== null && WORKFLOW_ERROR_TYPES.has(f.promptErrorType) ? `error.type ${f.promptErrorType}` : null),
      (f) => f.nodeErrors.find((e) => WORKFLOW_ERROR_TYPES.has(e.type))?.text ?? null,
      exceptionType(/DependencyCycleError/),
      re(/Prompt outputs failed validation|Cannot execute because (?:a node is missing the class_type property|node [^\n]* does not exist)|Dependency cycle detected|Required input is missing|invalid (?:node graph|workflow|prompt)/i),
    ),
  },
  {
    id: 'gpu-timeout', name: 'Gpu.Timeout',
    test: anyOf(exceptionType(/InterruptProcessingException/), re(/generation (?:timed out|deadline exceeded)|execution_interrupted|Processing interrupted|no progress for \d+/i)),
  },
  {
    id: 'rate-limited', name: 'Transient.RateLimited',
    test: anyOf(hasStatus(429), hasName('SlowDown', 'TooManyRequests'), re(/Too Many Requests|\bSlow ?Down\b|rate[- ]?limit(?:ed|ing)?\b|Reduce your request rate|quota exceeded/i)),
  },
  {
    id: 'aws-throttled', name: 'Transient.Throttled',
    test: anyOf(
      hasName('ThrottlingException', 'Throttling', 'ProvisionedThroughputExceededException', 'RequestLimitExceeded',
        'ThrottledException', 'RequestThrottled', 'RequestThrottledException', 'TooManyRequestsException', 'LimitExceededException',
        'TransactionInProgressException'),
      re(/ProvisionedThroughputExceeded|ThrottlingException|Rate exceeded|throughput for the table exceeds/i),
    ),
  },
  {
    id: 'html-instead-of-json', name: 'Transient.ServiceUnavailable',
    test: re(/Unexpected token '?<'?|<!DOCTYPE html|<html[\s>]|<title>\s*50[234]/i),
  },
  {
    id: 'service-unavailable', name: 'Transient.ServiceUnavailable',
    test: anyOf(
      hasStatus(500, 502, 503, 504, 408),
      hasName('ServiceUnavailable', 'ServiceUnavailableException', 'InternalServerError', 'InternalFailure', 'InternalError', 'ServiceException'),
      re(/Service (?:Temporarily )?Unavailable|Bad Gateway|Gateway Time-?out|upstream connect error|server is overloaded|Internal Server Error/i),
    ),
  },
  {
    id: 'network', name: 'Transient.Network',
    test: anyOf(
      hasCode('ECONNRESET', 'ETIMEDOUT', 'ECONNREFUSED', 'EAI_AGAIN', 'ENOTFOUND', 'EPIPE', 'ENETUNREACH', 'EHOSTUNREACH',
        'ECONNABORTED', 'ESOCKETTIMEDOUT', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_SOCKET', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT'),
      hasName('TimeoutError', 'TimeoutException', 'NetworkingError', 'RequestTimeout', 'RequestTimeoutException'),
      re(/socket hang up|\bECONNRESET\b|\bETIMEDOUT\b|\bECONNREFUSED\b|\bEAI_AGAIN\b|\[Errno (?:104|110|111|113|-3|-2)\][^\n]*|Connection (?:reset by peer|refused|timed out|aborted)|Read timed out|RemoteDisconnected|fetch failed|network (?:error|is unreachable)|operation was aborted due to timeout|Temporary failure in name resolution|WebSocket (?:closed|connection lost)[^\n]*/i),
    ),
  },
  {
    id: 'malformed-response', name: 'Provider.MalformedResponse',
    test: anyOf(
      hasName('ZodError', 'MalformedResponse'),
      re(/Unexpected (?:token|end of JSON input)[^\n]*|is not valid JSON|JSON at position \d+|Unterminated string in JSON|Expected property name[^\n]*JSON|malformed (?:response|JSON)|schema validation failed|invalid response (?:body|schema)/i),
    ),
  },
  {
    id: 'degenerate-mask', name: 'Segmentation.DegenerateMask',
    test: re(/degenerate mask|empty mask|full[- ]frame mask|mask (?:is )?(?:empty|fragmented)|quorum not reached/i),
  },
  {
    id: 'compositing', name: 'Compositing.Failed',
    test: re(/Image to composite must have same dimensions or smaller|composit(?:e|ing) failed[^\n]*|size mismatch[^\n]*composit|composit[^\n]*size mismatch/i),
  },
  {
    id: 'data-corruption', name: 'Fatal.DataCorruption',
    test: re(/checksum mismatch|CRC (?:error|mismatch)|data corruption|corrupt(?:ed)? (?:state|record|object|item)/i),
  },
];

function compileCustom(patterns: readonly CustomPattern[]): Rule[] {
  return customPatternsSchema.parse(patterns).map((p, i) => {
    const rx = new RegExp(p.pattern, p.flags);
    return { id: `custom[${i}]`, name: p.name as ErrorName, test: (f: Facts) => rx.exec(f.text)?.[0] ?? null };
  });
}

export interface ClassifierOptions {
  /** Extra patterns, tried before the built-in rules so an operator can override a wording. */
  readonly patterns?: readonly CustomPattern[];
}

export interface Classifier {
  classify(raw: unknown): Verdict;
}

/** Builds a classifier with extra patterns (validated once). */
export function createClassifier(options: ClassifierOptions = {}): Classifier {
  const rules = [...compileCustom(options.patterns ?? []), ...RULES];
  return {
    classify(raw) {
      const facts = extractFacts(raw);
      const named = facts.names.find((n) => isErrorName(n) && n !== 'Unclassified');
      if (named !== undefined) return verdict(named as ErrorName, `name:${named}`);
      for (const rule of rules) {
        const hit = rule.test(facts);
        if (hit !== null) return verdict(rule.name, `${rule.id}:${hit.slice(0, 200)}`);
      }
      return verdict('Unclassified', null);
    },
  };
}

const defaultClassifier = createClassifier();

/** Classifies with the built-in rules only. */
export function classify(raw: unknown): Verdict {
  return defaultClassifier.classify(raw);
}

function verdict(name: ErrorName, matched: string | null): Verdict {
  const e = entryFor(name);
  return { name, family: e.family, recoverable: e.recoverable, strategy: e.strategy, matched };
}

const MAX_DEPTH = 4;

/** Pulls the fields the rules read out of any shape of failure. */
export function extractFacts(raw: unknown): Facts {
  const texts: string[] = [];
  const names: string[] = [];
  const codes: string[] = [];
  const nodeErrors: Facts['nodeErrors'][number][] = [];
  let status: number | null = null;
  let exceptionType: string | null = null;
  let promptErrorType: string | null = null;

  const str = (v: unknown): string | null => (typeof v === 'string' && v.length > 0 ? v : null);

  const visit = (v: unknown, depth: number): void => {
    if (depth > MAX_DEPTH || v === null || v === undefined) return;
    if (typeof v === 'string') {
      texts.push(v);
      return;
    }
    if (typeof v !== 'object') return;
    const o = v as Record<string, unknown>;
    const name = str(o['name']) ?? str(o['__type'])?.split('#').pop() ?? null;
    if (name !== null && name !== 'Error') names.push(name);
    const code = str(o['code']) ?? str(o['Code']) ?? str(o['errno']);
    if (code !== null) codes.push(code);
    if (typeof o['errno'] === 'number' && str(o['code']) === null) codes.push(String(o['errno']));
    const st = o['status'] ?? o['statusCode'] ?? (o['$metadata'] as Record<string, unknown> | undefined)?.['httpStatusCode'];
    if (status === null && typeof st === 'number' && st >= 100 && st < 600) status = st;
    for (const key of ['message', 'Message', 'exception_message', 'details', 'body', 'cause_text', 'Cause', 'Error', 'detail', 'error_message']) {
      const s = str(o[key]);
      if (s !== null) texts.push(s);
    }
    const et = str(o['exception_type']);
    if (et !== null) {
      exceptionType ??= et;
      texts.push(et);
    }
    if (Array.isArray(o['traceback'])) texts.push(...o['traceback'].filter((t): t is string => typeof t === 'string').slice(-3));
    const err = o['error'];
    if (err !== null && typeof err === 'object' && !Array.isArray(err)) {
      const type = str((err as Record<string, unknown>)['type']);
      if (type !== null) promptErrorType ??= type;
      visit(err, depth + 1);
    } else if (typeof err === 'string') {
      texts.push(err);
    }
    const ne = o['node_errors'];
    if (ne !== null && typeof ne === 'object') {
      for (const node of Object.values(ne as Record<string, unknown>)) {
        const n = node as { errors?: unknown; class_type?: unknown };
        if (!Array.isArray(n.errors)) continue;
        for (const e of n.errors as Record<string, unknown>[]) {
          const type = str(e['type']) ?? 'unknown';
          const extra = (e['extra_info'] ?? {}) as Record<string, unknown>;
          const details = str(e['details']) ?? '';
          const inputName = str(extra['input_name']) ?? /^(\w+):/.exec(details)?.[1] ?? null;
          const text = `${str(e['message']) ?? ''}: ${details}`.trim();
          nodeErrors.push({ type, inputName, classType: str(n.class_type), text });
          texts.push(text);
        }
      }
    }
    if ('cause' in o) visit(o['cause'], depth + 1);
    if (Array.isArray(o['errors'])) for (const e of o['errors'].slice(0, 10)) visit(e, depth + 1);
  };

  visit(raw, 0);
  return {
    text: texts.join('\n'),
    names,
    codes,
    status,
    exceptionType,
    nodeErrors,
    promptErrorType,
  };
}
