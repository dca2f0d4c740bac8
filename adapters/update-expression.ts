/**
 * One DynamoDB UpdateItem's expressions, built part by part: every attribute name and value
 * goes in by placeholder (no reserved word or stray character reaches the expression), the
 * item is stamped `updatedAt`, and it must exist. The job and pack updates
 * (adapters/job-update.ts, adapters/pack-update.ts) compile to it.
 */

export interface CompiledUpdate {
  readonly UpdateExpression: string;
  readonly ConditionExpression: string;
  readonly ExpressionAttributeNames: Record<string, string>;
  readonly ExpressionAttributeValues: Record<string, unknown>;
}

/** The entries of an object whose value is set. */
export const definedEntries = <T extends object>(o: T | undefined) =>
  Object.entries(o ?? {}).filter((e): e is [string, NonNullable<unknown>] => e[1] !== undefined);

export class UpdateExpression {
  readonly #names: Record<string, string> = { '#updatedAt': 'updatedAt' };
  readonly #values: Record<string, unknown>;
  readonly #sets = ['#updatedAt = :now'];
  readonly #removes: string[] = [];
  readonly #conditions: string[];
  #next = 0;

  /** An update of the item whose key attribute is `key`, stamped `now`. */
  constructor(key: string, now: string) {
    this.#values = { ':now': now };
    this.#conditions = [`attribute_exists(${key})`];
  }

  /** The placeholder path of an attribute or a member of a map (`#n0.#n1`). */
  name(...path: string[]): string {
    return path.map((part) => {
      const key = `#n${this.#next++}`;
      this.#names[key] = part;
      return key;
    }).join('.');
  }

  value(v: unknown): string {
    const key = `:v${this.#next++}`;
    this.#values[key] = v;
    return key;
  }

  /** `path = v` */
  set(path: readonly string[], v: unknown): void {
    this.#sets.push(`${this.name(...path)} = ${this.value(v)}`);
  }

  /** A SET clause written by the caller from name() and value(). */
  setClause(clause: string): void {
    this.#sets.push(clause);
  }

  /** Adds `n` to a counter, from 0 when it is absent. */
  add(path: readonly string[], n: number): void {
    const p = this.name(...path);
    this.#sets.push(`${p} = if_not_exists(${p}, ${this.value(0)}) + ${this.value(n)}`);
  }

  remove(path: readonly string[]): void {
    this.#removes.push(this.name(...path));
  }

  /** `path IN (…)` */
  oneOf(path: readonly string[], allowed: readonly unknown[]): void {
    this.#conditions.push(`${this.name(...path)} IN (${allowed.map((v) => this.value(v)).join(', ')})`);
  }

  /** A condition written by the caller from name() and value(). */
  condition(clause: string): void {
    this.#conditions.push(clause);
  }

  compile(): CompiledUpdate {
    return {
      UpdateExpression: `SET ${this.#sets.join(', ')}${this.#removes.length ? ` REMOVE ${this.#removes.join(', ')}` : ''}`,
      ConditionExpression: this.#conditions.join(' AND '),
      ExpressionAttributeNames: this.#names,
      ExpressionAttributeValues: this.#values,
    };
  }
}
