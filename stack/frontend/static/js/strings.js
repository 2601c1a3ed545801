// Every user-facing string of the voice page. The first six are the troubleshooting
// guide's own words and must stay byte-for-byte identical: users search for them, and
// the qualification suite asserts them.
export const MESSAGES = Object.freeze({
  CONNECTED: '已连接',
  RECONNECTING: '网络连接出现问题，正在尝试重新连接...',
  LOGIN_REQUIRED: '请先登录后再使用语音功能',
  CONNECT_TIMEOUT: '连接超时，请检查网络连接',
  AUTH_FAILED: '认证失败，请重新登录',
  START_RECORDING: '开始录音',

  STOP_RECORDING: '停止录音',
  CONNECTING: '正在连接...',
  NOT_CONNECTED: '未连接',
  DISCONNECTED: '已断开连接',
  SESSION_CLEARED: '会话已被管理员清除，正在重新连接...',
  POOL_FULL: '语音引擎繁忙（4002），正在尝试重新连接...',
  GO_LOGIN: '前往登录',
  IDLE_CLOSED: '会话因长时间无操作已断开，点击“重新连接”继续',
  RECONNECT: '重新连接',
  MIC_DENIED: '麦克风权限被拒绝，请在浏览器设置中允许麦克风权限',
  MIC_NOT_FOUND: '未检测到麦克风设备，请连接麦克风后重试',
  MIC_BUSY: '麦克风被其他应用占用或无法读取，请关闭占用麦克风的程序后重试',
  MIC_INSECURE: '当前页面不是安全上下文（需要 HTTPS 或 localhost），浏览器不允许使用麦克风',
  MIC_UNSUPPORTED: '当前浏览器不支持录音（需要 AudioWorklet），请使用 Chrome 80+、Firefox 76+、Safari 14.1+ 或 Edge 80+',
  MIC_FAILED: '无法启动麦克风',
  RECONNECT_WAIT: (attempt, delayMs) => `第 ${attempt} 次重连将在 ${(delayMs / 1000).toFixed(1)} 秒后开始`,
  RECONNECT_NOW: (attempt) => `正在进行第 ${attempt} 次重连...`,
});

// The exact message the backend sends (error.code "4002") before closing with 4002.
export const POOL_FULL_MESSAGE =
  'Failed to start live: failed to load or create engine: concurrency over limit (code: 4002)';

export const LOGIN_MESSAGES = Object.freeze({
  BAD_CREDENTIALS: '邮箱或密码错误，请重试',
  RATE_LIMITED: '登录尝试过于频繁，请稍后再试',
  NETWORK: '无法连接到服务器，请检查网络连接',
  SERVER: '服务器错误，请稍后再试',
  MISSING: '请输入邮箱和密码',
  SUBMITTING: '正在登录...',
  SUCCESS: '登录成功，正在跳转...',
});
