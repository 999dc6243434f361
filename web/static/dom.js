// Small DOM helpers for the pages: build elements safely, show loading/empty/error states.

import { t } from "./app.js";

/**
 * Create an element. ``props``: "class", "on" ({event: handler}), "dataset", or attributes
 * (true sets an empty attribute; null, undefined and false leave it out). Children are
 * nodes or text (always inserted as text, never parsed as HTML).
 */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "on") for (const [event, handler] of Object.entries(value)) node.addEventListener(event, handler);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  node.append(...children.flat().filter((child) => child !== null && child !== undefined && child !== false));
  return node;
}

/**
 * Show a state in a ``.state`` region: "loading", "empty", "error" (with a "try again"
 * button when ``retry`` is given), or nothing when ``kind`` is null.
 */
export function showState(node, kind = null, text = "", retry = null) {
  node.replaceChildren();
  node.className = kind ? `state is-${kind}` : "state";
  node.setAttribute("aria-busy", kind === "loading" ? "true" : "false");
  if (!kind) return;
  node.append(el("span", { class: "state-text" }, text));
  if (retry) {
    node.append(el("button", { type: "button", class: "button secondary", on: { click: retry } }, t("common.retry")));
  }
}

/**
 * Show or hide the form's ``[data-show-when="name=value"]`` parts as its controls change
 * (the tier only for advisors, who decided only when resuscitation is decided against ...).
 */
export function bindShowWhen(form) {
  const update = () => {
    for (const part of form.querySelectorAll("[data-show-when]")) {
      const [name, value] = part.dataset.showWhen.split("=");
      part.hidden = form.elements.namedItem(name)?.value !== value;
    }
  };
  form.addEventListener("change", update);
  form.addEventListener("reset", () => setTimeout(update));
  update();
  return update;
}

/** Disable a submit button while a request runs, showing what is happening. */
export async function whileBusy(button, busyText, work) {
  const label = button.textContent;
  button.disabled = true;
  button.textContent = busyText;
  try {
    return await work();
  } finally {
    button.disabled = false;
    button.textContent = label;
  }
}
