/**
 * `vto console`: serves the operator console on 127.0.0.1 and prints its URL (it opens
 * nothing). It takes the same target options as the API commands (cli/target.ts): the
 * offline stack's endpoints file by default, or a deployed API with --endpoint, signed with
 * the standard AWS credential chain. Either way the credentials stay in this process.
 */
import type { Command } from 'commander';
import { DEFAULT_CONSOLE_PORT, startConsoleServer, type ConsoleServer } from '../console/server/server.ts';
import { DEPLOYED_IMAGE_ORIGINS, offlineExtras, type ConsoleTarget } from '../console/server/target.ts';
import { CliError, UsageError } from './errors.ts';
import { addTargetOptions, resolveTarget, type TargetOptions } from './target.ts';

export { DEFAULT_CONSOLE_PORT };

export interface ConsoleCommandOptions extends TargetOptions {
  readonly port?: string;
}

export function parsePort(text: string | undefined): number {
  if (text === undefined) return DEFAULT_CONSOLE_PORT;
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65_535) throw new UsageError(`--port ${text.slice(0, 20)}: must be a port number 0–65535 (0 picks a free one)`);
  return Number(text);
}

/** The console's target: the CLI's (API URL, region, credentials) plus, offline, the local Step Functions and S3 endpoints. */
export function consoleTarget(o: TargetOptions, env: NodeJS.ProcessEnv = process.env): ConsoleTarget {
  const t = resolveTarget(o, env);
  const base = { apiUrl: t.url, region: t.region, credentials: () => t.credentials() };
  return t.offline
    ? { mode: 'offline', ...base, ...offlineExtras(t.source) }
    : { mode: 'deployed', ...base, imageOrigins: [...DEPLOYED_IMAGE_ORIGINS] };
}

/** Starts the console and serves until `until` settles (by default SIGINT or SIGTERM). */
export async function runConsole(o: ConsoleCommandOptions, io: {
  out?: (s: string) => void;
  err?: (s: string) => void;
  until?: Promise<unknown>;
  env?: NodeJS.ProcessEnv;
} = {}): Promise<void> {
  const out = io.out ?? ((s) => process.stdout.write(s));
  const err = io.err ?? ((s) => process.stderr.write(s));
  const port = parsePort(o.port);
  const target = consoleTarget(o, io.env);
  let server: ConsoleServer;
  try {
    server = await startConsoleServer({ target, port });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EADDRINUSE') throw new UsageError(`port ${port} is in use: pass --port N (or --port 0 for a free one)`);
    throw e;
  }
  err(`vto console: ${target.mode} API ${target.apiUrl} (${target.region}); requests are signed here, credentials never reach the browser. Ctrl-C stops.\n`);
  out(`${server.url}\n`);
  const until = io.until ?? new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  try {
    await until;
  } finally {
    await server.stop();
  }
}

export function registerConsoleCommand(program: Command): void {
  addTargetOptions(program
    .command('console')
    .description('Serve the operator console (packs, job recovery paths, statistics and health) on 127.0.0.1 and print its URL')
    .option('--port <n>', `port on 127.0.0.1 (0 picks a free one; default ${DEFAULT_CONSOLE_PORT})`))
    .action(async (o: ConsoleCommandOptions) => {
      try {
        await runConsole(o);
      } catch (e) {
        if (!(e instanceof CliError)) throw e;
        process.stderr.write(`vto: ${e.message}\n`);
        process.exitCode = 1;
      }
    });
}
