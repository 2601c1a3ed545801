// The login page: POST the credentials, keep the JWT in localStorage, go to the voice page.
import { login } from './api.js';
import { runtimeConfig, setToken } from './config.js';
import { LOGIN_MESSAGES } from './strings.js';

const byTestId = (id) => document.querySelector(`[data-testid="${id}"]`);
const form = byTestId('login-form');
const email = byTestId('login-email');
const password = byTestId('login-password');
const submit = byTestId('login-submit');
const errorBox = byTestId('login-error');
const statusBox = byTestId('login-status');
const config = runtimeConfig();

function show(element, text) {
  element.textContent = text;
  element.hidden = !text;
}

function failureMessage(result) {
  switch (result.reason) {
    case 'credentials':
      return LOGIN_MESSAGES.BAD_CREDENTIALS;
    case 'rate-limited':
      return result.retryAfter
        ? `${LOGIN_MESSAGES.RATE_LIMITED}（${result.retryAfter} 秒后）`
        : LOGIN_MESSAGES.RATE_LIMITED;
    case 'network':
    case 'timeout':
      return LOGIN_MESSAGES.NETWORK;
    default:
      return `${LOGIN_MESSAGES.SERVER}（HTTP ${result.status}）`;
  }
}

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  show(errorBox, '');
  const emailValue = email.value.trim();
  if (!emailValue || !password.value) {
    show(errorBox, LOGIN_MESSAGES.MISSING);
    errorBox.dataset.reason = 'missing';
    return;
  }
  submit.disabled = true;
  show(statusBox, LOGIN_MESSAGES.SUBMITTING);
  const result = await login(config.apiUrl, emailValue, password.value, config.connectTimeoutMs);
  if (result.ok) {
    setToken(result.token);
    show(statusBox, LOGIN_MESSAGES.SUCCESS);
    window.location.assign('/');
    return;
  }
  console.warn(`[login] failed: HTTP ${result.status} (${result.reason})`);
  show(statusBox, '');
  show(errorBox, failureMessage(result));
  errorBox.dataset.reason = result.reason;
  errorBox.dataset.status = String(result.status);
  submit.disabled = false;
  password.select();
});

document.body.dataset.ready = 'true';
