/**
 * One chat call as api.llm hands it to a provider, and what comes back, in the provider's terms
 * translated to ours: each provider file builds its HTTP request and maps its answer and usage.
 */

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface LlmCall {
  model: string;
  messages: ChatMessage[];
  /** A JSON Schema the answer must be an instance of, or undefined for text. */
  jsonSchema: Record<string, unknown> | undefined;
  temperature: number | undefined;
  maxTokens: number | undefined;
}

export interface ProviderRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
}

/**
 * The answer: `text` for a text call; for a JSON call either `json` (a provider that hands the
 * structure over itself, as Anthropic's forced tool does) or `text` holding JSON (OpenAI).
 */
export interface ProviderAnswer {
  text: string;
  json?: unknown;
  usage: { input_tokens: number; output_tokens: number };
}

export interface LlmProvider {
  readonly name: 'openai' | 'anthropic';
  request(
    call: LlmCall,
    baseUrl: string,
    apiKey: string | undefined,
    idempotencyKey: string,
  ): ProviderRequest;
  /** The answer read from a 2xx body, or null when the body is not this provider's answer. */
  answer(body: unknown, call: LlmCall): ProviderAnswer | null;
}

export const trimBase = (url: string) => url.replace(/\/+$/, '');
