/**
 * The Task resources this service runs, parsed from the ASL `Resource` field.
 */
export type IntegrationPattern = 'request-response' | 'callback' | 'sync' | 'sync2';

export type TaskResource =
  | { readonly kind: 'lambda-invoke'; readonly pattern: 'request-response' | 'callback'; readonly arn: string }
  | { readonly kind: 'lambda-function'; readonly functionArn: string; readonly arn: string }
  | { readonly kind: 'sqs-send'; readonly pattern: 'request-response' | 'callback'; readonly arn: string }
  | { readonly kind: 'start-execution'; readonly pattern: IntegrationPattern; readonly arn: string };

export class UnsupportedResource extends Error {
  override readonly name = 'UnsupportedResource';
}

const INTEGRATION = /^arn:aws[a-z-]*:states:::([a-z0-9-]+):([A-Za-z]+)(\.waitForTaskToken|\.sync:2|\.sync)?$/;
const LAMBDA_FUNCTION = /^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]+(?::[A-Za-z0-9_$-]+)?$/;

function patternOf(suffix: string | undefined): IntegrationPattern {
  if (suffix === '.waitForTaskToken') return 'callback';
  if (suffix === '.sync:2') return 'sync2';
  if (suffix === '.sync') return 'sync';
  return 'request-response';
}

export function parseResource(arn: string): TaskResource {
  if (LAMBDA_FUNCTION.test(arn)) return { kind: 'lambda-function', functionArn: arn, arn };
  const m = INTEGRATION.exec(arn);
  if (m) {
    const [, service, action] = m;
    const pattern = patternOf(m[3]);
    if (service === 'lambda' && action === 'invoke' && (pattern === 'request-response' || pattern === 'callback')) {
      return { kind: 'lambda-invoke', pattern, arn };
    }
    if (service === 'sqs' && action === 'sendMessage' && (pattern === 'request-response' || pattern === 'callback')) {
      return { kind: 'sqs-send', pattern, arn };
    }
    if (service === 'states' && action === 'startExecution') return { kind: 'start-execution', pattern, arn };
  }
  throw new UnsupportedResource(
    `Resource '${arn}' is not supported locally; supported: lambda:invoke[.waitForTaskToken], a Lambda function ARN, ` +
      'sqs:sendMessage[.waitForTaskToken], states:startExecution[.sync|.sync:2|.waitForTaskToken]',
  );
}

/** History events name the service and the action separately: `lambda` + `invoke.waitForTaskToken`. */
export function historyResource(resource: TaskResource): { resourceType: string; resource: string } {
  const m = /^arn:aws[a-z-]*:states:::([a-z0-9-]+):(.+)$/.exec(resource.arn);
  return m ? { resourceType: m[1] ?? '', resource: m[2] ?? '' } : { resourceType: 'lambda', resource: resource.arn };
}
