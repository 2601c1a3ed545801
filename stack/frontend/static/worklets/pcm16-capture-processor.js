// AudioWorklet processor: microphone frames (Float32 at the context's rate, usually
// 48 kHz) -> 24 kHz mono PCM16 little-endian, posted to the main thread in fixed
// chunks (default 40 ms = 960 samples = 1920 bytes).
//
// Resampling: a moving-average low-pass over ~one input period of the output rate
// (cheap anti-aliasing for the usual integer ratios 48k->24k, 44.1k->24k is fine too),
// then linear interpolation at fractional positions carried across render quanta.
//
// Messages in:  {type: 'flush'}  -> posts what is buffered, then {type: 'flushed'}
// Messages out: {type: 'chunk', buffer: ArrayBuffer(PCM16 LE), samples, peak}
class Pcm16CaptureProcessor extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const opts = (options && options.processorOptions) || {};
    this.targetRate = opts.targetRate || 24000;
    const chunkMs = opts.chunkMs || 40;
    this.chunkSamples = Math.max(1, Math.round((this.targetRate * chunkMs) / 1000));
    this.step = sampleRate / this.targetRate; // input samples per output sample
    this.taps = Math.max(1, Math.round(this.step));
    this.history = new Float32Array(this.taps); // ring for the moving average
    this.historyIndex = 0;
    this.historySum = 0;
    this.prev = 0; // last filtered input sample (for interpolation across quanta)
    this.pos = 0; // next output position, in input samples relative to this.prev at -1
    this.out = new Int16Array(this.chunkSamples);
    this.outLength = 0;
    this.peak = 0;
    this.port.onmessage = (event) => {
      if (event.data && event.data.type === 'flush') {
        this.emit();
        this.port.postMessage({ type: 'flushed' });
      }
    };
  }

  filter(sample) {
    this.historySum += sample - this.history[this.historyIndex];
    this.history[this.historyIndex] = sample;
    this.historyIndex = (this.historyIndex + 1) % this.taps;
    return this.historySum / this.taps;
  }

  push(value) {
    const clamped = Math.max(-1, Math.min(1, value));
    const magnitude = Math.abs(clamped);
    if (magnitude > this.peak) this.peak = magnitude;
    this.out[this.outLength++] = clamped < 0 ? clamped * 0x8000 : clamped * 0x7fff;
    if (this.outLength === this.chunkSamples) this.emit();
  }

  emit() {
    if (this.outLength === 0) return;
    const buffer = new ArrayBuffer(this.outLength * 2);
    const view = new DataView(buffer);
    for (let i = 0; i < this.outLength; i++) view.setInt16(i * 2, this.out[i], true);
    this.port.postMessage({ type: 'chunk', buffer, samples: this.outLength, peak: this.peak }, [buffer]);
    this.outLength = 0;
    this.peak = 0;
  }

  process(inputs) {
    const input = inputs[0];
    if (!input || input.length === 0 || !input[0]) return true; // no data yet: keep alive
    const channels = input.length;
    const frames = input[0].length;
    // Positions: index -1 is this.prev, 0..frames-1 are this quantum's filtered samples.
    const filtered = new Float32Array(frames);
    for (let i = 0; i < frames; i++) {
      let mixed = 0;
      for (let c = 0; c < channels; c++) mixed += input[c][i];
      filtered[i] = this.filter(mixed / channels);
    }
    while (this.pos < frames - 1 + 1e-9) {
      const base = Math.floor(this.pos);
      const frac = this.pos - base;
      const a = base < 0 ? this.prev : filtered[base];
      const b = filtered[Math.min(base + 1, frames - 1)];
      this.push(a + (b - a) * frac);
      this.pos += this.step;
    }
    this.prev = filtered[frames - 1];
    this.pos -= frames;
    return true;
  }
}

registerProcessor('pcm16-capture', Pcm16CaptureProcessor);
