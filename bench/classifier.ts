/**
 * `npm run bench:classifier`: the built-in classifier on the public corpus of real failure
 * texts (test/fixtures/errors/public), dev part and held-out part apart. Prints, per part,
 * the corpus size, the share named right, false recoveries (a non-recoverable text named
 * recoverable), recoverable texts left unrecovered, and the confusion between families;
 * `--misses` lists every miss with the rule that decided it.
 *
 * Rules are tuned on the dev part only: `--part dev` is the tuning loop, the held-out part
 * is scored once the rules are settled.
 *
 *   npm run bench:classifier -- [--part dev|heldout|all] [--misses] [--json]
 */
import { parseArgs } from 'node:util';
import { classify } from '../core/classifier.ts';
import { FAMILIES } from '../core/taxonomy.ts';
import { loadPublicCorpus, type PublicPart } from './public-corpus.ts';
import { percent, score, type Miss, type Score } from './classifier-score.ts';

function printScore(part: PublicPart, s: Score, misses: boolean): void {
  console.log(`\n== ${part}: ${s.size} texts`);
  console.log(`named right        ${s.right}/${s.size} (${percent(s.right, s.size)} %)`);
  console.log(`false recoveries   ${s.falseRecoveries.length}`);
  console.log(`left unrecovered   ${s.unrecovered.length}`);
  const used = FAMILIES.filter((f) => s.confusion.has(f) || [...s.confusion.values()].some((row) => row.has(f)));
  console.log(`\nexpected \\ named   ${used.map((f) => f.slice(0, 9).padStart(10)).join('')}`);
  for (const want of used) {
    const row = s.confusion.get(want);
    if (row === undefined) continue;
    console.log(`${want.padEnd(18)}${used.map((got) => String(row.get(got) ?? '.').padStart(10)).join('')}`);
  }
  const list = (title: string, ms: readonly Miss[]) => {
    if (ms.length === 0) return;
    console.log(`\n${title}`);
    for (const m of ms) {
      const text = m.text.replace(/\s+/g, ' ').slice(0, 140);
      console.log(`  ${m.key}  ${m.expected} → ${m.got}  [${m.matched ?? 'no rule'}]\n      ${text}`);
    }
  };
  list('false recoveries:', s.falseRecoveries);
  if (misses) list('misses:', s.misses);
}

function main(): void {
  const { values } = parseArgs({
    options: {
      part: { type: 'string', default: 'all' },
      misses: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
  });
  const part = values.part;
  if (part !== 'dev' && part !== 'heldout' && part !== 'all') throw new Error(`--part must be dev, heldout or all (got ${part})`);
  const parts: PublicPart[] = part === 'all' ? ['dev', 'heldout'] : [part];
  const results = parts.map((p) => ({ part: p, score: score(loadPublicCorpus(p), (t) => classify(t)) }));
  if (values.json) {
    console.log(JSON.stringify(results.map(({ part: p, score: s }) => ({
      part: p, size: s.size, right: s.right, namedRightPercent: percent(s.right, s.size),
      falseRecoveries: s.falseRecoveries.length, unrecovered: s.unrecovered.length,
    }))));
    return;
  }
  for (const r of results) printScore(r.part, r.score, values.misses);
}

main();
