// Building the page without ever parsing user text as HTML: every string becomes a text
// node. The one exception, rendered Markdown, goes through DOMPurify (markdown.js).
import { fieldMessage } from "./api.js";

/**
 * h("a", {href: "/x", class: "link", onclick: fn, dataset: {testid: "t"}}, "text", child)
 * Attributes whose value is false/null/undefined are left out; `true` sets an empty one.
 */
export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      element.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key === "dataset") {
      Object.assign(element.dataset, value);
    } else if (key === "class") {
      element.className = Array.isArray(value) ? value.filter(Boolean).join(" ") : value;
    } else if (key === "value" || key === "checked" || key === "disabled") {
      element[key] = value;
    } else {
      element.setAttribute(key, value === true ? "" : String(value));
    }
  }
  append(element, children);
  return element;
}

function append(parent, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(parent, child);
    else parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** A link handled by the client-side router (see router.js). */
export function link(href, props, ...children) {
  return h("a", { href, ...props }, ...children);
}

/** "Loading…" that screen readers announce; shown in place of content still on its way. */
export function loading(what = "Loading") {
  return h("p", { class: "loading", role: "status", "aria-live": "polite" }, `${what}…`);
}

/**
 * What failed and a way to try again. `error` is an ApiError (api.js) or anything thrown;
 * its text is a sentence for people, never a raw body or a stack trace.
 */
export function failure(what, error, retry) {
  const message =
    error && error.name === "ApiError"
      ? error.message
      : error && typeof error.status === "number"
        ? error.message
        : "Something went wrong in the page.";
  if (!(error && typeof error.status === "number")) console.warn(error);
  return h(
    "div",
    { class: "failure", role: "alert", dataset: { testid: "failure" } },
    h("p", {}, h("strong", {}, `${what} failed. `), message),
    retry ? h("button", { type: "button", class: "button", onclick: retry }, "Try again") : null,
  );
}

/**
 * Show an API error next to the fields it names: a form's inputs carry
 * data-field="<field>" and the error list goes after the input; errors for fields the form
 * does not have (and "body") go in the form's [data-form-errors] box.
 */
export function showFormErrors(form, error) {
  clearFormErrors(form);
  const box = form.querySelector("[data-form-errors]");
  const errors = error && error.errors && Object.keys(error.errors).length ? error.errors : null;
  if (!errors) {
    box?.append(h("p", {}, error?.message ?? "Something went wrong in the page."));
    box?.removeAttribute("hidden");
    return;
  }
  let first = null;
  for (const [field, messages] of Object.entries(errors)) {
    const input = form.querySelector(`[data-field="${CSS.escape(field)}"]`);
    const text = messages.join("; ");
    if (input) {
      const id = `${input.id || field}-error`;
      input.setAttribute("aria-invalid", "true");
      // The error first, then the field's hint (field() links it).
      input.setAttribute("aria-describedby", [id, input.dataset.hint].filter(Boolean).join(" "));
      input.after(h("p", { class: "field-error", id, dataset: { errorFor: field } }, fieldMessage(field, text)));
      first ??= input;
    } else if (box) {
      box.append(h("p", {}, fieldMessage(field, text)));
      box.removeAttribute("hidden");
    }
  }
  (first ?? box)?.focus?.();
}

export function clearFormErrors(form) {
  for (const node of form.querySelectorAll(".field-error")) node.remove();
  for (const input of form.querySelectorAll("[aria-invalid]")) {
    input.removeAttribute("aria-invalid");
    if (input.dataset.hint) input.setAttribute("aria-describedby", input.dataset.hint);
    else input.removeAttribute("aria-describedby");
  }
  const box = form.querySelector("[data-form-errors]");
  if (box) {
    box.replaceChildren();
    box.setAttribute("hidden", "");
  }
}

/** A labelled input: h-compatible, with the label bound by id. */
export function field(label, input, hint) {
  const id = input.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  input.id = id;
  if (hint) {
    // Screen readers read the hint with the field (showFormErrors keeps it after an error).
    input.dataset.hint = `${id}-hint`;
    input.setAttribute("aria-describedby", `${id}-hint`);
  }
  return h(
    "div",
    { class: "field" },
    h("label", { for: id }, label),
    input,
    hint ? h("p", { class: "hint", id: `${id}-hint` }, hint) : null,
  );
}

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium" });
const dateTimeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

export function time(iso, withTime = false) {
  const date = new Date(iso);
  return h(
    "time",
    { datetime: iso, title: dateTimeFormat.format(date) },
    (withTime ? dateTimeFormat : dateFormat).format(date),
  );
}

/** Sets the document title the way every page does. */
export function title(text) {
  document.title = text ? `${text} — fastboard` : "fastboard";
}

/** Whether the CSP lets this image URL load: https:, or a path on this site. */
export function isAllowedImage(url) {
  if (!url) return false;
  try {
    const parsed = new URL(url, location.origin);
    return parsed.protocol === "https:" || parsed.origin === location.origin;
  } catch {
    return false;
  }
}
