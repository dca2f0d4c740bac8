/** Every command of the CLI that calls the API, for bin/vto.ts to register. */
import type { Command } from 'commander';
import { registerClassifierCommands } from './classifier-commands.ts';
import { registerEventCommands } from './event-commands.ts';
import { registerJobCommands } from './job-commands.ts';
import { registerOperationCommands } from './operation-commands.ts';
import { registerPackCommands } from './pack-commands.ts';

export function registerApiCommands(program: Command): void {
  registerPackCommands(program);
  registerJobCommands(program);
  registerOperationCommands(program);
  registerEventCommands(program);
  registerClassifierCommands(program);
}
