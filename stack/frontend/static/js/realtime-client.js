// One realtime session over WS /ws/realtime, with the reconnect policy of the
// troubleshooting guide:
//   4001 bad/expired token  -> state "auth-failed", never reconnect
//   4002 engine pool full   -> state "waiting" (kind "pool-full"), reconnect with backoff
//   4000 cleared by operator-> state "waiting" (kind "cleared"), reconnect with backoff
//   4008 idle timeout       -> state "idle-closed": no automatic reconnect (an unattended
//                              page must not hold an engine slot forever); start() again
//   anything else / drop    -> state "waiting" (kind "network"), reconnect with backoff
//   no session.created within connectTimeoutMs -> close, state "waiting" (kind "timeout")
//
// Events dispatched (CustomEvent, details in .detail):
//   "state"    {state, kind?, attempt?, delayMs?, code?, reason?}
//   "event"    {event}            every server event (parsed JSON)
//   "attempt"  {attempt, total}   a socket is being opened
import { Backoff } from './backoff.js';

export const CLOSE_CODES = Object.freeze({
  SESSION_CLEARED: 4000,
  AUTH_FAILED: 4001,
  POOL_FULL: 4002,
  IDLE_TIMEOUT: 4008,
});

export class RealtimeConnection extends EventTarget {
  /**
   * @param {object} options
   * @param {() => string} options.url           builds the socket URL (carries the token)
   * @param {number} options.connectTimeoutMs     session.created must arrive within this
   * @param {Backoff} [options.backoff]
   */
  constructor({ url, connectTimeoutMs = 10000, backoff = new Backoff() }) {
    super();
    this._url = url;
    this.connectTimeoutMs = connectTimeoutMs;
    this.backoff = backoff;
    this.state = 'idle';
    this.totalAttempts = 0;
    this._ws = null;
    this._generation = 0;
    this._ready = false;
    this._connectTimer = null;
    this._retryTimer = null;
    this._stopped = false;
    this._lastError = null;
    this._onOnline = () => this._retryNow();
  }

  get ready() {
    return this._ready && this._ws !== null && this._ws.readyState === WebSocket.OPEN;
  }

  start() {
    clearTimeout(this._retryTimer);
    this._abandonSocket(1000, 'restart');
    this._stopped = false;
    this.backoff.reset();
    window.addEventListener('online', this._onOnline);
    this._open();
  }

  /** Close for good (logout, page exit): no reconnect. */
  stop(reason = 'client stop') {
    this._stopped = true;
    window.removeEventListener('online', this._onOnline);
    clearTimeout(this._retryTimer);
    this._abandonSocket(1000, reason);
    this._setState('stopped');
  }

  /** Send one client event; false when there is no ready session. */
  send(event) {
    if (!this.ready) return false;
    this._ws.send(JSON.stringify(event));
    return true;
  }

  _setState(state, detail = {}) {
    this.state = state;
    this.dispatchEvent(new CustomEvent('state', { detail: { state, ...detail } }));
  }

  _open() {
    clearTimeout(this._retryTimer);
    const generation = ++this._generation;
    this.totalAttempts += 1;
    this._ready = false;
    this._lastError = null;
    const attempt = this.backoff.attempt;
    this.dispatchEvent(new CustomEvent('attempt', { detail: { attempt, total: this.totalAttempts } }));
    this._setState(attempt === 0 ? 'connecting' : 'reconnecting', { attempt });

    let ws;
    try {
      ws = new WebSocket(this._url());
    } catch (err) {
      // Malformed URL or blocked by CSP: treat as a network failure (retried).
      this._scheduleRetry('network', { code: 0, reason: String(err && err.message) });
      return;
    }
    this._ws = ws;
    this._connectTimer = setTimeout(() => {
      if (generation !== this._generation || this._ready) return;
      this._abandonSocket(1000, 'connect timeout');
      this._scheduleRetry('timeout', { code: 0, reason: 'connect timeout' });
    }, this.connectTimeoutMs);

    ws.onmessage = (message) => {
      if (generation !== this._generation) return;
      if (typeof message.data !== 'string') return; // the protocol is JSON text only
      let event;
      try {
        event = JSON.parse(message.data);
      } catch {
        return;
      }
      if (event.type === 'session.created') {
        clearTimeout(this._connectTimer);
        this._ready = true;
        this.backoff.reset();
        this._setState('connected');
      } else if (event.type === 'error') {
        this._lastError = event.error || null;
      }
      this.dispatchEvent(new CustomEvent('event', { detail: { event } }));
    };
    ws.onerror = () => {
      /* a close event always follows; it carries the code */
    };
    ws.onclose = (close) => {
      if (generation !== this._generation) return;
      this._handleClose(close.code, close.reason);
    };
  }

  _handleClose(code, reason) {
    clearTimeout(this._connectTimer);
    this._ws = null;
    this._ready = false;
    if (this._stopped) return;
    const lastError = this._lastError;
    if (code === CLOSE_CODES.AUTH_FAILED) {
      window.removeEventListener('online', this._onOnline);
      this._setState('auth-failed', { code, reason });
      return;
    }
    if (code === CLOSE_CODES.IDLE_TIMEOUT) {
      window.removeEventListener('online', this._onOnline);
      this._setState('idle-closed', { code, reason });
      return;
    }
    const poolFull = code === CLOSE_CODES.POOL_FULL || (lastError && String(lastError.code) === '4002');
    let kind = 'network';
    if (poolFull) kind = 'pool-full';
    else if (code === CLOSE_CODES.SESSION_CLEARED) kind = 'cleared';
    this._scheduleRetry(kind, { code, reason, error: lastError });
  }

  _scheduleRetry(kind, detail) {
    if (this._stopped) return;
    const { attempt, delayMs, ceilingMs } = this.backoff.next();
    this._setState('waiting', { kind, attempt, delayMs, ceilingMs, ...detail });
    this._retryTimer = setTimeout(() => this._open(), delayMs);
  }

  _retryNow() {
    if (this.state === 'waiting' && !this._stopped) this._open();
  }

  _abandonSocket(code, reason) {
    clearTimeout(this._connectTimer);
    const ws = this._ws;
    this._generation += 1; // late events of this socket are ignored from now on
    this._ws = null;
    this._ready = false;
    if (ws && ws.readyState !== WebSocket.CLOSED) {
      try {
        ws.close(code, reason);
      } catch {
        /* already closing */
      }
    }
  }
}
