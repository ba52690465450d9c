// How a benchmark talks to the API: JSON in and out, as the bench user.

/** A JSON call to `base` with `apiKey`; throws on an error status, answers the parsed body. */
export function jsonCaller(base, apiKey) {
  return async (path, init = {}) => {
    const response = await fetch(`${base}${path}`, {
      ...init,
      headers: {
        authorization: `Bearer ${apiKey}`,
        'content-type': 'application/json',
        ...init.headers,
      },
    });
    const body = await response.json();
    if (!response.ok) throw new Error(`${path}: ${response.status} ${JSON.stringify(body)}`);
    return body;
  };
}
