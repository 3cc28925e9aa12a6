// The control plane as the dashboard calls it: JSON in and out under /__mock__, with the control
// token, when the mock has one, as `Authorization: Bearer <token>`, exactly as every other client
// sends it. The token lives in sessionStorage: this tab only, gone when it closes.

const ROOT = "/__mock__";
const KEY = "mock-server.control-token";

/** A refused or failed control-plane call: the mock's `{"error":{"code","message"}}`. */
export class ControlError extends Error {
  constructor(status, code, message) {
    super(message);
    this.name = "ControlError";
    this.status = status;
    this.code = code;
  }

  /** The field an `invalid_field` error names (`invalid \`advance\`: ...`), if any. */
  get field() {
    const m = /^invalid `([^`]+)`/.exec(this.message);
    return m ? m[1] : null;
  }
}

// Where sessionStorage is unavailable (some private modes), the token lives in memory.
let memoryToken = null;

/** The stored control token, or null. */
export function token() {
  try {
    return sessionStorage.getItem(KEY);
  } catch {
    return memoryToken;
  }
}

/** Stores the control token for the calls that follow. */
export function setToken(value) {
  memoryToken = value;
  try {
    sessionStorage.setItem(KEY, value);
  } catch {
    // memoryToken holds it.
  }
}

/** Forgets the control token. */
export function forgetToken() {
  memoryToken = null;
  try {
    sessionStorage.removeItem(KEY);
  } catch {
    // Nothing stored.
  }
}

const unauthorized = new Set();

/** Calls `fn(error)` whenever the mock answers 401 `unauthorized`. */
export function onUnauthorized(fn) {
  unauthorized.add(fn);
}

/**
 * One control-plane call: `path` is relative to /__mock__ (`/state`), `body` is sent as JSON.
 * Resolves to the parsed answer; rejects with a ControlError (status 0: the mock did not answer).
 */
export async function call(method, path, body) {
  const headers = { Accept: "application/json" };
  const t = token();
  if (t) headers.Authorization = `Bearer ${t}`;
  const init = { method, headers, cache: "no-store" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(ROOT + path, init);
  } catch (e) {
    throw new ControlError(0, "unreachable", `The mock does not answer (${e.message}): is it still running?`);
  }
  const text = await res.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  if (!res.ok) {
    const code = json?.error?.code ?? `http_${res.status}`;
    const message = json?.error?.message ?? `HTTP ${res.status} ${res.statusText}: ${text.slice(0, 200)}`;
    const err = new ControlError(res.status, code, message);
    if (res.status === 401) for (const fn of unauthorized) fn(err);
    throw err;
  }
  return json;
}

export const get = (path) => call("GET", path);
export const post = (path, body) => call("POST", path, body ?? {});
export const patch = (path, body) => call("PATCH", path, body);
export const del = (path) => call("DELETE", path);
