/**
 * Placeholders in a workflow: `{{name}}` strings in node inputs stand for input images,
 * replaced by the names ComfyUI gave the uploaded files.
 */
import type { Workflow } from '../core/gpu-message.ts';

const PLACEHOLDER = /\{\{\s*([\w.-]+)\s*\}\}/g;

function mapStrings(v: unknown, f: (s: string) => string): unknown {
  if (typeof v === 'string') return f(v);
  if (Array.isArray(v)) return v.map((x) => mapStrings(x, f));
  if (v !== null && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, mapStrings(x, f)]));
  }
  return v;
}

/** Every placeholder name the workflow's inputs use. */
export function placeholdersIn(workflow: Workflow): Set<string> {
  const found = new Set<string>();
  mapStrings(Object.values(workflow).map((n) => n.inputs), (s) => {
    for (const m of s.matchAll(PLACEHOLDER)) if (m[1] !== undefined) found.add(m[1]);
    return s;
  });
  return found;
}

/** A copy of the workflow with each `{{name}}` replaced by `names[name]`; unknown names stay. */
export function substitutePlaceholders(workflow: Workflow, names: Readonly<Record<string, string>>): Workflow {
  const out: Workflow = {};
  for (const [id, node] of Object.entries(workflow)) {
    out[id] = {
      ...node,
      inputs: mapStrings(node.inputs, (s) => s.replace(PLACEHOLDER, (whole, name: string) => names[name] ?? whole)) as Record<string, unknown>,
    };
  }
  return out;
}
