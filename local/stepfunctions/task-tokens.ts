/**
 * Task tokens. Each one is a random nonce signed with this service's key, so a token we
 * issued is recognised for ever without remembering it: open → its attempt; signed but
 * no longer open → TaskTimedOut (the task ended, timed out or was aborted); anything
 * else → InvalidToken. Only open tokens are held in memory.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { InvalidToken, TaskTimedOut } from './api-errors.ts';
import type { TaskAttempt } from './task-attempt.ts';

export class TaskTokens {
  private readonly key = randomBytes(32);
  private readonly open = new Map<string, TaskAttempt>();

  get openCount(): number {
    return this.open.size;
  }

  issue(): string {
    const nonce = randomBytes(24).toString('base64url');
    return `${nonce}.${this.sign(nonce)}`;
  }

  /** Makes the token answerable until the attempt ends. */
  register(token: string, attempt: TaskAttempt): void {
    this.open.set(token, attempt);
    attempt.onClose(() => this.open.delete(token));
  }

  /** The open attempt a SendTask* call names, or the API error AWS would return. */
  find(token: unknown): TaskAttempt {
    if (typeof token !== 'string' || token.length === 0 || token.length > 2048) throw new InvalidToken('Invalid Token: the token is missing or malformed');
    const attempt = this.open.get(token);
    if (attempt?.isOpen) return attempt;
    if (this.isOurs(token)) throw new TaskTimedOut("Task Timed Out: 'Provided task does not exist anymore'");
    throw new InvalidToken('Invalid Token: the token was not issued by this service');
  }

  private sign(nonce: string): string {
    return createHmac('sha256', this.key).update(nonce).digest('base64url');
  }

  private isOurs(token: string): boolean {
    const dot = token.indexOf('.');
    if (dot <= 0) return false;
    const expected = Buffer.from(this.sign(token.slice(0, dot)));
    const given = Buffer.from(token.slice(dot + 1));
    return expected.length === given.length && timingSafeEqual(expected, given);
  }
}
