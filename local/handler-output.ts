/**
 * How the Lambda handlers' Powertools output behaves offline: their JSON logs stay off the
 * terminal unless POWERTOOLS_LOG_LEVEL asks for them, and EMF metric lines (what CloudWatch
 * would read from a function's log) are not printed. The offline stack runs every handler in
 * its own process, sharing one logger and one metrics instance (adapters/logging.ts), and
 * Powertools reads these settings once, when that module is first imported. So an entry
 * point that runs the stack (npm start, the benchmarks) imports this module before any
 * other, and the stack applies the log level again for a process that did not.
 */
export const OFFLINE_HANDLER_OUTPUT_ENV = {
  POWERTOOLS_LOG_LEVEL: process.env['POWERTOOLS_LOG_LEVEL'] ?? 'SILENT',
  POWERTOOLS_METRICS_DISABLED: 'true',
  POWERTOOLS_DEV: 'false',
} as const;

Object.assign(process.env, OFFLINE_HANDLER_OUTPUT_ENV);
