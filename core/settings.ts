/**
 * One way to read settings from the environment: a zod object schema keyed by the variable
 * names, parsed at once, with an error that names each variable and what is wrong with it.
 * The environment is a parameter (process.env by default), so tests pass their own and no
 * module reads process.env when it loads.
 */
import type { z } from 'zod';

export type Env = Readonly<Record<string, string | undefined>>;

export interface LoadSettingsOptions {
  /** What the settings are, for the error: "Invalid <what>: VTO_X: …". @default 'environment' */
  readonly what?: string;
  /** Reads a blank variable as unset (its default applies). @default false */
  readonly blankIsUnset?: boolean;
  /** The error class thrown (each reader keeps its own, stable name). */
  readonly error?: new (message: string) => Error;
}

/** "VTO_X: Too small: expected number to be >0": the issue's path (`whole` when it has none) and its message. */
export const describeIssue = (i: z.core.$ZodIssue, whole = '(root)'): string => `${i.path.join('.') || whole}: ${i.message}`;

/** "VTO_X: Too small: expected number to be >0; VTO_Y: Invalid input" */
export const describeIssues = (issues: readonly z.core.$ZodIssue[], whole?: string): string =>
  issues.map((i) => describeIssue(i, whole)).join('; ');

export function loadSettings<S extends z.ZodObject>(schema: S, env: Env = process.env, o: LoadSettingsOptions = {}): z.infer<S> {
  const blank = (v: string | undefined) => (v === undefined || v.trim() === '' ? undefined : v);
  const input = o.blankIsUnset ? Object.fromEntries(Object.keys(schema.shape).map((k) => [k, blank(env[k])])) : env;
  const r = schema.safeParse(input);
  if (!r.success) throw new (o.error ?? Error)(`Invalid ${o.what ?? 'environment'}: ${describeIssues(r.error.issues)}`);
  return r.data;
}
