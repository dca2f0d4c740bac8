/**
 * Renders the machines to statemachines/*.asl.json (committed, readable in Workflow
 * Studio), or with --check fails when the committed files drift from the builders.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { STATE_MACHINES } from '../core/resources.ts';
import type { StateMachineDefinition } from './asl-types.ts';
import { buildBaselineJobMachine } from './baseline.ts';
import { buildJobMachine } from './job.ts';
import { buildPackMachine } from './pack.ts';

export const BUILDERS: Record<keyof typeof STATE_MACHINES, () => StateMachineDefinition> = {
  pack: buildPackMachine,
  job: buildJobMachine,
};

export const aslPath = (key: keyof typeof STATE_MACHINES) =>
  fileURLToPath(new URL(`./${STATE_MACHINES[key].file}`, import.meta.url));

export const renderAsl = (def: StateMachineDefinition) => `${JSON.stringify(def, null, 2)}\n`;

/** Machines that are rendered and checked but not deployed (file name → builder). */
export const BENCH_BUILDERS: Record<string, () => StateMachineDefinition> = {
  'baseline.asl.json': buildBaselineJobMachine,
};

const outputs = (): { file: string; path: string; build: () => StateMachineDefinition }[] => [
  ...(Object.keys(BUILDERS) as (keyof typeof STATE_MACHINES)[]).map((key) => ({ file: STATE_MACHINES[key].file, path: aslPath(key), build: BUILDERS[key] })),
  ...Object.entries(BENCH_BUILDERS).map(([file, build]) => ({ file, path: fileURLToPath(new URL(`./${file}`, import.meta.url)), build })),
];

function main(): void {
  const check = process.argv.includes('--check');
  let drift = false;
  for (const { file, path, build } of outputs()) {
    const text = renderAsl(build());
    if (check) {
      let current = '';
      try { current = readFileSync(path, 'utf8'); } catch { /* missing counts as drift */ }
      if (current !== text) {
        drift = true;
        console.error(`${file} is out of date: run \`npm run render\` and commit it.`);
      }
    } else {
      writeFileSync(path, text);
      console.log(`wrote ${path}`);
    }
  }
  if (drift) process.exit(1);
}

if (import.meta.url === `file://${process.argv[1]}`) main();
