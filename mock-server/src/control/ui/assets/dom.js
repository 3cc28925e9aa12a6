// Small helpers over the DOM: elements built from data (text only, never HTML: journal bodies
// and user names are whatever clients sent), copying to the clipboard, times, form errors.

/**
 * `h("td", { class: "mono", title: "x" }, "text", child)`: an element. Attributes: `class`,
 * `dataset` (an object), `on<event>` (a function), booleans (`hidden`, `disabled`, `checked`,
 * `selected`) as properties, anything else as an attribute; `null`/`undefined`/`false` skip it.
 * Children: strings and numbers become text, arrays are flattened, null and false are skipped.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (["hidden", "disabled", "checked", "selected", "value"].includes(k)) el[k] = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Text with `code` spans (as the OpenAPI descriptions write them) as nodes. */
export function prose(text) {
  return String(text)
    .split("`")
    .map((part, i) => (i % 2 ? h("code", {}, part) : part))
    .filter((part) => part !== "");
}

/** Replaces the children of `el`. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** `document.getElementById`, failing loudly when the page lacks the element. */
export function byId(id) {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page has no #${id}`);
  return el;
}

/** Copies `text` to the clipboard (the async API where the page may use it, else a selection). */
export async function copy(text) {
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch {
      // Denied: fall back to a selection below.
    }
  }
  const area = h("textarea", { class: "offscreen", readonly: true, "aria-hidden": "true" });
  area.value = text;
  document.body.append(area);
  area.select();
  let ok = false;
  try {
    ok = document.execCommand("copy");
  } catch {
    ok = false;
  }
  area.remove();
  return ok;
}

/**
 * A button named `Copy <what>` that copies `text` (or `text()`) and says so; it reads `Copy`, or
 * `label` when the button stands alone.
 */
export function copyButton(what, text, label = "Copy") {
  const button = h("button", { type: "button", class: "copy", "aria-label": `Copy ${what}`, title: `Copy ${what}` }, label);
  button.addEventListener("click", async () => {
    const ok = await copy(typeof text === "function" ? text() : text);
    button.textContent = ok ? "Copied" : "Select and copy";
    button.classList.toggle("done", ok);
    setTimeout(() => {
      button.textContent = label;
      button.classList.remove("done");
    }, 1500);
  });
  return button;
}

const pad = (n, w = 2) => String(n).padStart(w, "0");

/** `2024-08-22 01:14:57 UTC` from Unix milliseconds. */
export function utc(ms) {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} UTC`;
}

/** `2024-08-22 09:14:57` in China (UTC+8: WeChat's days and quotas). */
export function china(ms) {
  return utc(ms + 8 * 3600_000).replace(" UTC", "");
}

/** `08-22 01:14:57.123`, short enough for a table cell. */
export function shortTime(ms) {
  const d = new Date(ms);
  return `${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}.${pad(d.getUTCMilliseconds(), 3)}`;
}

/** Pretty JSON of text that parses, else the text as it is. */
export function pretty(text) {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

/** Shows `err` in the form's alert line, and marks the field it names, if the form has it. */
export function formError(form, err) {
  const line = form.querySelector(".form-error");
  for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
  if (!err) {
    if (line) {
      line.hidden = true;
      line.textContent = "";
    }
    return;
  }
  if (line) {
    line.textContent = err.message;
    line.hidden = false;
  }
  const field = err.field && form.querySelector(`[name="${CSS.escape(err.field)}"]`);
  if (field) {
    field.setAttribute("aria-invalid", "true");
    field.focus();
  }
}

let toastTimer = null;

/** A short message in the page's status region, read out by screen readers. */
export function toast(message) {
  const el = byId("toast");
  el.textContent = message;
  el.classList.add("shown");
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => el.classList.remove("shown"), 3000);
}

/** The value of a text input, trimmed; null when empty. */
export function text(input) {
  const v = input.value.trim();
  return v === "" ? null : v;
}

/** An integer from a text input; null when empty; a ControlError-like error naming `field` otherwise. */
export function integer(input, field) {
  const v = text(input);
  if (v === null) return null;
  if (!/^-?\d+$/.test(v)) {
    const e = new Error(`invalid \`${field}\`: ${JSON.stringify(v)} is not a whole number`);
    e.field = field;
    throw e;
  }
  return Number(v);
}
