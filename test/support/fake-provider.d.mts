// Types for the fake provider (plain JavaScript, shared by the soak, the scripts and the tests).
import type { IncomingHttpHeaders } from 'node:http';

/** chat: an OpenAI chat completion; render: api.fetch's POST. (Anthropic's: FakeMessagesCall.) */
export type FakeCallKind = 'chat' | 'render';

export interface FakeCall {
  kind: FakeCallKind;
  /** The n-th call of this kind (0-based), over all markers. */
  index: number;
  /** The n-th call of this kind for this marker (0-based). */
  indexForMarker: number;
  /** The run the call was made for, from the marker in its messages or body; null without one. */
  marker: string | null;
  /** The `Idempotency-Key` header, or null when the caller sent none. */
  idempotencyKey: string | null;
  /** The key the call carried: its Bearer token or its x-api-key; null when it sent neither. */
  credential: string | null;
  headers: IncomingHttpHeaders;
  body: unknown;
  receivedAt: number;
  /** `open` while held; `answered` once the answer went out; `aborted` if the caller left first. */
  state: 'open' | 'answered' | 'aborted';
  answeredAt: number | null;
  /** The status answered (0 while open or aborted before an answer). */
  status: number;
}

/** A call to Anthropic's Messages API (`POST /v1/messages`), kept in `messageCalls`. */
export interface FakeMessagesCall extends Omit<FakeCall, 'kind'> {
  kind: 'messages';
}

export interface FakeAnswer {
  status?: number;
  body?: unknown;
}

export interface MarkerCounts {
  chat: number;
  render: number;
  /** The `Idempotency-Key` of each chat call, in order (null where none was sent). */
  chatKeys: (string | null)[];
  renderKeys: (string | null)[];
}

export interface FakeProviderOptions {
  port?: number;
  delayMs?: number | ((call: FakeCall | FakeMessagesCall) => number);
  respond?: ((call: FakeCall | FakeMessagesCall) => FakeAnswer | undefined) | null;
  markerPattern?: RegExp;
}

export interface FakeProvider {
  url: string;
  /** For LLM_BASE_URL / the runner's `llm.baseUrl`: `<url>/v1`. */
  baseUrl: string;
  /** `<url>/v1/render`, for api.fetch. */
  renderUrl: string;
  calls: FakeCall[];
  messageCalls: FakeMessagesCall[];
  delayMs: number | ((call: FakeCall | FakeMessagesCall) => number);
  respond: ((call: FakeCall | FakeMessagesCall) => FakeAnswer | undefined) | null;
  markerPattern: RegExp;
  callsOf(kind: 'messages', marker?: string): FakeMessagesCall[];
  callsOf(kind?: FakeCallKind, marker?: string): FakeCall[];
  chatCount(marker: string): number;
  renderCount(marker: string): number;
  countsByMarker(): Map<string, MarkerCounts>;
  inFlight(): number;
  lastCallAt(): number;
  waitForCall(
    predicate: (call: FakeCall | FakeMessagesCall) => boolean,
    timeoutMs?: number,
  ): Promise<FakeCall | FakeMessagesCall>;
  reset(): void;
  close(): Promise<void>;
}

export const defaultMarkerPattern: RegExp;
export function markerFor(name: string): string;
export function chatCompletion(
  content: string,
  usage?: { prompt_tokens: number; completion_tokens: number },
): Record<string, unknown>;
export function anthropicMessage(
  content: string | Record<string, unknown>,
  usage?: { input_tokens: number; output_tokens: number },
): Record<string, unknown>;
export function startFakeProvider(options?: FakeProviderOptions): Promise<FakeProvider>;

/** The effectful workflow (text input → api.llm → api.fetch → artifact.save → confirm). */
export function effectfulWorkflow(options: {
  renderUrl: string;
  workflowId?: string;
  confirmMessage?: string;
}): Record<string, unknown>;
