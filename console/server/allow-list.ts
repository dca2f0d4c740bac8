/**
 * The API routes the console forwards: the ones its pages use, taken from the API's own
 * route table (lambdas/api/spec.ts), so a path is forwarded only if it is one of these
 * routes with a well-formed id. Creating packs, uploads and cleanup are left to the CLI
 * and the app; the console has no use for them, so it cannot be made to call them.
 */
import { ROUTES, matchRoute, type OperationId, type RouteSpec } from '../../lambdas/api/spec.ts';
import { ConsoleError } from './errors.ts';

export const CONSOLE_OPERATIONS = [
  'listPacks', 'getPack', 'listPackJobs', 'restartIncomplete', 'refinePack', 'cancelPack', 'deletePack', 'getErasure',
  'getJob', 'retryJob', 'cancelJob', 'getStatistics', 'emergencyStop', 'resume', 'getHealth',
  'listClassifierPatterns', 'dryRunClassifierPattern', 'addClassifierPattern', 'removeClassifierPattern',
] as const satisfies readonly OperationId[];

const FORWARDED: ReadonlySet<OperationId> = new Set(CONSOLE_OPERATIONS);

export interface ForwardedRoute {
  readonly operationId: OperationId;
  /** The API path to call: the route's path with its ids filled in. */
  readonly path: string;
  readonly hasBody: boolean;
}

/** The route of `method path` (path relative to the API root), or a ConsoleError saying why it is not forwarded. */
export function forwardedRoute(method: string, path: string): ForwardedRoute {
  const match = matchRoute(method, path);
  const refused = () => new ConsoleError(404, 'NotForwarded', `The console does not forward ${method} ${path.slice(0, 200)}: it forwards only the API routes its pages use.`);
  if (match === undefined) throw refused();
  if (!('operationId' in match)) {
    const allowed = match.allowed.filter((m) => {
      const r = matchRoute(m, path);
      return r !== undefined && 'operationId' in r && FORWARDED.has(r.operationId);
    });
    if (allowed.length === 0) throw refused();
    throw new ConsoleError(405, 'MethodNotAllowed', `${method} is not allowed on ${path.slice(0, 200)}; allowed: ${allowed.join(', ')}.`, { headers: { allow: allowed.join(', ') } });
  }
  if (!FORWARDED.has(match.operationId)) throw refused();
  const route: RouteSpec = ROUTES[match.operationId];
  // Ids are checked by the route's own path schema (a pack or job UUID, a pattern id tp-N).
  const checked = route.pathParams === undefined ? undefined : route.pathParams.safeParse(match.pathParameters);
  const issues = checked === undefined || checked.success ? [] : checked.error.issues.map((i) => ({ path: `path.${i.path.join('.')}`, message: i.message }));
  if (issues.length > 0) throw new ConsoleError(400, 'ValidationFailed', 'The request path holds an invalid id.', { issues });
  return { operationId: match.operationId, path, hasBody: 'body' in route && route.body !== undefined };
}
