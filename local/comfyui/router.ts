/**
 * The simulators' route tables: method + path pattern → handler, matched in order. A
 * pattern is a literal path or has `{name}` segments (aiohttp's syntax, as ComfyUI's
 * server.py writes its routes); a `{name}` matches one non-empty segment and is handed to
 * the handler percent-decoded. As aiohttp does, a path some route matches under another
 * method is 405, any other path 404, and a GET route also answers HEAD.
 */

export interface Route<H> {
  readonly method: 'GET' | 'POST';
  readonly path: string;
  readonly handler: H;
}

export type RouteMatch<H> =
  | { readonly kind: 'found'; readonly handler: H; readonly params: Readonly<Record<string, string>> }
  | { readonly kind: 'method-not-allowed' }
  | { readonly kind: 'not-found' };

interface Compiled<H> {
  readonly method: string;
  readonly pattern: RegExp;
  readonly names: readonly string[];
  readonly handler: H;
}

const escape = (s: string) => s.replace(/[.*+?^$()|[\]\\]/g, '\\$&');

function compile<H>(route: Route<H>): Compiled<H> {
  const names: string[] = [];
  const source = route.path.split('/').map((segment) => {
    const param = /^\{(\w+)\}$/.exec(segment);
    if (param === null) return escape(segment);
    names.push(param[1]!);
    return '([^/]+)';
  }).join('/');
  return { method: route.method, pattern: new RegExp(`^${source}$`), names, handler: route.handler };
}

export class RouteTable<H> {
  readonly #routes: readonly Compiled<H>[];

  constructor(routes: readonly Route<H>[]) {
    this.#routes = routes.map(compile);
  }

  /** Throws URIError when a `{name}` segment is not valid percent-encoding. */
  match(method: string, path: string): RouteMatch<H> {
    const wanted = method === 'HEAD' ? 'GET' : method;
    let pathKnown = false;
    for (const r of this.#routes) {
      const m = r.pattern.exec(path);
      if (m === null) continue;
      if (r.method !== wanted) {
        pathKnown = true;
        continue;
      }
      const params = Object.fromEntries(r.names.map((name, i) => [name, decodeURIComponent(m[i + 1]!)]));
      return { kind: 'found', handler: r.handler, params };
    }
    return pathKnown ? { kind: 'method-not-allowed' } : { kind: 'not-found' };
  }
}
