// The virtual clock and the options. The clock (`GET /__mock__/clock`, read every second by the
// shell) is shown in UTC, in China (WeChat's days) and in Unix milliseconds; it moves with
// `POST /clock` (advance, set, freeze, resume). The options form is drawn from the OptionsPatch
// schema of the mock's own OpenAPI document, so every option shows with its type and its
// description; saving sends only what changed (`PATCH /options`).

import { byId, china, fill, formError, h, prose, utc } from "../dom.js";

let ctx = null;
let options = null;

export function init(c) {
  ctx = c;
  ctx.store.onClock(drawClock);
  byId("clock-freeze").addEventListener("click", () => move({ freeze: true }, "Clock frozen."));
  byId("clock-resume").addEventListener("click", () => move({ resume: true }, "Clock running."));
  byId("advance-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const v = e.currentTarget.elements.advance.value.trim();
    if (!v) {
      formError(e.currentTarget, Object.assign(new Error("invalid `advance`: give a duration (5m, 301s, 1h30m)"), { field: "advance" }));
      return;
    }
    move({ advance: v }, `Clock advanced by ${v}.`, e.currentTarget);
  });
  for (const b of document.querySelectorAll("[data-advance]")) {
    b.addEventListener("click", () => move({ advance: b.dataset.advance }, `Clock advanced by ${b.dataset.advance}.`, byId("advance-form")));
  }
  byId("set-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const v = e.currentTarget.elements.set.value.trim();
    if (!v) {
      formError(e.currentTarget, Object.assign(new Error("invalid `set`: give an RFC 3339 time or Unix seconds"), { field: "set" }));
      return;
    }
    move({ set: /^\d+$/.test(v) ? Number(v) : v }, `Clock set to ${v}.`, e.currentTarget);
  });
  byId("options-form").addEventListener("submit", save);
  byId("options-revert").addEventListener("click", () => drawOptions(options));
}

export function show() {
  ctx.api
    .get("/options")
    .then(drawOptions)
    .catch((err) => formError(byId("options-form"), err));
}

function drawClock(c) {
  const now = byId("clock-now");
  now.textContent = utc(c.now_ms).replace(" UTC", "");
  now.dateTime = c.now;
  byId("clock-china").textContent = china(c.now_ms);
  byId("clock-ms").textContent = String(c.now_ms);
  byId("clock-state").textContent = c.frozen ? "frozen" : "running";
  byId("clock-freeze").disabled = c.frozen;
  byId("clock-resume").disabled = !c.frozen;
}

async function move(body, done, form) {
  try {
    const c = await ctx.api.post("/clock", body);
    if (form) {
      formError(form, null);
    }
    ctx.store.setClock(c);
    ctx.toast(`${done} Now ${utc(c.now_ms)}.`);
    ctx.store.refresh().catch(() => {});
  } catch (err) {
    if (form) formError(form, err);
    else ctx.toast(err.message);
  }
}

/** One input per option, typed from the schema; the current value filled in. */
function drawOptions(current) {
  options = current;
  formError(byId("options-form"), null);
  const fields = ctx.schema.options();
  // Options the document does not describe (an older document) still show, as text.
  for (const name of Object.keys(current)) {
    if (!fields.some((f) => f.name === name)) fields.push({ name, kind: "json", description: "" });
  }
  fill(byId("options-fields"), fields.map((f) => input(f, current[f.name])));
}

function input(f, value) {
  const id = `opt-${f.name}`;
  const hint = f.description ? h("p", { class: "hint", id: `${id}-hint` }, prose(f.description)) : null;
  const described = hint ? `${id}-hint` : null;
  let control;
  if (f.kind === "boolean") {
    control = h("input", { type: "checkbox", id, name: f.name, checked: value === true, "aria-describedby": described });
    return h("div", { class: "option check", dataset: { option: f.name } }, control, h("label", { for: id }, h("code", {}, f.name)), hint);
  }
  if (f.kind === "enum") {
    control = h(
      "select",
      { id, name: f.name, "aria-describedby": described },
      f.nullable ? h("option", { value: "" }, "none") : null,
      f.values.map((v) => h("option", { value: String(v), selected: v === value }, String(v))),
    );
    if (value === null) control.value = "";
  } else {
    const shown = value === null || value === undefined ? "" : typeof value === "object" ? JSON.stringify(value) : String(value);
    control = h("input", {
      id,
      name: f.name,
      value: shown,
      autocomplete: "off",
      inputmode: f.kind === "integer" ? "numeric" : null,
      placeholder: f.nullable ? "none" : null,
      "aria-describedby": described,
    });
  }
  return h("div", { class: "option", dataset: { option: f.name } }, h("label", { for: id }, h("code", {}, f.name)), control, hint);
}

/** The value an option's control holds, typed as the option is. */
function read(f, el) {
  if (f.kind === "boolean") return el.checked;
  const v = el.value.trim();
  if (v === "" && f.nullable) return null;
  if (f.kind === "integer" || f.kind === "number") {
    const n = Number(v);
    if (v === "" || !Number.isFinite(n)) {
      throw Object.assign(new Error(`invalid \`${f.name}\`: ${JSON.stringify(v)} is not a number`), { field: f.name });
    }
    return n;
  }
  if (f.kind === "json") {
    try {
      return JSON.parse(v);
    } catch {
      return v;
    }
  }
  return v;
}

async function save(e) {
  e.preventDefault();
  const form = e.currentTarget;
  const fields = ctx.schema.options();
  const patch = {};
  try {
    for (const f of fields) {
      const el = form.elements[f.name];
      if (!el || !(f.name in options)) continue;
      const v = read(f, el);
      if (JSON.stringify(v) !== JSON.stringify(options[f.name])) patch[f.name] = v;
    }
  } catch (err) {
    formError(form, err);
    return;
  }
  if (Object.keys(patch).length === 0) {
    formError(form, null);
    ctx.toast("Nothing changed.");
    return;
  }
  try {
    const next = await ctx.api.patch("/options", patch);
    drawOptions(next);
    ctx.toast(`Options saved: ${Object.keys(patch).join(", ")}.`);
    ctx.store.refresh().catch(() => {});
  } catch (err) {
    formError(form, err);
  }
}
