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
 * MAX_TEXT_CHARS characters (classifier-facts.ts caps the text and the object walk), and
 * every pattern is anchored or bounded so no rule is quadratic.
 */
import { z } from 'zod';
import { extractFacts, type Facts } from './classifier-facts.ts';
import {
  AWS_THROTTLING_NAMES, NEEDS_A_PERSON_NAMES, NETWORK_CODES, NETWORK_NAMES, SERVICE_UNAVAILABLE_NAMES, WINSOCK_LOCALIZED,
} from './classifier-signals.ts';
import { entryFor, isErrorName, type ErrorName, type Family, type Strategy } from './taxonomy.ts';
import { taughtMatchers, type FailureSite, type TaughtPatternSpec } from './taught-patterns.ts';

export { extractFacts, MAX_TEXT_CHARS, type Facts, type NodeErrorFact } from './classifier-facts.ts';

export interface Verdict {
  readonly name: ErrorName;
  readonly family: Family;
  readonly recoverable: boolean;
  readonly strategy: Strategy;
  /** The rule and the fragment of the failure that decided the name (`rule-id:fragment`); null when nothing matched. */
  readonly matched: string | null;
}

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
const hasStatus = (...wanted: number[]): Test => (f) => {
  const s = f.statuses.find((x) => wanted.includes(x));
  return s === undefined ? null : `HTTP ${s}`;
};
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
      re(new RegExp(`\\[Errno 28\\][^\\n]{0,200}|OSError\\(28,|\\[WinError 112\\][^\\n]{0,200}|No space left on device|There is not enough space on the disk|database or disk is full|Es steht nicht genug Speicherplatz auf dem Datentr|${literals(ENOSPC_LOCALIZED)}`, 'i')),
    ),
  },
  {
    // Faults of the GPU or its driver: a smaller job does not cure them, and the CUDA context
    // is often unusable afterwards, so they go to a person. Not to be confused with the
    // boilerplate "Compile with `TORCH_USE_CUDA_DSA` to enable device-side assertions." that
    // follows every CUDA error, including "CUDA error: out of memory". A host without a
    // usable GPU stack (no driver, a CPU-only torch) is the same kind of fault.
    id: 'gpu-fault', name: 'Unclassified',
    test: re(/an illegal (?:memory access|instruction) was encountered|device-side assert triggered|misaligned address|unspecified launch failure|CUBLAS_STATUS_(?:EXECUTION_FAILED|INTERNAL_ERROR)|CUDNN_STATUS_EXECUTION_FAILED|uncorrectable ECC error|\bXid \d{1,4}\b|no kernel image is available for execution on the device|hipErrorIllegalAddress|cudaErrorIllegalAddress|Torch not compiled with CUDA enabled|Found no NVIDIA driver on your system|CUDA driver version is insufficient/i),
  },
  {
    // An unreadable input (image, audio, base64) fails the same way every time, even when
    // ComfyUI reports it as a validation error (LoadImage's VALIDATE_INPUTS →
    // custom_validation_failed) or a provider answers it with a 500.
    id: 'invalid-input', name: 'Fatal.InvalidInput',
    test: anyOf(
      (f) => f.nodeErrors.find((e) => e.type === 'custom_validation_failed' && /invalid (?:image|audio)|image file|audio file/i.test(e.text))?.text ?? null,
      exceptionType(/UnidentifiedImageError|DecompressionBombError|LibsndfileError/),
      hasName('UnidentifiedImageError', 'DecompressionBombError', 'LibsndfileError'),
      re(/Invalid (?:image|audio) file[^\n]{0,300}|cannot identify (?:this )?image file[^\n]{0,300}|image file is truncated|unrecognized data stream contents when reading image file|broken data stream when reading image file|Input (?:buffer|file) (?:contains|containing|is of an) unsupported image format|Input buffer has corrupt header|Input file is missing[^\n]{0,300}|is not a known file format|VipsJpeg: Premature end|Image size \(\d+ pixels\) exceeds limit|\[Errno 2\] No such file or directory: '[^'\n]{0,300}\.(?:png|jpe?g|webp)'|Image does not match the provided media type|image_generation_user_error/i),
      // Base64 the caller sent that does not decode.
      re(/Incorrect padding|Invalid base64(?:-encoded string| value)?|base64 decoding failed|Error decoding base64/i),
      // Audio the decoders cannot open.
      re(/Error opening [^\n]{1,300}: Format not recognised|File contains data in an unknown format/i),
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
      re(/Cannot execute because (?:a node is missing the class[_ ]type property|node [^\n]{1,200}? does not exist)|Dependency cycle detected|Required input is missing|Return type mismatch between linked nodes|Bad linked input|Failed to convert an input value to a|Value -?[\d.]{1,32} (?:smaller than min|bigger than max) of|Prompt has no (?:properly connected )?outputs|following node types were not found|Missing Node Types/i),
      // ComfyUI's POST /prompt without a prompt: {"error": "no prompt", "node_errors": []}.
      re(/["']error["']\s{0,3}:\s{0,3}["']no prompt["']/i),
      fatalListRejection,
    ),
  },
  {
    id: 'data-corruption', name: 'Fatal.DataCorruption',
    test: anyOf(
      hasName('BadZipFile', 'BadGzipFile'),
      hasCode('Z_DATA_ERROR'),
      re(/Checksum mismatch[^\n]{0,200}|checksum (?:mismatch|failed)|CRC (?:error|mismatch|check failed)|data corruption|corrupt(?:ed)? (?:state|record|object|item)|Error -3 while decompressing(?: data)?|incorrect header check|invalid (?:code|block type|stored block lengths|distance too far back)|File is not a zip file/i),
    ),
  },
  {
    // A person must act: credentials, permissions, a billing quota, TLS configuration, an
    // object that does not exist, a request the service rejects as malformed, a code bug.
    // None of these is cured by waiting, so they stop here, before any recoverable rule
    // (a 500 that says "The specified key does not exist" is not an outage).
    id: 'needs-a-person', name: 'Unclassified',
    test: anyOf(
      hasName(...NEEDS_A_PERSON_NAMES),
      hasStatus(401, 403, 404),
      re(/is not authorized to perform|security token included in the request is (?:expired|invalid)|request signature we calculated does not match|Signature (?:expired|not yet current)|difference between the request time and the current time is too large|insufficient_quota|exceeded your current quota|WRONG_VERSION_NUMBER|CERTIFICATE_VERIFY_FAILED|The specified (?:key|bucket) does not exist|Prediction failed for an unknown reason/i),
      // Programming errors: the same input fails the same way until the code changes.
      re(/object has no attribute '|got an unexpected keyword argument|mat1 and mat2 shapes cannot be multiplied|must match the size of tensor|Expected all tensors to be on the same device/i),
    ),
  },
  // ---- A missing model is recoverable, and decided before ComfyUI's validation envelope. --
  {
    // A corrupt or half-downloaded model file is cured like a missing one: switch model.
    id: 'model-missing', name: 'Gpu.ModelMissing',
    test: anyOf(
      modelNodeError,
      exceptionType(/SafetensorError/),
      hasName('SafetensorError'),
      re(/Model in folder '[^'\n]{1,100}' with filename '[^'\n]{1,300}' not found|Error while deserializing header: \w{1,64}|The safetensors file is corrupt|PytorchStreamReader failed reading zip archive|(?:checkpoint|lora|vae|unet) (?:file )?not found|\b(?:IPAdapter|ClipVision|CLIPVision|InsightFace|ControlNet|upscale|LoRA|checkpoint|VAE) model (?:was )?not found|UnpicklingError: invalid load key|\b(?:InsightFace|IPAdapter|ClipVision|CLIPVision|ControlNet|LoRA|VAE|checkpoint|upscale)(?: model)? (?:is required|must be provided)\b|does not appear to have a file named [\w.-]{1,200}\.(?:safetensors|bin|pt|pth|ckpt|gguf|onnx)\b/i),
      // A model file a node (ComfyUI's or a custom node's) tried to open and did not find.
      re(/No such file or directory: ['"]?[^'"\n]{0,300}\.(?:safetensors|sft|ckpt|pt|pth|bin|gguf|onnx)\b/i),
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
  {
    // A worker's or a front end's own input checks: the caller's request lacks what it needs.
    id: 'input-validation', name: 'Fatal.InvalidInput',
    test: re(/\bNo prompt provided\b|\b(?:image|audio|video|input) input is required\b|["']invalid_param["']|must be a list of files/i),
  },
  // ---- Recoverable -----------------------------------------------------------------------
  {
    // Our own Lambda ran past its configured timeout (errorType or message as Lambda reports them).
    id: 'lambda-timeout', name: 'Sandbox.Timedout',
    test: anyOf(hasName('Sandbox.Timedout'), re(/Task timed out after \d{1,6}(?:\.\d{1,3})? seconds|Function exceeded maximum time of \d{1,6} seconds/)),
  },
  {
    // Our own Lambda ran out of memory.
    id: 'lambda-runtime', name: 'Lambda.Unknown',
    test: anyOf(
      hasName('Runtime.OutOfMemory', 'Runtime.ExitError'),
      re(/Runtime exited with error: signal: (?:killed|alarm clock)/),
    ),
  },
  {
    // VRAM (or host memory for tensors) exhausted: smaller batch, size and steps cure it.
    // ComfyUI's own verdict (its OOM tips) counts too.
    id: 'out-of-memory', name: 'Gpu.OutOfMemory',
    test: anyOf(
      exceptionType(/OutOfMemoryError/),
      hasName('OutOfMemoryError'),
      re(/(?:CUDA|HIP|XPU|MPS backend) out of memory|(?:CUDA|HIP) error: out of memory|\bAllocation on device\b|OutOfMemoryError|CUBLAS_STATUS_ALLOC_FAILED|CUDNN_STATUS_ALLOC_FAILED|cudaErrorMemoryAllocation|hipErrorOutOfMemory|hipErrorMemoryAllocation|failed to allocate [\d.]{1,12} ?[KMGT]i?B? from device|DefaultCPUAllocator: (?:not enough memory|can't allocate memory)|not enough GPU video memory|This error means you ran out of memory on your GPU|unsuccessful, probably due to a lack of memory|paging file is too small|(?:os error|WinError) 1455\b/i),
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
    // AWS throttling and write contention, by error name (before the generic 429 and 503
    // rules, so Lambda's TooManyRequestsException, a 429, and EC2's RequestLimitExceeded, a
    // 503, stay AWS throttling), then AWS's own wordings.
    id: 'aws-throttled', name: 'Transient.Throttled',
    test: anyOf(
      hasName(...AWS_THROTTLING_NAMES),
      (f) => (f.throttling ? '$retryable.throttling' : null),
      retryableCancellation,
      re(/ProvisionedThroughputExceeded|ThrottlingException|Throughput exceeds the current throughput limit|\bRate exceeded\b|Request limit exceeded\b|Rate of requests exceeds the allowed throughput|level of configured provisioned throughput/i),
    ),
  },
  {
    // A provider asked us to slow down; includes S3's "503 Slow Down", which is not an outage.
    id: 'rate-limited', name: 'Transient.RateLimited',
    test: anyOf(
      hasName('SlowDown', 'TooManyRequests', 'RateLimitError'),
      hasCode('SlowDown'),
      hasStatus(429),
      re(/Too Many Requests|\bSlow ?Down\b|reduce your request rate|\brate[- ]?limit(?:ed|ing| exceeded| reached)?\b|status code 429\b/i),
    ),
  },
  {
    // An HTML error page where JSON was expected is a proxy or gateway answering for a sick
    // upstream, not a malformed payload: retry, don't distrust the provider.
    id: 'html-instead-of-json', name: 'Transient.ServiceUnavailable',
    // V8 says `Unexpected token '<', "<html>\r\n<h"... is not valid JSON` (older: `… in JSON at position 0`).
    test: (f) => (notClientError(f) ? /Unexpected token '?<'?[\s\S]{0,40}?(?:is not valid JSON|in JSON at position)|JSON\w{0,30}Error: Unexpected token '?<|<!DOCTYPE html|<html[\s>]|<title>\s{0,8}5\d\d\b/i.exec(f.text)?.[0] ?? null : null),
  },
  {
    // The dependency is down or not up yet: a 5xx, a gateway's page, a process that exited,
    // a server that did not become ready, a model still loading.
    id: 'service-unavailable', name: 'Transient.ServiceUnavailable',
    test: anyOf(
      hasStatus(500, 502, 503, 504, 408),
      hasName(...SERVICE_UNAVAILABLE_NAMES),
      re(/Service (?:Temporarily )?Unavailable|Bad Gateway|Gateway Time-?out|upstream connect error|no healthy upstream|upstream request timeout|Endpoint request timed out|Internal Server Error|status code 50[0234]\b|\b50[0234] Server Error\b|Server error '50[0234]|HTTP Error 50[0234]\b|Unexpected server response: 50[0234]\b|We encountered an internal error|unexpected error when processing the request, please try again|is unable to process your request/i),
      // A WebSocket handshake the server answered with a 5xx (Cloudflare's 52x included).
      re(/(?:unexpected server response|Unexpected response code|server rejected WebSocket connection):? \(?(?:HTTP )?5\d\d\b/i),
      re(/process has exited|(?:did not become|not) ready (?:after|within)\b|Server not ready after timeout|is currently loading/i),
    ),
  },
  {
    // The connection, not the work, failed: reset, refused, timed out, DNS, a WebSocket
    // closed without its close handshake. A connection that times out ([Errno 110],
    // ETIMEDOUT, AbortSignal.timeout, a client read timeout) is this, not Gpu.Timeout.
    id: 'network', name: 'Transient.Network',
    test: anyOf(
      hasCode(...NETWORK_CODES),
      hasName(...NETWORK_NAMES),
      exceptionType(/^(?:ConnectionRefusedError|ConnectionResetError|ConnectionAbortedError|TimeoutError|socket\.timeout|requests\.exceptions\.(?:ConnectionError|ReadTimeout|ConnectTimeout)|aiohttp\.client_exceptions\.(?:ClientConnectorError|ServerDisconnectedError))$/),
      re(/\b(?:httpx|httpcore)\.(?:ReadError|WriteError|CloseError)\b|\b(?:ECONNRESET|ETIMEDOUT|ECONNREFUSED|EAI_AGAIN|ENOTFOUND)\b/i),
      // OS error numbers of a reset, refused, timed-out or unreachable connection (Linux errno, Winsock).
      re(/\[Errno (?:104|110|111|113|101|-2|-3)\][^\n]{0,200}|\[(?:WinError|Errno) 100(?:53|54|60|61|65)\][^\n]{0,200}|(?:ConnectionResetError|ConnectionRefusedError|error)\((?:100(?:53|54|60|61)|104|111), |SocketException \(100(?:53|54|60|61)\)|code: 100(?:53|54|60|61), kind: Connection/),
      // Refused, reset, aborted, unreachable, given up after retries.
      re(/socket hang up|other side closed|Connection (?:reset(?: by peer)?|refused|timed out|aborted|broken)|forcibly closed by the remote host|remote host forces an existing connection to be closed|Unable to (?:read|transfer) data (?:from|on) the transport connection|Read timed out|RemoteDisconnected|Remote end closed connection|Max retries exceeded with url|Failed to establish a new connection|Could not connect to the endpoint URL|(?:not reachable|Failed to connect to [^\n]{1,200}?) after (?:multiple|\d{1,6}) (?:retries|attempts)|Cannot connect to host|Server disconnected|network (?:error|is unreachable)|Network Error\b|Failed to fetch|fetch failed|TypeError: terminated|Temporary failure in name resolution|Name or service not known|nodename nor servname provided|getaddrinfo (?:failed|ENOTFOUND|EAI_AGAIN)|\bno such host\b|IncompleteRead\(|Response ended prematurely|EOF occurred in violation of protocol|Client network socket disconnected|Status read failed|The connection closed with error|Unable to execute HTTP request/i),
      // Timeouts on the client side of a connection.
      re(/Connect Timeout Error|Headers Timeout Error|Body Timeout Error|operation was aborted due to timeout|read operation timed out|(?:Read|Connect) timeout on endpoint URL|connect timed out|timeout of \d{1,9}ms exceeded|context deadline exceeded|Client\.Timeout exceeded|i\/o timeout|HttpClient\.Timeout|Timeout waiting for connection from pool|TimeoutError: timed out|\bConnectTimeout\b|socket connection to the server was not read from or written to within the timeout period|^Timeout (?:uploading|downloading|fetching) /im),
      // A WebSocket that went away without its close handshake.
      re(/WebSocket (?:closed|connection lost)[^\n]{0,200}|WebSocket was closed before the connection was established|http2: (?:client connection lost|server sent GOAWAY)|no close frame received|connection closed abnormally|close 1006\b|code = 100[16] |Connection to remote host was lost|Websocket connection closed unexpectedly|failed to reconnect/i),
      re(new RegExp(`${literals(NETWORK_LOCALIZED)}|${literals(WINSOCK_LOCALIZED)}`, 'i')),
    ),
  },
  {
    id: 'malformed-response', name: 'Provider.MalformedResponse',
    test: anyOf(
      hasName('ZodError', 'MalformedResponse', 'JSONDecodeError'),
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
  /**
   * Operator-taught patterns (core/taught-patterns.ts), tried before everything else, newest
   * first: they correct a name the rules or the failure itself would give.
   */
  readonly taught?: readonly (TaughtPatternSpec & { id: string })[];
}

export interface Classifier {
  /** `site`: where the failure was met, for taught patterns limited to a stage. */
  classify(raw: unknown, site?: FailureSite): Verdict;
}

/**
 * Builds a classifier with extra patterns. Patterns are validated once, here: a bad one
 * throws a ZodError whose issue path names the pattern's index and field.
 */
export function createClassifier(options: ClassifierOptions = {}): Classifier {
  const rules = [...compileCustom(options.patterns ?? []), ...RULES];
  const taught = taughtMatchers(options.taught ?? []);
  return {
    classify(raw, site = {}) {
      const facts = extractFacts(raw);
      for (const t of taught) {
        const hit = t.test(facts, site);
        if (hit !== null) return verdict(t.name, `taught ${t.id}:${hit.slice(0, 200)}`);
      }
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

/** The verdict came from an operator-taught pattern. */
export function isTaught(v: Pick<Verdict, 'matched'>): boolean {
  return v.matched?.startsWith('taught ') === true;
}

function verdict(name: ErrorName, matched: string | null): Verdict {
  const e = entryFor(name);
  return { name, family: e.family, recoverable: e.recoverable, strategy: e.strategy, matched };
}

