// The live journal: every vendor request, newest first, read once a second with
// `GET /__mock__/journal?since=<last_seq>` (only what is new; see app.js for why polling). Rows
// stay in the page (the latest 1000) and the filters (endpoint, errcode or Tencent Cloud code,
// app, text, errors only) show or hide them at once. A row opens to the request as received and
// the answer exactly as sent. Non-zero errcodes, non-200 answers and injected faults stand out.

import { byId, copyButton, fill, h, shortTime } from "../dom.js";

const MAX_ROWS = 1000;

let ctx = null;
let since = 0;
let recorded = 0;
let paused = false;
/** seq -> { entry, row, detail } */
const rows = new Map();

export const pollers = [{ ms: 1000, run: poll }];

export function init(c) {
  ctx = c;
  const endpoint = byId("jf-endpoint");
  for (const name of ctx.schema.values("EndpointName")) endpoint.append(h("option", { value: name }, name));
  ctx.store.subscribe(drawAppChoices);
  const filters = byId("journal-filters");
  filters.addEventListener("input", applyFilter);
  filters.addEventListener("change", applyFilter);
  filters.addEventListener("submit", (e) => e.preventDefault());
  const pause = byId("journal-pause");
  pause.addEventListener("click", () => {
    paused = !paused;
    pause.setAttribute("aria-pressed", String(paused));
    pause.textContent = paused ? "Resume live updates" : "Pause live updates";
    if (!paused) poll().catch(() => {});
  });
  byId("journal-clear").addEventListener("click", async () => {
    try {
      await ctx.api.del("/journal");
      clearRows();
      recorded = 0;
      ctx.toast("Journal cleared.");
    } catch (err) {
      ctx.toast(`The journal was not cleared: ${err.message}`);
    }
  });
  count();
}

function drawAppChoices(state) {
  const select = byId("jf-appid");
  const chosen = select.value;
  fill(
    select,
    h("option", { value: "" }, "any"),
    state.apps.map((a) => h("option", { value: a.appid }, a.name ? `${a.appid} (${a.name})` : a.appid)),
  );
  select.value = chosen;
}

async function poll() {
  if (paused) return;
  const page = await ctx.api.get(`/journal?since=${since}`);
  if (page.last_seq < since) {
    // A new mock on the same address: start over.
    clearRows();
    since = 0;
    recorded = 0;
    note("The mock restarted: the journal starts over.");
    return poll();
  }
  if (page.recorded < recorded) {
    clearRows();
    note("The journal was cleared.");
  }
  recorded = page.recorded;
  const entries = page.entries.slice(-MAX_ROWS);
  if (since > 0 && entries.length && entries[0].seq > since + 1) {
    note(`${entries[0].seq - since - 1} requests left the journal (capacity ${page.capacity}) before the page read them.`);
  }
  for (const e of entries) add(e);
  since = page.last_seq;
  for (const seq of [...rows.keys()].sort((a, b) => a - b).slice(0, Math.max(rows.size - MAX_ROWS, 0))) {
    const r = rows.get(seq);
    r.row.remove();
    r.detail.remove();
    rows.delete(seq);
  }
  if (entries.length) count();
}

function note(text) {
  byId("journal-note").textContent = text;
}

function clearRows() {
  byId("journal-rows").replaceChildren();
  rows.clear();
  count();
}

/** Whether the answer was an error: a non-zero errcode, a Tencent Cloud error, not HTTP 200. */
function isError(e) {
  return (e.errcode !== null && e.errcode !== 0) || e.status !== 200 || (e.tencent_code ?? "Ok") !== "Ok";
}

function add(e) {
  if (rows.has(e.seq)) return;
  const endpoints = byId("jf-endpoint");
  // An endpoint the mock's document did not list (an older document) can still be picked.
  if (![...endpoints.options].some((o) => o.value === e.endpoint)) {
    endpoints.append(h("option", { value: e.endpoint }, e.endpoint));
  }
  const id = `entry-${e.seq}`;
  const toggle = h(
    "button",
    { type: "button", class: "disclosure", "aria-expanded": "false", "aria-controls": id, "aria-label": `Request ${e.seq}: show the request and the answer` },
    `#${e.seq}`,
  );
  const code = e.errcode ?? e.tencent_code ?? null;
  const row = h(
    "tr",
    {
      class: ["entry", isError(e) ? "bad" : "", e.fault ? "faulted" : ""].join(" ").trim(),
      dataset: { seq: e.seq, endpoint: e.endpoint, errcode: e.errcode ?? "" },
    },
    h("td", {}, toggle),
    h("td", { class: "mono nowrap" }, h("time", { datetime: e.time, title: e.time }, shortTime(e.time_ms))),
    h("td", {}, h("b", {}, e.endpoint), h("div", { class: "muted mono small" }, `${e.method} ${e.path}`)),
    h("td", { class: "mono" }, e.appid ?? h("span", { class: "muted" }, "none"), appName(e.appid)),
    h("td", {}, e.user ?? h("span", { class: "muted" }, "none")),
    h("td", { class: e.status === 200 ? "num" : "num bad-text" }, e.status === 0 ? "no answer" : e.status),
    h("td", { class: "num" }, code === null ? h("span", { class: "muted" }, "none") : h("span", { class: `code ${code === 0 || code === "Ok" ? "ok" : "err"}` }, code)),
    h("td", {}, e.fault ? h("span", { class: "pill fault", title: e.fault }, e.fault) : ""),
  );
  const detail = h("tr", { class: "detail", id, hidden: true }, h("td", { colspan: 8 }, panes(e)));
  const open = (yes) => {
    toggle.setAttribute("aria-expanded", String(yes));
    toggle.setAttribute("aria-label", `Request ${e.seq}: ${yes ? "hide" : "show"} the request and the answer`);
    row.classList.toggle("open", yes);
    detail.hidden = !yes || row.hidden;
  };
  toggle.addEventListener("click", () => open(toggle.getAttribute("aria-expanded") !== "true"));
  row.addEventListener("click", (ev) => {
    if (ev.target.closest("button, a, time") || String(getSelection()).length > 0) return;
    open(toggle.getAttribute("aria-expanded") !== "true");
  });
  byId("journal-rows").prepend(row, detail);
  rows.set(e.seq, { entry: e, row, detail, toggle });
  show(rows.get(e.seq), filter());
}

/** The app's name under its appid, when it has one. */
function appName(appid) {
  const name = ctx.store.state?.apps.find((a) => a.appid === appid)?.name;
  return name ? h("div", { class: "muted small" }, name) : null;
}

function panes(e) {
  const target = e.query ? `${e.path}?${e.query}` : e.path;
  const headers = e.headers ? Object.entries(e.headers).map(([k, v]) => `${k}: ${v}\n`).join("") : "";
  const request = `${e.method} ${target}\n${headers}${e.body ? `\n${e.body}` : ""}`;
  const answer = e.status === 0 ? "" : e.response;
  const facts = [
    ["time", e.time],
    ["latency", `${(e.latency_us / 1000).toFixed(2)} ms`],
    e.rid ? ["rid", e.rid] : null,
    e.fault ? ["fault", e.fault] : null,
    e.user ? ["user", e.user] : null,
  ].filter(Boolean);
  return h(
    "div",
    { class: "panes", role: "group", "aria-label": `Request ${e.seq} and its answer` },
    h(
      "section",
      { class: "pane", "aria-label": "Request" },
      h("h3", {}, "Request", copyButton(`request ${e.seq}`, request)),
      h("pre", { class: "wire" }, request),
    ),
    h(
      "section",
      { class: "pane", "aria-label": "Answer" },
      h("h3", {}, e.status === 0 ? "Answer: none, the connection was cut" : `Answer: HTTP ${e.status}`, copyButton(`answer ${e.seq}`, answer)),
      h("pre", { class: "wire" }, answer || "(no body)"),
      h("dl", { class: "facts inline" }, facts.map(([k, v]) => h("div", {}, h("dt", {}, k), h("dd", { class: "mono" }, v)))),
    ),
  );
}

/** The filters as a predicate over entries. */
function filter() {
  const endpoint = byId("jf-endpoint").value;
  const appid = byId("jf-appid").value;
  const code = byId("jf-errcode").value.trim();
  const q = byId("jf-text").value.trim().toLowerCase();
  const errorsOnly = byId("jf-errors").checked;
  return (e) =>
    (!endpoint || e.endpoint === endpoint) &&
    (!appid || e.appid === appid) &&
    (!code || String(e.errcode) === code || e.tencent_code === code) &&
    (!errorsOnly || isError(e) || e.fault !== null) &&
    (!q ||
      [e.method, e.path, e.query, e.body, e.response, e.user, e.appid, e.rid, e.fault, e.endpoint, e.tencent_code]
        .some((x) => x && String(x).toLowerCase().includes(q)));
}

function show(r, matches) {
  r.row.hidden = !matches(r.entry);
  r.detail.hidden = r.row.hidden || r.toggle.getAttribute("aria-expanded") !== "true";
}

function applyFilter() {
  const matches = filter();
  for (const r of rows.values()) show(r, matches);
  count();
}

function count() {
  let shown = 0;
  for (const r of rows.values()) if (!r.row.hidden) shown++;
  const total = rows.size;
  byId("journal-shown").textContent = total === shown ? `${total} ${total === 1 ? "request" : "requests"}` : `${shown} of ${total} requests shown`;
  byId("journal-empty").hidden = total > 0;
}
