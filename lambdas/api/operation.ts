/** The type of each route's implementation, derived from its schemas in the route table. */
import type { z } from 'zod';
import type { ApiRequest, ApiResult } from './http.ts';
import type { OperationId, ROUTES } from './spec.ts';

type RouteOf<K extends OperationId> = (typeof ROUTES)[K];

export type PathOf<K extends OperationId> = RouteOf<K> extends { pathParams: infer P extends z.ZodType } ? z.output<P> : undefined;
export type QueryOf<K extends OperationId> = z.output<RouteOf<K>['query']>;
export type BodyOf<K extends OperationId> = RouteOf<K> extends { body: infer B extends z.ZodType } ? z.output<B> : undefined;
export type ResultOf<K extends OperationId> = z.output<RouteOf<K>['success']['schema']>;

export type RequestOf<K extends OperationId> = ApiRequest<PathOf<K>, QueryOf<K>, BodyOf<K>> & {
  /** The checked Idempotency-Key header of idempotent routes. */
  readonly idempotencyKey: string | undefined;
};

export type Operation<K extends OperationId> = (req: RequestOf<K>) => Promise<ApiResult<ResultOf<K>>>;
