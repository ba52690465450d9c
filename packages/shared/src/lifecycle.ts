import { utimes, writeFile } from 'node:fs/promises';
import type { Logger } from './logger.js';

/**
 * Runs `stop` once on SIGTERM or SIGINT, then exits 0; if stopping takes longer than `timeoutMs`,
 * exits 1 so an orchestrator does not wait on a stuck process forever.
 */
export function exitOnSignals(options: {
  logger: Logger;
  timeoutMs: number;
  stop: () => Promise<void>;
}): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    options.logger.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      options.logger.error({ timeout_ms: options.timeoutMs }, 'shutdown timed out');
      process.exit(1);
    }, options.timeoutMs);
    timer.unref();
    options
      .stop()
      .then(() => {
        options.logger.info('stopped');
        process.exit(0);
      })
      .catch((error: unknown) => {
        options.logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      });
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

/** Touches `file` every 5 s while `isHealthy()` holds; a container healthcheck reads its age. */
export function startHeartbeat(file: string, isHealthy: () => boolean): () => void {
  const beat = async () => {
    if (!isHealthy()) return;
    const now = new Date();
    await utimes(file, now, now).catch(() => writeFile(file, now.toISOString()));
  };
  void beat();
  const timer = setInterval(() => void beat(), 5_000);
  timer.unref();
  return () => clearInterval(timer);
}
