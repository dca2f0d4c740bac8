/**
 * What every API command shares: its options (target, --json, --timeout), the client it
 * calls the API with, how it prints, and how its failures become exit codes: 0 ok,
 * 1 the API or the machine said no (message on stderr; with --json the error document on
 * stdout), 2 bad usage (UsageError, left to bin/vto.ts).
 */
import { Option, type Command } from 'commander';
import { ApiClient } from './api-client.ts';
import { CliError } from './errors.ts';
import { secondsOption } from './options.ts';
import { addTargetOptions, resolveTarget, type TargetOptions } from './target.ts';

export interface CommonOptions extends TargetOptions {
  readonly json?: boolean;
  /** Per request, in ms (the option is given in seconds). */
  readonly timeout: number;
}

export const DEFAULT_TIMEOUT_MS = 30_000;

export interface CommandContext {
  readonly json: boolean;
  readonly timeoutMs: number;
  /** The API client, created on first use (the target is resolved then). */
  client(): ApiClient;
  /** Prints the command's answer: `data` as one JSON document with --json, else `human()`. */
  print(data: unknown, human: () => string): void;
  /** A note for people, on stderr; silent with --json. */
  note(line: string): void;
}

/** Adds the shared options to an API command. */
export function apiOptions(cmd: Command): Command {
  return addTargetOptions(cmd)
    .option('--json', 'print one JSON document on stdout instead of tables')
    .addOption(new Option('--timeout <seconds>', 'timeout of each request').argParser(secondsOption('--timeout', 3600)).default(DEFAULT_TIMEOUT_MS, String(DEFAULT_TIMEOUT_MS / 1000)));
}

export function createContext(o: CommonOptions): CommandContext {
  const json = o.json === true;
  let client: ApiClient | undefined;
  return {
    json,
    timeoutMs: o.timeout,
    client: () => (client ??= new ApiClient(resolveTarget(o), { timeoutMs: o.timeout })),
    print(data, human) {
      process.stdout.write(json ? `${JSON.stringify(data)}\n` : `${human()}\n`);
    },
    note(line) {
      if (!json) process.stderr.write(`${line}\n`);
    },
  };
}

/**
 * Runs a command body and sets the exit code: its own (0 when it returns nothing), or 1
 * with the failure in words. UsageErrors and bugs go up to bin/vto.ts.
 */
export async function runCommand(o: CommonOptions, body: (ctx: CommandContext) => Promise<number | void>): Promise<void> {
  const ctx = createContext(o);
  try {
    process.exitCode = (await body(ctx)) ?? 0;
  } catch (e) {
    if (!(e instanceof CliError)) throw e;
    if (ctx.json) process.stdout.write(`${JSON.stringify(e.document())}\n`);
    process.stderr.write(`vto: ${e.message}\n`);
    process.exitCode = 1;
  }
}
