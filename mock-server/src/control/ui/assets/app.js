// The dashboard's shell: boots once the control plane answers (asking for the control token
// when the mock wants one), routes between the screens by path (`/__mock__/ui/journal`, ...),
// and polls the control plane while the tab is visible: the clock every second, the state every
// two seconds on the screens that show it (every ten elsewhere: with thousands of users it is
// a large answer). The screens live in screens/, one module each.
//
// Polling, not server-sent events: every call goes through the control plane as it is, with
// the token in the `Authorization` header (an EventSource cannot send one), and a poll is a
// cheap read (`/journal?since=` skips what the page already has).

import * as api from "./api.js";
import * as schema from "./schema.js";
import * as token from "./token.js";
import { byId, fill, toast } from "./dom.js";
import * as apps from "./screens/apps.js";
import * as journal from "./screens/journal.js";
import * as client from "./screens/client.js";
import * as faults from "./screens/faults.js";
import * as clock from "./screens/clock.js";

const BASE = "/__mock__/ui/";

/** The screens: path under BASE, document title, module. */
const SCREENS = [
  { id: "apps", path: "", title: "Apps and users", module: apps },
  { id: "journal", path: "journal", title: "Journal", module: journal },
  { id: "mini-program", path: "mini-program", title: "Mini-program", module: client },
  { id: "faults", path: "faults", title: "Faults", module: faults },
  { id: "clock", path: "clock", title: "Clock and options", module: clock },
];

/** The last `GET /state`, and who wants to know when its content changes. */
const store = {
  state: null,
  key: "",
  listeners: new Set(),
  clockListeners: new Set(),
  clock: null,
  /** Calls `fn(state)` now (if loaded) and on every change. */
  subscribe(fn) {
    this.listeners.add(fn);
    if (this.state) fn(this.state);
  },
  /** Calls `fn(clock)` on every clock read. */
  onClock(fn) {
    this.clockListeners.add(fn);
    if (this.clock) fn(this.clock);
  },
  async refresh() {
    const s = await api.get("/state");
    // The time moves on every read; the rest decides whether the screens draw again.
    const { now, now_ms, frozen, ...rest } = s;
    this.setClock({ now, now_ms, frozen });
    const key = JSON.stringify(rest);
    if (key === this.key) return;
    this.key = key;
    this.state = s;
    for (const fn of this.listeners) fn(s);
  },
  setClock(c) {
    this.clock = c;
    for (const fn of this.clockListeners) fn(c);
  },
};

let authWait = null;
let started = false;

api.onUnauthorized(() => {
  if (authWait) return;
  const conn = byId("conn");
  conn.textContent = "waiting for the control token";
  conn.className = "conn";
  const stale = api.token() !== null;
  api.forgetToken();
  authWait = token
    .ask(stale ? "The mock no longer accepts the stored token (was it restarted with another one?)." : null)
    .then(() => {
      authWait = null;
      showForget();
      if (started) {
        render(false);
        tickAll();
      }
    });
});

function showForget() {
  byId("forget-token").hidden = api.token() === null;
}

/** The screen the address names, or null. */
function current() {
  const path = location.pathname.startsWith(BASE) ? location.pathname.slice(BASE.length) : "";
  const name = path.replace(/\/+$/, "");
  return SCREENS.find((s) => s.path === name) ?? null;
}

function render(moveFocus) {
  // Until the control plane has answered (and while the token is asked for), the screens wait.
  if (authWait || !started) return;
  const screen = current();
  for (const s of document.querySelectorAll("main > .screen")) s.hidden = true;
  for (const a of document.querySelectorAll("nav a[data-screen]")) {
    if (screen && a.dataset.screen === screen.id) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  let section;
  if (screen) {
    section = document.querySelector(`main > .screen[data-screen="${screen.id}"]`);
    document.title = `${screen.title} · mock-server`;
    screen.module.show?.();
  } else {
    section = byId("not-found");
    fill(byId("nf-path"), location.pathname);
    document.title = "No such screen · mock-server";
  }
  section.hidden = false;
  for (const s of SCREENS) if (s !== screen) s.module.hide?.();
  if (moveFocus) section.querySelector("h1")?.focus();
}

function navigate(href) {
  if (href !== location.pathname) history.pushState(null, "", href);
  render(true);
}

document.addEventListener("click", (e) => {
  const a = e.target.closest?.("a[data-nav]");
  if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  e.preventDefault();
  navigate(a.getAttribute("href"));
});
window.addEventListener("popstate", () => render(true));

/** Pollers: each runs at its pace while the tab is visible and no token is being asked for. */
const pollers = [];
let reachable = true;

function every(ms, fn) {
  let busy = false;
  const tick = async () => {
    if (busy || authWait || document.hidden) return;
    busy = true;
    try {
      await fn();
      connected(null);
    } catch (e) {
      if (e.status !== 401) connected(e);
    } finally {
      busy = false;
    }
  };
  pollers.push(tick);
  setInterval(tick, ms);
}

function tickAll() {
  for (const tick of pollers) tick();
}

document.addEventListener("visibilitychange", () => {
  if (!document.hidden) tickAll();
});

function connected(err) {
  const conn = byId("conn");
  const alert = byId("alert");
  if (err && err.status === 0) {
    if (reachable) {
      reachable = false;
      conn.textContent = "the mock does not answer";
      conn.className = "conn down";
      fill(alert, err.message);
      alert.hidden = false;
    }
  } else if (!reachable || conn.textContent !== `connected to ${location.host}`) {
    reachable = true;
    conn.textContent = `connected to ${location.host}`;
    conn.className = "conn up";
    alert.hidden = true;
  }
}

function drawClock(c) {
  const el = byId("top-now");
  el.textContent = new Date(c.now_ms).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
  el.dateTime = c.now;
  byId("top-frozen").hidden = !c.frozen;
}

const delay = (ms) => new Promise((r) => setTimeout(r, ms));

async function boot() {
  byId("forget-token").addEventListener("click", () => {
    api.forgetToken();
    location.reload();
  });
  for (;;) {
    try {
      await schema.load();
      await store.refresh();
      connected(null);
      break;
    } catch (e) {
      if (authWait) {
        await authWait;
        continue;
      }
      connected(e.status === 0 ? e : { status: 0, message: e.message });
      await delay(2000);
    }
  }
  showForget();
  store.onClock(drawClock);
  const ctx = { api, schema, store, toast, navigate };
  for (const s of SCREENS) s.module.init(ctx);
  started = true;
  render(false);
  every(1000, async () => store.setClock(await api.get("/clock")));
  let stateRead = 0;
  every(2000, async () => {
    const shown = current()?.id;
    if (shown !== "apps" && shown !== "mini-program" && performance.now() - stateRead < 10_000) return;
    await store.refresh();
    stateRead = performance.now();
  });
  for (const s of SCREENS) {
    for (const p of s.module.pollers ?? []) every(p.ms, p.run);
  }
  tickAll();
}

boot();
