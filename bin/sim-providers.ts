#!/usr/bin/env node
/**
 * The simulated providers (segmentation, analyzer, hosted inpaint) as a process:
 * `node bin/sim-providers.ts --port 8190 --profile default`. Prints one JSON line on stdout
 * once it listens ({"url", "urls": {segmentation, analyzer, hosted}}); stops cleanly on
 * SIGTERM / SIGINT (exit 0).
 */
import { Command, InvalidArgumentError } from 'commander';
import { startProviderSims } from '../local/providers/server.ts';
import { DEFAULT_FAULT_SEED, getProfile } from '../local/faults.ts';

const int = (v: string) => {
  if (!/^\d+$/.test(v.trim())) throw new InvalidArgumentError('must be a whole number');
  return Number(v);
};

async function main(): Promise<void> {
  const program = new Command('sim-providers')
    .description('Simulated segmentation, analyzer and hosted inpaint services for the offline runtime')
    .option('--port <n>', 'port; 0 = a free one', int, 0)
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--profile <name>', 'fault profile', 'none')
    .option('--seed <n>', 'fault seed', int, DEFAULT_FAULT_SEED)
    .option('--slow-ms <n>', "delay of 'slow' answers", int, 35_000)
    .option('--retry-after <s>', 'Retry-After seconds of 429 answers', int, 1)
    .option('--hosted-ms <n>', 'time a hosted inpaint task takes', int, 1500)
    .showHelpAfterError();
  program.parse();
  const o = program.opts<{ port: number; host: string; profile: string; seed: number; slowMs: number; retryAfter: number; hostedMs: number }>();
  getProfile(o.profile);
  const sims = await startProviderSims({
    port: o.port, host: o.host, profile: o.profile, seed: o.seed, slowMs: o.slowMs, retryAfterSeconds: o.retryAfter, hostedMs: o.hostedMs,
  });
  const onSignal = () => {
    void sims.stop().then(() => process.exit(0));
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  process.stdout.write(`${JSON.stringify({ url: sims.url, urls: sims.urls, profile: o.profile, seed: o.seed })}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
