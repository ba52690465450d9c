// Types for the stub providers (plain JavaScript, run by `npm run stubs` and imported by tests):
// stub-providers.mjs, with what it re-exports from llm.mjs (chatAnswer) and images.mjs
// (FAIL_MESSAGE, stubImage). Its other modules are not imported from TypeScript.

export const DEFAULT_STUB_PORT: 4010;
export const STUB_API_KEY: string;
/** The `error.message` of a job whose prompt carries `[fail]`. */
export const FAIL_MESSAGE: string;

export interface StubStats {
  llm: {
    /** Every POST to /llm/v1/chat/completions, answered or refused. */
    calls: number;
    /** Calls by their `Idempotency-Key` header (calls without one are not listed). */
    by_idempotency_key: Record<string, number>;
  };
  images: {
    /** Every accepted POST to /images/v1/jobs or /images/v1/generate, duplicates included. */
    submissions: number;
    jobs_created: number;
    /** Submissions whose `Idempotency-Key` was seen before: they created nothing. */
    duplicate_submissions: number;
    /** GET /images/v1/jobs/{id} of a known job. */
    polls: number;
    /** Files served by GET /images/files/{job}/{i}.png. */
    downloads: number;
    by_idempotency_key: Record<string, number>;
  };
}

export interface StubLlmRecord {
  idempotency_key: string | null;
  model: string | null;
  /** `response_format.type` (`json_schema`, `json_object`), or null. */
  response_format: string | null;
  /** The messages' text (each at most 4,000 characters; at most 20 messages). */
  messages: { role: string; content: string }[];
  status: number;
}

/** One image event. Every variant names every field (absent ones as `undefined`), so a list of
 * them can be read without narrowing first. */
export type StubImageRecord =
  | {
      kind: 'jobs' | 'generate';
      job_id: string;
      prompt: string;
      idempotency_key: string | null;
      /** A repeated Idempotency-Key: answered with the first job, nothing created. */
      duplicate: boolean;
      poll?: undefined;
      status?: undefined;
      file?: undefined;
    }
  | {
      kind: 'poll';
      job_id: string;
      /** The job's n-th poll (1-based). */
      poll: number;
      status: StubJobStatus;
      prompt?: undefined;
      idempotency_key?: undefined;
      duplicate?: undefined;
      file?: undefined;
    }
  | {
      kind: 'download';
      job_id: string;
      file: number;
      prompt?: undefined;
      idempotency_key?: undefined;
      duplicate?: undefined;
      poll?: undefined;
      status?: undefined;
    };

export type StubJobStatus = 'queued' | 'running' | 'succeeded' | 'failed';

/** The answer of GET /images/v1/jobs/{id}. */
export interface StubJobView {
  id: string;
  status: StubJobStatus;
  /** Absolute URLs of the files, once succeeded. */
  output?: string[];
  error?: { message: string };
}

export interface StubRequestLog {
  method: string;
  path: string;
  status: number;
  ms: number;
}

export interface StubProviderOptions {
  /** Address to listen on (default 127.0.0.1). */
  host?: string;
  /** Port (default 0: a free one). */
  port?: number;
  /** A job has succeeded from its N-th poll (default 3; `[polls=N]` in a prompt overrides). */
  pollsToFinish?: number;
  /** The host name in the URLs handed out (default: `host`, or 127.0.0.1 for a wildcard). */
  publicHost?: string;
  /** Called once per answered request. */
  onRequest?: (entry: StubRequestLog) => void;
}

export interface StubProviders {
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** For LLM_BASE_URL: `<url>/llm/v1`. */
  llmBaseUrl: string;
  /** `<url>/images/v1` (jobs at `/jobs`, the synchronous endpoint at `/generate`). */
  imagesBaseUrl: string;
  port: number;
  stats(): StubStats;
  /** The last 100 LLM requests and image events (for tests and debugging). */
  recent(): { llm: StubLlmRecord[]; images: StubImageRecord[] };
  /** Clears the counters and the recent requests; jobs and idempotency keys are kept. */
  reset(): void;
  close(): Promise<void>;
}

export function startStubProviders(options?: StubProviderOptions): Promise<StubProviders>;

/** The deterministic chat completion for a request body (throws for a malformed one). */
export function chatAnswer(body: unknown): Record<string, unknown>;

/** The PNG bytes of image `index` of `prompt` at `size`×`size`. */
export function stubImage(prompt: string, index: number, size: number): Promise<Buffer>;

/** The runner settings that point at the stubs, OUTBOUND_ALLOWED_HOSTS merged with `existingAllowList`. */
export function stubSettings(
  stubs: Pick<StubProviders, 'url' | 'llmBaseUrl'>,
  existingAllowList?: string,
): { LLM_BASE_URL: string; LLM_API_KEY: string; OUTBOUND_ALLOWED_HOSTS: string };

/** `export NAME=value` lines (values shell-quoted when needed). */
export function exportLines(settings: Record<string, string>): string[];
