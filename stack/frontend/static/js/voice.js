// The voice page: connection status, push-to-talk recording, transcript and playback.
import { MicCapture, PcmPlayer, Waveform, bytesToBase64, micErrorMessage } from './audio.js';
import { Backoff } from './backoff.js';
import { clearToken, getToken, realtimeUrl, runtimeConfig } from './config.js';
import { RealtimeConnection } from './realtime-client.js';
import { MESSAGES, POOL_FULL_MESSAGE } from './strings.js';

const byTestId = (id) => document.querySelector(`[data-testid="${id}"]`);
const ui = {
  status: byTestId('connection-status'),
  loginLink: byTestId('login-link'),
  reconnect: byTestId('reconnect-info'),
  error: byTestId('error-message'),
  record: byTestId('record-button'),
  micError: byTestId('mic-error'),
  waveform: byTestId('waveform'),
  micBytes: byTestId('mic-bytes'),
  transcript: byTestId('transcript'),
  audioBytes: byTestId('audio-bytes'),
  logout: byTestId('logout'),
  reconnectButton: byTestId('reconnect-button'),
  eventLog: byTestId('event-log'),
};

const config = runtimeConfig();
const waveform = new Waveform(ui.waveform);
const player = new PcmPlayer({
  onProgress: ({ bytes, chunks }) => {
    ui.audioBytes.textContent = String(bytes);
    ui.audioBytes.dataset.audioBytes = String(bytes);
    ui.audioBytes.dataset.audioChunks = String(chunks);
  },
});

let connection = null;
let mic = null;
let recording = false;
let busy = false; // a start/stop is in progress
let sentBytes = 0;

// -- small view helpers --------------------------------------------------------------
function setStatus(text, state) {
  ui.status.textContent = text;
  ui.status.dataset.state = state;
  document.body.dataset.connection = state;
}

function show(element, text) {
  element.textContent = text;
  element.hidden = !text;
}

function showReconnect(state, attempt, delayMs, text) {
  ui.reconnect.dataset.state = state;
  ui.reconnect.dataset.attempt = String(attempt);
  ui.reconnect.dataset.delayMs = String(delayMs);
  show(ui.reconnect, text);
}

function hideReconnect() {
  ui.reconnect.dataset.state = 'idle';
  ui.reconnect.dataset.attempt = '0';
  ui.reconnect.dataset.delayMs = '0';
  show(ui.reconnect, '');
}

function updateRecordButton() {
  const connected = connection !== null && connection.state === 'connected';
  ui.record.textContent = recording ? MESSAGES.STOP_RECORDING : MESSAGES.START_RECORDING;
  ui.record.setAttribute('aria-pressed', recording ? 'true' : 'false');
  ui.record.dataset.recording = recording ? 'true' : 'false';
  ui.record.disabled = busy || (!recording && !connected);
}

function logEvent(type) {
  const item = document.createElement('li');
  item.textContent = `${new Date().toISOString().slice(11, 23)} ${type}`;
  ui.eventLog.prepend(item);
  while (ui.eventLog.children.length > 50) ui.eventLog.lastElementChild.remove();
}

// -- transcript ------------------------------------------------------------------------
function turnFor(responseId, role = 'assistant') {
  const key = responseId || 'current';
  let turn = ui.transcript.querySelector(`[data-response-id="${CSS.escape(key)}"]`);
  if (!turn) {
    turn = document.createElement('p');
    turn.className = `turn ${role}`;
    turn.dataset.responseId = key;
    turn.dataset.role = role;
    ui.transcript.append(turn);
    ui.transcript.dataset.turns = String(ui.transcript.children.length);
    ui.transcript.scrollTop = ui.transcript.scrollHeight;
  }
  return turn;
}

// -- connection --------------------------------------------------------------------------
function onState({ state, kind, attempt, delayMs, error }) {
  console.info(`[voice] connection ${state}${kind ? ` (${kind})` : ''}`);
  switch (state) {
    case 'connecting':
      setStatus(MESSAGES.CONNECTING, 'connecting');
      hideReconnect();
      ui.reconnectButton.hidden = true;
      break;
    case 'reconnecting':
      // Keep the failure text on screen until we are connected again.
      showReconnect('connecting', attempt, 0, MESSAGES.RECONNECT_NOW(attempt));
      break;
    case 'connected':
      setStatus(MESSAGES.CONNECTED, 'connected');
      hideReconnect();
      show(ui.error, '');
      sendSessionUpdate();
      break;
    case 'waiting': {
      stopRecording({ commit: false });
      if (kind === 'timeout') setStatus(MESSAGES.CONNECT_TIMEOUT, 'timeout');
      else if (kind === 'pool-full') {
        setStatus(MESSAGES.POOL_FULL, 'pool-full');
        show(ui.error, (error && error.message) || POOL_FULL_MESSAGE);
      } else if (kind === 'cleared') setStatus(MESSAGES.SESSION_CLEARED, 'cleared');
      else setStatus(MESSAGES.RECONNECTING, 'reconnecting');
      showReconnect('waiting', attempt, delayMs, MESSAGES.RECONNECT_WAIT(attempt, delayMs));
      break;
    }
    case 'auth-failed':
      stopRecording({ commit: false });
      clearToken();
      setStatus(MESSAGES.AUTH_FAILED, 'auth-failed');
      hideReconnect();
      ui.loginLink.hidden = false;
      ui.logout.hidden = true; // nothing left to log out of
      break;
    case 'idle-closed':
      stopRecording({ commit: false });
      setStatus(MESSAGES.IDLE_CLOSED, 'idle-closed');
      hideReconnect();
      ui.reconnectButton.hidden = false;
      break;
    case 'stopped':
      stopRecording({ commit: false });
      setStatus(MESSAGES.DISCONNECTED, 'stopped');
      hideReconnect();
      break;
    default:
      break;
  }
  updateRecordButton();
}

function onServerEvent(event) {
  const type = event.type || 'unknown';
  if (!type.endsWith('audio.delta')) logEvent(type); // audio deltas would flood the log
  switch (type) {
    case 'error': {
      const err = event.error || {};
      show(ui.error, err.message || err.code || 'error');
      break;
    }
    case 'input_audio_buffer.speech_started':
      player.interrupt();
      break;
    case 'response.created':
      turnFor(event.response && event.response.id);
      break;
    case 'response.output_audio.delta':
    case 'response.audio.delta':
      player.enqueueBase64(event.delta);
      break;
    case 'response.output_audio_transcript.delta':
    case 'response.audio_transcript.delta':
    case 'response.output_text.delta':
    case 'response.text.delta':
      turnFor(event.response_id).textContent += event.delta || '';
      break;
    case 'response.output_audio_transcript.done':
    case 'response.audio_transcript.done':
      if (typeof event.transcript === 'string') turnFor(event.response_id).textContent = event.transcript;
      break;
    case 'conversation.item.input_audio_transcription.completed':
      if (event.transcript) turnFor(`input-${event.item_id}`, 'user').textContent = event.transcript;
      break;
    default:
      break;
  }
}

function sendSessionUpdate() {
  // Push-to-talk: the page commits on "停止录音", so no server VAD turn detection.
  connection.send({
    type: 'session.update',
    session: {
      type: 'realtime',
      output_modalities: ['audio'],
      audio: {
        input: { format: { type: 'audio/pcm', rate: 24000 }, turn_detection: null },
        output: { format: { type: 'audio/pcm', rate: 24000 } },
      },
    },
  });
}

// -- recording -------------------------------------------------------------------------
async function startRecording() {
  busy = true;
  updateRecordButton();
  show(ui.micError, '');
  player.unlock(); // inside the click: lets the model's answer play
  player.interrupt();
  sentBytes = 0;
  ui.micBytes.textContent = '0';
  ui.micBytes.dataset.bytes = '0';
  const capture = new MicCapture({
    onChunk: (buffer) => {
      if (!recording) return;
      if (connection.send({ type: 'input_audio_buffer.append', audio: bytesToBase64(new Uint8Array(buffer)) })) {
        sentBytes += buffer.byteLength;
        ui.micBytes.textContent = String(sentBytes);
        ui.micBytes.dataset.bytes = String(sentBytes);
      }
    },
  });
  try {
    await capture.start();
    if (connection.state !== 'connected') {
      await capture.stop({ flush: false });
      return;
    }
    mic = capture;
    recording = true;
    waveform.attach(capture.analyser);
  } catch (err) {
    console.warn(`[voice] microphone unavailable: ${err && err.name}`);
    show(ui.micError, micErrorMessage(err));
    ui.micError.dataset.errorName = (err && err.name) || 'Error';
  } finally {
    busy = false;
    updateRecordButton();
  }
}

async function stopRecording({ commit }) {
  if (!recording || !mic) return;
  const capture = mic;
  mic = null;
  busy = true;
  updateRecordButton();
  try {
    await capture.stop({ flush: commit });
  } finally {
    recording = false;
    waveform.detach();
    busy = false;
  }
  if (commit && sentBytes > 0) {
    connection.send({ type: 'input_audio_buffer.commit' });
    connection.send({ type: 'response.create' });
  }
  updateRecordButton();
}

// -- wiring ----------------------------------------------------------------------------
ui.record.addEventListener('click', () => {
  if (busy) return;
  if (recording) stopRecording({ commit: true });
  else startRecording();
});

ui.reconnectButton.addEventListener('click', () => {
  if (connection && getToken()) connection.start();
});

ui.logout.addEventListener('click', () => {
  clearToken();
  if (connection) connection.stop('logout');
  window.location.assign('/login');
});

// Leaving the page frees the engine slot at once instead of when the socket times out;
// a page restored from the back/forward cache connects again.
window.addEventListener('pagehide', () => {
  if (connection) connection.stop('page closed');
});
window.addEventListener('pageshow', (event) => {
  if (event.persisted && connection && getToken()) connection.start();
});

function main() {
  hideReconnect();
  const token = getToken();
  // 退出登录 only means something with a token: hidden in the HTML, shown here.
  ui.logout.hidden = !token;
  if (!token) {
    setStatus(MESSAGES.LOGIN_REQUIRED, 'no-token');
    ui.loginLink.hidden = false;
    updateRecordButton();
    document.body.dataset.ready = 'true';
    return;
  }
  connection = new RealtimeConnection({
    url: () => realtimeUrl(config, getToken() || ''),
    connectTimeoutMs: config.connectTimeoutMs,
    backoff: new Backoff({ baseMs: config.reconnectBaseMs, capMs: config.reconnectCapMs }),
  });
  connection.addEventListener('state', (e) => onState(e.detail));
  connection.addEventListener('event', (e) => onServerEvent(e.detail.event));
  connection.addEventListener('attempt', (e) => {
    ui.status.dataset.connectAttempts = String(e.detail.total);
  });
  connection.start();
  document.body.dataset.ready = 'true';
}

main();
