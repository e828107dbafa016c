// Sign in (/login) and sign up (/register): one module, the path decides. After either,
// the reader goes to ?next= when it is a path on this site, else home.
import { api } from "../api.js";
import { formErrors, safeNext } from "../components.js";
import { clearFormErrors, field, h, link, showFormErrors, title } from "../dom.js";
import { navigate } from "../router.js";
import { session } from "../session.js";

export function render(main, { query }) {
  const registering = location.pathname.replace(/\/$/, "") === "/register";
  const next = safeNext(query.get("next"));
  // The other form keeps ?next=, so switching between them loses nothing.
  const carry = next === "/" ? "" : `?next=${encodeURIComponent(next)}`;
  title(registering ? "Sign up" : "Sign in");

  if (session.signedIn) {
    main.append(
      h(
        "section",
        { class: "notice" },
        h("h1", {}, registering ? "Sign up" : "Sign in"),
        h("p", {}, `You are signed in as ${session.user.username}.`),
        h("p", {}, link(next, {}, "Continue"), " · ", link("/settings", {}, "Settings")),
      ),
    );
    return;
  }

  const form = registering ? registerForm() : loginForm();
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const submit = form.querySelector("button[type=submit]");
    const data = Object.fromEntries(new FormData(form));
    clearFormErrors(form);
    submit.disabled = true;
    try {
      const body = registering
        ? await api("/users", { method: "POST", body: { user: data } })
        : await api("/users/login", { method: "POST", body: { user: data } });
      session.set(body.user);
      navigate(next, { replace: true });
    } catch (error) {
      submit.disabled = false;
      if (error.name === "AbortError") return;
      if (error.status !== 429) {
        showFormErrors(form, error);
        return;
      }
      showFormErrors(form, tooMany(error));
      // Trying again before the wait is over only meets the limit again.
      if (error.retryAfter) {
        submit.disabled = true;
        setTimeout(() => {
          submit.disabled = false;
        }, error.retryAfter * 1000);
      }
    }
  });

  main.append(
    h(
      "section",
      { class: "auth" },
      h("h1", {}, registering ? "Sign up" : "Sign in"),
      registering
        ? h("p", {}, "Have an account? ", link(`/login${carry}`, {}, "Sign in"))
        : h("p", {}, "New here? ", link(`/register${carry}`, {}, "Create an account")),
      form,
    ),
  );
}

function loginForm() {
  return h(
    "form",
    { class: "stack", novalidate: true, dataset: { testid: "login-form" } },
    formErrors(),
    field("Email", h("input", { name: "email", type: "email", autocomplete: "email", required: true, dataset: { field: "email" } })),
    field(
      "Password",
      h("input", { name: "password", type: "password", autocomplete: "current-password", required: true, dataset: { field: "password" } }),
    ),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "button primary" }, "Sign in")),
  );
}

function registerForm() {
  return h(
    "form",
    { class: "stack", novalidate: true, dataset: { testid: "register-form" } },
    formErrors(),
    field(
      "Username",
      h("input", { name: "username", autocomplete: "username", required: true, maxlength: "64", dataset: { field: "username" } }),
      "Shown on your articles and comments; any script, Korean included.",
    ),
    field("Email", h("input", { name: "email", type: "email", autocomplete: "email", required: true, dataset: { field: "email" } })),
    field(
      "Password",
      h("input", { name: "password", type: "password", autocomplete: "new-password", required: true, minlength: "8", dataset: { field: "password" } }),
      "At least 8 characters.",
    ),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "button primary" }, "Sign up")),
  );
}

/** NGINX's login rate limit answered 429: say how long to wait, from Retry-After. */
function tooMany(error) {
  const wait = error.retryAfter;
  const message =
    wait !== null && wait !== undefined
      ? `Too many attempts: try again in ${Math.max(1, wait)} s.`
      : "Too many attempts: wait a moment and try again.";
  return { message, errors: { body: [message] } };
}
