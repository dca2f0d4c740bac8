/**
 * The path every provider call takes: count the call for its job, decide its fault, and
 * either answer with the fault or run the service (which sees the fault too, for the
 * service-level kinds: a degenerate mask, a rejecting verdict).
 */
import type { ServerResponse } from 'node:http';
import { sendJson } from '../http.ts';
import type { FaultInjector, FaultKindOf, ProviderService } from '../faults.ts';
import { send429, send503, sendHtml502, sendMalformed } from './fault-responses.ts';

export interface ServiceAnswer {
  readonly status: number;
  readonly body: unknown;
}

export interface ServeContext {
  readonly faults: FaultInjector;
  readonly retryAfterSeconds: number;
  readonly slowMs: number;
  wait(ms: number): Promise<void>;
  alive(): boolean;
  fired(service: ProviderService, kind: string): void;
}

export class ProviderBadRequest extends Error {
  override readonly name = 'ProviderBadRequest';
  readonly status: number;
  readonly code: string;
  readonly details: unknown;
  constructor(status: number, code: string, message: string, details?: unknown) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

export interface ServiceCall<S extends ProviderService> {
  readonly service: S;
  /** Whose call it is: faults are decided and counted per (service, jobId). */
  readonly jobId: string;
  /** The service's work, told the fault so a service-level kind can shape the answer. */
  run(fault: FaultKindOf<S> | null): Promise<ServiceAnswer>;
  /** A body that breaks the response schema, for the 'malformed' fault. */
  readonly invalidShape: unknown;
}

export async function serveCall<S extends ProviderService>(ctx: ServeContext, res: ServerResponse, call: ServiceCall<S>): Promise<void> {
  const { service, jobId, invalidShape } = call;
  const fault = ctx.faults.next(service, jobId);
  if (fault !== null) ctx.fired(service, fault);
  switch (fault) {
    case 'http503':
      return send503(res);
    case 'http429':
      return send429(res, ctx.retryAfterSeconds);
    case 'htmlError':
      return sendHtml502(res);
    case 'slow':
      await ctx.wait(ctx.slowMs);
      if (!ctx.alive() || res.destroyed) {
        res.destroy();
        return;
      }
      break;
    default:
      break;
  }
  let answer: ServiceAnswer;
  try {
    answer = await call.run(fault);
  } catch (e) {
    if (!(e instanceof ProviderBadRequest)) throw e;
    return sendJson(res, e.status, { error: e.code, message: e.message, ...(e.details === undefined ? {} : { issues: e.details }) });
  }
  if (res.destroyed) return;
  if (fault === 'malformed' && answer.status < 300) {
    return sendMalformed(res, `${service}:${jobId}`, answer.body, invalidShape);
  }
  sendJson(res, answer.status, answer.body);
}
