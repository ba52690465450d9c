import { z } from 'zod';
import { trimBase, type LlmProvider } from './provider.js';

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

/**
 * An OpenAI-compatible chat completion (`POST {base}/chat/completions`, a Bearer key); a JSON
 * answer is asked for with a strict `json_schema` response format and comes back as text.
 */
export const openAiProvider: LlmProvider = {
  name: 'openai',
  request(call, baseUrl, apiKey, idempotencyKey) {
    const body = {
      model: call.model,
      messages: call.messages,
      ...(call.temperature !== undefined ? { temperature: call.temperature } : {}),
      ...(call.maxTokens !== undefined ? { max_tokens: call.maxTokens } : {}),
      ...(call.jsonSchema
        ? {
            response_format: {
              type: 'json_schema',
              json_schema: { name: 'output', schema: call.jsonSchema, strict: true },
            },
          }
        : {}),
    };
    return {
      url: `${trimBase(baseUrl)}/chat/completions`,
      headers: {
        'content-type': 'application/json',
        'idempotency-key': idempotencyKey,
        ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}),
      },
      body: JSON.stringify(body),
    };
  },
  answer(body) {
    const parsed = completionSchema.safeParse(body);
    if (!parsed.success) return null;
    return {
      text: parsed.data.choices[0]?.message.content ?? '',
      usage: {
        input_tokens: parsed.data.usage?.prompt_tokens ?? 0,
        output_tokens: parsed.data.usage?.completion_tokens ?? 0,
      },
    };
  },
};
