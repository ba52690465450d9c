import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { RunView } from '@stepwise/shared';
import { readConfig, type CliConfig } from './config-store.js';

export class CliError extends Error {
  constructor(
    message: string,
    readonly code = 'CLI_ERROR',
    readonly details: unknown = undefined,
    /** The HTTP status of a refused request. */
    readonly status: number | undefined = undefined,
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
    throw this.errorOf(response.status, parsed);
  }

  /** The CliError an error answer amounts to: its envelope's code and message. */
  errorOf(status: number, parsed: unknown): CliError {
    const envelope = (
      parsed as { error?: { code?: string; message?: string; details?: unknown } } | null
    )?.error;
    const message = envelope?.message ?? `HTTP ${status}`;
    return new CliError(
      // A key the server no longer knows is most often a server started with empty data; say what
      // to do, not only what went wrong.
      status === 401
        ? `${message}: ${this.config.server} does not know the key you logged in with. It was ` +
            'revoked, or the server started with empty data (for example `npm run stack -- ' +
            '--fresh` or `--memory`). Get a new key and run `stepwise login` again.'
        : message,
      envelope?.code ?? `HTTP_${status}`,
      envelope?.details,
      status,
    );
  }

  /** A GET whose body the caller streams (a download); an error answer is thrown as a CliError. */
  async stream(path: string): Promise<Response> {
    let response: Response;
    try {
      response = await fetch(this.url(path), {
        headers: { authorization: `Bearer ${this.config.api_key}` },
      });
    } catch (error) {
      throw new CliError(
        `cannot reach ${this.config.server}: ${(error as Error).message}`,
        'UNREACHABLE',
      );
    }
    if (response.ok) return response;
    const text = await response.text();
    let parsed: unknown = null;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not an envelope: the status says enough
    }
    throw this.errorOf(response.status, parsed);
  }

  /**
   * Sends a file's bytes as a request body, streamed from disk with its length declared (so a
   * file over the server's limit is refused before it is sent), and answers the JSON reply.
   */
  async upload<T>(
    path: string,
    file: string,
    contentType = 'application/octet-stream',
  ): Promise<T> {
    const { size } = await stat(file);
    const target = new URL(this.url(path));
    const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
    const { status, text } = await new Promise<{ status: number; text: string }>(
      (resolve, reject) => {
        let settled = false;
        const fail = (error: Error) => {
          if (settled) return;
          settled = true;
          reject(error);
        };
        const request = send(
          target,
          {
            method: 'POST',
            headers: {
              authorization: `Bearer ${this.config.api_key}`,
              'content-type': contentType,
              'content-length': String(size),
              accept: 'application/json',
            },
          },
          (response) => {
            const chunks: Buffer[] = [];
            response.on('data', (chunk: Buffer) => chunks.push(chunk));
            response.on('end', () => {
              settled = true;
              resolve({
                status: response.statusCode ?? 0,
                text: Buffer.concat(chunks).toString('utf8'),
              });
            });
            response.on('error', fail);
          },
        );
        request.on('error', (error: NodeJS.ErrnoException) => {
          const failure = new CliError(
            `cannot reach ${this.config.server}: ${error.message}`,
            'UNREACHABLE',
          );
          // The server may refuse (413) and close before the whole body is sent: its answer,
          // arriving in a moment, is what matters.
          if (error.code === 'EPIPE' || error.code === 'ECONNRESET')
            setTimeout(() => fail(failure), 2_000).unref();
          else fail(failure);
        });
        const source = createReadStream(file);
        source.on('error', (error) => {
          request.destroy();
          fail(new CliError(`cannot read ${file}: ${error.message}`));
        });
        source.pipe(request);
      },
    );
    let parsed: unknown = null;
    try {
      parsed = text === '' ? null : JSON.parse(text);
    } catch {
      // not JSON: the status says enough
    }
    if (status >= 200 && status < 300) return parsed as T;
    throw this.errorOf(status, parsed);
  }

  async run(runId: string): Promise<RunView> {
    return (await this.request<RunView>('GET', `/v1/runs/${encodeURIComponent(runId)}`)).body;
  }
}
