import { z } from 'zod';
import { trimBase, type LlmProvider } from './provider.js';

/** The Messages API version the requests are written for (sent as `anthropic-version`). */
export const ANTHROPIC_VERSION = '2023-06-01';

/** The Messages API requires max_tokens; this is what a call that sets none gets. */
export const ANTHROPIC_DEFAULT_MAX_TOKENS = 1024;

/** The forced tool a JSON call answers through: its input is the answer. */
const OUTPUT_TOOL = 'output';

const messageSchema = z.object({
  content: z.array(
    z.looseObject({
      type: z.string(),
      text: z.string().optional(),
      name: z.string().optional(),
      input: z.unknown().optional(),
    }),
  ),
  usage: z
    .object({
      input_tokens: z.number().int().nonnegative(),
      output_tokens: z.number().int().nonnegative(),
    })
    .optional(),
});

/**
 * Anthropic's native Messages API (`POST {base}/v1/messages`, `x-api-key`). System messages go to
 * the top-level `system` (the API takes no system role in `messages`); a JSON answer is asked for
 * as a forced call of one tool whose input schema is the json_schema, and read from its input.
 */
export const anthropicProvider: LlmProvider = {
  name: 'anthropic',
  request(call, baseUrl, apiKey, idempotencyKey) {
    const system = call.messages
      .filter((message) => message.role === 'system')
      .map((message) => message.content)
      .join('\n\n');
    const body = {
      model: call.model,
      max_tokens: call.maxTokens ?? ANTHROPIC_DEFAULT_MAX_TOKENS,
      ...(system !== '' ? { system } : {}),
      messages: call.messages
        .filter((message) => message.role !== 'system')
        .map(({ role, content }) => ({ role, content })),
      ...(call.temperature !== undefined ? { temperature: Math.min(call.temperature, 1) } : {}),
      ...(call.jsonSchema
        ? {
            tools: [
              {
                name: OUTPUT_TOOL,
                description: 'Give the answer as this tool’s input.',
                input_schema: call.jsonSchema,
              },
            ],
            tool_choice: { type: 'tool', name: OUTPUT_TOOL },
          }
        : {}),
    };
    return {
      url: `${trimBase(baseUrl)}/v1/messages`,
      headers: {
        'content-type': 'application/json',
        'anthropic-version': ANTHROPIC_VERSION,
        'idempotency-key': idempotencyKey,
        ...(apiKey ? { 'x-api-key': apiKey } : {}),
      },
      body: JSON.stringify(body),
    };
  },
  answer(body, call) {
    const parsed = messageSchema.safeParse(body);
    if (!parsed.success) return null;
    const usage = {
      input_tokens: parsed.data.usage?.input_tokens ?? 0,
      output_tokens: parsed.data.usage?.output_tokens ?? 0,
    };
    const text = parsed.data.content
      .flatMap((block) => (block.type === 'text' && block.text !== undefined ? [block.text] : []))
      .join('');
    if (!call.jsonSchema) return { text, usage };
    const tool = parsed.data.content.find(
      (block) => block.type === 'tool_use' && block.name === OUTPUT_TOOL,
    );
    // No tool call: the model answered in prose; api.llm reports it as output that is not JSON.
    return tool ? { text, json: tool.input, usage } : { text, usage };
  },
};
