// Container healthcheck. With a URL argument: that URL must answer 2xx. With a file argument:
// the service's heartbeat file (HEARTBEAT_FILE) must have been touched within the last 20 s.
import { stat } from 'node:fs/promises';

const target = process.argv[2];
try {
  if (target?.startsWith('http')) {
    const response = await fetch(target, { signal: AbortSignal.timeout(3_000) });
    process.exit(response.ok ? 0 : 1);
  }
  const { mtimeMs } = await stat(target ?? '');
  process.exit(Date.now() - mtimeMs < 20_000 ? 0 : 1);
} catch {
  process.exit(1);
}
