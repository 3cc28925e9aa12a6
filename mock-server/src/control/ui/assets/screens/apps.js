// Apps and users: the apps (appid, kind, secret, binding), each user's identity in every app
// (openid, unionid, current session_key) from `GET /__mock__/state`, the live entry counts and
// the third-party platforms; forms to add an app (`POST /apps`) and a user (`POST /users`).

import { byId, copyButton, fill, formError, h, text, utc } from "../dom.js";

let ctx = null;
let state = null;

export function init(c) {
  ctx = c;
  byId("users-filter").addEventListener("input", drawUsers);
  byId("app-form").addEventListener("submit", addApp);
  byId("user-form").addEventListener("submit", addUser);
  ctx.store.subscribe((s) => {
    state = s;
    draw();
  });
}

const none = () => h("span", { class: "muted" }, "none");

function draw() {
  drawApps();
  drawUsers();
  drawCounts();
  drawPlatforms();
}

function drawApps() {
  fill(
    byId("apps-rows"),
    state.apps.map((a) =>
      h(
        "tr",
        { dataset: { appid: a.appid } },
        h("th", { scope: "row", class: "mono" }, a.appid, a.default ? h("span", { class: "pill" }, "default") : null),
        h("td", {}, a.name ?? none()),
        h("td", { class: "nowrap" }, a.kind === "official_account" ? "official account" : "mini-program"),
        h("td", { class: "mono secret" }, h("span", {}, a.secret), copyButton(`the AppSecret of ${a.appid}`, a.secret)),
        h("td", { class: "mono" }, a.open_platform ?? none()),
        h("td", {}, a.profile_era ?? "anonymous"),
        h("td", {}, a.phone_quota ?? "unlimited"),
      ),
    ),
  );
}

function drawUsers() {
  if (!state) return;
  const q = byId("users-filter").value.trim().toLowerCase();
  const apps = new Map(state.apps.map((a) => [a.appid, a]));
  const rows = [];
  let shown = 0;
  for (const u of state.users) {
    const words = [u.handle, u.nickname, u.phone?.number, ...u.apps.flatMap((i) => [i.appid, i.openid, i.unionid, i.session_key])];
    if (q && !words.some((w) => w && String(w).toLowerCase().includes(q))) continue;
    shown++;
    const who = h(
      "th",
      { scope: "rowgroup", rowspan: Math.max(u.apps.length, 1), class: "user" },
      h("b", {}, u.handle),
      u.nickname && u.nickname !== u.handle ? h("div", { class: "muted" }, u.nickname) : null,
      u.phone ? h("div", { class: "muted mono" }, `+${u.phone.country_code} ${u.phone.number}`) : null,
      u.high_risk || u.risk_rank ? h("span", { class: "pill warn" }, `risk ${u.risk_rank}`) : null,
    );
    if (u.apps.length === 0) {
      rows.push(h("tr", { dataset: { user: u.handle } }, who, h("td", { colspan: 4, class: "muted" }, "No identity yet: the user has not logged in to any app.")));
      continue;
    }
    u.apps.forEach((i, n) => {
      const app = apps.get(i.appid);
      rows.push(
        h(
          "tr",
          { dataset: { user: u.handle, appid: i.appid }, class: n === 0 ? "first" : "cont" },
          n === 0 ? who : null,
          h("td", { class: "mono" }, i.appid, app?.name ? h("div", { class: "muted" }, app.name) : null),
          h("td", { class: "mono" }, i.openid),
          h("td", { class: "mono" }, i.unionid ?? none()),
          h(
            "td",
            { class: "mono secret" },
            i.session_key
              ? [h("span", {}, i.session_key), copyButton(`the session_key of ${u.handle} in ${i.appid}`, i.session_key)]
              : h("span", { class: "muted" }, "not logged in"),
          ),
        ),
      );
    });
  }
  fill(byId("users-rows"), rows);
  const n = state.users.length;
  byId("users-shown").textContent = q ? `${shown} of ${n} users` : `${n} ${n === 1 ? "user" : "users"}`;
}

function drawCounts() {
  const labels = {
    login_codes: "login codes",
    sessions: "sessions",
    access_tokens: "access tokens",
    phone_codes: "phone-number codes",
    quota_windows: "quota windows",
    faults: "fault rules",
    sms_messages: "SMS in the outbox",
  };
  fill(
    byId("counts"),
    Object.entries(state.counts).map(([k, v]) => h("div", {}, h("dt", {}, labels[k] ?? k.replaceAll("_", " ")), h("dd", {}, v))),
  );
}

function drawPlatforms() {
  const ps = state.platforms ?? [];
  if (ps.length === 0) {
    fill(byId("platforms"), h("p", { class: "empty" }, "None. Create one with POST /__mock__/platforms."));
    return;
  }
  fill(
    byId("platforms"),
    h(
      "ul",
      { class: "plain" },
      ps.map((p) =>
        h(
          "li",
          {},
          h("b", { class: "mono" }, p.component_appid),
          p.name ? ` ${p.name}` : "",
          h("div", { class: "muted" }, `ticket pushed ${utc(p.ticket_pushed_at * 1000)}; authorised by ${p.authorizations.length ? p.authorizations.join(", ") : "no app"}`),
        ),
      ),
    ),
  );
}

async function addApp(e) {
  e.preventDefault();
  const form = e.currentTarget;
  const body = { kind: form.elements.kind.value };
  for (const k of ["name", "appid", "open_platform"]) {
    const v = text(form.elements[k]);
    if (v !== null) body[k] = v;
  }
  try {
    const app = await ctx.api.post("/apps", body);
    formError(form, null);
    form.reset();
    ctx.toast(`App ${app.appid} added.`);
    await ctx.store.refresh();
  } catch (err) {
    formError(form, err);
  }
}

async function addUser(e) {
  e.preventDefault();
  const form = e.currentTarget;
  const handle = text(form.elements.handle);
  if (handle === null) {
    formError(form, Object.assign(new Error("invalid `handle`: give the user a handle (alice)"), { field: "handle" }));
    return;
  }
  const body = { handle };
  const nickname = text(form.elements.nickname);
  if (nickname !== null) body.nickname = nickname;
  const phone = text(form.elements.phone);
  if (phone !== null) body.phone = { country_code: "86", number: phone };
  try {
    await ctx.api.post("/users", body);
    formError(form, null);
    form.reset();
    ctx.toast(`User ${handle} added.`);
    await ctx.store.refresh();
  } catch (err) {
    formError(form, err);
  }
}
