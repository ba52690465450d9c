import { Ajv } from 'ajv';
import { z } from 'zod';
import { builtInModuleDeclarations, type ExecutableModule } from '@stepwise/shared';
import type { TokenLedger } from '../history/token-ledger.js';
import { ModuleFailure, refuseUnstorable } from '../engine/module-failure.js';
import { OutboundError, sendOutbound } from '../outbound/http-client.js';

export interface LlmSettings {
  baseUrl: string | undefined;
  apiKey: string | undefined;
  /** Price per 1,000 tokens by model; models not listed cost 0. */
  prices: Readonly<Record<string, { input_per_1k_tokens: number; output_per_1k_tokens: number }>>;
  timeoutMs: number;
}

const completionSchema = z.object({
  choices: z.array(z.object({ message: z.object({ content: z.string().nullable() }) })).min(1),
  usage: z
    .object({
      prompt_tokens: z.number().int().nonnegative(),
      completion_tokens: z.number().int().nonnegative(),
    })
    .optional(),
  model: z.string().optional(),
});

const ajv = new Ajv({ allErrors: true, strict: false });

/**
 * Chat completions from an OpenAI-compatible endpoint. Each call is written to the token ledger
 * before it is made and completed with its usage and cost when it answers, and carries the
 * attempt's key as `Idempotency-Key`, so a provider that honours keys charges a recovered attempt
 * once.
 */
export function createApiLlm(settings: LlmSettings, ledger: TokenLedger): ExecutableModule {
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
      if (!settings.baseUrl)
        throw new ModuleFailure(
          'LLM_NOT_CONFIGURED',
          'no LLM provider is configured (LLM_BASE_URL)',
          false,
        );
      const prompt = typeof inputs['prompt'] === 'string' ? inputs['prompt'] : undefined;
      const system = typeof inputs['system'] === 'string' ? inputs['system'] : undefined;
      const messages = (inputs['messages'] as { role: string; content: string }[] | undefined) ?? [
        ...(system ? [{ role: 'system', content: system }] : []),
        ...(prompt !== undefined ? [{ role: 'user', content: prompt }] : []),
      ];
      if (messages.length === 0)
        throw new ModuleFailure('INPUT_INVALID', 'api.llm needs messages or a prompt', false);
      const schema = inputs['json_schema'] as Record<string, unknown> | undefined;
      const model = String(inputs['model']);
      const request = {
        model,
        messages,
        ...(typeof inputs['temperature'] === 'number'
          ? { temperature: inputs['temperature'] }
          : {}),
        ...(typeof inputs['max_tokens'] === 'number' ? { max_tokens: inputs['max_tokens'] } : {}),
        ...(schema
          ? {
              response_format: {
                type: 'json_schema',
                json_schema: { name: 'output', schema, strict: true },
              },
            }
          : {}),
      };

      const call = await ledger.begin({
        idempotency_key: context.run.idempotency_key,
        attempt: context.run.attempt,
        workflow_run_id: context.run.workflow_run_id,
        user_id: context.run.user_id,
        branch_id: context.run.branch_id,
        step_id: context.run.step_id,
        module_name: context.run.module_name,
        provider: new URL(settings.baseUrl).host,
        model,
      });
      let response;
      try {
        response = await sendOutbound(null, {
          url: `${settings.baseUrl.replace(/\/+$/, '')}/chat/completions`,
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'idempotency-key': context.run.idempotency_key,
            ...(settings.apiKey ? { authorization: `Bearer ${settings.apiKey}` } : {}),
          },
          body: JSON.stringify(request),
          timeoutMs: settings.timeoutMs,
          maxResponseBytes: 10 * 1024 * 1024,
          signal: context.signal,
        });
      } catch (error) {
        // No answer: whether the provider saw the call is unknown, so the record stays pending
        // until the attempt ends and is then marked lost.
        if (error instanceof OutboundError)
          throw new ModuleFailure(
            'LLM_UNAVAILABLE',
            `the LLM provider did not answer: ${error.message}`,
            true,
          );
        throw error;
      }
      const text = response.body.toString('utf8');
      if (response.status >= 400) await ledger.finish(call, { status: 'failed' });
      if (response.status === 429 || response.status >= 500)
        throw new ModuleFailure(
          'LLM_PROVIDER_ERROR',
          `the LLM provider answered ${response.status}: ${text.slice(0, 300)}`,
          true,
        );
      if (response.status >= 400)
        throw new ModuleFailure(
          'LLM_REQUEST_REJECTED',
          `the LLM provider refused the request (${response.status}): ${text.slice(0, 300)}`,
          false,
        );
      let completion: z.infer<typeof completionSchema>;
      try {
        completion = completionSchema.parse(JSON.parse(text));
      } catch {
        await ledger.finish(call, { status: 'failed' });
        throw new ModuleFailure(
          'LLM_PROVIDER_ERROR',
          'the LLM provider answered something other than a chat completion',
          true,
        );
      }

      const usage = {
        input_tokens: completion.usage?.prompt_tokens ?? 0,
        output_tokens: completion.usage?.completion_tokens ?? 0,
      };
      const price = settings.prices[model];
      const cost = price
        ? (usage.input_tokens / 1000) * price.input_per_1k_tokens +
          (usage.output_tokens / 1000) * price.output_per_1k_tokens
        : 0;
      // Every answered call is paid for, whatever comes of its answer: record it now.
      await ledger.finish(call, {
        status: 'completed',
        input_tokens: usage.input_tokens,
        output_tokens: usage.output_tokens,
        total_cost: Math.round(cost * 1e8) / 1e8,
      });

      const content = completion.choices[0]?.message.content ?? '';
      if (!schema) return { text: content, usage };
      let json: unknown;
      try {
        json = JSON.parse(content);
      } catch {
        throw new ModuleFailure(
          'LLM_OUTPUT_INVALID',
          'the model was asked for JSON and answered something else',
          true,
        );
      }
      // Like a model that strays from the schema, one whose JSON cannot be stored (a key api.md
      // refuses, too deep a nesting) may answer better next time: the module's retry covers it.
      refuseUnstorable(json, 'json', {
        code: 'LLM_OUTPUT_INVALID',
        subject: "the model's JSON",
        retryable: true,
      });
      const validate = ajv.compile(schema);
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
