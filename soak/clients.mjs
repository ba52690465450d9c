// How the cluster soak's simulated people reach the API through the load balancer: JSON over HTTP,
// as an API key holder (`Authorization: Bearer`) or as a person signed in with a password (the
// session cookie, and on writes the CSRF token and the app's own Origin, as the web app sends
// them). A signed-in person whose session is gone (401: a Redis failover may lose the newest
// writes, sessions included) signs in again, once for all their requests in flight; that is
// counted, not a fault. A key holder must never see 401.

const SESSION_COOKIE = 'stepwise_session';
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** `call(path, {method, body, headers})`: `{status, body, headers}`, or throws on a network failure. */
export function httpClient(base, timeoutMs = 20_000) {
  return async (path, { method = 'GET', body, headers = {} } = {}) => {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: {
        ...headers,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await response.text();
    let parsed = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      parsed = { raw: text.slice(0, 200) };
    }
    return { status: response.status, body: parsed, headers: response.headers };
  };
}

/** An API key holder. */
export class KeyHolder {
  constructor(name, key) {
    this.name = name;
    this.kind = 'key';
    this.key = key;
    this.generation = 0;
  }

  headers() {
    return { authorization: `Bearer ${this.key}` };
  }
}

/** A person signed in with a password: a session cookie and its CSRF token. */
export class SignedInPerson {
  constructor({ name, login, password, call, origin, onSignIn }) {
    Object.assign(this, { name, login, password, call, origin, onSignIn });
    this.kind = 'session';
    this.secret = null;
    this.csrf = null;
    /** Goes up with every sign-in, so that requests that failed together sign in once. */
    this.generation = 0;
    this.signingIn = null;
  }

  headers(method = 'GET') {
    const write = method !== 'GET' && method !== 'HEAD';
    return {
      cookie: `${SESSION_COOKIE}=${this.secret}`,
      ...(write ? { 'x-csrf-token': this.csrf, origin: this.origin } : {}),
    };
  }

  adopt(response) {
    const cookie = response.headers.getSetCookie().find((c) => c.startsWith(`${SESSION_COOKIE}=`));
    const secret = cookie?.slice(SESSION_COOKIE.length + 1).split(';')[0];
    if (!secret || typeof response.body?.csrf_token !== 'string')
      throw new Error(`${this.name}: a sign-in answered no session: ${response.status}`);
    this.secret = secret;
    this.csrf = response.body.csrf_token;
    this.generation += 1;
  }

  /** Takes the invitation (the token after `#token=` in its link), which also signs in. */
  async acceptInvitation(token) {
    const accepted = await this.call('/v1/auth/invitations/accept', {
      method: 'POST',
      body: { token, password: this.password },
    });
    if (accepted.status !== 201)
      throw new Error(`${this.name}: accepting the invitation: ${JSON.stringify(accepted.body)}`);
    this.adopt(accepted);
  }

  /**
   * Signs in again after a 401 seen with the session of `generation` (unless someone already
   * did); retries through outages for up to `timeoutMs`.
   */
  async signInAgain(generation, timeoutMs = 90_000) {
    if (this.generation !== generation) return;
    this.signingIn ??= (async () => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const answer = await this.call('/v1/auth/sessions', {
          method: 'POST',
          body: { login: this.login, password: this.password },
        }).catch(() => null);
        if (answer?.status === 201) {
          this.adopt(answer);
          this.onSignIn?.();
          return;
        }
        if (answer && answer.status < 500 && answer.status !== 429)
          throw new Error(`${this.name}: signing in again: ${JSON.stringify(answer.body)}`);
        if (Date.now() > deadline) throw new Error(`${this.name}: could not sign in again`);
        await sleep(500);
      }
    })().finally(() => {
      this.signingIn = null;
    });
    await this.signingIn;
  }
}

/**
 * The `api(path, init)` a simulated user calls: `call` with the holder's credentials. A 401 is
 * noted in `unauthorized` (`{who, kind, path, at}`); a signed-in person then signs in again and
 * the request is sent once more.
 */
export function authenticatedApi(call, holder, unauthorized) {
  return async (path, init = {}) => {
    const generation = holder.generation;
    const answer = await call(path, { ...init, headers: holder.headers(init.method) });
    if (answer.status !== 401) return answer;
    unauthorized.push({ who: holder.name, kind: holder.kind, path, at: Date.now() });
    if (holder.kind !== 'session') return answer;
    try {
      await holder.signInAgain(generation);
    } catch {
      return answer;
    }
    return call(path, { ...init, headers: holder.headers(init.method) });
  };
}
