/**
 * The console's app: the files of console/app, served as they are (plain ES modules and
 * CSS, no build step). Only names found in that folder at start are served; a request
 * for anything else is a 404, so no path can reach outside it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const APP_DIR = fileURLToPath(new URL('../app/', import.meta.url));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

export interface StaticFile {
  readonly body: Buffer;
  readonly type: string;
}

export interface StaticFiles {
  /** The file for a request path (`/` is index.html, the rest live under /app/), or undefined. */
  get(path: string): StaticFile | undefined;
}

export function staticFiles(dir: string = APP_DIR): StaticFiles {
  const names = new Set(readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isFile() && TYPES[extname(d.name)] !== undefined)
    .map((d) => d.name));
  return {
    get(path) {
      const name = path === '/' || path === '/index.html' ? 'index.html' : path.startsWith('/app/') ? path.slice('/app/'.length) : undefined;
      if (name === undefined || !names.has(name)) return undefined;
      // Read on each request: small files, and edits show on reload.
      return { body: readFileSync(join(dir, name)), type: TYPES[extname(name)]! };
    },
  };
}
