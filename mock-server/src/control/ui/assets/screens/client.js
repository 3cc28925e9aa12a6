// The simulated mini-program: pick an app and a user, press a `wx` API's button, and see what
// the API would hand the app (the control plane's `/wx/*` routes), each field with a copy
// button, the `mock` facts apart (they are not part of the real callback). After `wx.login`,
// the exchange a backend makes with the code is shown ready to copy.

import { byId, copyButton, fill, h, shortTime, text } from "../dom.js";

let ctx = null;
let state = null;
const history = [];

/** The buttons: the control-plane route and the body each sends beyond `appid` and `user`. */
const CALLS = {
  login: { title: "wx.login", path: "/wx/login", body: () => ({}) },
  checkSession: { title: "wx.checkSession", path: "/wx/checkSession", body: () => ({}) },
  getPhoneNumber: {
    title: "getPhoneNumber",
    path: "/wx/getPhoneNumber",
    body: () => ({ kind: byId("mp-phone-kind").value, deny: byId("mp-phone-deny").checked, ...tamper() }),
  },
  getUserProfile: { title: "wx.getUserProfile", path: "/wx/getUserProfile", body: () => ({ ...era(), ...tamper() }) },
  getUserInfo: { title: "wx.getUserInfo", path: "/wx/getUserInfo", body: () => ({ ...era(), ...tamper() }) },
  getShareInfo: {
    title: "wx.getShareInfo",
    path: "/wx/getShareInfo",
    body: () => ({ group: byId("mp-group").value, ...tamper() }),
  },
  getWeRunData: { title: "wx.getWeRunData", path: "/wx/getWeRunData", body: () => tamper() },
  getUserCryptoManager: {
    title: "getUserCryptoManager().getLatestUserKey",
    path: "/wx/getUserCryptoManager",
    body: () => {
      const data = text(byId("mp-crypto-data"));
      return data === null ? {} : { data };
    },
  },
  pluginLogin: { title: "wx.pluginLogin", path: "/wx/pluginLogin", body: () => ({ plugin_appid: byId("mp-plugin").value }) },
};

function tamper() {
  const t = byId("mp-tamper").value;
  return t ? { tamper: t } : {};
}

function era() {
  const e = byId("mp-era").value;
  return e ? { era: e } : {};
}

export function init(c) {
  ctx = c;
  for (const t of ctx.schema.values("Tamper")) byId("mp-tamper").append(h("option", { value: t }, t.replaceAll("_", " ")));
  for (const e of ctx.schema.values("RuleEra")) byId("mp-era").append(h("option", { value: e }, e));
  byId("mp-who").addEventListener("submit", (e) => e.preventDefault());
  for (const button of document.querySelectorAll("[data-call]")) {
    button.addEventListener("click", () => press(button.dataset.call, button));
  }
  ctx.store.subscribe((s) => {
    state = s;
    drawChoices();
  });
}

function drawChoices() {
  const miniPrograms = state.apps.filter((a) => a.kind !== "official_account");
  const label = (a) => (a.name ? `${a.appid} (${a.name})` : a.appid);
  const app = byId("mp-app");
  const chosen = app.value || miniPrograms.find((a) => a.default)?.appid || "";
  fill(app, miniPrograms.map((a) => h("option", { value: a.appid }, label(a))));
  app.value = chosen;
  const plugin = byId("mp-plugin");
  const pluginChosen = plugin.value;
  fill(plugin, miniPrograms.map((a) => h("option", { value: a.appid }, label(a))));
  plugin.value = pluginChosen || (miniPrograms.find((a) => !a.default) ?? miniPrograms[0])?.appid || "";
  fill(byId("mp-users"), state.users.map((u) => h("option", { value: u.handle })));
}

async function press(name, button) {
  const call = CALLS[name];
  const user = text(byId("mp-user"));
  const appid = byId("mp-app").value;
  if (user === null) {
    byId("mp-user").setAttribute("aria-invalid", "true");
    byId("mp-user").focus();
    drawError(call, { code: "invalid_field", message: "Type the handle of the user who presses the button (alice)." });
    return;
  }
  byId("mp-user").removeAttribute("aria-invalid");
  const body = { appid, user, ...call.body() };
  button.disabled = true;
  try {
    const answer = await ctx.api.post(call.path, body);
    const entry = { call, appid, user, answer, at: ctx.store.clock?.now_ms };
    history.unshift(entry);
    history.length = Math.min(history.length, 10);
    draw(entry);
    ctx.toast(`${call.title} answered ${answer.errMsg ?? ""}`.trim());
    ctx.store.refresh().catch(() => {});
  } catch (err) {
    drawError(call, err);
  } finally {
    button.disabled = false;
  }
}

function drawError(call, err) {
  byId("mp-result-empty").hidden = true;
  fill(
    byId("mp-result-body"),
    h("p", { class: "call-title" }, h("b", {}, call.title)),
    h("p", { class: "notice error", role: "alert" }, h("code", {}, err.code), `: ${err.message}`),
    historyList(),
  );
}

function value(name, v) {
  if (v !== null && typeof v === "object") {
    const json = JSON.stringify(v, null, 2);
    return [h("pre", { class: "value" }, json), copyButton(name, JSON.stringify(v))];
  }
  const s = String(v);
  if (v === null) return h("code", { class: "value muted" }, "null");
  return [h("code", { class: "value" }, s), copyButton(name, s)];
}

function fields(obj, prefix = "") {
  return h(
    "dl",
    { class: "fields" },
    Object.entries(obj).map(([k, v]) => h("div", { class: "field-row", dataset: { field: k } }, h("dt", {}, k), h("dd", {}, value(`${prefix}${k}`, v)))),
  );
}

function draw(entry) {
  const { call, appid, user, answer } = entry;
  const { mock, ...callback } = answer;
  const app = state?.apps.find((a) => a.appid === appid);
  byId("mp-result-empty").hidden = true;
  fill(
    byId("mp-result-body"),
    h(
      "p",
      { class: "call-title" },
      h("b", {}, call.title),
      ` by ${user} in ${appid}`,
      h("span", { class: "muted" }, ` · POST /__mock__${call.path}`),
    ),
    h("h3", {}, "What the app gets"),
    fields(callback),
    call.path === "/wx/login" && app ? exchange(app, answer.code) : null,
    mock ? [h("h3", {}, "Facts for tests ", h("span", { class: "muted" }, "(not in the real callback)")), fields(mock, "mock.")] : null,
    h("div", { class: "buttons" }, copyButton("the whole answer", JSON.stringify(answer, null, 2), "Copy the whole answer (JSON)")),
    historyList(),
  );
}

/** How a backend trades the code: jscode2session with the app's appid and secret. */
function exchange(app, code) {
  const q = new URLSearchParams({ appid: app.appid, secret: app.secret, js_code: code, grant_type: "authorization_code" });
  const url = `${location.origin}/sns/jscode2session?${q}`;
  return h(
    "div",
    { class: "exchange" },
    h("h3", {}, "The backend's exchange"),
    h("p", { class: "muted" }, "Single use, valid 5 minutes on the virtual clock."),
    h("pre", { class: "value" }, `curl -s '${url}'`),
    copyButton("the jscode2session command", `curl -s '${url}'`, "Copy the command"),
  );
}

function historyList() {
  if (history.length < 2) return null;
  return h(
    "details",
    { class: "history" },
    h("summary", {}, `Earlier answers (${history.length - 1})`),
    h(
      "ul",
      { class: "plain" },
      history.slice(1).map((e) =>
        h(
          "li",
          {},
          h(
            "button",
            { type: "button", class: "link", onclick: () => draw(e) },
            `${e.call.title} by ${e.user}${e.at ? ` at ${shortTime(e.at)}` : ""}`,
          ),
          e.answer.code ? h("span", { class: "muted mono" }, ` ${e.answer.code.slice(0, 12)}…`) : null,
        ),
      ),
    ),
  );
}
