/**
 * The state-machine functions: one PipelineFunction per entry of lambdas/catalog.ts, each
 * granted exactly the access its entry declares (the union of what its adapters declare). Every function gets the names of
 * all tables and the bucket (the handlers' config schema requires them; names are not
 * access), the provider base URLs it calls, and the hosted API key's secret ARN if it
 * calls the hosted API; never the key itself.
 */
import { RemovalPolicy, Token } from 'aws-cdk-lib';
import type { IFunction, ILayerVersion } from 'aws-cdk-lib/aws-lambda';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { BUCKETS, SECRETS, TABLES } from '../core/resources.ts';
import { STATE_FUNCTION_DEFS, type Provider } from '../lambdas/catalog.ts';
import { STATE_FUNCTIONS, type StateFunctionId } from '../statemachines/tasks.ts';
import type { PipelineData, TableKey } from './data.ts';
import { grantAccess } from './grants.ts';
import { PipelineFunction } from './pipeline-function.ts';

/** The environment variable each provider's base URL goes in (adapters/config.ts). */
export const PROVIDER_ENV: Readonly<Record<Provider, string>> = {
  segmentation: 'SEGMENTATION_URL',
  analyzer: 'ANALYZER_URL',
  hostedInpaint: 'HOSTED_INPAINT_URL',
};
/** The environment variable holding the ARN of the hosted inpaint API key's secret. */
export const HOSTED_INPAINT_SECRET_ENV = SECRETS.hostedInpaint.envVar;

export interface ProviderEndpoints {
  /**
   * Base URL of the segmentation service (`POST {url}/segment`).
   * @default - unset: segmentation fails with a ConfigError naming SEGMENTATION_URL
   */
  readonly segmentationUrl?: string;
  /**
   * Base URL of the analyzer (`POST {url}/analyze`).
   * @default - unset: QA scores without an analyzer verdict
   */
  readonly analyzerUrl?: string;
  /**
   * Base URL of the hosted inpaint API (`POST {url}/inpaint`, `GET {url}/inpaint/{id}`).
   * @default - unset: the hosted path fails with a ConfigError naming HOSTED_INPAINT_URL
   */
  readonly hostedInpaintUrl?: string;
}

export interface StateFunctionsProps extends ProviderEndpoints {
  /** The tables, bucket and queues the functions use. */
  readonly data: PipelineData;
  /** The secret holding the hosted inpaint API key; hosted functions may read it. */
  readonly hostedInpaintApiKey: ISecret;
  /**
   * A layer providing `sharp` for linux-arm64 at /opt/nodejs/node_modules (bundles leave it out).
   * @default - none: image functions fail to load sharp on Lambda until one is given
   */
  readonly sharpLayer?: ILayerVersion;
  /**
   * Extra settings for every function, e.g. `VTO_MODEL_CHAIN` (see adapters/config.ts).
   * @default - none
   */
  readonly environment?: Readonly<Record<string, string>>;
  /**
   * How long function logs are kept.
   * @default RetentionDays.THREE_MONTHS
   */
  readonly logRetention?: RetentionDays;
  /**
   * What happens to the log groups when the stack is deleted.
   * @default RemovalPolicy.RETAIN
   */
  readonly logRemovalPolicy?: RemovalPolicy;
}

export class ProviderUrlError extends Error {
  constructor(prop: string, value: string) {
    super(`${prop} must be an https URL without a trailing slash, got "${value}"`);
    this.name = 'ProviderUrlError';
  }
}

function checkedUrl(prop: string, value: string): string {
  if (Token.isUnresolved(value)) return value;
  let url: URL | undefined;
  try { url = new URL(value); } catch { url = undefined; }
  if (url?.protocol !== 'https:' || value.endsWith('/')) throw new ProviderUrlError(prop, value);
  return value;
}

export class StateFunctions extends Construct {
  public readonly functions: Readonly<Record<StateFunctionId, PipelineFunction>>;

  constructor(scope: Construct, id: string, props: StateFunctionsProps) {
    super(scope, id);
    const { data } = props;
    const urls: Partial<Record<Provider, string>> = {};
    if (props.segmentationUrl !== undefined) urls.segmentation = checkedUrl('segmentationUrl', props.segmentationUrl);
    if (props.analyzerUrl !== undefined) urls.analyzer = checkedUrl('analyzerUrl', props.analyzerUrl);
    if (props.hostedInpaintUrl !== undefined) urls.hostedInpaint = checkedUrl('hostedInpaintUrl', props.hostedInpaintUrl);

    const names: Record<string, string> = { [BUCKETS.artifacts.envVar]: data.artifacts.bucketName };
    for (const key of Object.keys(TABLES) as TableKey[]) names[TABLES[key].envVar] = data.tables[key].tableName;

    const build = (fn: StateFunctionId): PipelineFunction => {
      const def = STATE_FUNCTION_DEFS[fn];
      const providers = def.providers ?? [];
      const readsSecret = def.access.some((g) => g.on === 'secret:hostedInpaint');
      const environment: Record<string, string> = { ...props.environment, ...names };
      for (const p of providers) {
        const url = urls[p];
        if (url !== undefined) environment[PROVIDER_ENV[p]] = url;
      }
      if (readsSecret) environment[HOSTED_INPAINT_SECRET_ENV] = props.hostedInpaintApiKey.secretArn;

      const f = new PipelineFunction(this, fn, {
        entry: def.entry,
        description: def.description,
        ...(def.memoryMiB === undefined ? {} : { memoryMiB: def.memoryMiB }),
        ...(def.timeoutSeconds === undefined ? {} : { timeoutSeconds: def.timeoutSeconds }),
        environment,
        layers: props.sharpLayer === undefined ? [] : [props.sharpLayer],
        ...(props.logRetention === undefined ? {} : { logRetention: props.logRetention }),
        logRemovalPolicy: props.logRemovalPolicy ?? RemovalPolicy.RETAIN,
      });
      grantAccess(f, def.access, { data, secrets: { hostedInpaint: props.hostedInpaintApiKey } });
      return f;
    };
    const functions = {} as Record<StateFunctionId, PipelineFunction>;
    for (const fn of STATE_FUNCTIONS) functions[fn] = build(fn);
    this.functions = functions;
  }

  /** The Lambda functions by id, as the state machines take them. */
  public lambdas(): Record<StateFunctionId, IFunction> {
    const out = {} as Record<StateFunctionId, IFunction>;
    for (const fn of STATE_FUNCTIONS) out[fn] = this.functions[fn].function;
    return out;
  }
}
