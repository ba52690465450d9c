import { Ajv } from 'ajv';
import { z } from 'zod';
import { builtInModuleDeclarations, type ExecutableModule, type LlmPrice } from '@stepwise/shared';
import type { DestinationPolicy } from '@stepwise/shared/node';
import type { TokenLedger } from '../history/token-ledger.js';
import { ModuleFailure, refuseUnstorable } from '../engine/module-failure.js';
import { scrubSecretValues } from '../engine/redaction.js';
import { OutboundError, sendOutbound } from '../outbound/http-client.js';
import { anthropicProvider } from './llm/anthropic.js';
import { openAiProvider } from './llm/openai.js';
import { trimBase, type ChatMessage, type LlmCall, type LlmProvider } from './llm/provider.js';

export interface LlmSettings {
  /** LLM_BASE_URL: the deployment's OpenAI-compatible endpoint. */
  baseUrl: string | undefined;
  /** LLM_API_KEY: the deployment's default key for `baseUrl` (see `defaultKeyPolicy`). */
  apiKey: string | undefined;
  /** LLM_PRICES: price per 1,000 tokens by model; a user's own table comes first. */
  prices: Readonly<Record<string, LlmPrice>>;
  timeoutMs: number;
  /** ANTHROPIC_BASE_URL; https://api.anthropic.com when absent. */
  anthropicBaseUrl?: string | undefined;
  /**
   * LLM_DEFAULT_KEY_POLICY: `allow` (default, as before keys were per user) lets a call that
   * names no credentials use `apiKey`; `deny` makes every call name the user's own key.
   */
  defaultKeyPolicy?: 'allow' | 'deny' | undefined;
}

export interface LlmOptions {
  /** The outbound rules a call to a `base_url` of the workflow's own is held to (api.fetch's). */
  outboundPolicy: DestinationPolicy;
  /** The run owner's own price of a model, if they set one (PUT /v1/me/llm-prices). */
  userPrice?: (userId: string, model: string) => Promise<LlmPrice | undefined>;
}

export const DEFAULT_ANTHROPIC_BASE_URL = 'https://api.anthropic.com';

const providers: Record<'openai' | 'anthropic', LlmProvider> = {
  openai: openAiProvider,
  anthropic: anthropicProvider,
};

const ajv = new Ajv({ allErrors: true, strict: false });

function callOf(inputs: Record<string, unknown>): LlmCall {
  const prompt = typeof inputs['prompt'] === 'string' ? inputs['prompt'] : undefined;
  const system = typeof inputs['system'] === 'string' ? inputs['system'] : undefined;
  const messages = (inputs['messages'] as ChatMessage[] | undefined) ?? [
    ...(system ? [{ role: 'system' as const, content: system }] : []),
    ...(prompt !== undefined ? [{ role: 'user' as const, content: prompt }] : []),
  ];
  if (messages.length === 0)
    throw new ModuleFailure('INPUT_INVALID', 'api.llm needs messages or a prompt', false);
  return {
    model: String(inputs['model']),
    messages,
    jsonSchema: inputs['json_schema'] as Record<string, unknown> | undefined,
    temperature: typeof inputs['temperature'] === 'number' ? inputs['temperature'] : undefined,
    maxTokens: typeof inputs['max_tokens'] === 'number' ? inputs['max_tokens'] : undefined,
  };
}

interface Destination {
  baseUrl: string;
  /** The key the call carries, or undefined for none. */
  apiKey: string | undefined;
  /** True for a base URL the workflow chose: held to the outbound rules. */
  ownBase: boolean;
}

/**
 * Where a call goes and with which key. The user's key (credentials.api_key) always wins and the
 * deployment's is then never sent. Without one, the deployment's key goes only to the
 * deployment's own endpoint, and only when the policy allows: never to a base_url a workflow
 * chose (that would hand the deployment's key to whoever runs that host).
 */
function destinationOf(
  provider: LlmProvider,
  inputs: Record<string, unknown>,
  userKey: string | undefined,
  settings: LlmSettings,
): Destination {
  const deploymentBase =
    provider.name === 'openai'
      ? settings.baseUrl
      : (settings.anthropicBaseUrl ?? DEFAULT_ANTHROPIC_BASE_URL);
  const asked = typeof inputs['base_url'] === 'string' ? inputs['base_url'] : undefined;
  const ownBase =
    asked !== undefined &&
    (deploymentBase === undefined || trimBase(asked) !== trimBase(deploymentBase));
  const baseUrl = ownBase ? asked : deploymentBase;
  if (baseUrl === undefined)
    throw new ModuleFailure(
      'LLM_NOT_CONFIGURED',
      'no LLM provider is configured (LLM_BASE_URL), and the module names no base_url',
      false,
    );
  if (userKey !== undefined) return { baseUrl, apiKey: userKey, ownBase };
  const needsKey = (why: string) =>
    new ModuleFailure(
      'LLM_CREDENTIALS_REQUIRED',
      `${why}: name your own key in the module's credentials (credentials: {api_key: <secret name>})`,
      false,
    );
  if (settings.defaultKeyPolicy === 'deny')
    throw needsKey('this server lends no LLM key (LLM_DEFAULT_KEY_POLICY=deny)');
  if (provider.name === 'anthropic') throw needsKey('this server has no Anthropic key to lend');
  // A keyless endpoint of the workflow's own (a local model) is fine; the deployment key is not.
  if (ownBase) return { baseUrl, apiKey: undefined, ownBase };
  return { baseUrl, apiKey: settings.apiKey, ownBase };
}

/**
 * A chat completion through the provider the inputs name: an OpenAI-compatible endpoint or
 * Anthropic's Messages API. Each call is written to the token ledger before it is made and
 * completed with its usage and cost when it answers, and carries the attempt's key as
 * `Idempotency-Key`, so a provider that honours keys charges a recovered attempt once.
 */
export function createApiLlm(
  settings: LlmSettings,
  ledger: TokenLedger,
  options: LlmOptions,
): ExecutableModule {
  return {
    id: 'api.llm',
    ...builtInModuleDeclarations['api.llm'],
    interactive: false,
    outputs: z.object({
      text: z.string().optional(),
      json: z.unknown().optional(),
      usage: z.object({ input_tokens: z.number(), output_tokens: z.number() }),
    }),
    async execute(inputs, context) {
      const provider = providers[inputs['provider'] === 'anthropic' ? 'anthropic' : 'openai'];
      const call = callOf(inputs);
      const destination = destinationOf(
        provider,
        inputs,
        context.credentials?.['api_key'],
        settings,
      );
      // Whatever key the call carries never reaches a recorded message, even if echoed back.
      const scrub = (text: string) =>
        destination.apiKey ? scrubSecretValues(text, [destination.apiKey]) : text;
      const request = provider.request(
        call,
        destination.baseUrl,
        destination.apiKey,
        context.run.idempotency_key,
      );
      const host = new URL(destination.baseUrl).host;
      const record = await ledger.begin({
        idempotency_key: context.run.idempotency_key,
        attempt: context.run.attempt,
        workflow_run_id: context.run.workflow_run_id,
        user_id: context.run.user_id,
        branch_id: context.run.branch_id,
        step_id: context.run.step_id,
        module_name: context.run.module_name,
        // The bare host for OpenAI-compatible calls, as before providers were chosen per call.
        provider: provider.name === 'openai' ? host : `${provider.name}:${host}`,
        model: call.model,
      });
      let response;
      try {
        response = await sendOutbound(destination.ownBase ? options.outboundPolicy : null, {
          url: request.url,
          method: 'POST',
          headers: request.headers,
          body: request.body,
          timeoutMs: settings.timeoutMs,
          maxResponseBytes: 10 * 1024 * 1024,
          signal: context.signal,
        });
      } catch (error) {
        if (
          error instanceof OutboundError &&
          (error.code === 'DESTINATION_REFUSED' || error.code === 'BAD_URL')
        ) {
          await ledger.finish(record, { status: 'failed' });
          throw new ModuleFailure('DESTINATION_REFUSED', scrub(error.message), false);
        }
        // No answer: whether the provider saw the call is unknown, so the record stays pending
        // until the attempt ends and is then marked lost.
        if (error instanceof OutboundError)
          throw new ModuleFailure(
            'LLM_UNAVAILABLE',
            `the LLM provider did not answer: ${scrub(error.message)}`,
            true,
          );
        throw error;
      }
      const text = response.body.toString('utf8');
      if (response.status >= 400) await ledger.finish(record, { status: 'failed' });
      if (response.status === 429 || response.status >= 500)
        throw new ModuleFailure(
          'LLM_PROVIDER_ERROR',
          `the LLM provider answered ${response.status}: ${scrub(text.slice(0, 300))}`,
          true,
        );
      if (response.status >= 400)
        throw new ModuleFailure(
          'LLM_REQUEST_REJECTED',
          `the LLM provider refused the request (${response.status}): ${scrub(text.slice(0, 300))}`,
          false,
        );
      let answer;
      try {
        answer = provider.answer(JSON.parse(text), call);
      } catch {
        answer = null;
      }
      if (!answer) {
        await ledger.finish(record, { status: 'failed' });
        throw new ModuleFailure(
          'LLM_PROVIDER_ERROR',
          `the LLM provider answered something other than a ${provider.name === 'openai' ? 'chat completion' : 'message'}`,
          true,
        );
      }

      const { usage } = answer;
      const price =
        (await options.userPrice?.(context.run.user_id, call.model)) ?? settings.prices[call.model];
      const cost = price
        ? (usage.input_tokens / 1000) * price.input_per_1k_tokens +
          (usage.output_tokens / 1000) * price.output_per_1k_tokens
        : 0;
      // Every answered call is paid for, whatever comes of its answer: record it now.
      await ledger.finish(record, {
        status: 'completed',
        input_tokens: usage.input_tokens,
        output_tokens: usage.output_tokens,
        total_cost: Math.round(cost * 1e8) / 1e8,
      });

      if (!call.jsonSchema) return { text: answer.text, usage };
      let json: unknown = answer.json;
      if (!('json' in answer)) {
        try {
          json = JSON.parse(answer.text);
        } catch {
          throw new ModuleFailure(
            'LLM_OUTPUT_INVALID',
            'the model was asked for JSON and answered something else',
            true,
          );
        }
      }
      // Like a model that strays from the schema, one whose JSON cannot be stored (a key api.md
      // refuses, too deep a nesting) may answer better next time: the module's retry covers it.
      refuseUnstorable(json, 'json', {
        code: 'LLM_OUTPUT_INVALID',
        subject: "the model's JSON",
        retryable: true,
      });
      const validate = ajv.compile(call.jsonSchema);
      if (!validate(json))
        throw new ModuleFailure(
          'LLM_OUTPUT_INVALID',
          `the model's JSON does not match json_schema: ${ajv.errorsText(validate.errors)}`,
          true,
        );
      return { json, usage };
    },
  };
}
