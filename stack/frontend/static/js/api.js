// HTTP calls to the backend, shared by the login page and the diagnostics pages.

/** fetch with a deadline; rejects with a TimeoutError-named error when it passes. */
export async function fetchWithTimeout(url, options = {}, timeoutMs = 10000) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    return await fetch(url, { ...options, signal: controller.signal });
  } catch (err) {
    if (controller.signal.aborted) {
      const timeout = new Error(`no answer within ${timeoutMs} ms`);
      timeout.name = 'TimeoutError';
      throw timeout;
    }
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

async function readJson(response) {
  try {
    return await response.json();
  } catch {
    return null;
  }
}

/**
 * POST /api/auth/login. Resolves {ok: true, token, expiresIn} or
 * {ok: false, status, reason: 'credentials'|'rate-limited'|'server'|'network'|'timeout', detail, retryAfter}.
 * The token is only ever returned, never logged.
 */
export async function login(apiUrl, email, password, timeoutMs = 10000) {
  let response;
  try {
    response = await fetchWithTimeout(
      `${apiUrl}/api/auth/login`,
      {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
        body: JSON.stringify({ email, password }),
        credentials: 'omit',
        cache: 'no-store',
      },
      timeoutMs,
    );
  } catch (err) {
    const reason = err && err.name === 'TimeoutError' ? 'timeout' : 'network';
    return { ok: false, status: 0, reason, detail: String((err && err.message) || err) };
  }
  const body = await readJson(response);
  const detail = body && (body.detail || body.message);
  if (response.ok && body && typeof body.access_token === 'string' && body.access_token) {
    return { ok: true, status: response.status, token: body.access_token, expiresIn: body.expires_in };
  }
  if (response.ok) {
    return { ok: false, status: response.status, reason: 'server', detail: 'no access_token in the answer' };
  }
  const retryAfter = Number(response.headers.get('Retry-After')) || null;
  let reason = 'server';
  if (response.status === 401 || response.status === 400 || response.status === 422) reason = 'credentials';
  else if (response.status === 429) reason = 'rate-limited';
  return { ok: false, status: response.status, reason, detail: typeof detail === 'string' ? detail : '', retryAfter };
}

/** GET /health: {ok, status, body, detail, ms} */
export async function health(apiUrl, timeoutMs = 5000) {
  const started = performance.now();
  try {
    const response = await fetchWithTimeout(`${apiUrl}/health`, { cache: 'no-store', credentials: 'omit' }, timeoutMs);
    const body = await readJson(response);
    const ms = Math.round(performance.now() - started);
    const ok = response.ok && body !== null && body.status === 'ok';
    return { ok, status: response.status, body, ms };
  } catch (err) {
    return { ok: false, status: 0, body: null, ms: Math.round(performance.now() - started), detail: String(err && err.message) };
  }
}
