// The control token prompt: shown when the mock answers 401 `unauthorized`. A token is tried
// with `GET /__mock__/state` before it is kept; a refused one is forgotten and said so.

import * as api from "./api.js";
import { byId } from "./dom.js";

const WHY_NEEDED =
  "This mock was started with a control token (--control-token or MOCK_CONTROL_TOKEN): every control-plane call needs it.";

/**
 * Shows the prompt with `why` (null: the mock needs a token; a text: why the last one failed)
 * and resolves once a token works.
 */
export function ask(why) {
  const screen = byId("token-screen");
  const form = byId("token-form");
  const input = byId("token-input");
  const error = byId("token-error");
  byId("token-why").textContent = WHY_NEEDED;
  showError(error, why);
  for (const s of document.querySelectorAll("main > .screen")) s.hidden = s !== screen;
  screen.hidden = false;
  input.value = "";
  input.focus();
  return new Promise((resolve) => {
    const submit = async (e) => {
      e.preventDefault();
      const value = input.value.trim();
      if (!value) {
        showError(error, "Type the control token the mock was started with.");
        input.focus();
        return;
      }
      const button = form.querySelector("button[type=submit]");
      button.disabled = true;
      api.setToken(value);
      try {
        await api.get("/state");
        form.removeEventListener("submit", submit);
        showError(error, null);
        screen.hidden = true;
        resolve();
      } catch (err) {
        api.forgetToken();
        showError(
          error,
          err.status === 401
            ? "The mock refused this token (401 unauthorized): it is not the one the mock was started with."
            : err.message,
        );
        input.select();
      } finally {
        button.disabled = false;
      }
    };
    form.addEventListener("submit", submit);
  });
}

function showError(el, message) {
  el.textContent = message ?? "";
  el.hidden = !message;
  const input = byId("token-input");
  if (message) input.setAttribute("aria-invalid", "true");
  else input.removeAttribute("aria-invalid");
}
