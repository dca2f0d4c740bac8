/**
 * Where the CLI sends its requests and what it signs them with: the offline stack named
 * by the endpoints file `npm start -- --serve` writes (default), or a deployed API given
 * by `--endpoint URL` and signed with the standard AWS credential chain.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { z } from 'zod';
import type { SigningCredentials } from '../client/signed-fetch.ts';
import { formatPath } from './classify.ts';
import { CliError, NoCredentialsError, NoStackError, UsageError } from './errors.ts';

export const DEFAULT_ENDPOINTS_FILE = fileURLToPath(new URL('../.vto/endpoints.json', import.meta.url));

export const START_HINT = 'npm start -- --serve';

export interface TargetOptions {
  /** The endpoints file of an offline stack. @default .vto/endpoints.json */
  readonly endpoints?: string;
  /** A deployed API's invoke URL, stage included. */
  readonly endpoint?: string;
  readonly region?: string;
  /** An AWS profile for the credential chain (deployed API only). */
  readonly profile?: string;
}

export interface ApiTarget {
  /** The API root with its stage and no trailing slash, e.g. http://127.0.0.1:PORT/v1. */
  readonly url: string;
  readonly region: string;
  /** True for the offline stack: its messages say how to start it. */
  readonly offline: boolean;
  /** Where the target came from, for messages. */
  readonly source: string;
  credentials(): Promise<SigningCredentials>;
  /** The offline stack's local event bus (`vto events tail`). */
  readonly eventsUrl?: string;
}

/** The options every API command takes; the console command may take them too. */
export function addTargetOptions(cmd: Command): Command {
  return cmd
    .option('--endpoints <file>', `endpoints file of the offline stack (default: .vto/endpoints.json, written by \`${START_HINT}\`)`)
    .option('--endpoint <url>', 'a deployed API\'s invoke URL with its stage, e.g. https://abc123.execute-api.eu-west-1.amazonaws.com/v1')
    .option('--region <region>', 'region of the deployed API (default: from the URL, or AWS_REGION)')
    .option('--profile <name>', 'AWS profile to sign with (deployed API; default: the standard credential chain)');
}

const endpointsFileSchema = z.object({
  api: z.url().optional(),
  events: z.url().optional(),
  region: z.string().min(1),
  credentials: z.object({ accessKeyId: z.string().min(1), secretAccessKey: z.string().min(1), sessionToken: z.string().optional() }),
});

const REGION_IN_HOST = /\.execute-api\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$/;

function readEndpointsFile(file: string): z.infer<typeof endpointsFileSchema> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new NoStackError(`no offline stack found: start it with \`${START_HINT}\` (no endpoints file at ${file})`);
    throw new CliError('EndpointsUnreadable', `cannot read the endpoints file ${file} (${code ?? (e as Error).message})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new CliError('EndpointsInvalid', `${file} is not valid JSON (${(e as Error).message}); restart the stack with \`${START_HINT}\``);
  }
  const parsed = endpointsFileSchema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${formatPath(i.path) || '(root)'}: ${i.message}`).join('; ');
    throw new CliError('EndpointsInvalid', `${file} is not an endpoints file (${issues}); restart the stack with \`${START_HINT}\``);
  }
  return parsed.data;
}

function deployedRegion(url: URL, o: TargetOptions, env: NodeJS.ProcessEnv): string {
  const region = o.region ?? REGION_IN_HOST.exec(url.hostname)?.[1] ?? env['AWS_REGION'] ?? env['AWS_DEFAULT_REGION'];
  if (region === undefined || region === '') throw new UsageError(`--endpoint ${url.href}: give the API's region with --region (it is not in the host name and AWS_REGION is not set)`);
  return region;
}

/** The standard AWS credential chain, loaded only when a deployed API is called. */
function chainCredentials(profile: string | undefined): () => Promise<SigningCredentials> {
  let pending: Promise<SigningCredentials> | undefined;
  return () => {
    pending ??= (async () => {
      const { fromNodeProviderChain } = await import('@aws-sdk/credential-providers');
      try {
        const c = await fromNodeProviderChain(profile === undefined ? {} : { profile })();
        return { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey, ...(c.sessionToken !== undefined && { sessionToken: c.sessionToken }) };
      } catch (e) {
        throw new NoCredentialsError(
          `no AWS credentials to sign with${profile === undefined ? '' : ` (profile ${profile})`}: ${(e as Error).message}. ` +
          'Configure them as for the AWS CLI (environment variables, AWS_PROFILE, `aws sso login`).', e);
      }
    })();
    return pending;
  };
}

export function resolveTarget(o: TargetOptions, env: NodeJS.ProcessEnv = process.env): ApiTarget {
  if (o.endpoint !== undefined) {
    if (o.endpoints !== undefined) throw new UsageError('give either --endpoint (a deployed API) or --endpoints (an offline stack), not both');
    let url: URL;
    try {
      url = new URL(o.endpoint);
    } catch {
      throw new UsageError(`--endpoint ${o.endpoint}: not a URL (expected e.g. https://abc123.execute-api.eu-west-1.amazonaws.com/v1)`);
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new UsageError(`--endpoint ${o.endpoint}: must be an http(s) URL`);
    return {
      url: url.href.replace(/\/+$/, ''),
      region: deployedRegion(url, o, env),
      offline: false,
      source: '--endpoint',
      credentials: chainCredentials(o.profile),
    };
  }
  if (o.region !== undefined || o.profile !== undefined) throw new UsageError('--region and --profile go with --endpoint (a deployed API); the offline stack\'s are in its endpoints file');
  const file = o.endpoints ?? DEFAULT_ENDPOINTS_FILE;
  const e = readEndpointsFile(file);
  if (e.api === undefined) throw new NoStackError(`the offline stack in ${file} serves no API: restart it with \`${START_HINT}\``);
  const credentials: SigningCredentials = {
    accessKeyId: e.credentials.accessKeyId,
    secretAccessKey: e.credentials.secretAccessKey,
    ...(e.credentials.sessionToken !== undefined && { sessionToken: e.credentials.sessionToken }),
  };
  return {
    url: e.api.replace(/\/+$/, ''), region: e.region, offline: true, source: file, credentials: () => Promise.resolve(credentials),
    ...(e.events !== undefined && { eventsUrl: e.events.replace(/\/+$/, '') }),
  };
}
