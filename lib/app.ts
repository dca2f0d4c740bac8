/**
 * Builds the CDK app: one env-agnostic VtoStack (no account or region lookups, so synth
 * needs no credentials) checked by cdk-nag's AwsSolutions pack, whose unacknowledged
 * findings fail synthesis. Settings come from context: `-c key=value` or cdk.json.
 */
import { App, Duration, Validations, type AppProps } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { DEPLOY_SETTING_KEYS, type DeploySettings } from './settings.ts';
import { VtoStack, type VtoStackProps } from './stack.ts';
import { GPU_FLEET_CONTEXT_KEYS, gpuFleetFromContext } from './gpu-fleet-settings.ts';

const STRING_KEYS = ['segmentationUrl', 'analyzerUrl', 'hostedInpaintUrl', 'hostedInpaintSecretArn', 'sharpLayerArn', 'alarmEmail'] as const;

/** Context keys the app reads (README's deploy section documents each; cdk.json lists them). */
export const CONTEXT_KEYS = [
  'stackName', 'deletionProtection', ...STRING_KEYS, 'watchdogRateMinutes', ...DEPLOY_SETTING_KEYS, ...GPU_FLEET_CONTEXT_KEYS,
] as const;

export const DEFAULT_STACK_NAME = 'Vto';

export class AppContextError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AppContextError';
  }
}

function stringContext(app: App, key: string): string | undefined {
  const v: unknown = app.node.tryGetContext(key);
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw new AppContextError(`context ${key} must be a string, got ${JSON.stringify(v)}`);
  return v;
}

function booleanContext(app: App, key: string): boolean | undefined {
  const v: unknown = app.node.tryGetContext(key);
  if (v === undefined || v === null || v === '') return undefined;
  if (v === true || v === 'true') return true;
  if (v === false || v === 'false') return false;
  throw new AppContextError(`context ${key} must be true or false, got ${JSON.stringify(v)}`);
}

/** A setting's value as the runtime reads it: a string; cdk.json may hold numbers and lists. */
function settingContext(app: App, key: string): string | undefined {
  const v: unknown = app.node.tryGetContext(key);
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v.join(',');
  return stringContext(app, key);
}

/** The stack's props as the context sets them. */
export function stackPropsFromContext(app: App): VtoStackProps {
  const props: Record<string, unknown> = {};
  const deletionProtection = booleanContext(app, 'deletionProtection');
  if (deletionProtection !== undefined) props['deletionProtection'] = deletionProtection;
  for (const key of STRING_KEYS.filter((k) => k !== 'alarmEmail')) {
    const v = stringContext(app, key);
    if (v !== undefined) props[key] = v;
  }
  const observability: Record<string, unknown> = {};
  const alarmEmail = stringContext(app, 'alarmEmail');
  if (alarmEmail !== undefined) observability['alarmEmail'] = alarmEmail;
  const rate = settingContext(app, 'watchdogRateMinutes');
  if (rate !== undefined) {
    if (!/^[1-9][0-9]*$/.test(rate)) throw new AppContextError(`context watchdogRateMinutes must be a whole number of minutes ≥ 1, got ${JSON.stringify(rate)}`);
    observability['watchdogRate'] = Duration.minutes(Number(rate));
  }
  if (Object.keys(observability).length > 0) props['observability'] = observability;
  const settings: DeploySettings = {};
  for (const key of DEPLOY_SETTING_KEYS) {
    const v = settingContext(app, key);
    if (v !== undefined) settings[key] = v;
  }
  if (Object.keys(settings).length > 0) props['settings'] = settings;
  const gpuFleet = gpuFleetFromContext((key) => app.node.tryGetContext(key));
  if (gpuFleet !== undefined) props['gpuFleet'] = gpuFleet;
  return props as VtoStackProps;
}

export interface VtoApp {
  readonly app: App;
  readonly stack: VtoStack;
}

/**
 * @example
 * const { app } = createVtoApp();
 * app.synth(); // throws when cdk-nag reports an unacknowledged finding
 */
export function createVtoApp(appProps: AppProps = {}): VtoApp {
  const app = new App(appProps);
  const stack = new VtoStack(app, stringContext(app, 'stackName') ?? DEFAULT_STACK_NAME, {
    description: 'VTO virtual try-on pipeline: Step Functions machines that recover from their own failures',
    ...stackPropsFromContext(app),
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
  return { app, stack };
}
