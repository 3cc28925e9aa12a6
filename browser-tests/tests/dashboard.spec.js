// mock-server's dashboard (/__mock__/ui/) in Chromium, against a real mock-server process per
// test: a login from the simulated mini-program, exchanged over HTTP as a backend does, shows in
// the live journal with the exact answer; a 40029 fault added from the page refuses the next
// exchange; the clock frozen and advanced from the page makes a code expire; options change;
// a control token is asked for, refused when wrong, then sent as a bearer token. A screenshot of
// every screen goes to artifacts/ (dashboard.png is the README's).
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const { test, expect } = require("./mock");
const { ARTIFACTS } = require("./paths");

fs.mkdirSync(ARTIFACTS, { recursive: true });
const shot = (name) => path.join(ARTIFACTS, name);

/** The screen shown (a region named by its heading). */
const screen = (page, name) => page.getByRole("region", { name, exact: true });

/** The journal's request rows (not the rows that open under them). */
const requests = (page) => page.getByRole("row").filter({ has: page.getByRole("button", { name: /^Request \d+:/ }) });

/** Goes to a screen through the navigation, as a person would. */
async function open(page, name) {
  await page.getByRole("navigation", { name: "Screens" }).getByRole("link", { name }).click();
  await expect(page.getByRole("heading", { level: 1, name })).toBeVisible();
}

/** Presses a mini-program button for `user` and returns the answer's `code`. */
async function press(page, button, user) {
  const panel = screen(page, "Mini-program");
  await panel.getByLabel("User", { exact: true }).fill(user);
  await panel.getByRole("button", { name: button, exact: true }).click();
  const code = page.locator('#mp-result [data-field="code"] .value');
  await expect(code).toHaveText(/^\w{20,}$/);
  return code.textContent();
}

/** The journal's row of request `seq`, and the row that opens under it. */
function entry(page, seq) {
  return {
    row: page.locator(`tr.entry[data-seq="${seq}"]`),
    detail: page.locator(`#entry-${seq}`),
  };
}

/** The journal's rows that are shown, newest first, as [seq, endpoint, errcode]. */
async function shownRows(page) {
  return page.locator("tr.entry:visible").evaluateAll((rows) =>
    rows.map((r) => [Number(r.dataset.seq), r.dataset.endpoint, r.dataset.errcode]),
  );
}

test.describe("the dashboard", () => {
  test("a login from the panel, exchanged over HTTP, shows in the journal with errcode 0", async ({ page, context, mock }) => {
    const app = await mock.defaultApp();
    await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: mock.url });

    // /__mock__/ui redirects to /__mock__/ui/, the apps screen.
    await page.goto(`${mock.url}/__mock__/ui`);
    await expect(page).toHaveURL(mock.dashboard);
    await expect(page.getByRole("heading", { level: 1, name: "Apps and users" })).toBeVisible();
    await expect(page.getByRole("status").filter({ hasText: "connected to" })).toBeVisible();
    const appRow = page.getByRole("row").filter({ hasText: app.appid });
    await expect(appRow.first()).toContainText(app.secret);

    await open(page, "Mini-program");
    await expect(page).toHaveURL(`${mock.url}/__mock__/ui/mini-program`);
    await expect(screen(page, "Mini-program").getByLabel("App", { exact: true })).toHaveValue(app.appid);
    const code = await press(page, "wx.login", "alice");
    const openid = await page.locator('#mp-result [data-field="openid"] .value').textContent();
    const sessionKey = await page.locator('#mp-result [data-field="session_key"] .value').textContent();
    await expect(page.locator("#mp-result")).toContainText("login:ok");
    // The copy button copies the code itself.
    await page.getByRole("button", { name: "Copy code", exact: true }).click();
    await expect(page.getByRole("button", { name: "Copy code", exact: true })).toHaveText("Copied");
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(code);
    // The panel shows the backend's exchange, with this app's appid and secret.
    await expect(page.locator("#mp-result .exchange pre")).toContainText(`appid=${app.appid}&secret=${app.secret}&js_code=${code}`);
    await page.screenshot({ path: shot("dashboard-mini-program.png"), fullPage: true });

    // The backend's code2Session, from the test, over HTTP.
    const exchanged = await mock.jscode2session(app, code);
    expect(exchanged.status).toBe(200);
    expect(exchanged.json).toEqual({ session_key: sessionKey, openid });

    await open(page, "Journal");
    const row = requests(page).filter({ hasText: "jscode2session" });
    await expect(row).toHaveCount(1);
    await expect(row.getByRole("cell").nth(6)).toHaveText("0");
    await expect(row).not.toHaveClass(/\bbad\b/);
    const seq = Number(await row.getAttribute("data-seq"));
    const { detail } = entry(page, seq);
    await expect(detail).toBeHidden();
    await row.getByRole("button", { name: `Request ${seq}: show the request and the answer` }).click();
    await expect(detail).toBeVisible();
    const request = detail.getByRole("region", { name: "Request" }).locator("pre");
    const answer = detail.getByRole("region", { name: "Answer" }).locator("pre");
    await expect(request).toContainText(`GET /sns/jscode2session?appid=${app.appid}`);
    await expect(request).toContainText(`js_code=${code}`);
    await expect(detail.getByRole("heading", { name: /Answer: HTTP 200/ })).toBeVisible();
    // Exactly the bytes the backend received.
    expect(await answer.textContent()).toBe(exchanged.text);
    await page.screenshot({ path: shot("dashboard-journal.png"), fullPage: true });
    await row.getByRole("button", { name: `Request ${seq}: hide the request and the answer` }).click();
    await expect(detail).toBeHidden();

    // The apps screen shows alice's identity, with the session_key the exchange returned.
    await open(page, "Apps and users");
    const identity = page.locator(`#users-rows tr[data-user="alice"][data-appid="${app.appid}"]`);
    await expect(identity).toContainText(openid);
    await expect(identity).toContainText(sessionKey);
    await expect(identity.getByRole("button", { name: `Copy the session_key of alice in ${app.appid}` })).toBeVisible();
    await page.screenshot({ path: shot("dashboard-apps.png"), fullPage: true });
  });

  test("a 40029 fault added from the page refuses the next exchange; the journal shows it", async ({ page, mock }) => {
    const app = await mock.defaultApp();
    const { code } = await mock.control("POST", "/wx/login", { user: "bob" });
    await page.goto(`${mock.url}/__mock__/ui/faults`);
    await expect(page.getByRole("heading", { level: 1, name: "Faults" })).toBeVisible();
    await expect(page.getByText("No fault rule")).toBeVisible();

    // A wrong value is refused with the mock's message, naming the field.
    const faults = screen(page, "Faults");
    await faults.getByLabel("Endpoint").selectOption("jscode2session");
    await faults.getByLabel("errcode", { exact: true }).fill("12345");
    await faults.getByRole("button", { name: "Add rule" }).click();
    await expect(faults.getByRole("alert").filter({ hasText: "12345 is not in the catalogue" })).toBeVisible();
    await expect(faults.getByLabel("errcode", { exact: true })).toHaveAttribute("aria-invalid", "true");

    await faults.getByLabel("errcode", { exact: true }).fill("40029");
    await faults.getByLabel("Times").fill("1");
    await faults.getByRole("button", { name: "Add rule" }).click();
    const rule = page.getByRole("row").filter({ has: page.getByRole("rowheader", { name: "Rule 1" }) });
    await expect(rule).toContainText("jscode2session");
    await expect(rule).toContainText("errcode 40029");
    await expect(rule).toContainText("1 of 1 left");
    await expect(page.getByRole("link", { name: /Faults/ })).toContainText("1");
    expect((await mock.control("GET", "/faults")).faults).toHaveLength(1);

    // The next exchange is refused with 40029; the rule has fired and retired.
    const refused = await mock.jscode2session(app, code);
    expect(refused.json.errcode).toBe(40029);
    await expect(rule.getByRole("cell").nth(5)).toHaveText("1");
    await expect(rule).toContainText("retired after 1");
    await page.screenshot({ path: shot("dashboard-faults.png"), fullPage: true });
    // The fault did not use up the code: the exchange after it succeeds.
    const ok = await mock.jscode2session(app, code);
    expect(ok.json.openid).toBeTruthy();
    // And a call with no app known, for the app filter.
    await fetch(`${mock.url}/cgi-bin/token?grant_type=client_credential&appid=nope&secret=x`);

    await open(page, "Journal");
    await expect(page.locator("tr.entry")).toHaveCount(3);
    const faulted = requests(page).filter({ hasText: "rule 1: errcode 40029" });
    await expect(faulted).toHaveCount(1);
    await expect(faulted).toHaveClass(/\bbad\b/);
    await expect(faulted).toHaveClass(/\bfaulted\b/);
    await expect(faulted.getByRole("cell").nth(6)).toHaveText("40029");
    await expect(faulted.locator(".code.err")).toBeVisible();

    // The filters: errcode, errors only, endpoint, app, text.
    const filters = page.getByRole("search", { name: "Journal filters" });
    await filters.getByLabel("errcode").fill("40029");
    expect(await shownRows(page)).toEqual([[1, "jscode2session", "40029"]]);
    await expect(page.getByText("1 of 3 requests shown")).toBeVisible();
    await filters.getByLabel("errcode").fill("0");
    expect(await shownRows(page)).toEqual([[2, "jscode2session", "0"]]);
    await filters.getByLabel("errcode").fill("");
    await filters.getByLabel("Errors and faults only").check();
    expect((await shownRows(page)).map((r) => r[0])).toEqual([3, 1]);
    await filters.getByLabel("Errors and faults only").uncheck();
    await filters.getByLabel("Endpoint").selectOption("token");
    expect(await shownRows(page)).toEqual([[3, "token", "40013"]]);
    await filters.getByLabel("Endpoint").selectOption("");
    await filters.getByLabel("App").selectOption(app.appid);
    expect((await shownRows(page)).map((r) => r[0])).toEqual([2, 1]);
    await filters.getByLabel("App").selectOption("");
    await filters.getByLabel("Text").fill("appid=nope");
    expect((await shownRows(page)).map((r) => r[0])).toEqual([3]);
    await filters.getByLabel("Text").fill("");
    await expect(page.getByText("3 requests", { exact: true })).toBeVisible();

    // Removing the rule from the page.
    await open(page, "Faults");
    await page.getByRole("button", { name: "Remove rule 1" }).click();
    await expect(page.getByText("No fault rule")).toBeVisible();
    expect((await mock.control("GET", "/faults")).faults).toHaveLength(0);
  });

  test("the clock frozen and advanced from the page: now moves, a code expires", async ({ page, mock }) => {
    const app = await mock.defaultApp();
    await page.goto(`${mock.url}/__mock__/ui/mini-program`);
    const code = await press(page, "wx.login", "carol");

    await open(page, "Clock and options");
    await expect(page.locator("#clock-state")).toHaveText("running");
    await page.getByRole("button", { name: "Freeze" }).click();
    await expect(page.locator("#clock-state")).toHaveText("frozen");
    await expect(page.locator("#top-frozen")).toBeVisible();
    await expect(page.getByRole("button", { name: "Resume" })).toBeEnabled();
    const before = Number(await page.locator("#clock-ms").textContent());
    const shownBefore = await page.locator("#clock-now").textContent();
    expect((await mock.control("GET", "/clock")).now_ms).toBe(before);

    // A bad duration is refused with the mock's words.
    await page.getByLabel("Advance by").fill("soon");
    await page.getByRole("button", { name: "Advance", exact: true }).click();
    await expect(page.getByRole("alert").filter({ hasText: "invalid `advance`" })).toBeVisible();
    expect(Number(await page.locator("#clock-ms").textContent())).toBe(before);

    // Six minutes: past the code's five.
    await page.getByLabel("Advance by").fill("6m");
    await page.getByRole("button", { name: "Advance", exact: true }).click();
    await expect(page.locator("#clock-ms")).toHaveText(String(before + 360_000));
    await expect(page.locator("#clock-now")).not.toHaveText(shownBefore);
    await expect(page.locator("#top-now")).toHaveText(new Date(before + 360_000).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC"));
    expect((await mock.control("GET", "/clock")).now_ms).toBe(before + 360_000);
    await page.getByRole("button", { name: "+1 min" }).click();
    await expect(page.locator("#clock-ms")).toHaveText(String(before + 420_000));

    const expired = await mock.jscode2session(app, code);
    expect(expired.json.errcode).toBe(40029);
    await open(page, "Journal");
    const row = requests(page).filter({ hasText: "jscode2session" });
    await expect(row.getByRole("cell").nth(6)).toHaveText("40029");
    await expect(row.getByRole("cell").nth(7)).toHaveText("");

    await open(page, "Clock and options");
    await page.getByRole("button", { name: "Resume" }).click();
    await expect(page.locator("#clock-state")).toHaveText("running");
    expect((await mock.control("GET", "/clock")).frozen).toBe(false);
    await page.screenshot({ path: shot("dashboard-clock.png"), fullPage: true });
  });

  test("options: shown as the mock has them, changed, refused with the field named", async ({ page, mock }) => {
    await page.goto(`${mock.url}/__mock__/ui/clock`);
    const strict = page.getByLabel("strict", { exact: true });
    await expect(strict).not.toBeChecked();
    await expect(page.getByLabel("login_quota_per_minute")).toHaveValue("100");
    await expect(page.getByLabel("quota_scope")).toHaveValue("user");
    await expect(page.getByLabel("session_key_min_rotation")).toHaveValue("5m");
    await expect(page.getByLabel("checkencryptedmsg_unknown")).toHaveValue("errcode_1");

    await strict.check();
    await page.getByLabel("quota_scope").selectOption("app");
    await page.getByLabel("session_key_ttl").fill("2h");
    await page.getByRole("button", { name: "Save options" }).click();
    await expect(page.getByRole("status").filter({ hasText: "Options saved" })).toBeVisible();
    const opts = await mock.control("GET", "/options");
    expect(opts).toMatchObject({ strict: true, quota_scope: "app", session_key_ttl: "2h", login_quota_per_minute: 100 });

    await page.getByLabel("journal_capacity").fill("0");
    await page.getByRole("button", { name: "Save options" }).click();
    await expect(page.locator("#options-form").getByRole("alert")).toContainText("journal_capacity");
    expect((await mock.control("GET", "/options")).journal_capacity).toBe(10000);
    await page.getByRole("button", { name: "Revert changes" }).click();
    await expect(page.getByLabel("journal_capacity")).toHaveValue("10000");
  });

  test("screens have addresses of their own; an unknown one says so", async ({ page, mock }) => {
    await page.goto(`${mock.url}/__mock__/ui/faults`);
    await expect(page.getByRole("heading", { level: 1, name: "Faults" })).toBeVisible();
    await expect(page.getByRole("link", { name: /Faults/ })).toHaveAttribute("aria-current", "page");
    await expect(page).toHaveTitle("Faults · mock-server");
    await open(page, "Journal");
    await page.goBack();
    await expect(page.getByRole("heading", { level: 1, name: "Faults" })).toBeVisible();
    await page.goForward();
    await expect(page.getByRole("heading", { level: 1, name: "Journal" })).toBeVisible();
    await page.goto(`${mock.url}/__mock__/ui/nope`);
    await expect(page.getByRole("heading", { level: 1, name: "No such screen" })).toBeVisible();
    await expect(page.locator("#nf-path")).toHaveText("/__mock__/ui/nope");
  });

  test("open data from the panel: getPhoneNumber, getUserProfile, a refusal", async ({ page, mock }) => {
    await page.goto(`${mock.url}/__mock__/ui/mini-program`);
    await press(page, "wx.login", "dave");
    await press(page, "getPhoneNumber", "dave");
    const result = page.locator("#mp-result");
    await expect(result).toContainText("getPhoneNumber:ok");
    await expect(result.locator('[data-field="encryptedData"] .value')).toHaveText(/^[A-Za-z0-9+/=]{40,}$/);
    await expect(result.getByRole("button", { name: "Copy iv", exact: true })).toBeVisible();
    await expect(result.getByRole("button", { name: "Copy mock.encrypted_msg_hash" })).toBeVisible();

    await page.getByRole("button", { name: "getUserProfile", exact: true }).click();
    await expect(result).toContainText("getUserProfile:ok");
    for (const f of ["rawData", "signature", "encryptedData", "iv", "userInfo"]) {
      await expect(result.locator(`[data-field="${f}"]`)).toBeVisible();
    }
    await expect(result.getByRole("button", { name: "Copy signature", exact: true })).toBeVisible();

    // A user who never logged in has no session for the encrypted channel: the mock's refusal.
    await screen(page, "Mini-program").getByLabel("User", { exact: true }).fill("erin");
    await page.getByRole("button", { name: "getUserCryptoManager" }).click();
    await expect(result.getByRole("alert")).toContainText("no_session");
    await expect(result.getByText(/Earlier answers/)).toBeVisible();
  });
});

test("the README's picture: a journal of a few logins, a fault, an exchange opened", async ({ page, mock }) => {
  const app = await mock.defaultApp();
  const shop = await mock.control("POST", "/apps", { name: "shop", open_platform: "wxopen-demo" });
  for (const user of ["alice", "bob"]) await mock.control("POST", "/users", { handle: user });
  await mock.control("PATCH", "/users/alice", { phone: { country_code: "86", number: "13800138000" } });
  await page.goto(`${mock.url}/__mock__/ui/journal`);

  const login = async (a, user) => (await mock.control("POST", "/wx/login", { appid: a.appid, user })).code;
  await mock.jscode2session(app, await login(app, "alice"));
  await mock.jscode2session(shop, await login(shop, "alice"));
  const token = await (await fetch(`${mock.url}/cgi-bin/token?grant_type=client_credential&appid=${shop.appid}&secret=${shop.secret}`)).json();
  const phone = await mock.control("POST", "/wx/getPhoneNumber", { appid: shop.appid, user: "alice" });
  await fetch(`${mock.url}/wxa/business/getuserphonenumber?access_token=${token.access_token}`, {
    method: "POST",
    body: JSON.stringify({ code: phone.code }),
  });
  await mock.control("POST", "/faults", { endpoint: "jscode2session", errcode: 45011, user: "bob", times: 1 });
  const bobs = await login(shop, "bob");
  await mock.jscode2session(shop, bobs);
  await mock.jscode2session(shop, bobs);
  await mock.jscode2session(app, "0".repeat(32));

  await expect(requests(page)).toHaveCount(7);
  const opened = requests(page).filter({ hasText: "getuserphonenumber" });
  await opened.getByRole("button", { name: /show the request and the answer/ }).click();
  await expect(page.getByRole("group", { name: /and its answer/ })).toBeVisible();
  await page.setViewportSize({ width: 1280, height: 860 });
  await page.screenshot({ path: shot("dashboard.png") });
});

test.describe("with a control token", () => {
  const TOKEN = "s3cret-dashboard-token";
  test.use({ mockToken: TOKEN });

  test("the page asks for the token, refuses a wrong one and sends the right one as a bearer token", async ({ page, mock }) => {
    // The page's files need no token (they hold no data); the control plane does.
    const html = await fetch(mock.dashboard);
    expect(html.status).toBe(200);
    expect((await fetch(`${mock.url}/__mock__/state`)).status).toBe(401);

    const sent = [];
    page.on("request", (r) => {
      const u = new URL(r.url());
      if (u.pathname.startsWith("/__mock__/") && !u.pathname.startsWith("/__mock__/ui/")) {
        sent.push(r.headers().authorization ?? null);
      }
    });
    await page.goto(mock.dashboard);
    await expect(page.getByRole("heading", { level: 1, name: "Control token" })).toBeVisible();
    const input = page.getByRole("textbox", { name: "Control token" });
    await expect(input).toBeFocused();

    await input.fill("not-the-token");
    await page.getByRole("button", { name: "Use this token" }).click();
    const refused = page.getByRole("alert").filter({ hasText: "The mock refused this token" });
    await expect(refused).toBeVisible();
    await expect(input).toHaveAttribute("aria-invalid", "true");
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
    await page.screenshot({ path: shot("dashboard-token.png") });

    await input.fill(TOKEN);
    await page.getByRole("button", { name: "Use this token" }).click();
    await expect(page.getByRole("heading", { level: 1, name: "Apps and users" })).toBeVisible();
    const app = await mock.defaultApp();
    await expect(page.getByRole("row").filter({ hasText: app.appid }).first()).toBeVisible();
    await expect(page.getByRole("button", { name: "Forget the control token" })).toBeVisible();

    // Every call after the token was accepted carried it, the control plane's way.
    const n = sent.length;
    await open(page, "Journal");
    await expect.poll(() => sent.length).toBeGreaterThan(n + 1);
    const last = sent.lastIndexOf(`Bearer not-the-token`);
    expect(sent.slice(last + 1).every((a) => a === `Bearer ${TOKEN}`), JSON.stringify(sent)).toBe(true);
    expect(sent).toContain(null);

    // The tab keeps it: a reload goes straight to the screen.
    await page.reload();
    await expect(page.getByRole("heading", { level: 1, name: "Journal" })).toBeVisible();
    await expect(page.getByRole("heading", { level: 1, name: "Control token" })).toBeHidden();

    // Forgetting it asks again.
    await page.getByRole("button", { name: "Forget the control token" }).click();
    await expect(page.getByRole("heading", { level: 1, name: "Control token" })).toBeVisible();
  });
});
