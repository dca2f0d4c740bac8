/**
 * The classifier: from a raw failure to a taxonomy name.
 *
 * A raw failure is whatever the pipeline meets: a text, a Node/undici/AWS SDK error, an
 * HTTP status with its body, a ComfyUI `execution_error` event, a history entry or a
 * `/prompt` 400 answer, a Lambda or Step Functions error payload. `extractFacts` reduces it
 * to a few fields; the rules below read those fields, in order, and the first that matches
 * names the failure. What no rule names is `Unclassified`, which is never retried.
 *
 * The order is the safety argument. Every rule that names a failure non-recoverable (disk
 * full, GPU faults, unreadable input, invalid workflow, corrupt data) runs before every rule
 * that names it recoverable, so a text that carries both kinds of wording is never retried
 * blindly. The one deliberate exception: a missing model (recoverable) is decided before the
 * generic "Prompt outputs failed validation" envelope that ComfyUI wraps it in.
 *
 * Bounded work: a failure may carry a megabyte of traceback. The rules never see more than
 * MAX_TEXT_CHARS characters (each field keeps its head and tail, where the HTML title and
 * the final exception line are), object graphs are walked to MAX_DEPTH levels and
 * MAX_OBJECTS objects, and every pattern is anchored or bounded so no rule is quadratic.
 */
import { z } from 'zod';
import { entryFor, isErrorName, type ErrorName, type Family, type Strategy } from './taxonomy.ts';

export interface Verdict {
  readonly name: ErrorName;
  readonly family: Family;
  readonly recoverable: boolean;
  readonly strategy: Strategy;
  /** The rule and the fragment of the failure that decided the name (`rule-id:fragment`); null when nothing matched. */
  readonly matched: string | null;
}

/** One ComfyUI validation error (`node_errors[id].errors[i]`). */
export interface NodeErrorFact {
  readonly type: string;
  readonly inputName: string | null;
  readonly classType: string | null;
  /** The value ComfyUI rejected (`extra_info.received_value`, or read from `details`). */
  readonly receivedValue: string | null;
  readonly text: string;
}

/** What the rules look at, extracted once from any raw failure. */
export interface Facts {
  /** Every message-like field, joined by newlines, at most MAX_TEXT_CHARS long. */
  readonly text: string;
  /** Error names: `name`, `__type`, Lambda's `errorType`, Step Functions' `Error`. */
  readonly names: readonly string[];
  /** Error codes: Node's `code`, AWS's `Code`, DynamoDB cancellation reasons. */
  readonly codes: readonly string[];
  readonly status: number | null;
  readonly exceptionType: string | null;
  readonly nodeErrors: readonly NodeErrorFact[];
  /** The `error.type` of a ComfyUI /prompt 400 answer. */
  readonly promptErrorType: string | null;
  /** The AWS SDK flagged the error as throttling (`$retryable.throttling`). */
  readonly throttling: boolean;
}

/** Most characters of failure text the rules read. */
export const MAX_TEXT_CHARS = 64 * 1024;
/** Most characters kept from one field; a longer field keeps its first and last halves. */
const MAX_FIELD_CHARS = 16 * 1024;
/** How deep causes, bodies and nested errors are followed. */
const MAX_DEPTH = 8;
/** Most objects visited in one failure, so cyclic or huge graphs stay cheap. */
const MAX_OBJECTS = 256;
/** Bodies longer than this are read as text, not parsed as JSON. */
const MAX_JSON_CHARS = 256 * 1024;

// Custom patterns come from configuration: a pattern that nests quantifiers, e.g. `(a+)+`,
// can backtrack for ever even on capped text, so it is refused up front.
const NESTED_QUANTIFIER = /\((?:[^()\\]|\\.)*(?:[+*]|\{\d+,\d*\})\)(?:[+*]|\{\d+,\d*\})/;

export const customPatternSchema = z
  .strictObject({
    name: z.string().refine(isErrorName, { message: 'must be a taxonomy error name (see `vto classify --list`)' }),
    pattern: z.string().min(1).max(500),
    // g and y make RegExp#exec stateful; the rules must give the same answer twice.
    flags: z.string().regex(/^(?!.*(.).*\1)[imsu]*$/, 'may hold only the flags i, m, s and u, each at most once').default('i'),
  })
  .superRefine((p, ctx) => {
    try {
      new RegExp(p.pattern, p.flags);
    } catch (e) {
      ctx.addIssue({ code: 'custom', path: ['pattern'], message: `must be a valid regular expression (${(e as Error).message})` });
      return;
    }
    if (NESTED_QUANTIFIER.test(p.pattern)) {
      ctx.addIssue({ code: 'custom', path: ['pattern'], message: 'must not nest quantifiers such as (a+)+, which can backtrack without end' });
    }
  });
export const customPatternsSchema = z.array(customPatternSchema);
export type CustomPattern = z.input<typeof customPatternSchema>;

type Test = (f: Facts) => string | null;

interface Rule {
  readonly id: string;
  readonly name: ErrorName;
  readonly test: Test;
}

/** Patterns here must not carry the g or y flag: `exec` has to be stateless. */
const re = (pattern: RegExp): Test => (f) => pattern.exec(f.text)?.[0] ?? null;

const anyOf = (...tests: Test[]): Test => (f) => {
  for (const t of tests) {
    const hit = t(f);
    if (hit !== null) return hit;
  }
  return null;
};

const hasName = (...names: string[]): Test => (f) => f.names.find((n) => names.includes(n)) ?? null;
const hasCode = (...codes: string[]): Test => (f) => f.codes.find((c) => codes.includes(c)) ?? null;
const hasStatus = (...statuses: number[]): Test => (f) => (f.status !== null && statuses.includes(f.status) ? `HTTP ${f.status}` : null);
const exceptionType = (pattern: RegExp): Test => (f) => (f.exceptionType !== null && pattern.test(f.exceptionType) ? f.exceptionType : null);

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const literals = (phrases: readonly string[]) => phrases.map(escapeRe).join('|');

/**
 * glibc's strerror() in the locales a worker host may run with (glibc 2.36 libc.mo). C
 * tools, and Python once it calls setlocale(), print these instead of the English text.
 */
const ENOSPC_LOCALIZED = [
  'Auf dem Gerät ist kein Speicherplatz mehr verfügbar', // de
  'Aucun espace disponible sur le périphérique', // fr
  'No queda espacio en el dispositivo', // es
  'Spazio esaurito sul device', // it
  'デバイスに空き領域がありません', // ja
  '设备上没有空间', // zh_CN
  '裝置上已無多餘空間', // zh_TW
  'На устройстве не осталось свободного места', // ru
  'Não há espaço disponível no dispositivo', // pt_BR
  'Brak miejsca na urządzeniu', // pl
  '장치에 남은 공간이 없음', // ko
  'Geen ruimte meer over op apparaat', // nl
];
const NETWORK_LOCALIZED = [
  // ECONNREFUSED
  'Verbindungsaufbau abgelehnt', 'Connexion refusée', 'Conexión rehusada', 'Connessione rifiutata',
  '接続を拒否されました', '拒绝连接', 'В соединении отказано',
  // ETIMEDOUT
  'Die Wartezeit für die Verbindung ist abgelaufen', "Connexion terminée par expiration du délai d'attente",
  'Expiró el tiempo de conexión', 'Connessione scaduta', '接続がタイムアウトしました', '连接超时',
  'Время ожидания соединения истекло',
  // ECONNRESET
  'Die Verbindung wurde vom Kommunikationspartner zurückgesetzt', 'Connexion ré-initialisée par le correspondant',
  'Conexión reinicializada por la máquina remota', 'Connessione interrotta dal corrispondente',
  '接続が相手からリセットされました', '连接被对方重设', 'Соединение разорвано другой стороной',
  // EAI_AGAIN
  'Temporärer Fehler bei der Namensauflösung', 'Échec temporaire dans la résolution du nom',
  'Fallo temporal en la resolución del nombre', 'Errore temporaneo nella risoluzione del nome',
  '名前解決に一時的に失敗しました', '域名解析暂时失败', 'Временный сбой в разрешении имен',
];

/** Files ComfyUI loads as models; a rejected value with one of these endings names a model. */
const MODEL_FILE = /\.(?:safetensors|sft|ckpt|pt|pth|bin|gguf|onnx)$/i;
/** Inputs of ComfyUI loaders (core and common custom nodes) that name a model file. */
const MODEL_INPUT =
  /^(?:ckpt|lora|vae|unet|clip|clip_vision|control_net|controlnet|style_model|upscale_model|gligen|hypernetwork|model|diffusion_model|ipadapter)(?:_name)?\d*$|_model(?:_name)?$|^lora_\d+$/;

function isModelInput(input: string | null, value: string | null): boolean {
  return (value !== null && MODEL_FILE.test(value.trim())) || (input !== null && MODEL_INPUT.test(input));
}

/**
 * `value_not_in_list` in its text forms: `Value not in list: ckpt_name: 'x' not in [...]`
 * (details, logs, worker-comfyui) and the newer frontend's `- lora_name: 'x' not in (list of length N)`.
 * The leading \b and the bounded quantifiers keep this linear on long texts.
 */
const NOT_IN_LIST = /\b(\w{1,64}): '([^\n]{0,512}?)' not in (?:\[|\(list of length \d{1,9}\))/g;

function listRejections(text: string): { input: string; value: string; at: string }[] {
  const out: { input: string; value: string; at: string }[] = [];
  for (const m of text.matchAll(NOT_IN_LIST)) {
    out.push({ input: m[1] ?? '', value: m[2] ?? '', at: m[0] });
    if (out.length >= 32) break;
  }
  return out;
}

/** ComfyUI node error types that no model switch or retry cures. */
const FATAL_PROMPT_ERRORS = new Set(['invalid_prompt', 'missing_node_type', 'prompt_no_outputs', 'no_prompt']);

const fatalNodeError: Test = (f) => {
  const e = f.nodeErrors.find((n) => !(n.type === 'value_not_in_list' && isModelInput(n.inputName, n.receivedValue)));
  return e === undefined ? null : `${e.type} ${e.text}`.trim();
};
const modelNodeError: Test = (f) => {
  const e = f.nodeErrors.find((n) => n.type === 'value_not_in_list' && isModelInput(n.inputName, n.receivedValue));
  return e?.text ?? null;
};
const fatalListRejection: Test = (f) => listRejections(f.text).find((r) => !isModelInput(r.input, r.value))?.at ?? null;
const modelListRejection: Test = (f) => listRejections(f.text).find((r) => isModelInput(r.input, r.value))?.at ?? null;

/** A 4xx other than 408/429 is the caller's fault: an HTML page with it is not an outage. */
const notClientError = (f: Facts) => f.status === null || f.status < 400 || f.status >= 500 || f.status === 408 || f.status === 429;

/** DynamoDB cancels a transaction with reasons; only contention and throttling are worth a retry. */
const RETRYABLE_CANCELLATIONS = new Set(['TransactionConflict', 'ThrottlingError', 'ProvisionedThroughputExceeded', 'RequestLimitExceeded']);
const retryableCancellation: Test = (f) => {
  if (!f.names.includes('TransactionCanceledException')) return null;
  const m = /specific reasons \[([^\]\n]{1,1000})\]/.exec(f.text);
  const reasons = (m?.[1] ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '' && s !== 'None');
  return reasons.length > 0 && reasons.every((r) => RETRYABLE_CANCELLATIONS.has(r)) ? `TransactionCanceledException [${reasons.join(', ')}]` : null;
};

/**
 * The built-in rules, in order. Non-recoverable rules first (see the file comment); among
 * the recoverable ones, the most specific wording first.
 */
const RULES: readonly Rule[] = [
  // ---- Non-recoverable -------------------------------------------------------------------
  {
    // Nothing the pipeline retries can free disk space. Language-independent codes first
    // (ENOSPC, [Errno 28], Windows ERROR_DISK_FULL 112), then the wordings.
    id: 'disk-full', name: 'Fatal.DiskFull',
    test: anyOf(
      hasCode('ENOSPC'),
      re(new RegExp(`\\[Errno 28\\][^\\n]{0,200}|OSError\\(28,|\\[WinError 112\\][^\\n]{0,200}|No space left on device|There is not enough space on the disk|database or disk is full|${literals(ENOSPC_LOCALIZED)}`, 'i')),
    ),
  },
  {
    // Faults of the GPU or its driver: a smaller job does not cure them, and the CUDA context
    // is often unusable afterwards, so they go to a person. Not to be confused with the
    // boilerplate "Compile with `TORCH_USE_CUDA_DSA` to enable device-side assertions." that
    // follows every CUDA error, including "CUDA error: out of memory".
    id: 'gpu-fault', name: 'Unclassified',
    test: re(/an illegal (?:memory access|instruction) was encountered|device-side assert triggered|misaligned address|unspecified launch failure|CUBLAS_STATUS_(?:EXECUTION_FAILED|INTERNAL_ERROR)|CUDNN_STATUS_EXECUTION_FAILED|uncorrectable ECC error|\bXid \d{1,4}\b|no kernel image is available for execution on the device|hipErrorIllegalAddress|cudaErrorIllegalAddress/i),
  },
  {
    // An unreadable input image fails the same way every time, even when ComfyUI reports it
    // as a validation error (LoadImage's VALIDATE_INPUTS → custom_validation_failed).
    id: 'invalid-input', name: 'Fatal.InvalidInput',
    test: anyOf(
      (f) => f.nodeErrors.find((e) => e.type === 'custom_validation_failed' && /invalid image|image file/i.test(e.text))?.text ?? null,
      exceptionType(/UnidentifiedImageError|DecompressionBombError/),
      re(/Invalid image file: [^\n]{0,300}|cannot identify (?:this )?image file[^\n]{0,300}|image file is truncated|Input buffer contains unsupported image format|Input buffer has corrupt header|Input file (?:is missing|contains unsupported image format)[^\n]{0,300}|VipsJpeg: Premature end|Image size \(\d+ pixels\) exceeds limit|\[Errno 2\] No such file or directory: '[^'\n]{0,300}\.(?:png|jpe?g|webp)'/i),
    ),
  },
  {
    // The graph itself is wrong: missing node types, bad links, missing inputs, values out of
    // range, or a value not in a list that is not a model (a sampler name, a scheduler…).
    id: 'workflow-invalid', name: 'Fatal.WorkflowInvalid',
    test: anyOf(
      (f) => (f.promptErrorType !== null && FATAL_PROMPT_ERRORS.has(f.promptErrorType) ? `error.type ${f.promptErrorType}` : null),
      fatalNodeError,
      exceptionType(/DependencyCycleError|NodeNotFoundError/),
      re(/Cannot execute because (?:a node is missing the class_type property|node [^\n]{1,200}? does not exist)|Dependency cycle detected|Required input is missing|Return type mismatch between linked nodes|Bad linked input|Failed to convert an input value to a|Value -?[\d.]{1,32} (?:smaller than min|bigger than max) of|Prompt has no outputs/i),
      fatalListRejection,
    ),
  },
  {
    id: 'data-corruption', name: 'Fatal.DataCorruption',
    test: re(/Checksum mismatch[^\n]{0,200}|checksum (?:mismatch|failed)|CRC (?:error|mismatch)|data corruption|corrupt(?:ed)? (?:state|record|object|item)/i),
  },
  // ---- A missing model is recoverable, and decided before ComfyUI's validation envelope. --
  {
    // A corrupt or half-downloaded model file is cured like a missing one: switch model.
    id: 'model-missing', name: 'Gpu.ModelMissing',
    test: anyOf(
      modelNodeError,
      exceptionType(/SafetensorError/),
      re(/Model in folder '[^'\n]{1,100}' with filename '[^'\n]{1,300}' not found|Error while deserializing header: \w{1,64}|The safetensors file is corrupt|PytorchStreamReader failed reading zip archive|\[Errno 2\] No such file or directory: '[^'\n]{0,300}\.(?:safetensors|sft|ckpt|pt|pth|bin|gguf|onnx)'|(?:checkpoint|lora|vae|unet) (?:file )?not found/i),
      modelListRejection,
    ),
  },
  {
    // The envelope alone (no model named in it): the graph failed validation.
    id: 'workflow-envelope', name: 'Fatal.WorkflowInvalid',
    test: anyOf(
      (f) => (f.promptErrorType === 'prompt_outputs_failed_validation' ? `error.type ${f.promptErrorType}` : null),
      re(/Prompt outputs failed validation|Failed to validate prompt for output|Workflow validation failed/i),
    ),
  },
  // ---- Recoverable -----------------------------------------------------------------------
  {
    // Our own Lambda ran past its configured timeout (errorType or message as Lambda reports them).
    id: 'lambda-timeout', name: 'Sandbox.Timedout',
    test: anyOf(hasName('Sandbox.Timedout'), re(/Task timed out after \d{1,6}(?:\.\d{1,3})? seconds/)),
  },
  {
    // Our own Lambda ran out of memory.
    id: 'lambda-runtime', name: 'Lambda.Unknown',
    test: hasName('Runtime.OutOfMemory'),
  },
  {
    // VRAM (or host memory for tensors) exhausted: smaller batch, size and steps cure it.
    // ComfyUI's own verdict (its OOM tips) counts too.
    id: 'out-of-memory', name: 'Gpu.OutOfMemory',
    test: anyOf(
      exceptionType(/OutOfMemoryError/),
      re(/(?:CUDA|HIP|XPU|MPS backend) out of memory|(?:CUDA|HIP) error: out of memory|\bAllocation on device\b|OutOfMemoryError|CUBLAS_STATUS_ALLOC_FAILED|CUDNN_STATUS_ALLOC_FAILED|cudaErrorMemoryAllocation|DefaultCPUAllocator: (?:not enough memory|can't allocate memory)|not enough GPU video memory|This error means you ran out of memory on your GPU/i),
    ),
  },
  {
    // The generation itself ran out of time (our worker interrupts it at its deadline).
    // Transport timeouts are Transient.Network below, never this.
    id: 'gpu-timeout', name: 'Gpu.Timeout',
    test: anyOf(
      exceptionType(/InterruptProcessingException/),
      re(/\bexecution_interrupted\b|Processing interrupted|generation (?:timed out|deadline exceeded)|no progress for \d{1,6} ?s/i),
    ),
  },
  {
    // AWS throttling and write contention, by error name (before the generic 429 rule, so
    // Lambda's TooManyRequestsException, a 429, stays AWS throttling).
    id: 'aws-throttled', name: 'Transient.Throttled',
    test: anyOf(
      hasName('ThrottlingException', 'Throttling', 'ThrottledException', 'ProvisionedThroughputExceededException',
        'RequestLimitExceeded', 'RequestThrottled', 'RequestThrottledException', 'TooManyRequestsException',
        'TransactionConflictException', 'TransactionInProgressException'),
      (f) => (f.throttling ? '$retryable.throttling' : null),
      retryableCancellation,
      re(/ProvisionedThroughputExceeded|ThrottlingException|Throughput exceeds the current throughput limit/i),
    ),
  },
  {
    // A provider asked us to slow down; includes S3's "503 Slow Down", which is not an outage.
    id: 'rate-limited', name: 'Transient.RateLimited',
    test: anyOf(
      hasName('SlowDown', 'TooManyRequests'),
      hasCode('SlowDown'),
      hasStatus(429),
      re(/Too Many Requests|\bSlow ?Down\b|reduce your request rate|\brate[- ]?limit(?:ed|ing| exceeded)?\b|status code 429\b/i),
    ),
  },
  {
    // An HTML error page where JSON was expected is a proxy or gateway answering for a sick
    // upstream, not a malformed payload: retry, don't distrust the provider.
    id: 'html-instead-of-json', name: 'Transient.ServiceUnavailable',
    // V8 says `Unexpected token '<', "<html>\r\n<h"... is not valid JSON` (older: `… in JSON at position 0`).
    test: (f) => (notClientError(f) ? /Unexpected token '?<'?[\s\S]{0,40}?(?:is not valid JSON|in JSON at position)|<!DOCTYPE html|<html[\s>]|<title>\s{0,8}5\d\d\b/i.exec(f.text)?.[0] ?? null : null),
  },
  {
    id: 'service-unavailable', name: 'Transient.ServiceUnavailable',
    test: anyOf(
      hasStatus(500, 502, 503, 504, 408),
      hasName('ServiceUnavailable', 'ServiceUnavailableException', 'InternalServerError', 'InternalFailure', 'InternalError', 'ServiceException'),
      re(/Service (?:Temporarily )?Unavailable|Bad Gateway|Gateway Time-?out|upstream connect error|no healthy upstream|upstream request timeout|Endpoint request timed out|Internal Server Error|status code 50[0234]\b/i),
    ),
  },
  {
    // The connection, not the work, failed: reset, refused, timed out, DNS. A connection
    // that times out ([Errno 110], ETIMEDOUT, AbortSignal.timeout) is this, not Gpu.Timeout.
    id: 'network', name: 'Transient.Network',
    test: anyOf(
      hasCode('ECONNRESET', 'ETIMEDOUT', 'ECONNREFUSED', 'EAI_AGAIN', 'ENOTFOUND', 'EPIPE', 'ENETUNREACH', 'EHOSTUNREACH',
        'ECONNABORTED', 'ESOCKETTIMEDOUT', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_SOCKET', 'UND_ERR_HEADERS_TIMEOUT',
        'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CLOSED'),
      hasName('TimeoutError', 'NetworkingError', 'RequestTimeout', 'RequestTimeoutException', 'ConnectTimeoutError',
        'HeadersTimeoutError', 'BodyTimeoutError', 'SocketError', 'ConnectionRefusedError', 'ConnectionResetError',
        'ConnectionAbortedError', 'ConnectionError'),
      exceptionType(/^(?:ConnectionRefusedError|ConnectionResetError|ConnectionAbortedError|TimeoutError|socket\.timeout|requests\.exceptions\.(?:ConnectionError|ReadTimeout|ConnectTimeout)|aiohttp\.client_exceptions\.(?:ClientConnectorError|ServerDisconnectedError))$/),
      re(new RegExp(`socket hang up|other side closed|\\b(?:ECONNRESET|ETIMEDOUT|ECONNREFUSED|EAI_AGAIN)\\b|\\[Errno (?:104|110|111|113|101|-2|-3)\\][^\\n]{0,200}|\\[WinError 100(?:53|54|60|61|65)\\][^\\n]{0,200}|Connection (?:reset by peer|refused|timed out|aborted)|Read timed out|RemoteDisconnected|Remote end closed connection|Max retries exceeded with url|Failed to establish a new connection|Connect Timeout Error|fetch failed|network (?:error|is unreachable)|operation was aborted due to timeout|Temporary failure in name resolution|Cannot connect to host|Server disconnected|WebSocket (?:closed|connection lost)[^\\n]{0,200}|${literals(NETWORK_LOCALIZED)}`, 'i')),
    ),
  },
  {
    id: 'malformed-response', name: 'Provider.MalformedResponse',
    test: anyOf(
      hasName('ZodError', 'MalformedResponse'),
      exceptionType(/JSONDecodeError/),
      // JSON.parse wordings only: a bare "Unexpected token 'export'" is a code bug, not a payload.
      re(/Unexpected (?:end of JSON input|non-whitespace character after JSON)[^\n]{0,200}|is not valid JSON|JSON at position \d{1,9}|Unterminated string in JSON|Bad control character in string literal in JSON|Expecting (?:value|property name enclosed in double quotes): line \d{1,9} column \d{1,9}|malformed (?:response|JSON)|schema validation failed|invalid response (?:body|schema)/i),
    ),
  },
  {
    id: 'degenerate-mask', name: 'Segmentation.DegenerateMask',
    test: re(/degenerate mask|empty mask|full[- ]frame mask|mask (?:is )?(?:empty|fragmented)|quorum not reached/i),
  },
  {
    id: 'compositing', name: 'Compositing.Failed',
    test: re(/Image to composite must have same dimensions or smaller|composit(?:e|ing) failed[^\n]{0,200}|size mismatch[^\n]{0,200}composit|composit[^\n]{0,200}size mismatch/i),
  },
];

/** The built-in rules by id and name, in the order they run (for `vto classify --list`). */
export function builtInRules(): readonly { readonly id: string; readonly name: ErrorName }[] {
  return RULES.map(({ id, name }) => ({ id, name }));
}

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

/**
 * Builds a classifier with extra patterns. Patterns are validated once, here: a bad one
 * throws a ZodError whose issue path names the pattern's index and field.
 */
export function createClassifier(options: ClassifierOptions = {}): Classifier {
  const rules = [...compileCustom(options.patterns ?? []), ...RULES];
  return {
    classify(raw) {
      const facts = extractFacts(raw);
      // A name from the taxonomy was decided by our own code (a PipelineError, an ASL Catch):
      // it stands. Unclassified does not, so the rules may still name what it wraps.
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

/** Keeps the head and the tail of a long string: the title of a page, the last line of a traceback. */
function clip(s: string, max: number): string {
  if (s.length <= max) return s;
  const half = Math.floor(max / 2);
  return `${s.slice(0, half)}\n…\n${s.slice(s.length - half)}`;
}

const TEXT_KEYS = [
  'message', 'Message', 'exception_message', 'details', 'detail', 'body', 'statusText', 'Cause', 'error_message',
  'errorMessage', 'reason', 'Reason',
] as const;

/**
 * Pulls the fields the rules read out of any shape of failure. Never throws: getters that
 * throw, cycles and exotic objects are skipped.
 */
export function extractFacts(raw: unknown): Facts {
  const texts: string[] = [];
  let textChars = 0;
  const names: string[] = [];
  const codes: string[] = [];
  const nodeErrors: NodeErrorFact[] = [];
  let status: number | null = null;
  let exceptionType: string | null = null;
  let promptErrorType: string | null = null;
  let throttling = false;
  const seen = new WeakSet<object>();
  let objects = 0;

  const get = (o: object, key: string): unknown => {
    try {
      return (o as Record<string, unknown>)[key];
    } catch {
      return undefined;
    }
  };
  const ownValues = (o: object): unknown[] => {
    try {
      return Object.values(o);
    } catch {
      return [];
    }
  };
  const str = (v: unknown): string | null => (typeof v === 'string' && v.length > 0 ? v : null);
  const isObject = (v: unknown): v is object => typeof v === 'object' && v !== null;
  const addText = (s: string) => {
    if (textChars >= MAX_TEXT_CHARS) return;
    const piece = clip(s, MAX_FIELD_CHARS);
    texts.push(piece);
    textChars += piece.length + 1;
  };
  const setStatus = (v: unknown) => {
    if (status === null && typeof v === 'number' && Number.isInteger(v) && v >= 100 && v < 600) status = v;
  };

  /** A string field: JSON objects (a raw HTTP body, a Lambda Cause) are read as objects. */
  const visitString = (s: string, depth: number) => {
    const t = s.trimStart();
    if (t.startsWith('{') && s.length <= MAX_JSON_CHARS) {
      try {
        const parsed: unknown = JSON.parse(s);
        if (isObject(parsed)) {
          visit(parsed, depth + 1);
          return;
        }
      } catch {
        // not JSON after all: read it as text
      }
    }
    addText(s);
  };

  const visitNodeErrors = (ne: object) => {
    for (const node of ownValues(ne).slice(0, 64)) {
      if (!isObject(node)) continue;
      const errors = get(node, 'errors');
      if (!Array.isArray(errors)) continue;
      const classType = str(get(node, 'class_type'));
      for (const e of errors.slice(0, 16)) {
        if (!isObject(e)) continue;
        const type = str(get(e, 'type')) ?? 'unknown';
        const extra = get(e, 'extra_info');
        const details = str(get(e, 'details')) ?? '';
        const received = isObject(extra) ? get(extra, 'received_value') : undefined;
        const inputName = (isObject(extra) ? str(get(extra, 'input_name')) : null) ?? /^(\w{1,64})[:,]/.exec(details)?.[1] ?? null;
        const receivedValue =
          typeof received === 'string' || typeof received === 'number' ? String(received) : /^\w{1,64}: '([^\n]{0,512}?)' not in/.exec(details)?.[1] ?? null;
        const text = `${str(get(e, 'message')) ?? ''}: ${details}`.trim();
        nodeErrors.push({ type, inputName, classType, receivedValue, text });
        addText(text);
        if (isObject(extra)) {
          const et = str(get(extra, 'exception_type'));
          if (et !== null) exceptionType ??= et;
        }
      }
    }
  };

  const visit = (v: unknown, depth: number): void => {
    if (depth > MAX_DEPTH || v === null || v === undefined) return;
    if (typeof v === 'string') {
      if (v.length > 0) visitString(v, depth);
      return;
    }
    if (!isObject(v) || seen.has(v) || ++objects > MAX_OBJECTS) return;
    seen.add(v);
    if (Array.isArray(v)) {
      for (const x of v.slice(0, 16)) visit(x, depth + 1);
      return;
    }

    // Names: JS `name`, AWS JSON `__type` (prefix#Name), Lambda `errorType`, ASL Catch `Error`.
    const name = str(get(v, 'name'));
    if (name !== null && name !== 'Error') names.push(name);
    const awsType = str(get(v, '__type'))?.split('#').pop();
    if (awsType !== undefined && awsType !== '' && awsType !== name) names.push(awsType);
    const errorType = str(get(v, 'errorType'));
    if (errorType !== null) names.push(errorType);
    const aslError = get(v, 'Error');
    if (typeof aslError === 'string' && /^[\w.]{1,128}$/.test(aslError)) names.push(aslError);
    else if (typeof aslError === 'string') addText(aslError);
    else if (isObject(aslError)) visit(aslError, depth + 1);

    for (const key of ['code', 'Code', 'errno']) {
      const c = get(v, key);
      if (typeof c === 'string' && c.length > 0) codes.push(c);
      else if (key === 'code') setStatus(c);
    }
    const reasons = get(v, 'CancellationReasons');
    if (Array.isArray(reasons)) {
      for (const r of reasons.slice(0, 32)) {
        const c = isObject(r) ? str(get(r, 'Code')) : null;
        if (c !== null) codes.push(c);
      }
    }

    const metadata = get(v, '$metadata');
    for (const s of [get(v, 'status'), get(v, 'statusCode'), get(v, 'httpStatusCode'), isObject(metadata) ? get(metadata, 'httpStatusCode') : undefined]) setStatus(s);
    const retryable = get(v, '$retryable');
    if (isObject(retryable) && get(retryable, 'throttling') === true) throttling = true;

    for (const key of TEXT_KEYS) {
      const s = get(v, key);
      if (typeof s === 'string' && s.length > 0) visitString(s, depth);
      else if (key === 'body' && isObject(s)) visit(s, depth + 1);
    }
    const et = str(get(v, 'exception_type'));
    if (et !== null) {
      exceptionType ??= et;
      addText(et);
    }
    const traceback = get(v, 'traceback');
    if (Array.isArray(traceback)) for (const t of traceback.slice(-3)) if (typeof t === 'string') addText(t);

    const err = get(v, 'error');
    if (isObject(err) && !Array.isArray(err)) {
      const type = str(get(err, 'type'));
      if (type !== null) promptErrorType ??= type;
      visit(err, depth + 1);
    } else if (typeof err === 'string') {
      visitString(err, depth);
    }
    const ne = get(v, 'node_errors');
    if (isObject(ne)) visitNodeErrors(ne);

    // A WebSocket frame {type, data} (its type is the event name), a client's response.data,
    // a history entry's status.messages [[event, data], …].
    const data = get(v, 'data');
    if (isObject(data)) {
      const frameType = str(get(v, 'type'));
      if (frameType !== null) addText(frameType);
      visit(data, depth + 1);
    }
    const statusObj = get(v, 'status');
    if (isObject(statusObj)) visit(statusObj, depth + 1);
    // GET /history/{prompt_id} answers {prompt_id: {prompt, outputs, status, meta}}.
    for (const entry of ownValues(v).slice(0, 8)) {
      if (isObject(entry) && isObject(get(entry, 'status')) && isObject(get(entry, 'outputs'))) visit(entry, depth + 1);
    }
    const messages = get(v, 'messages');
    if (Array.isArray(messages)) {
      for (const m of messages.slice(-8)) {
        if (Array.isArray(m) && typeof m[0] === 'string') {
          addText(m[0]);
          visit(m[1], depth + 1);
        }
      }
    }

    visit(get(v, 'cause'), depth + 1);
    visit(get(v, 'response'), depth + 1);
    const errors = get(v, 'errors');
    if (Array.isArray(errors)) for (const e of errors.slice(0, 10)) visit(e, depth + 1);
  };

  visit(raw, 0);
  const text = clip(texts.join('\n'), MAX_TEXT_CHARS);
  // Clients that only say "Request failed with status code 503" or "answered HTTP 429".
  if (status === null) setStatus(Number(/\b(?:status(?: code)?|HTTP(?:\/\d(?:\.\d)?)?)[ :=]{1,3}([1-5]\d\d)\b/i.exec(text)?.[1]));
  return { text, names, codes, status, exceptionType, nodeErrors, promptErrorType, throttling };
}
