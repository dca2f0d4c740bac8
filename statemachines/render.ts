/**
 * Renders the machines to statemachines/*.asl.json (committed, readable in Workflow
 * Studio), or with --check fails when the committed files drift from the builders.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { STATE_MACHINES } from '../core/resources.ts';
import type { StateMachineDefinition } from './asl-types.ts';
import { buildJobMachine } from './job.ts';
import { buildPackMachine } from './pack.ts';

export const BUILDERS: Record<keyof typeof STATE_MACHINES, () => StateMachineDefinition> = {
  pack: buildPackMachine,
  job: buildJobMachine,
};

export const aslPath = (key: keyof typeof STATE_MACHINES) =>
  fileURLToPath(new URL(`./${STATE_MACHINES[key].file}`, import.meta.url));

export const renderAsl = (def: StateMachineDefinition) => `${JSON.stringify(def, null, 2)}\n`;

function main(): void {
  const check = process.argv.includes('--check');
  let drift = false;
  for (const key of Object.keys(BUILDERS) as (keyof typeof STATE_MACHINES)[]) {
    const text = renderAsl(BUILDERS[key]());
    const path = aslPath(key);
    if (check) {
      let current = '';
      try { current = readFileSync(path, 'utf8'); } catch { /* missing counts as drift */ }
      if (current !== text) {
        drift = true;
        console.error(`${STATE_MACHINES[key].file} is out of date: run \`npm run render\` and commit it.`);
      }
    } else {
      writeFileSync(path, text);
      console.log(`wrote ${path}`);
    }
  }
  if (drift) process.exit(1);
}

if (import.meta.url === `file://${process.argv[1]}`) main();
