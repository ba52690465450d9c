import type { RunView } from '@stepwise/shared';
import { readConfig, type CliConfig } from './config-store.js';

export class CliError extends Error {
  constructor(
    message: string,
    readonly code = 'CLI_ERROR',
    readonly details: unknown = undefined,
  ) {
    super(message);
  }
}

export interface ApiResponse<T> {
  status: number;
  body: T;
}

/** The server's HTTP API with the stored key; error envelopes become CliErrors with their code. */
export class ApiClient {
  constructor(readonly config: CliConfig) {}

  static async fromStoredLogin(): Promise<ApiClient> {
    const config = await readConfig();
    if (!config)
      throw new CliError(
        'not logged in: run `stepwise login --server <url> --key <api key>` first',
      );
    return new ApiClient(config);
  }

  url(path: string): string {
    return `${this.config.server.replace(/\/+$/, '')}${path}`;
  }

  async request<T>(
    method: string,
    path: string,
    body?: { json?: unknown; bytes?: Uint8Array; contentType?: string },
    allowed: number[] = [],
  ): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.config.api_key}` };
    let payload: string | Uint8Array | undefined;
    if (body?.json !== undefined) {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(body.json);
    } else if (body?.bytes) {
      headers['content-type'] = body.contentType ?? 'application/octet-stream';
      payload = body.bytes;
    }
    let response: Response;
    try {
      response = await fetch(this.url(path), {
        method,
        headers,
        ...(payload === undefined ? {} : { body: payload }),
      });
    } catch (error) {
      throw new CliError(
        `cannot reach ${this.config.server}: ${(error as Error).message}`,
        'UNREACHABLE',
      );
    }
    const text = await response.text();
    const parsed: unknown = text === '' ? null : JSON.parse(text);
    if (response.ok || allowed.includes(response.status))
      return { status: response.status, body: parsed as T };
    const envelope = (
      parsed as { error?: { code?: string; message?: string; details?: unknown } } | null
    )?.error;
    const message = envelope?.message ?? `HTTP ${response.status}`;
    throw new CliError(
      // A key the server no longer knows is most often a server started with empty data; say what
      // to do, not only what went wrong.
      response.status === 401
        ? `${message}: ${this.config.server} does not know the key you logged in with. It was ` +
            'revoked, or the server started with empty data (for example `npm run stack -- ' +
            '--fresh` or `--memory`). Get a new key and run `stepwise login` again.'
        : message,
      envelope?.code ?? `HTTP_${response.status}`,
      envelope?.details,
    );
  }

  async run(runId: string): Promise<RunView> {
    return (await this.request<RunView>('GET', `/v1/runs/${encodeURIComponent(runId)}`)).body;
  }
}
