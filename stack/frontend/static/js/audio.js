// Audio plumbing of the voice page: microphone capture (AudioWorklet -> 24 kHz PCM16),
// the waveform (AnalyserNode -> <canvas>), playback of the model's PCM16 audio.
import { MESSAGES } from './strings.js';

export const PCM_RATE = 24000; // OpenAI Realtime pcm16: 24 kHz mono little-endian
const WORKLET_URL = '/static/worklets/pcm16-capture-processor.js';

// -- base64 <-> bytes ----------------------------------------------------------------
export function bytesToBase64(bytes) {
  let binary = '';
  const step = 0x8000; // String.fromCharCode argument limit stays far away
  for (let i = 0; i < bytes.length; i += step) {
    binary += String.fromCharCode.apply(null, bytes.subarray(i, i + step));
  }
  return btoa(binary);
}

export function base64ToBytes(b64) {
  const binary = atob(b64);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

export function pcm16ToFloat32(bytes) {
  const samples = bytes.length >> 1;
  const view = new DataView(bytes.buffer, bytes.byteOffset, samples * 2);
  const out = new Float32Array(samples);
  for (let i = 0; i < samples; i++) out[i] = view.getInt16(i * 2, true) / 0x8000;
  return out;
}

// -- microphone errors -> the message a user can act on --------------------------------
export class MicError extends Error {
  constructor(message, cause) {
    super(message);
    this.name = 'MicError';
    this.cause = cause;
  }
}

export function micErrorMessage(err) {
  const name = err && err.name;
  if (name === 'NotAllowedError' || name === 'SecurityError' || name === 'PermissionDeniedError') {
    return MESSAGES.MIC_DENIED;
  }
  if (name === 'NotFoundError' || name === 'DevicesNotFoundError' || name === 'OverconstrainedError') {
    return MESSAGES.MIC_NOT_FOUND;
  }
  if (name === 'NotReadableError' || name === 'TrackStartError' || name === 'AbortError') {
    return MESSAGES.MIC_BUSY;
  }
  if (name === 'MicError') return err.message;
  return `${MESSAGES.MIC_FAILED}：${(err && err.message) || name || '未知错误'}`;
}

// -- capture ---------------------------------------------------------------------------
export class MicCapture {
  /**
   * @param {object} options
   * @param {(chunk: ArrayBuffer) => void} options.onChunk   24 kHz PCM16 LE chunks
   * @param {number} [options.chunkMs]
   */
  constructor({ onChunk, chunkMs = 40 }) {
    this.onChunk = onChunk;
    this.chunkMs = chunkMs;
    this.stream = null;
    this.context = null;
    this.node = null;
    this.analyser = null;
    this.bytesCaptured = 0;
    this._flushWaiter = null;
  }

  async start() {
    if (!window.isSecureContext) throw new MicError(MESSAGES.MIC_INSECURE);
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      throw new MicError(MESSAGES.MIC_INSECURE);
    }
    if (typeof AudioWorkletNode === 'undefined') throw new MicError(MESSAGES.MIC_UNSUPPORTED);
    this.stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    try {
      this.context = new AudioContext({ latencyHint: 'interactive' });
      await this.context.audioWorklet.addModule(WORKLET_URL);
      const source = this.context.createMediaStreamSource(this.stream);
      this.analyser = this.context.createAnalyser();
      this.analyser.fftSize = 2048;
      this.analyser.smoothingTimeConstant = 0.2;
      this.node = new AudioWorkletNode(this.context, 'pcm16-capture', {
        numberOfInputs: 1,
        numberOfOutputs: 1,
        outputChannelCount: [1],
        processorOptions: { targetRate: PCM_RATE, chunkMs: this.chunkMs },
      });
      this.node.port.onmessage = (event) => this._onMessage(event.data);
      source.connect(this.analyser);
      source.connect(this.node);
      // The processor writes silence; connecting it keeps the graph pulling it.
      this.node.connect(this.context.destination);
      if (this.context.state === 'suspended') await this.context.resume();
    } catch (err) {
      await this.stop({ flush: false });
      throw err;
    }
    return this;
  }

  _onMessage(data) {
    if (!data) return;
    if (data.type === 'chunk') {
      this.bytesCaptured += data.buffer.byteLength;
      this.onChunk(data.buffer);
    } else if (data.type === 'flushed' && this._flushWaiter) {
      this._flushWaiter();
      this._flushWaiter = null;
    }
  }

  /** Stop the microphone; with flush, the partial last chunk is delivered first. */
  async stop({ flush = true } = {}) {
    if (flush && this.node) {
      await Promise.race([
        new Promise((resolve) => {
          this._flushWaiter = resolve;
          this.node.port.postMessage({ type: 'flush' });
        }),
        new Promise((resolve) => setTimeout(resolve, 500)),
      ]);
    }
    if (this.stream) this.stream.getTracks().forEach((track) => track.stop());
    if (this.node) this.node.port.onmessage = null;
    if (this.context && this.context.state !== 'closed') {
      try {
        await this.context.close();
      } catch {
        /* already closed */
      }
    }
    this.stream = null;
    this.node = null;
    this.analyser = null;
    this.context = null;
  }
}

// -- waveform --------------------------------------------------------------------------
// Draws the analyser's time-domain signal; exposes data-level (RMS 0..1, 4 decimals),
// data-peak (highest level since start) and data-frames (frames drawn) on the canvas
// so a test can see the waveform move without reading pixels.
export class Waveform {
  constructor(canvas) {
    this.canvas = canvas;
    this.ctx2d = canvas.getContext('2d');
    this.analyser = null;
    this.samples = null;
    this.frames = 0;
    this.peak = 0;
    this._raf = 0;
    this._draw = this._draw.bind(this);
    this._publish(0);
    this._clear();
  }

  attach(analyser) {
    this.analyser = analyser;
    this.samples = new Float32Array(analyser.fftSize);
    this.peak = 0;
    this.canvas.dataset.active = 'true';
    cancelAnimationFrame(this._raf);
    this._raf = requestAnimationFrame(this._draw);
  }

  detach() {
    cancelAnimationFrame(this._raf);
    this.analyser = null;
    this.canvas.dataset.active = 'false';
    this._publish(0);
    this._clear();
  }

  _publish(level) {
    this.canvas.dataset.level = level.toFixed(4);
    this.canvas.dataset.peak = this.peak.toFixed(4);
    this.canvas.dataset.frames = String(this.frames);
  }

  _clear() {
    const { width, height } = this.canvas;
    this.ctx2d.clearRect(0, 0, width, height);
    this.ctx2d.strokeStyle = '#9aa5b1';
    this.ctx2d.lineWidth = 1;
    this.ctx2d.beginPath();
    this.ctx2d.moveTo(0, height / 2);
    this.ctx2d.lineTo(width, height / 2);
    this.ctx2d.stroke();
  }

  _draw() {
    if (!this.analyser) return;
    this.analyser.getFloatTimeDomainData(this.samples);
    let sumSquares = 0;
    for (let i = 0; i < this.samples.length; i++) sumSquares += this.samples[i] * this.samples[i];
    const level = Math.sqrt(sumSquares / this.samples.length);
    if (level > this.peak) this.peak = level;
    this.frames += 1;

    const { width, height } = this.canvas;
    const g = this.ctx2d;
    g.clearRect(0, 0, width, height);
    g.lineWidth = 2;
    g.strokeStyle = '#1f7aec';
    g.beginPath();
    const stride = this.samples.length / width;
    for (let x = 0; x < width; x++) {
      const v = this.samples[Math.floor(x * stride)];
      const y = height / 2 - v * (height / 2) * 0.95;
      if (x === 0) g.moveTo(x, y);
      else g.lineTo(x, y);
    }
    g.stroke();
    this._publish(level);
    this._raf = requestAnimationFrame(this._draw);
  }
}

// -- playback --------------------------------------------------------------------------
// Each delta becomes an AudioBuffer at 24 kHz (the context resamples to its own rate),
// scheduled back to back so chunks play gap-free in arrival order.
export class PcmPlayer {
  constructor({ onProgress = () => {} } = {}) {
    this.context = null;
    this.nextTime = 0;
    this.bytes = 0;
    this.chunks = 0;
    this.sources = new Set();
    this.onProgress = onProgress;
  }

  /** Create/resume the output context; call from a click so autoplay rules allow sound. */
  unlock() {
    if (!this.context) this.context = new AudioContext({ latencyHint: 'interactive' });
    if (this.context.state === 'suspended') this.context.resume().catch(() => {});
  }

  enqueueBase64(b64) {
    if (!b64) return;
    const bytes = base64ToBytes(b64);
    const samples = pcm16ToFloat32(bytes);
    if (samples.length === 0) return;
    if (!this.context) this.unlock();
    const ctx = this.context;
    const buffer = ctx.createBuffer(1, samples.length, PCM_RATE);
    buffer.copyToChannel(samples, 0);
    const source = ctx.createBufferSource();
    source.buffer = buffer;
    source.connect(ctx.destination);
    const startAt = Math.max(ctx.currentTime + 0.03, this.nextTime);
    source.start(startAt);
    this.nextTime = startAt + buffer.duration;
    this.sources.add(source);
    source.onended = () => this.sources.delete(source);
    this.bytes += samples.length * 2;
    this.chunks += 1;
    this.onProgress({ bytes: this.bytes, chunks: this.chunks });
  }

  /** Barge-in: drop whatever is still queued. */
  interrupt() {
    for (const source of this.sources) {
      try {
        source.stop();
      } catch {
        /* not started yet or already ended */
      }
    }
    this.sources.clear();
    this.nextTime = 0;
  }

  async close() {
    this.interrupt();
    if (this.context && this.context.state !== 'closed') await this.context.close().catch(() => {});
    this.context = null;
  }
}
