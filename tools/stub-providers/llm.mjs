// The stub LLM: an OpenAI-compatible, non-streaming chat-completions endpoint whose answer depends
// only on the request. With a `json_schema` response format it answers JSON that validates against
// the schema (schema-sample.mjs); otherwise a text quoting the last user message. The marker
// `[llm-fail]` in a message makes it answer 500.
import { createHash } from 'node:crypto';
import { HttpError, countKey, headerValue, pushRecent, readJson, sendJson } from './common.mjs';
import { sampleFromSchema } from './schema-sample.mjs';

const LLM_FAIL_MARKER = /\[llm-fail\]/i;

/** The text of a chat message's content (a string, or OpenAI's list of parts). */
function contentText(content) {
  if (typeof content === 'string') return content;
  if (Array.isArray(content))
    return content
      .map((part) => (typeof part?.text === 'string' ? part.text : ''))
      .filter(Boolean)
      .join('\n');
  return '';
}

/** The deterministic answer to a chat-completions request (or an HttpError for a bad one). */
export function chatAnswer(body) {
  if (typeof body !== 'object' || body === null || !Array.isArray(body.messages))
    throw new HttpError(400, 'messages must be an array');
  if (body.messages.length === 0) throw new HttpError(400, 'messages must not be empty');
  const texts = body.messages.map((message) => contentText(message?.content));
  const all = texts.join('\n');
  if (LLM_FAIL_MARKER.test(all))
    throw new HttpError(500, 'the stub LLM failed on purpose ([llm-fail] marker)');
  const lastUser =
    contentText(body.messages.findLast((message) => message?.role === 'user')?.content) ||
    (texts.at(-1) ?? '');
  const model = typeof body.model === 'string' && body.model !== '' ? body.model : 'stub';
  const seed = createHash('sha256')
    .update(JSON.stringify([model, body.messages, body.response_format ?? null]))
    .digest('hex');
  const format = body.response_format;
  let content;
  if (format?.type === 'json_schema' && format.json_schema && 'schema' in format.json_schema) {
    content = JSON.stringify(sampleFromSchema(format.json_schema.schema, { seed, prompt: all }));
  } else if (format?.type === 'json_object') {
    content = JSON.stringify({ answer: `Stub answer to: ${lastUser.slice(0, 200)}` });
  } else {
    const start = lastUser.replace(/\s+/g, ' ').trim();
    content = `Stub answer to "${start.length > 120 ? `${start.slice(0, 120)}…` : start}" (reply ${seed.slice(0, 8)}).`;
  }
  const promptTokens = Math.max(1, Math.ceil(all.length / 4));
  const completionTokens = Math.max(1, Math.ceil(content.length / 4));
  return {
    id: `chatcmpl-stub-${seed.slice(0, 24)}`,
    object: 'chat.completion',
    created: 1_700_000_000,
    model,
    choices: [
      { index: 0, message: { role: 'assistant', content }, logprobs: null, finish_reason: 'stop' },
    ],
    usage: {
      prompt_tokens: promptTokens,
      completion_tokens: completionTokens,
      total_tokens: promptTokens + completionTokens,
    },
  };
}

/** What `recent()` keeps of a request: enough to see what the LLM was asked, bounded in size. */
function llmRecord(body, key, status) {
  const messages = Array.isArray(body?.messages) ? body.messages : [];
  return {
    idempotency_key: key,
    model: typeof body?.model === 'string' ? body.model : null,
    response_format:
      typeof body?.response_format?.type === 'string' ? body.response_format.type : null,
    messages: messages.slice(0, 20).map((message) => ({
      role: typeof message?.role === 'string' ? message.role : '',
      content: contentText(message?.content).slice(0, 4000),
    })),
    status,
  };
}

const emptyStats = () => ({ calls: 0, by_idempotency_key: new Map() });

/**
 * The LLM's routes (for the server in stub-providers.mjs), with its counters and recent requests:
 * `stats()` and `recent()` are the `llm` parts of the stubs' own.
 */
export function createLlm() {
  let stats = emptyStats();
  const recent = [];
  const routes = [
    {
      method: 'POST',
      path: /^\/llm\/v1\/chat\/completions$/,
      handle: async (req, res) => {
        const key = headerValue(req.headers['idempotency-key']);
        stats.calls += 1;
        countKey(stats.by_idempotency_key, key);
        let body = null;
        try {
          body = await readJson(req);
          const answer = chatAnswer(body);
          pushRecent(recent, llmRecord(body, key, 200));
          sendJson(res, 200, answer);
        } catch (error) {
          const status = error instanceof HttpError ? error.status : 500;
          pushRecent(recent, llmRecord(body, key, status));
          throw error;
        }
      },
    },
    {
      method: 'GET',
      path: /^\/llm\/v1\/models$/,
      handle: (_req, res) =>
        sendJson(res, 200, {
          object: 'list',
          data: [{ id: 'stub', object: 'model', created: 1_700_000_000, owned_by: 'stepwise' }],
        }),
    },
  ];
  return {
    routes,
    stats: () => ({
      calls: stats.calls,
      by_idempotency_key: Object.fromEntries(stats.by_idempotency_key),
    }),
    recent: () => structuredClone(recent),
    reset() {
      stats = emptyStats();
      recent.length = 0;
    },
  };
}
