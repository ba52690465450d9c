import { UnavailableError, type ErrorDetail } from '@stepwise/shared';
import { defineRoute, type RouteDefinition } from '../http/route-builder.js';

export interface ReadinessProbe {
  name: string;
  check: () => Promise<void>;
}

const PROBE_TIMEOUT_MS = 2_000;

async function runProbe(probe: ReadinessProbe): Promise<ErrorDetail | null> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no answer within ${PROBE_TIMEOUT_MS} ms`)),
      PROBE_TIMEOUT_MS,
    );
  });
  try {
    await Promise.race([probe.check(), timeout]);
    return null;
  } catch (error) {
    return { path: probe.name, message: error instanceof Error ? error.message : String(error) };
  } finally {
    clearTimeout(timer);
  }
}

export function healthRoutes(options: {
  probes: readonly ReadinessProbe[];
  isDraining: () => boolean;
}): RouteDefinition[] {
  return [
    defineRoute(
      {
        method: 'get',
        path: '/healthz',
        summary: 'The process is up',
        auth: 'none',
        success: { status: 200 },
      },
      async () => ({ status: 'ok' }),
    ),
    defineRoute(
      {
        method: 'get',
        path: '/readyz',
        summary: 'MongoDB and Redis answer, and the process is not shutting down',
        auth: 'none',
        success: { status: 200 },
      },
      async () => {
        if (options.isDraining()) {
          throw new UnavailableError('shutting down', [{ path: 'gateway', message: 'draining' }]);
        }
        const failures = (await Promise.all(options.probes.map(runProbe))).filter(
          (failure): failure is ErrorDetail => failure !== null,
        );
        if (failures.length > 0) {
          throw new UnavailableError(
            `not ready: ${failures.map((f) => f.path).join(', ')} unavailable`,
            failures,
          );
        }
        return {
          status: 'ready',
          checks: Object.fromEntries(options.probes.map((p) => [p.name, 'ok'])),
        };
      },
    ),
  ];
}
