/**
 * The console for an offline stack started in this process (`npm start -- --serve`): on
 * the console's usual port, or on a free one when that is taken.
 */
import type { Endpoints } from '../../local/stack.ts';
import { DEFAULT_CONSOLE_PORT, startConsoleServer, type ConsoleServer } from './server.ts';
import { targetFromEndpoints } from './target.ts';

export async function startStackConsole(endpoints: Endpoints, port = DEFAULT_CONSOLE_PORT): Promise<ConsoleServer> {
  const target = targetFromEndpoints(endpoints, 'the offline stack');
  try {
    return await startConsoleServer({ target, port });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw e;
    return startConsoleServer({ target, port: 0 });
  }
}
