// /test-realtime.html and /test-connection-fixed.html: run the troubleshooting guide's
// checks in order and show each result. Which checks a page runs is its <body data-checks>.
// Each check element: data-testid="check-<name>", data-status pending|running|pass|fail|skip.
// The password starts empty: login and websocket are skipped (summary data-status
// "needs-credentials") until one is typed in or the 使用测试账号 button fills in the guide's
// published test account, which also runs the checks again.
import { health, login } from './api.js';
import { realtimeUrl, runtimeConfig } from './config.js';
import { CLOSE_CODES } from './realtime-client.js';

const byTestId = (id) => document.querySelector(`[data-testid="${id}"]`);
const config = runtimeConfig();
const form = byTestId('diag-form');
const summary = byTestId('summary');
const checks = (document.body.dataset.checks || '').split(',').filter(Boolean);
const RESULT_TEXT = { pending: '等待中', running: '检查中...', pass: '✅ 通过', fail: '❌ 失败', skip: '⏭ 跳过' };
const TEST_ACCOUNT = Object.freeze({ email: 'betty@123.com', password: 'Betty@123.com' }); // the guide's
const useTestAccount = byTestId('use-test-account');

form.elements.apiUrl.value = config.apiUrl;
form.elements.wsUrl.value = config.wsUrl;

function setCheck(name, status, detail = '') {
  const element = byTestId(`check-${name}`);
  element.dataset.status = status;
  element.querySelector('.check-result').textContent = RESULT_TEXT[status];
  element.querySelector('.check-detail').textContent = detail;
}

function checkLabel(name) {
  return byTestId(`check-${name}`).querySelector('.check-name').textContent.trim();
}

// '' when both are there, else what to do about it: 请输入密码或点击“使用测试账号”.
function credentialsHint(email, password) {
  const missing = [!email && '邮箱', !password && '密码'].filter(Boolean).join('和');
  return missing ? `请输入${missing}或点击“${useTestAccount.textContent.trim()}”` : '';
}

function wsCloseText(code, reason) {
  if (code === CLOSE_CODES.AUTH_FAILED) return `认证失败（close ${code}）`;
  if (code === CLOSE_CODES.POOL_FULL) return `引擎并发已满（close ${code}）`;
  if (code === 1006) return '连接被拒绝或中断（close 1006：服务未启动、端口不通或 Origin 不被允许）';
  return `连接关闭（close ${code}${reason ? `：${reason}` : ''}）`;
}

function websocketCheck(url, timeoutMs) {
  return new Promise((resolve) => {
    const started = performance.now();
    let settled = false;
    let lastError = '';
    let ws;
    const finish = (result) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (ws && ws.readyState <= WebSocket.OPEN) ws.close(1000, 'diagnostics done');
      resolve({ ...result, ms: Math.round(performance.now() - started) });
    };
    const timer = setTimeout(
      () => finish({ ok: false, detail: `连接超时，请检查网络连接（${timeoutMs} ms 内未收到 session.created）` }),
      timeoutMs,
    );
    try {
      ws = new WebSocket(url);
    } catch (err) {
      finish({ ok: false, detail: `无法创建 WebSocket：${err && err.message}` });
      return;
    }
    ws.onmessage = (message) => {
      let event = null;
      try {
        event = JSON.parse(message.data);
      } catch {
        return;
      }
      if (event.type === 'session.created') finish({ ok: true, detail: '收到 session.created' });
      else if (event.type === 'error') lastError = (event.error && event.error.message) || '';
    };
    ws.onclose = (close) => {
      const text = wsCloseText(close.code, close.reason);
      finish({ ok: false, detail: lastError ? `${text}：${lastError}` : text });
    };
  });
}

async function runAll() {
  const apiUrl = form.elements.apiUrl.value.trim().replace(/\/+$/, '');
  const wsBase = form.elements.wsUrl.value.trim().replace(/\/+$/, '');
  const email = form.elements.email.value.trim();
  const password = form.elements.password.value;
  const needsCredentials = credentialsHint(email, password);
  let token = null;
  const results = {};
  for (const name of checks) setCheck(name, 'pending');
  summary.dataset.status = 'running';
  summary.textContent = '正在测试...';

  for (const name of checks) {
    setCheck(name, 'running');
    let status = 'fail';
    let detail = '';
    if (name === 'health') {
      const r = await health(apiUrl);
      status = r.ok ? 'pass' : 'fail';
      detail = r.status
        ? `GET ${apiUrl}/health → HTTP ${r.status} ${r.body ? JSON.stringify({ status: r.body.status }) : ''}，${r.ms} ms`
        : `GET ${apiUrl}/health 无响应（${r.detail}）：后端未启动、端口不通或 CORS 未允许本页面的来源`;
    } else if (name === 'frontend') {
      try {
        const [probe, page] = await Promise.all([
          fetch('/healthz', { cache: 'no-store' }),
          fetch('/', { cache: 'no-store' }),
        ]);
        const html = (page.headers.get('content-type') || '').startsWith('text/html');
        status = probe.ok && page.ok && html ? 'pass' : 'fail';
        detail = `/healthz → HTTP ${probe.status}，/ → HTTP ${page.status}${html ? '' : '（不是 HTML）'}`;
      } catch (err) {
        detail = `前端无响应：${err && err.message}`;
      }
    } else if (name === 'login' && needsCredentials) {
      status = 'skip';
      detail = needsCredentials;
    } else if (name === 'login') {
      const r = await login(apiUrl, email, password, config.connectTimeoutMs);
      if (r.ok) {
        token = r.token;
        status = 'pass';
        detail = `获得有效的认证 token${r.expiresIn ? `（有效期 ${r.expiresIn} 秒）` : ''}`;
      } else {
        detail = `HTTP ${r.status || '无响应'}（${r.reason}）${r.detail ? `：${r.detail}` : ''}`;
      }
    } else if (name === 'websocket') {
      if (needsCredentials) {
        status = 'skip';
        detail = `需要先登录获得 token：${needsCredentials}`;
      } else if (!token) {
        status = 'fail';
        detail = '没有有效 token（登录测试未通过），无法测试 WebSocket';
      } else {
        const url = realtimeUrl({ ...config, wsUrl: wsBase }, token);
        const r = await websocketCheck(url, config.connectTimeoutMs);
        status = r.ok ? 'pass' : 'fail';
        detail = `${wsBase}${config.realtimePath} → ${r.detail}，${r.ms} ms`;
      }
    }
    results[name] = status;
    setCheck(name, status, detail);
  }
  const passed = checks.filter((name) => results[name] === 'pass').length;
  const failed = checks.filter((name) => results[name] === 'fail');
  const skipped = checks.filter((name) => results[name] === 'skip');
  const skippedText = skipped.length ? `${skipped.map(checkLabel).join('、')}未运行：${needsCredentials}` : '';
  if (failed.length) {
    summary.dataset.status = 'fail';
    summary.textContent =
      `❌ ${failed.length} 项未通过：${failed.join(', ')}（${passed}/${checks.length} 通过）` +
      (skippedText ? `；${skippedText}` : '');
  } else if (skipped.length) {
    summary.dataset.status = 'needs-credentials';
    summary.textContent = `⚠ ${passed}/${checks.length} 通过；${skippedText}`;
  } else {
    summary.dataset.status = 'pass';
    summary.textContent = `✅ 全部通过（${checks.length}/${checks.length}）`;
  }
}

// One run at a time; asking during a run runs once more afterwards, with the form as it is then.
let running = null;
let again = false;
function requestRun() {
  if (running) {
    again = true;
    return;
  }
  running = (async () => {
    do {
      again = false;
      await runAll();
    } while (again);
  })().finally(() => (running = null));
}

form.addEventListener('submit', (event) => {
  event.preventDefault();
  requestRun();
});

useTestAccount.addEventListener('click', () => {
  form.elements.email.value = TEST_ACCOUNT.email;
  form.elements.password.value = TEST_ACCOUNT.password;
  requestRun();
});
useTestAccount.disabled = false;

document.body.dataset.ready = 'true';
requestRun(); // the automatic first run: without a password it checks what needs none
