/**
 * Typed HTTP clients of the external providers: segmentation, analyzer and the hosted
 * inpaint API. Every call has a timeout; every failure leaves as a taxonomy-named error
 * (the classifier reads the status and body); every answer is checked by a schema; every
 * call goes through its provider's circuit breaker (provider-breakers.ts).
 */
import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { z } from 'zod';
import { MalformedResponseError, pipelineError } from '../core/errors.ts';
import type { BreakerProvider } from '../core/breaker.ts';
import type { InpaintParams } from '../core/params.ts';
import { secretsClient } from './aws-clients.ts';
import { config, required } from './config.ts';
import { access, grant } from './access.ts';
import { PROVIDER_BREAKERS_ACCESS, guarded } from './provider-breakers.ts';
import { TAUGHT_CLASSIFIER_ACCESS, currentClassifier } from './taught-classifier.ts';
import { onReset } from './process-caches.ts';

/** Each provider's calls go through its breaker; the hosted API's key is read from its secret. */
export const PROVIDERS_ACCESS = {
  segmentation: access(PROVIDER_BREAKERS_ACCESS, TAUGHT_CLASSIFIER_ACCESS),
  analyzer: access(PROVIDER_BREAKERS_ACCESS, TAUGHT_CLASSIFIER_ACCESS),
  hostedInpaint: access(PROVIDER_BREAKERS_ACCESS, TAUGHT_CLASSIFIER_ACCESS, grant('secret:hostedInpaint', 'secretsmanager', 'GetSecretValue')),
} as const;

const BODY_SNIPPET = 500;

/** One call under the provider's breaker: refused at once while it is open. */
function call<T extends z.ZodType>(provider: BreakerProvider, url: string, init: RequestInit, schema: T): Promise<z.infer<T>> {
  return guarded(provider, () => exchange(url, init, schema));
}

async function exchange<T extends z.ZodType>(url: string, init: RequestInit, schema: T): Promise<z.infer<T>> {
  let res: Response;
  let text: string;
  try {
    res = await fetch(url, { ...init, signal: AbortSignal.timeout(config().providerTimeoutMs) });
    text = await res.text();
  } catch (e) {
    const v = (await currentClassifier()).classify(e);
    throw pipelineError(v.name, `${init.method ?? 'GET'} ${url}: ${(e as Error).message}`, { cause: e });
  }
  if (!res.ok) {
    const v = (await currentClassifier()).classify({ status: res.status, body: text.slice(0, BODY_SNIPPET) });
    // A provider's 4xx we cannot name is not worth retrying but is not our input's fault either.
    throw pipelineError(v.name, `${init.method ?? 'GET'} ${url}: HTTP ${res.status} ${text.slice(0, BODY_SNIPPET)}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    // An HTML error page where JSON was expected is the service failing, not a malformed answer.
    const v = (await currentClassifier()).classify(e);
    const name = /^\s*</.test(text) ? 'Transient.ServiceUnavailable' : v.name === 'Unclassified' ? 'Provider.MalformedResponse' : v.name;
    throw pipelineError(name, `${url}: answer is not JSON: ${(e as Error).message}`, { cause: e });
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; ');
    throw new MalformedResponseError(`${url}: answer does not match its schema: ${issues}`);
  }
  return parsed.data;
}

const json = (body: unknown, extra: Record<string, string> = {}): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', ...extra },
  body: JSON.stringify(body),
});

const base64Png = z.string().min(8).regex(/^[A-Za-z0-9+/=]+$/, 'must be base64');

export const segmentationAnswer = z.object({ mask: base64Png, confidence: z.number().min(0).max(1).optional() });
export async function segment(req: { jobId: string; image: Buffer; prompt: string; model?: string }): Promise<Buffer> {
  const url = `${required(config().segmentationUrl, 'SEGMENTATION_URL')}/segment`;
  const res = await call('segmentation', url, json({ jobId: req.jobId, image: req.image.toString('base64'), prompt: req.prompt, ...(req.model && { model: req.model }) }), segmentationAnswer);
  return Buffer.from(res.mask, 'base64');
}

export const analyzerAnswer = z.object({
  verdict: z.enum(['pass', 'fail']),
  score: z.number().min(0).max(100),
  reasons: z.array(z.string()).default([]),
});
export type AnalyzerVerdict = z.infer<typeof analyzerAnswer>;
export async function analyze(req: { jobId: string; original: Buffer; result: Buffer; mask: Buffer }): Promise<AnalyzerVerdict | undefined> {
  const baseUrl = config().analyzerUrl;
  if (baseUrl === undefined) return undefined;
  return call('analyzer', `${baseUrl}/analyze`, json({
    jobId: req.jobId, original: req.original.toString('base64'), result: req.result.toString('base64'), mask: req.mask.toString('base64'),
  }), analyzerAnswer);
}

let apiKey: Promise<string | undefined> | undefined;
/** The hosted API key, read once from Secrets Manager (never from the environment). */
function hostedKey(): Promise<string | undefined> {
  apiKey ??= (async () => {
    const arn = config().hostedSecretArn;
    if (arn === undefined) return undefined;
    const res = await secretsClient().send(new GetSecretValueCommand({ SecretId: arn }), { abortSignal: AbortSignal.timeout(5000) });
    return res.SecretString;
  })();
  return apiKey;
}

const auth = async (): Promise<Record<string, string>> => {
  const key = await hostedKey();
  return key === undefined ? {} : { authorization: `Bearer ${key}` };
};

export const hostedSubmitAnswer = z.object({ taskId: z.string().min(1) });
export async function hostedSubmit(req: { jobId: string; image: Buffer; mask: Buffer; garment: Buffer; params: InpaintParams }): Promise<string> {
  const url = `${required(config().hostedUrl, 'HOSTED_INPAINT_URL')}/inpaint`;
  const res = await call('hosted-inpaint', url, json({
    jobId: req.jobId, image: req.image.toString('base64'), mask: req.mask.toString('base64'), garment: req.garment.toString('base64'), params: req.params,
  }, await auth()), hostedSubmitAnswer);
  return res.taskId;
}

export const hostedPollAnswer = z.object({
  status: z.enum(['queued', 'running', 'succeeded', 'failed']),
  progress: z.number().optional(),
  result: base64Png.optional(),
  error: z.string().optional(),
  gpuSeconds: z.number().optional(),
});
export type HostedPoll = z.infer<typeof hostedPollAnswer>;
export async function hostedPoll(taskId: string): Promise<HostedPoll> {
  const url = `${required(config().hostedUrl, 'HOSTED_INPAINT_URL')}/inpaint/${encodeURIComponent(taskId)}`;
  return call('hosted-inpaint', url, { method: 'GET', headers: await auth() }, hostedPollAnswer);
}

/** Only for tests that change the environment between cases. */
export function resetProviderClients(): void {
  apiKey = undefined;
}
onReset(resetProviderClients);

