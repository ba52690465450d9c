import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

/**
 * Paths that may hold credentials. pino removes them before a line is written, so a secret that
 * slips into a log object still never reaches the output.
 */
export const redactedLogPaths = [
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'authorization',
  'api_key',
  '*.api_key',
  'admin_token',
  '*.admin_token',
];

export function createLogger(options: {
  service: string;
  level: LevelWithSilent;
  destination?: pino.DestinationStream;
}): Logger {
  return pino(
    {
      level: options.level,
      base: { service: options.service },
      redact: { paths: redactedLogPaths, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    options.destination,
  );
}
