/**
 * docs/events/*.schema.json from the lifecycle detail schemas (core/lifecycle.ts), so the
 * documented contract cannot drift from what is emitted. `node core/lifecycle-schemas.ts`
 * writes them; `--check` fails when they are out of date (the test runs it).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { DETAIL_VERSION, EVENT_SOURCE, JOB_EVENT_TYPES, PACK_EVENT_TYPES, detailTypeOf, jobEventDetailSchema, packEventDetailSchema, type EventType } from './lifecycle.ts';

const dir = fileURLToPath(new URL('../docs/events/', import.meta.url));

export function renderEventSchemas(): Record<string, string> {
  const doc = (name: string, schema: z.ZodType, types: readonly EventType[]) => `${JSON.stringify({
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: `https://vto.example/events/${name}.v${DETAIL_VERSION}.schema.json`,
    title: `VTO ${name} event detail, version ${DETAIL_VERSION}`,
    description: `The \`detail\` of EventBridge events with source "${EVENT_SOURCE}" and detail-type one of: ${types.map(detailTypeOf).join(', ')}. ` +
      'Webhook deliveries POST this object as their body.',
    ...z.toJSONSchema(schema, { target: 'draft-2020-12' }),
  }, null, 2)}\n`;
  return {
    'pack-event.schema.json': doc('pack', packEventDetailSchema, PACK_EVENT_TYPES),
    'job-event.schema.json': doc('job', jobEventDetailSchema, JOB_EVENT_TYPES),
  };
}

function main(): void {
  const check = process.argv.includes('--check');
  for (const [file, text] of Object.entries(renderEventSchemas())) {
    const path = `${dir}${file}`;
    if (check) {
      let current = '';
      try { current = readFileSync(path, 'utf8'); } catch { /* missing counts as drift */ }
      if (current !== text) {
        console.error(`docs/events/${file} is out of date: run \`npm run render:events\` and commit it.`);
        process.exit(1);
      }
    } else {
      writeFileSync(path, text);
      console.log(`wrote ${path}`);
    }
  }
}

if (import.meta.url === `file://${process.argv[1]}`) main();
