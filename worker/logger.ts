/**
 * A small structured logger: one JSON object per line, with bound fields (workerId,
 * jobId, attempt, promptId) carried by child loggers. Lines go to stderr by default so
 * stdout stays free for the one machine-readable start line of bin/worker.ts.
 */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
export type LogFields = Readonly<Record<string, unknown>>;

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

function errorFields(e: unknown): unknown {
  if (!(e instanceof Error)) return e;
  return { name: e.name, message: e.message, ...(e.cause !== undefined && { cause: errorFields(e.cause) }) };
}

export function createLogger(options: { level?: LogLevel; bound?: LogFields; write?: (line: string) => void } = {}): Logger {
  const min = RANK[options.level ?? 'info'];
  const write = options.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  const bound = options.bound ?? {};
  const emit = (level: Exclude<LogLevel, 'silent'>, msg: string, fields: LogFields = {}) => {
    if (RANK[level] < min) return;
    const out: Record<string, unknown> = { level, time: new Date().toISOString(), msg, ...bound };
    for (const [k, v] of Object.entries(fields)) out[k] = k === 'err' || v instanceof Error ? errorFields(v) : v;
    write(JSON.stringify(out));
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (fields) => createLogger({ level: options.level ?? 'info', bound: { ...bound, ...fields }, write }),
  };
}
