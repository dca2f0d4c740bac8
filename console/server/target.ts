/**
 * Where the console sends its requests and whose credentials sign them: the offline
 * stack's endpoints (local credentials), or a deployed API signed with the standard AWS
 * credential chain (the CLI resolves both: cli/target.ts). Credentials stay in this
 * process; the browser never sees them.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { SigningCredentials } from '../../client/signed-fetch.ts';
import { ConsoleTargetError } from './errors.ts';

export interface ConsoleTarget {
  readonly mode: 'offline' | 'deployed';
  /** The API's root URL with its stage, e.g. https://abc.execute-api.eu-west-1.amazonaws.com/v1 (no trailing slash). */
  readonly apiUrl: string;
  readonly region: string;
  /** Resolved for every request, so rotating credentials (SSO, roles) keep working. */
  readonly credentials: () => Promise<SigningCredentials>;
  /** The local Step Functions endpoint (offline only): execution histories are read from it. */
  readonly stepFunctionsUrl?: string;
  /** The offline stack's local event bus (offline only): a pack's lifecycle events are read from it. */
  readonly eventsUrl?: string;
  /** Where the pre-signed image URLs point (the Content-Security-Policy allows them). */
  readonly imageOrigins: readonly string[];
}

const httpUrl = z.string().refine((s) => {
  try {
    const u = new URL(s);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}, 'must be an http(s) URL');

const endpointsSchema = z.object({
  region: z.string().min(1),
  credentials: z.object({ accessKeyId: z.string().min(1), secretAccessKey: z.string().min(1) }),
  api: httpUrl,
  stepFunctions: httpUrl.optional(),
  events: httpUrl.optional(),
  s3: httpUrl.optional(),
});

const trimSlash = (s: string) => s.replace(/\/+$/, '');
const originOf = (s: string) => new URL(s).origin;

/** The offline stack's endpoints (the object `npm start -- --serve` writes). */
export function targetFromEndpoints(endpoints: unknown, source = 'the endpoints'): ConsoleTarget {
  const r = endpointsSchema.safeParse(endpoints);
  if (!r.success) {
    const issues = r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new ConsoleTargetError(`${source} cannot be used: ${issues}`);
  }
  const e = r.data;
  const credentials = { accessKeyId: e.credentials.accessKeyId, secretAccessKey: e.credentials.secretAccessKey };
  return {
    mode: 'offline',
    apiUrl: trimSlash(e.api),
    region: e.region,
    credentials: () => Promise.resolve(credentials),
    ...(e.stepFunctions !== undefined && { stepFunctionsUrl: trimSlash(e.stepFunctions) }),
    ...(e.events !== undefined && { eventsUrl: trimSlash(e.events) }),
    imageOrigins: e.s3 === undefined ? [] : [originOf(e.s3)],
  };
}

/**
 * What only the console needs from an offline stack's endpoints file, besides the API and
 * credentials the CLI reads: the local Step Functions endpoint, the local event bus and the
 * S3 origin. Missing or unreadable, the console still works, without local histories or
 * events and with images off.
 */
export function offlineExtras(file: string): Pick<ConsoleTarget, 'stepFunctionsUrl' | 'eventsUrl' | 'imageOrigins'> {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return { imageOrigins: [] };
  }
  const r = z.object({ stepFunctions: httpUrl.optional(), events: httpUrl.optional(), s3: httpUrl.optional() }).safeParse(json);
  if (!r.success) return { imageOrigins: [] };
  return {
    ...(r.data.stepFunctions !== undefined && { stepFunctionsUrl: trimSlash(r.data.stepFunctions) }),
    ...(r.data.events !== undefined && { eventsUrl: trimSlash(r.data.events) }),
    imageOrigins: r.data.s3 === undefined ? [] : [originOf(r.data.s3)],
  };
}

/** Pre-signed S3 URLs of a deployed stack: virtual-hosted or path style, any region. */
export const DEPLOYED_IMAGE_ORIGINS = ['https://*.amazonaws.com'] as const;
