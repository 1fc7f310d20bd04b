// pino's level names, the one list every component's `logLevel` option and
// the CNI plugin's own small logger accept.
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
