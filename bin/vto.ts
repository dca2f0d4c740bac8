#!/usr/bin/env node
/** The operator CLI: `npx vto <command>`. */
import { Command, CommanderError } from 'commander';
import { UsageError, classifyText, readStdin } from '../cli/classify.ts';
import { registerApiCommands } from '../cli/commands.ts';
import { registerConsoleCommand } from '../cli/console.ts';
import { ERROR_NAMES, entryFor } from '../core/taxonomy.ts';

const program = new Command()
  .name('vto')
  .description('Operate the VTO resilient pipeline')
  .exitOverride()
  .configureOutput({ writeErr: (s) => process.stderr.write(s) });

program
  .command('classify')
  .description('Classify a raw error text as the pipeline would: prints {"name","family","recoverable","strategy","matched"}')
  .option('-t, --text <text>', 'the error text (default: read standard input)')
  .option('-p, --patterns <file>', 'JSON file of extra patterns: [{"name","pattern","flags"?}]')
  .option('--list', 'list the taxonomy instead of classifying')
  .action(async (opts: { text?: string; patterns?: string; list?: boolean }) => {
    if (opts.list) {
      for (const name of ERROR_NAMES) {
        const e = entryFor(name);
        process.stdout.write(`${JSON.stringify({ name, family: e.family, recoverable: e.recoverable, strategy: e.strategy, description: e.description })}\n`);
      }
      return;
    }
    const text = opts.text ?? (await readStdin(process.stdin));
    process.stdout.write(`${JSON.stringify(classifyText(text, opts.patterns))}\n`);
  });

// packs, jobs, stats, health, emergency-stop, resume: the API, signed (cli/commands.ts).
registerApiCommands(program);
// console: the operator web console on 127.0.0.1 (cli/console.ts).
registerConsoleCommand(program);

async function main(): Promise<void> {
  try {
    await program.parseAsync(process.argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      process.exit(e.exitCode === 0 ? 0 : 2);
    }
    if (e instanceof UsageError) {
      process.stderr.write(`vto: ${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`vto: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
