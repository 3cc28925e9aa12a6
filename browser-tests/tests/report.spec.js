// harness's HTML report as Chromium draws it: every scenario of the library has its sequence
// diagram with arrows, an arrow opens to its request and answer, the filters hide what they
// should; screenshots of the summary, an opened diagram and a failure go to artifacts/.
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const { pathToFileURL } = require("node:url");
const { test, expect } = require("@playwright/test");
const { LIBRARY, FIXTURES, ARTIFACTS } = require("./paths");

fs.mkdirSync(ARTIFACTS, { recursive: true });
const shot = (name) => path.join(ARTIFACTS, name);

// The section of the scenario at `rel` (its path relative to the folder run).
function scenario(page, rel) {
  return page.locator("section.scenario").filter({
    has: page.locator(".path", { hasText: new RegExp(`^${rel.replace(/[.]/g, "\\.")}$`) }),
  });
}

async function counts(page) {
  const out = {};
  for (const k of ["passed", "failed", "skipped", "error"]) {
    out[k] = Number(await page.locator(`[data-count="${k}"] b`).textContent());
  }
  out.total = Number(await page.locator('[data-fact="scenarios"] dd').textContent());
  return out;
}

test.describe("the whole scenario library", () => {
  test.beforeEach(async ({ page }) => {
    await page.goto(pathToFileURL(LIBRARY).href);
  });

  test("every scenario's diagram is drawn, with arrows", async ({ page }) => {
    const c = await counts(page);
    expect(c.total).toBeGreaterThan(100);
    expect(c.passed + c.failed + c.skipped + c.error).toBe(c.total);
    expect(c.failed + c.error, "the library passes").toBe(0);
    await expect(page.locator("section.scenario")).toHaveCount(c.total);
    await expect(page.locator(".diagram")).toHaveCount(c.total);
    await expect(page.locator("#shown")).toHaveText(`${c.total} of ${c.total} shown`);

    const drawn = await page.evaluate(() =>
      Array.from(document.querySelectorAll("section.scenario")).map((s) => {
        const d = s.querySelector(".diagram");
        const lines = Array.from(d.querySelectorAll(".arrow .line")).map(
          (l) => l.getBoundingClientRect().width,
        );
        return {
          path: s.querySelector(".path").textContent,
          status: s.getAttribute("data-status"),
          diagrams: s.querySelectorAll(".diagram").length,
          height: d.getBoundingClientRect().height,
          lanes: Array.from(d.querySelectorAll(".lane")).filter(
            (l) => l.getBoundingClientRect().height > 0,
          ).length,
          heads: d.querySelectorAll(".head").length,
          arrows: lines.length,
          narrowest: lines.length ? Math.min(...lines) : 0,
          steps: d.querySelectorAll(".step").length,
          stepsTotal: Number(s.querySelector(".meta .steps").textContent.split(" of ")[1].split(" ")[0]),
        };
      }),
    );
    expect(drawn.length).toBe(c.total);
    for (const d of drawn) {
      expect(d.diagrams, d.path).toBe(1);
      expect(d.height, d.path).toBeGreaterThan(0);
      expect(d.lanes, `${d.path}: three lifelines`).toBe(3);
      expect(d.heads, d.path).toBe(3);
      if (d.status === "passed" || d.status === "failed") {
        expect(d.arrows, `${d.path}: arrows`).toBeGreaterThan(0);
        // Drawn, not collapsed: the shortest arrow spans a third of the diagram at least.
        expect(d.narrowest, `${d.path}: arrow width`).toBeGreaterThan(100);
        expect(d.steps, `${d.path}: a block per step`).toBe(d.stepsTotal);
      }
    }
    await page.locator("header").screenshot({ path: shot("summary.png") });
  });

  test("an arrow opens to its request and its answer", async ({ page }) => {
    const section = scenario(page, "login/first-login.yaml");
    await expect(section).toHaveCount(1);
    const login = section.locator('details.exchange[data-to="backend"]').first();
    const payload = login.locator(".payload");
    await expect(payload).toBeHidden();
    await login.locator("summary").click();
    await expect(payload).toBeVisible();
    const request = payload.locator(".pane.request").first();
    const answer = payload.locator(".pane.response").first();
    await expect(request.locator("h4")).toHaveText("request");
    await expect(answer.locator("h4")).toHaveText("answer");
    await expect(request.locator("pre")).toContainText(/^POST http:\/\/127\.0\.0\.1:\d+\/api\/login/);
    await expect(request.locator("pre")).toContainText('"code":');
    await expect(answer.locator("pre")).toContainText(/^HTTP 200/);
    await expect(answer.locator("pre")).toContainText('"token":');
    // The backend's own call to WeChat, inside the same exchange, with its secrets redacted.
    await expect(payload.locator(".call-title").first()).toContainText("GET /sns/jscode2session");
    const wechat = payload.locator(".panes").nth(1);
    await expect(wechat.locator(".pane.request pre")).toContainText("secret=«redacted»");
    await expect(wechat.locator(".pane.response pre")).toContainText('"session_key": "«redacted»"');
    // Closing it hides the panes again.
    await login.locator("summary").click();
    await expect(payload).toBeHidden();
    // The screenshot shows it open.
    await login.locator("summary").click();
    await section.screenshot({ path: shot("diagram.png") });
  });
});

test.describe("a run with a failure", () => {
  test.beforeEach(async ({ page }) => {
    await page.goto(pathToFileURL(FIXTURES).href);
  });

  test("the failed-only filter hides the passing scenarios", async ({ page }) => {
    const c = await counts(page);
    expect(c).toEqual({ passed: 2, failed: 1, skipped: 0, error: 0, total: 3 });
    const passing = page.locator('section.scenario[data-status="passed"]');
    const failing = page.locator('section.scenario[data-status="failed"]');
    await expect(passing).toHaveCount(2);
    await expect(failing).toBeVisible();
    for (const s of await passing.all()) await expect(s).toBeVisible();

    await page.locator("#failed-only").check();
    for (const s of await passing.all()) await expect(s).toBeHidden();
    await expect(failing).toBeVisible();
    await expect(page.locator("#shown")).toHaveText("1 of 3 shown");

    await page.locator("#failed-only").uncheck();
    for (const s of await passing.all()) await expect(s).toBeVisible();

    // The tag and folder filters.
    await page.locator("#tag-filter").selectOption("sessions");
    await expect(page.locator("section.scenario:visible")).toHaveCount(1);
    await expect(scenario(page, "pass/logout.yaml")).toBeVisible();
    await page.locator("#tag-filter").selectOption("");
    await page.locator("#folder-filter").selectOption("pass");
    await expect(page.locator("#shown")).toHaveText("2 of 3 shown");
    await expect(failing).toBeHidden();
    await page.locator("#folder-filter").selectOption("");
    await expect(page.locator("#shown")).toHaveText("3 of 3 shown");
  });

  test("the failure shows expected versus actual at its step", async ({ page }) => {
    const section = scenario(page, "fail/wrong-profile.yaml");
    const step = section.locator(".step.failed");
    await expect(step).toHaveCount(1);
    await expect(step).toHaveAttribute("data-step", "3");
    await expect(step.locator(".failure .diff .d-del").first()).toBeVisible();
    await expect(step.locator(".failure .diff")).toContainText('"nickName": "Alice"');
    await expect(step.locator(".failure .diff .d-add")).toContainText('"profile": null');
    await expect(section.locator(".step.not-run")).toHaveAttribute("data-step", "4");
    // The page as it opens (the README's picture): the summary, then the failure and its diff.
    await page.setViewportSize({ width: 1280, height: 1160 });
    await page.screenshot({ path: shot("report.png") });
    // The failing arrow is the one marked, and it opens too.
    const arrow = step.locator("details.exchange.failed");
    await expect(arrow).toHaveCount(1);
    await arrow.locator("summary").click();
    await expect(arrow.locator(".pane.request pre")).toContainText("GET http://");
    await expect(arrow.locator(".pane.response pre")).toContainText('"profile": null');
    await section.screenshot({ path: shot("failure.png") });
  });

  test("every arrow opens and closes at once", async ({ page }) => {
    const all = page.locator("details.exchange");
    const n = await all.count();
    expect(n).toBeGreaterThan(5);
    await page.locator("#expand-all").click();
    await expect(page.locator("details.exchange[open]")).toHaveCount(n);
    await page.locator("#collapse-all").click();
    await expect(page.locator("details.exchange[open]")).toHaveCount(0);
  });
});
