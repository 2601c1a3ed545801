// Runtime configuration: /config.js (served by the frontend server) sets
// window.REALTIME_QA_CONFIG. A null apiUrl/wsUrl means "same hostname as this page,
// port appPort", so the same files work on loopback and behind docker port maps.

export const TOKEN_KEY = 'access_token';

export function runtimeConfig() {
  const raw = window.REALTIME_QA_CONFIG || {};
  const secure = window.location.protocol === 'https:';
  const host = window.location.hostname; // IPv6 literals come bracketed already
  const appPort = Number(raw.appPort) || 8080;
  const trim = (url) => String(url).replace(/\/+$/, '');
  return Object.freeze({
    apiUrl: trim(raw.apiUrl || `${secure ? 'https:' : 'http:'}//${host}:${appPort}`),
    wsUrl: trim(raw.wsUrl || `${secure ? 'wss:' : 'ws:'}//${host}:${appPort}`),
    realtimePath: raw.realtimePath || '/ws/realtime',
    connectTimeoutMs: Number(raw.connectTimeoutMs) || 10000,
    reconnectBaseMs: Number(raw.reconnectBaseMs) || 500,
    reconnectCapMs: Number(raw.reconnectCapMs) || 15000,
  });
}

export function realtimeUrl(config, token) {
  return `${config.wsUrl}${config.realtimePath}?token=${encodeURIComponent(token)}`;
}

// For anything that might be displayed or logged: never show the token itself.
export function redactUrl(url) {
  return String(url).replace(/([?&]token=)[^&#]*/gi, '$1[REDACTED]');
}

export function getToken() {
  try {
    return window.localStorage.getItem(TOKEN_KEY);
  } catch {
    return null; // storage disabled (privacy mode): behave as logged out
  }
}

export function setToken(token) {
  window.localStorage.setItem(TOKEN_KEY, token);
}

export function clearToken() {
  try {
    window.localStorage.removeItem(TOKEN_KEY);
  } catch {
    /* nothing stored, nothing to clear */
  }
}
