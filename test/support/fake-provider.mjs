// A loopback stand-in for an OpenAI-compatible provider (and a small render API for api.fetch)
// that keeps the books the effects checks need: every call, the run it was made for (by a marker
// in the prompt or body, e.g. `[marker:<project name>]`), the `Idempotency-Key` it carried, and
// whether its answer reached the caller. Plain ESM so that the soak, the scripts and the vitest
// files all share one implementation; the types are in fake-provider.d.mts.
import { once } from 'node:events';
import { createServer } from 'node:http';

/** How the tests put the run into a prompt: `[marker:<project name>]`. */
export const defaultMarkerPattern = /\[marker:([\w-]+)\]/;

/** The text a prompt carries to name its run: put it anywhere in a message. */
export const markerFor = (name) => `[marker:${name}]`;

/** Every string inside a JSON value, depth first (message contents may be strings or parts). */
function* stringsOf(value) {
  if (typeof value === 'string') yield value;
  else if (Array.isArray(value)) for (const item of value) yield* stringsOf(item);
  else if (typeof value === 'object' && value !== null)
    for (const item of Object.values(value)) yield* stringsOf(item);
}

function markerIn(value, pattern) {
  for (const text of stringsOf(value)) {
    const found = pattern.exec(text);
    if (found) return found[1] ?? found[0];
  }
  return null;
}

async function readBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const text = Buffer.concat(chunks).toString('utf8');
  if (text === '') return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

const headerValue = (value) => (Array.isArray(value) ? (value[0] ?? null) : (value ?? null));

/** A chat completion as OpenAI answers it, with usage so that `tokens` records have numbers. */
export function chatCompletion(content, usage = { prompt_tokens: 120, completion_tokens: 80 }) {
  return {
    id: `chatcmpl-fake-${Math.random().toString(36).slice(2, 10)}`,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: 'gpt-4o-mini',
    choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
    usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens },
  };
}

/** A message as Anthropic's Messages API answers it (text, or the forced tool's input). */
export function anthropicMessage(content, usage = { input_tokens: 120, output_tokens: 80 }) {
  const blocks =
    typeof content === 'string'
      ? [{ type: 'text', text: content }]
      : [{ type: 'tool_use', id: 'toolu_fake', name: 'output', input: content }];
  return {
    id: `msg_fake_${Math.random().toString(36).slice(2, 10)}`,
    type: 'message',
    role: 'assistant',
    model: 'claude-fake',
    content: blocks,
    stop_reason: typeof content === 'string' ? 'end_turn' : 'tool_use',
    usage,
  };
}

/** The key a call carried: its Bearer token (OpenAI) or its x-api-key (Anthropic), or null. */
function credentialOf(headers) {
  const bearer = /^Bearer (.+)$/.exec(headerValue(headers['authorization']) ?? '');
  return bearer?.[1] ?? headerValue(headers['x-api-key']);
}

/**
 * Starts the fake on a free loopback port. Options (all may also be changed later on the returned
 * object): `delayMs` (a number, or a function of the call) holds each answer that long, to widen
 * races or to let a SIGKILL land while a call is open; `respond(call)` may answer a call itself
 * ({status, body}); `markerPattern` finds the run in a request.
 */
export async function startFakeProvider(options = {}) {
  const waiters = new Set();
  const provider = {
    url: '',
    /** What api.llm's LLM_BASE_URL should be (`.../v1`). */
    baseUrl: '',
    /** Where the effectful workflows POST with api.fetch. */
    renderUrl: '',
    /** Every OpenAI chat and render request received, in arrival order. */
    calls: [],
    /**
     * Every Anthropic Messages request received, in arrival order: apart from `calls`, whose
     * chat and render books the effects verifiers keep.
     */
    messageCalls: [],
    delayMs: options.delayMs ?? 0,
    respond: options.respond ?? null,
    markerPattern: options.markerPattern ?? defaultMarkerPattern,

    /** The calls of a kind (default: chat completions), optionally only one run's. */
    callsOf(kind = 'chat', marker) {
      return (kind === 'messages' ? this.messageCalls : this.calls).filter(
        (call) => call.kind === kind && (marker === undefined || call.marker === marker),
      );
    },
    /** How many chat completions a run's marker caused. */
    chatCount(marker) {
      return this.callsOf('chat', marker).length;
    },
    /** How many render calls (api.fetch) a run's marker caused. */
    renderCount(marker) {
      return this.callsOf('render', marker).length;
    },
    /** Calls per marker and kind, as the verifier takes them. */
    countsByMarker() {
      const counts = new Map();
      for (const call of this.calls) {
        if (call.marker === null) continue;
        const entry = counts.get(call.marker) ?? {
          chat: 0,
          render: 0,
          chatKeys: [],
          renderKeys: [],
        };
        entry[call.kind] += 1;
        entry[call.kind === 'chat' ? 'chatKeys' : 'renderKeys'].push(call.idempotencyKey);
        counts.set(call.marker, entry);
      }
      return counts;
    },
    /** Calls still waiting for their answer. */
    inFlight() {
      return this.calls.filter((call) => call.state === 'open').length;
    },
    /** When the latest call arrived (ms since the epoch; 0 before any). */
    lastCallAt() {
      return this.calls.at(-1)?.receivedAt ?? 0;
    },
    /** Resolves with the first call (past or future) matching `predicate`. */
    waitForCall(predicate, timeoutMs = 20_000) {
      const already = [...this.calls, ...this.messageCalls].find(predicate);
      if (already) return Promise.resolve(already);
      return new Promise((resolve, reject) => {
        const waiter = { predicate, resolve };
        waiters.add(waiter);
        setTimeout(() => {
          if (waiters.delete(waiter))
            reject(new Error(`fake provider: no matching call within ${timeoutMs} ms`));
        }, timeoutMs).unref();
      });
    },
    /** Forgets every call (between cases that reuse markers; usually markers are unique). */
    reset() {
      this.calls.length = 0;
      this.messageCalls.length = 0;
    },
    close: async () => undefined,
  };

  const server = createServer((req, res) => {
    void (async () => {
      const receivedAt = Date.now();
      const body = await readBody(req);
      const path = (req.url ?? '').split('?')[0];
      const kind =
        req.method === 'POST' && path === '/v1/chat/completions'
          ? 'chat'
          : req.method === 'POST' && path === '/v1/messages'
            ? 'messages'
            : req.method === 'POST' && (path === '/v1/render' || path === '/render')
              ? 'render'
              : null;
      if (kind === null) {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end('{"error": {"message": "not found"}}');
        return;
      }
      const list = kind === 'messages' ? provider.messageCalls : provider.calls;
      const sameKind = list.filter((c) => c.kind === kind);
      const call = {
        kind,
        index: sameKind.length,
        marker: markerIn(
          kind === 'render' ? body : [body?.system ?? '', body?.messages ?? body],
          provider.markerPattern,
        ),
        idempotencyKey: headerValue(req.headers['idempotency-key']),
        credential: credentialOf(req.headers),
        headers: req.headers,
        body,
        receivedAt,
        /** `open` until answered; `answered` once the answer was written; `aborted` if the caller left first. */
        state: 'open',
        answeredAt: null,
        /** The n-th call (0-based) of this kind for this marker. */
        indexForMarker: 0,
        status: 0,
      };
      call.indexForMarker = sameKind.filter((c) => c.marker === call.marker).length;
      list.push(call);
      for (const waiter of waiters)
        if (waiter.predicate(call)) {
          waiters.delete(waiter);
          waiter.resolve(call);
        }
      // The caller may go away (a runner killed mid-call): the call still happened and stays
      // counted; it is only marked so a check can tell a lost answer from a delivered one.
      // 'finish' comes before 'close' when the answer went out; 'close' alone means it did not.
      res.on('finish', () => {
        if (call.state !== 'open') return;
        call.state = 'answered';
        call.answeredAt = Date.now();
      });
      res.on('close', () => {
        if (call.state === 'open') call.state = 'aborted';
      });

      const delay =
        typeof provider.delayMs === 'function' ? provider.delayMs(call) : provider.delayMs;
      if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
      if (res.destroyed || call.state !== 'open') return;

      const custom = provider.respond ? provider.respond(call) : undefined;
      // Each answer differs from every other one (it names the call), so that an artifact saved
      // from another call's answer cannot pass for the logged one.
      const answer =
        custom ??
        (kind === 'chat'
          ? {
              status: 200,
              body: chatCompletion(
                `answer ${call.index} for ${call.marker ?? 'no marker'} (call ${call.indexForMarker})`,
              ),
            }
          : kind === 'messages'
            ? {
                status: 200,
                body: anthropicMessage(
                  `answer ${call.index} for ${call.marker ?? 'no marker'} (call ${call.indexForMarker})`,
                ),
              }
            : {
                status: 200,
                body: { job: `render-${call.index}`, marker: call.marker },
              });
      call.status = answer.status ?? 200;
      res.writeHead(call.status, { 'content-type': 'application/json' });
      res.end(typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body ?? {}));
    })().catch((error) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: String(error) } }));
    });
  });
  server.listen(options.port ?? 0, '127.0.0.1');
  await once(server, 'listening');
  provider.url = `http://127.0.0.1:${server.address().port}`;
  provider.baseUrl = `${provider.url}/v1`;
  provider.renderUrl = `${provider.url}/v1/render`;
  provider.close = () =>
    new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return provider;
}

/**
 * The workflow the effects checks drive: a person types a topic, then api.llm (its prompt carries
 * the run's marker), api.fetch (POST to the fake's render endpoint, marker in the body) and
 * artifact.save (the LLM's text) run as one chain, and a person confirms at the end. Every
 * effectful module thus runs once per answer, and the artifact holds text that differs per call.
 */
export function effectfulWorkflow({
  renderUrl,
  workflowId = 'effects_pipeline',
  confirmMessage = 'Publish “{{ state.draft }}”?',
}) {
  const marker = '[marker:{{ run.project_name }}]';
  return {
    workflow_id: workflowId,
    initial_state: {},
    steps: [
      {
        step_id: 'ask',
        modules: [
          {
            module_id: 'user.text_input',
            name: 'topic',
            inputs: { prompt: 'What is the clip about?', max_length: 200 },
            outputs_to_state: { value: 'topic' },
          },
        ],
      },
      {
        step_id: 'work',
        modules: [
          {
            module_id: 'api.llm',
            name: 'draft',
            inputs: {
              model: 'gpt-4o-mini',
              prompt: `${marker} Write a short clip script about {{ state.topic }}.`,
            },
            outputs_to_state: { text: 'draft' },
          },
          {
            module_id: 'api.fetch',
            name: 'render',
            inputs: {
              url: renderUrl,
              method: 'POST',
              body: { marker, script: '{{ state.draft }}' },
            },
            outputs_to_state: { 'body.job': 'render_job' },
          },
          {
            module_id: 'artifact.save',
            name: 'keep',
            inputs: { name: 'draft.txt', content: '{{ state.draft }}' },
            outputs_to_state: { artifact_id: 'draft_artifact' },
          },
        ],
      },
      {
        step_id: 'review',
        modules: [
          { module_id: 'user.confirm', name: 'approve', inputs: { message: confirmMessage } },
        ],
      },
    ],
  };
}
