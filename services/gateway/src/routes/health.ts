import { UnavailableError, type ErrorDetail } from '@stepwise/shared';
import { z } from 'zod';
import { defineRoute, type RouteDefinition } from '../http/route-builder.js';
import { json } from '../http/responses.js';

const liveSchema = z.object({ status: z.literal('ok') });
const readySchema = z.object({
  status: z.literal('ready'),
  checks: z.record(z.string(), z.literal('ok')),
});

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
        responses: { 200: json(liveSchema, 'The process is up') },
      },
      async () => ({ status: 200, body: { status: 'ok' as const } }),
    ),
    defineRoute(
      {
        method: 'get',
        path: '/readyz',
        summary: 'MongoDB and Redis answer, and the process is not shutting down',
        auth: 'none',
        responses: { 200: json(readySchema, 'Every store answered') },
        errors: ['UNAVAILABLE'],
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
          status: 200,
          body: {
            status: 'ready' as const,
            checks: Object.fromEntries(options.probes.map((p) => [p.name, 'ok' as const])),
          },
        };
      },
    ),
  ];
}
