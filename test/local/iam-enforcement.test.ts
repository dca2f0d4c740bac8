/**
 * IAM offline: calls are evaluated against the principal's synthesized policies and
 * refused as AWS refuses them, before anything is sent.
 */
import { DynamoDBServiceException } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BreakerStore } from '../../lambdas/adapters/breaker-store.ts';
import { asPrincipal, type Enforcement } from '../../local/iam/enforce.ts';
import type { Provisioned } from '../../local/provision.ts';
import { provisionFresh } from '../support/aws.ts';
import { enforceIamHere } from '../support/iam.ts';

let resources: Provisioned;
let iam: Enforcement;

beforeAll(async () => {
  resources = await provisionFresh();
  iam = await enforceIamHere();
});

afterAll(() => iam.stop());

describe('a call outside the grants', () => {
  it('refuses SegmentationCall\'s breaker write on the control table as DynamoDB does', async () => {
    // Prepare
    iam.clear();
    const breakers = new BreakerStore({ table: resources.tables.control });
    const table = `arn:aws:dynamodb:us-east-1:000000000000:table/${resources.tables.control}`;

    // Act
    const refused = await asPrincipal('SegmentationCall', () => breakers.onFailure('segmentation')).then(() => undefined, (e: unknown) => e);

    // Assess
    expect(refused).toBeInstanceOf(DynamoDBServiceException);
    expect(refused).toMatchObject({
      name: 'AccessDeniedException',
      $fault: 'client',
      $metadata: { httpStatusCode: 400 },
      message: 'User: arn:aws:sts::000000000000:assumed-role/vto-SegmentationCall-role/vto-SegmentationCall is not authorized to perform: '
        + `dynamodb:PutItem on resource: ${table} because no identity-based policy allows the dynamodb:PutItem action`,
    });
    expect(iam.denials()).toEqual([expect.objectContaining({ principal: 'SegmentationCall', action: 'dynamodb:PutItem', resource: table })]);
  });
});
