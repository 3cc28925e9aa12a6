// Fault rules: the rules in force (`GET /__mock__/faults`, read every two seconds while the
// screen shows, for their hit counts), one form to add a rule with everything the fault model
// takes (`POST /faults`: endpoint, app, user, one of errcode / Tencent Cloud error / HTTP
// status / transport, delay, times, probability, consume_code), and removal (`DELETE`).

import { byId, fill, formError, h, integer, text } from "../dom.js";

let ctx = null;
let visible = false;

export const pollers = [{ ms: 2000, run: () => (visible ? refresh() : null) }];

export function init(c) {
  ctx = c;
  const endpoint = byId("ff-endpoint");
  endpoint.append(h("option", { value: "*" }, "* (every endpoint)"));
  for (const name of ctx.schema.values("EndpointName")) endpoint.append(h("option", { value: name }, name));
  endpoint.value = "jscode2session";
  for (const t of ctx.schema.values("Transport")) byId("ff-transport").append(h("option", { value: t }, t));
  for (const t of ctx.schema.values("TencentErrorCode")) byId("ff-tencent").append(h("option", { value: t }, t));
  const form = byId("fault-form");
  form.addEventListener("change", (e) => {
    if (e.target.name === "kind") showKind();
  });
  form.addEventListener("submit", add);
  byId("faults-clear").addEventListener("click", async () => {
    try {
      const r = await ctx.api.del("/faults");
      ctx.toast(`${r.removed} rules removed.`);
      await refresh();
    } catch (err) {
      ctx.toast(err.message);
    }
  });
  ctx.store.subscribe((s) => {
    const select = byId("ff-appid");
    const chosen = select.value;
    fill(select, h("option", { value: "" }, "any app"), s.apps.map((a) => h("option", { value: a.appid }, a.name ? `${a.appid} (${a.name})` : a.appid)));
    select.value = chosen;
    const n = s.counts.faults;
    byId("nav-fault-count").textContent = n ? String(n) : "";
  });
  showKind();
}

export function show() {
  visible = true;
  refresh().catch(() => {});
}

export function hide() {
  visible = false;
}

function showKind() {
  const kind = byId("fault-form").elements.kind.value;
  for (const f of document.querySelectorAll("#fault-form [data-kind]")) f.hidden = f.dataset.kind !== kind;
}

async function refresh() {
  const { faults } = await ctx.api.get("/faults");
  byId("faults-empty").hidden = faults.length > 0;
  byId("faults-clear").disabled = faults.length === 0;
  byId("nav-fault-count").textContent = faults.length ? String(faults.length) : "";
  fill(byId("fault-rows"), faults.map(row));
}

function what(r) {
  const parts = [];
  if (r.errcode !== null) parts.push(`errcode ${r.errcode}`);
  if (r.tencent_error) parts.push(`Tencent Cloud ${r.tencent_error}`);
  if (r.http_status !== null) parts.push(`HTTP ${r.http_status}`);
  if (r.transport) parts.push(`connection: ${r.transport}`);
  if (r.delay) parts.push(parts.length ? `after ${r.delay}` : `${r.delay} delay, then the normal answer`);
  if (r.consume_code) parts.push("the code is used up");
  return parts.join(", ");
}

function row(r) {
  const scope = [r.appid ? `app ${r.appid}` : null, r.user ? `user ${r.user}` : null].filter(Boolean).join(", ");
  return h(
    "tr",
    { dataset: { rule: r.id } },
    h("th", { scope: "row" }, `Rule ${r.id}`),
    h("td", { class: "mono" }, r.endpoint),
    h("td", {}, scope || h("span", { class: "muted" }, "everyone")),
    h("td", {}, what(r)),
    h("td", {}, r.times === null ? "always" : r.remaining === 0 ? `retired after ${r.times}` : `${r.remaining} of ${r.times} left`),
    h("td", {}, r.probability === null ? "1" : String(r.probability)),
    h("td", { class: "num" }, r.hits),
    h(
      "td",
      {},
      h("button", { type: "button", class: "danger small", "aria-label": `Remove rule ${r.id}`, onclick: () => remove(r.id) }, "Remove"),
    ),
  );
}

async function remove(id) {
  try {
    await ctx.api.del(`/faults/${id}`);
    ctx.toast(`Rule ${id} removed.`);
  } catch (err) {
    ctx.toast(err.message);
  }
  await refresh().catch(() => {});
  ctx.store.refresh().catch(() => {});
}

function spec(form) {
  const el = form.elements;
  const body = { endpoint: el.endpoint.value };
  const appid = el.appid.value;
  if (appid) body.appid = appid;
  const user = text(el.user);
  if (user !== null) body.user = user;
  const kind = el.kind.value;
  if (kind === "errcode") body.errcode = integer(el.errcode, "errcode");
  if (kind === "http_status") body.http_status = integer(el.http_status, "http_status");
  if (kind === "tencent_error") body.tencent_error = el.tencent_error.value;
  if (kind === "transport") body.transport = el.transport.value;
  for (const k of ["errcode", "http_status"]) {
    if (kind === k && body[k] === null) {
      throw Object.assign(new Error(`invalid \`${k}\`: give one, or pick another kind of fault`), { field: k });
    }
  }
  const delay = text(el.delay);
  if (delay !== null) body.delay = delay;
  const times = integer(el.times, "times");
  if (times !== null) body.times = times;
  const p = text(el.probability);
  if (p !== null) {
    const n = Number(p);
    if (!Number.isFinite(n)) throw Object.assign(new Error(`invalid \`probability\`: ${JSON.stringify(p)} is not a number`), { field: "probability" });
    body.probability = n;
  }
  if (el.consume_code.checked) body.consume_code = true;
  return body;
}

async function add(e) {
  e.preventDefault();
  const form = e.currentTarget;
  try {
    const rule = await ctx.api.post("/faults", spec(form));
    formError(form, null);
    ctx.toast(`Rule ${rule.id} added: ${rule.endpoint}, ${what(rule)}.`);
    await refresh();
    ctx.store.refresh().catch(() => {});
  } catch (err) {
    formError(form, err);
  }
}
