/**
 * cdk-nag acknowledgements, written next to the grant or setting that causes each finding.
 *
 * cdk-nag 3 reads acknowledgements from construct metadata (`Validations.of(x).acknowledge`)
 * on the flagged resource or any of its ancestors, one per finding: an IAM5 finding names the
 * exact action or resource (`AwsSolutions-IAM5[Resource::<JobsTable1A2B.Arn>/index/*]`), so
 * an acknowledgement never hides a wildcard nobody has read.
 */
import { CfnResource, Stack, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

export interface Acknowledgement {
  /** The cdk-nag finding id, e.g. `AwsSolutions-S1` or `AwsSolutions-IAM5[Resource::*]`. */
  readonly id: string;
  /** Why the finding is acceptable here; read by reviewers and auditors. */
  readonly reason: string;
}

export class EmptyAcknowledgementReasonError extends Error {
  constructor(id: string) {
    super(`The acknowledgement of ${id} needs a reason`);
    this.name = 'EmptyAcknowledgementReasonError';
  }
}

/** Records acknowledgements on `scope`; each must carry a reason. */
export function acknowledge(scope: IConstruct, ...acks: readonly Acknowledgement[]): void {
  for (const ack of acks) {
    if (ack.reason.trim() === '') throw new EmptyAcknowledgementReasonError(ack.id);
  }
  Validations.of(scope).acknowledge(...acks);
}

/**
 * How cdk-nag prints a reference to `construct`'s CloudFormation resource inside a finding:
 * `<LogicalId>` for a Ref, `<LogicalId.Attr>` for a GetAtt.
 *
 * @example wildcard(`${nagRef(table, 'Arn')}/index/*`)
 */
export function nagRef(construct: IConstruct, attribute?: string): string {
  const resource = construct instanceof CfnResource ? construct : construct.node.defaultChild;
  if (!(resource instanceof CfnResource)) {
    throw new TypeError(`${construct.node.path} has no CloudFormation resource to reference`);
  }
  const logicalId = Stack.of(resource).resolve(resource.logicalId) as string;
  return attribute === undefined ? `<${logicalId}>` : `<${logicalId}.${attribute}>`;
}

/** The IAM5 finding id of a wildcard resource, e.g. `AwsSolutions-IAM5[Resource::*]`. */
export const wildcardResource = (resource: string) => `AwsSolutions-IAM5[Resource::${resource}]`;

/** The IAM5 finding id of a wildcard action, e.g. `AwsSolutions-IAM5[Action::s3:List*]`. */
export const wildcardAction = (action: string) => `AwsSolutions-IAM5[Action::${action}]`;

/** X-Ray's write actions have no resource-level permissions, so their grant is always on `*`. */
export const XRAY_ACKNOWLEDGEMENT: Acknowledgement = {
  id: wildcardResource('*'),
  reason: 'X-Ray PutTraceSegments/PutTelemetryRecords/GetSampling* support no resource-level permissions; AWS documents Resource "*" for them.',
};
