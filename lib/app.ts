/**
 * Builds the CDK app: one env-agnostic VtoStack (no account or region lookups, so synth
 * needs no credentials) checked by cdk-nag's AwsSolutions pack, whose unacknowledged
 * findings fail synthesis. Settings come from context: `-c key=value` or cdk.json.
 */
import { App, Validations, type AppProps } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { VtoStack, type VtoStackProps } from './stack.ts';

/** Context keys the app reads, with what each sets. */
export const CONTEXT_KEYS = [
  'stackName', 'deletionProtection', 'segmentationUrl', 'analyzerUrl', 'hostedInpaintUrl',
  'hostedInpaintSecretArn', 'sharpLayerArn', 'sharpLayerDir',
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

/** The stack's props as the context sets them. */
export function stackPropsFromContext(app: App): VtoStackProps {
  const props: Record<string, string | boolean> = {};
  const deletionProtection = booleanContext(app, 'deletionProtection');
  if (deletionProtection !== undefined) props['deletionProtection'] = deletionProtection;
  for (const key of ['segmentationUrl', 'analyzerUrl', 'hostedInpaintUrl', 'hostedInpaintSecretArn', 'sharpLayerArn', 'sharpLayerDir'] as const) {
    const v = stringContext(app, key);
    if (v !== undefined) props[key] = v;
  }
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
