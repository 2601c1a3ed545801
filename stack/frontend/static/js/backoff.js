// Exponential backoff with full jitter (AWS Architecture Blog, "Exponential Backoff
// and Jitter"): delay = random(0, min(cap, base * 2^(attempt-1))). Spreads reconnect
// storms after an outage instead of synchronising every client on the same instant.
export class Backoff {
  constructor({ baseMs = 500, capMs = 15000, random = Math.random } = {}) {
    this.baseMs = baseMs;
    this.capMs = capMs;
    this.random = random;
    this.attempt = 0;
  }

  next() {
    this.attempt += 1;
    const ceilingMs = Math.min(this.capMs, this.baseMs * 2 ** Math.min(this.attempt - 1, 30));
    const delayMs = Math.floor(this.random() * ceilingMs);
    return { attempt: this.attempt, delayMs, ceilingMs };
  }

  reset() {
    this.attempt = 0;
  }
}
