import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

/** Header and field names that carry credentials, wherever a log object puts them. */
const credentialHeaders = [
  'authorization',
  'proxy-authorization',
  'cookie',
  'set-cookie',
  'x-api-key',
  'x-csrf-token',
];
const credentialFields = [
  'authorization',
  'api_key',
  'admin_token',
  'adminToken',
  'password',
  'current_password',
  'new_password',
  'csrf_token',
  'token',
  'ADMIN_TOKEN',
  'LLM_API_KEY',
  'SECRETS_MASTER_KEY',
  'SECRETS_PREVIOUS_MASTER_KEY',
  'credentials',
];

/**
 * Paths that may hold credentials. pino removes them before a line is written, so a secret that
 * slips into a log object still never reaches the output. Headers are covered at the top level
 * and one level down (`req.headers`, `request.headers`, `res.headers`…), fields named for
 * credentials likewise. pino cannot see into message strings: secrets are never interpolated into
 * messages, and the gateway's request line logs the path, never the URL with its query.
 */
export const redactedLogPaths = [
  ...credentialHeaders.flatMap((name) => [`headers["${name}"]`, `*.headers["${name}"]`]),
  ...credentialFields.flatMap((name) => [name, `*.${name}`]),
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
