import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll } from 'vitest';

export interface ChatRequest {
  headers: IncomingMessage['headers'];
  body: {
    model: string;
    messages: { role: string; content: string }[];
    response_format?: { json_schema?: { schema?: unknown } };
  };
}

/** What the fake provider answers: a status and a body, or a delay first. */
export interface ScriptedAnswer {
  status?: number;
  body?: unknown;
  delayMs?: number;
}

export interface FakeServices {
  url: string;
  /** Every chat completion request received, in order. */
  chats: ChatRequest[];
  /** Every render request received. */
  renders: { headers: IncomingMessage['headers']; body: unknown }[];
  /** Answers for the next chat requests, used first in first out; then `defaultChat`. */
  script: ScriptedAnswer[];
  defaultChat: (request: ChatRequest) => ScriptedAnswer;
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text === '' ? null : (JSON.parse(text) as unknown);
}

export function completion(content: string, usage = { prompt_tokens: 120, completion_tokens: 80 }) {
  return {
    id: 'chatcmpl-test',
    object: 'chat.completion',
    model: 'gpt-4o-mini',
    choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
    usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens },
  };
}

/**
 * A real HTTP server on loopback speaking OpenAI's chat-completions protocol
 * (`POST /v1/chat/completions`) and a small render API (`POST /render`), for tests of api.llm and
 * api.fetch. Nothing leaves the machine.
 */
export async function startFakeServices(): Promise<FakeServices> {
  const state: FakeServices = {
    url: '',
    chats: [],
    renders: [],
    script: [],
    defaultChat: () => ({
      body: completion(
        '{"ideas": [{"title": "Cat vs cucumber", "keywords": ["cucumber", "surprise", "kitchen"]}, {"title": "Cat in a box", "keywords": ["box", "cosy", "hide"]}, {"title": "Cat at 3am", "keywords": ["night", "zoomies", "chaos"]}]}',
      ),
    }),
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    void (async () => {
      const body = await readJson(req);
      if (req.method === 'POST' && req.url === '/v1/chat/completions') {
        const request = { headers: req.headers, body: body as ChatRequest['body'] };
        state.chats.push(request);
        const answer = state.script.shift() ?? state.defaultChat(request);
        if (answer.delayMs) await new Promise((r) => setTimeout(r, answer.delayMs));
        if (res.destroyed) return;
        res.writeHead(answer.status ?? 200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(answer.body ?? {}));
        return;
      }
      if (req.method === 'POST' && req.url === '/render') {
        state.renders.push({ headers: req.headers, body });
        res.writeHead(200, {
          'content-type': 'application/json',
          'set-cookie': 'session=render-secret',
        });
        res.end(
          JSON.stringify({
            job: `render-${state.renders.length}`,
            preview_url: `https://cdn.example/preview/${state.renders.length}.mp4`,
          }),
        );
        return;
      }
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"error": "not found"}');
    })();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  afterAll(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return state;
}
