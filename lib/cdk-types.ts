/**
 * aws-cdk-lib's classes declare some optional members as `T | undefined` where the
 * interfaces they implement say `T` (e.g. Bucket.isWebsite, Secret.secretFullArn, Vpc.vpnGatewayId, Cluster.defaultCloudMapNamespace), so
 * under exactOptionalPropertyTypes a class does not type-check as its own interface.
 * These views are the same object; only the static type widens.
 */
import type { IVpc, Vpc } from 'aws-cdk-lib/aws-ec2';
import type { Cluster, ICluster } from 'aws-cdk-lib/aws-ecs';
import type { Bucket, IBucket } from 'aws-cdk-lib/aws-s3';
import type { ISecret, Secret } from 'aws-cdk-lib/aws-secretsmanager';

export const bucketView = (bucket: Bucket): IBucket => bucket as unknown as IBucket;
export const secretView = (secret: Secret): ISecret => secret as unknown as ISecret;
export const vpcView = (vpc: Vpc): IVpc => vpc as unknown as IVpc;
export const clusterView = (cluster: Cluster): ICluster => cluster as unknown as ICluster;
