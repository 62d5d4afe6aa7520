// Live updates. The WebSocket at /ws?token=… speaks a small JSON protocol: after
// {"type":"subscribe:user"} the server sends {"type":"check:update","data":{…}} for every check
// of the user's monitors and {"type":"incident:update","data":{…}} when an incident opens or is
// resolved. When the socket is not available (refused, closed, not deployed), the views poll
// the REST API instead, and the socket is tried again with exponential back-off.
//
// Listeners: live.on('check', fn), live.on('incident', fn), live.on('mode', fn) where mode is
// 'live' (socket open and subscribed) or 'polling'.

const MIN_DELAY = 1000;
const MAX_DELAY = 30000;

export class Live {
  constructor() {
    this.target = new EventTarget();
    this.mode = 'polling';
    this.socket = null;
    this.token = null;
    this.attempt = 0;
    this.timer = null;
  }

  on(type, listener) {
    const wrapped = (event) => listener(event.detail);
    this.target.addEventListener(type, wrapped);
    return () => this.target.removeEventListener(type, wrapped);
  }

  emit(type, detail) {
    this.target.dispatchEvent(new CustomEvent(type, { detail }));
  }

  setMode(mode) {
    if (this.mode === mode) return;
    this.mode = mode;
    this.emit('mode', mode);
  }

  /** Connects with `token` (again, if it changed). */
  start(token) {
    if (this.token === token && this.socket) return;
    this.stop();
    this.token = token;
    this.connect();
  }

  /** Closes the socket and stops reconnecting. */
  stop() {
    clearTimeout(this.timer);
    this.timer = null;
    this.token = null;
    if (this.socket) {
      const socket = this.socket;
      this.socket = null;
      socket.onclose = null;
      socket.close(1000, 'signed out');
    }
    this.setMode('polling');
  }

  connect() {
    if (!this.token) return;
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    let socket;
    try {
      socket = new WebSocket(`${scheme}//${location.host}/ws?token=${encodeURIComponent(this.token)}`);
    } catch {
      this.retry();
      return;
    }
    this.socket = socket;
    socket.onopen = () => {
      socket.send(JSON.stringify({ type: 'subscribe:user' }));
      this.attempt = 0;
      this.setMode('live');
    };
    socket.onmessage = (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      if (message.type === 'check:update' && message.data) this.emit('check', normaliseCheck(message.data));
      else if (message.type === 'incident:update' && message.data) this.emit('incident', message.data);
      else if (message.type === 'error') console.warn('live updates:', message.message ?? message);
    };
    socket.onerror = () => {};
    socket.onclose = () => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.setMode('polling');
      this.retry();
    };
  }

  retry() {
    if (!this.token) return;
    const ceiling = Math.min(MAX_DELAY, MIN_DELAY * 2 ** this.attempt);
    this.attempt += 1;
    // Full jitter: many tabs reconnecting after a restart spread out.
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.connect(), delay);
  }
}

/**
 * A check:update's data as the views use it. The server sends the results-file fields with the
 * check's own outcome as `checkStatus` (UP / DOWN / TIMEOUT / ERROR), the monitor's confirmed
 * `status` (UP / DOWN / UNKNOWN) and, on a confirmed change, `statusChange: {from, to}`. Views get
 * `monitorId` as a number, `confirmed` (from `statusChange.to`, else `status`) and `ok`.
 */
export function normaliseCheck(data) {
  const confirmed = data.statusChange?.to ?? (['UP', 'DOWN', 'UNKNOWN'].includes(data.status) ? data.status : null);
  const ok = data.checkStatus ? data.checkStatus === 'UP' : data.errorCode === null || data.errorCode === undefined;
  return {
    ...data,
    monitorId: Number(data.monitorId),
    confirmed,
    ok,
  };
}

export const live = new Live();
