import { z } from 'zod';
import { builtInModuleDeclarations, type ExecutableModule } from '@stepwise/shared';
import { ModuleFailure, refuseUnstorable } from '../engine/module-failure.js';
import type { DestinationPolicy } from '@stepwise/shared/node';
import { OutboundError, sendOutbound } from '../outbound/http-client.js';
import { redactForLog } from '../engine/redaction.js';

export interface FetchSettings {
  policy: DestinationPolicy;
  maxResponseBytes: number;
  defaultTimeoutMs: number;
}

/** Errors a later attempt may not meet again (the network, the server having a bad moment). */
const transient = new Set(['TIMEOUT', 'NETWORK_ERROR']);

function decodeBody(contentType: string, body: Buffer): unknown {
  if (/\bjson\b/i.test(contentType)) {
    try {
      return JSON.parse(body.toString('utf8')) as unknown;
    } catch {
      return body.toString('utf8');
    }
  }
  if (/^text\/|xml|javascript|x-www-form-urlencoded/i.test(contentType) || contentType === '')
    return body.toString('utf8');
  return { base64: body.toString('base64'), size: body.length };
}

export function createApiFetch(settings: FetchSettings): ExecutableModule {
  return {
    id: 'api.fetch',
    ...builtInModuleDeclarations['api.fetch'],
    interactive: false,
    outputs: z.object({
      status: z.number().int(),
      headers: z.record(z.string(), z.unknown()),
      body: z.unknown(),
    }),
    async execute(inputs, context) {
      const headers = { ...((inputs['headers'] as Record<string, string> | undefined) ?? {}) };
      const method = String(inputs['method'] ?? 'GET');
      // A call that changes something carries the attempt's key, so a receiver that honours keys
      // applies a recovered attempt once (a module may turn it off, or send its own).
      if (
        !['GET', 'HEAD'].includes(method) &&
        inputs['idempotency_key'] !== false &&
        !Object.keys(headers).some((h) => h.toLowerCase() === 'idempotency-key')
      )
        headers['idempotency-key'] = context.run.idempotency_key;
      const body = inputs['body'];
      let payload: string | undefined;
      if (body !== undefined && body !== null) {
        payload = typeof body === 'string' ? body : JSON.stringify(body);
        if (
          typeof body !== 'string' &&
          !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')
        )
          headers['content-type'] = 'application/json';
      }
      try {
        const response = await sendOutbound(settings.policy, {
          url: String(inputs['url']),
          method,
          headers,
          ...(payload === undefined ? {} : { body: payload }),
          timeoutMs:
            typeof inputs['timeout_ms'] === 'number'
              ? inputs['timeout_ms']
              : settings.defaultTimeoutMs,
          maxResponseBytes: settings.maxResponseBytes,
          signal: context.signal,
        });
        if (response.status >= 500 || response.status === 429) {
          throw new ModuleFailure(
            'HTTP_ERROR',
            `${String(inputs['url'])} answered ${response.status}`,
            true,
          );
        }
        const outputs = {
          status: response.status,
          headers: redactForLog(response.headers) as Record<string, unknown>,
          body: decodeBody(String(response.headers['content-type'] ?? ''), response.body),
        };
        // The answer is stored as it came, so it meets the rule for keys (api.md) and MongoDB's
        // nesting limit. A server that answered so once will likely do it again: no retry.
        refuseUnstorable(outputs, '', {
          code: 'HTTP_RESPONSE_UNSTORABLE',
          subject: `the answer from ${String(inputs['url'])}`,
          retryable: false,
        });
        return outputs;
      } catch (error) {
        if (error instanceof OutboundError) {
          throw new ModuleFailure(
            error.code === 'DESTINATION_REFUSED' ? 'DESTINATION_REFUSED' : `HTTP_${error.code}`,
            error.message,
            transient.has(error.code),
          );
        }
        throw error;
      }
    },
  };
}
