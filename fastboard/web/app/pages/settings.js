// Settings: profile, password, data export, sign out, delete account. Every write shows
// the API's answer where it was attempted (a suspended account's 403 included).
import { api, ApiError } from "../api.js";
import { flash, focusFlash, formErrors, profileHref, signInHref } from "../components.js";
import { clearFormErrors, failure, field, h, link, showFormErrors, title } from "../dom.js";
import { navigate } from "../router.js";
import { session } from "../session.js";

export function render(main) {
  title("Settings");
  if (!session.signedIn) {
    navigate(signInHref(), { replace: true });
    return;
  }
  const user = session.user;
  main.append(
    h(
      "div",
      { class: "settings" },
      h("h1", {}, "Settings"),
      h("p", {}, "Signed in as ", link(profileHref(user.username), {}, user.username), ` (${user.email}).`),
      section("profile-heading", "Your profile", profileForm(user)),
      section("password-heading", "Password", passwordForm()),
      section(
        "export-heading",
        "Your data",
        h("p", {}, "Your profile, articles, comments, favorites and follows as one JSON file."),
        exportButton(user),
      ),
      section(
        "signout-heading",
        "Sign out",
        h("p", {}, "Signs you out in this browser."),
        h(
          "button",
          { type: "button", class: "button", dataset: { testid: "sign-out" }, onclick: signOut },
          "Sign out",
        ),
      ),
      h(
        "section",
        { class: "panel settings-section danger-zone", "aria-labelledby": "delete-heading" },
        h("h2", { id: "delete-heading" }, "Delete your account"),
        deleteForm(user),
      ),
    ),
  );
  focusFlash();
}

function section(id, heading, ...children) {
  return h("section", { class: "panel settings-section", "aria-labelledby": id }, h("h2", { id }, heading), ...children);
}

/** Submits `form` with `send(data)`; errors next to the fields, the button busy meanwhile. */
function handle(form, send) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const submit = form.querySelector("button[type=submit]");
    clearFormErrors(form);
    submit.disabled = true;
    try {
      await send(Object.fromEntries(new FormData(form)));
    } catch (error) {
      if (error.name === "AbortError") return;
      showFormErrors(form, error);
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

function profileForm(user) {
  const form = h(
    "form",
    { class: "stack", novalidate: true, dataset: { testid: "settings-form" } },
    formErrors(),
    field(
      "Profile picture URL",
      h("input", { name: "image", type: "url", inputmode: "url", autocomplete: "photo", value: user.image || "", dataset: { field: "image" } }),
      "An https:// address of an image; leave empty for your initial.",
    ),
    field("Username", h("input", { name: "username", autocomplete: "username", required: true, maxlength: "64", value: user.username, dataset: { field: "username" } })),
    field("Bio", h("textarea", { name: "bio", rows: "4", value: user.bio || "", dataset: { field: "bio" } }), "Plain text, shown on your profile."),
    field("Email", h("input", { name: "email", type: "email", autocomplete: "email", required: true, value: user.email, dataset: { field: "email" } })),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "button primary" }, "Save profile")),
  );
  return handle(form, async (data) => {
    const body = await api("/user", { method: "PUT", body: { user: data } });
    flash("Your profile is saved.");
    // Re-renders this page (and the header) for the saved profile.
    session.set({ ...body.user, token: body.user.token || session.token });
  });
}

function passwordForm() {
  const form = h(
    "form",
    { class: "stack", novalidate: true, dataset: { testid: "password-form" } },
    formErrors(),
    // A hidden username lets password managers file the new password under the account.
    h("input", { type: "text", name: "username", autocomplete: "username", value: session.user.username, hidden: true }),
    field(
      "Current password",
      h("input", { name: "currentPassword", type: "password", autocomplete: "current-password", required: true, dataset: { field: "currentPassword" } }),
    ),
    field(
      "New password",
      h("input", { name: "newPassword", type: "password", autocomplete: "new-password", required: true, minlength: "8", dataset: { field: "newPassword" } }),
      "At least 8 characters. Other browsers and devices signed in to your account are signed out.",
    ),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "button primary" }, "Change password")),
  );
  return handle(form, ({ currentPassword, newPassword }) =>
    // The old token is spent by this request; the answer's token keeps this tab signed in.
    session.renew(async () => {
      const body = await api("/user/password", { method: "PUT", body: { user: { currentPassword, newPassword } } });
      flash("Your password is changed. You are still signed in here.");
      session.set(body.user);
    }),
  );
}

function exportButton(user) {
  const status = h("div", { class: "export-status", "aria-live": "polite" });
  const button = h("button", { type: "button", class: "button", dataset: { testid: "export" } }, "Download my data");
  const run = async () => {
    button.disabled = true;
    status.replaceChildren(h("p", { class: "loading" }, "Preparing your export…"));
    try {
      const blob = await download();
      const url = URL.createObjectURL(blob);
      const anchor = h("a", { href: url, download: `fastboard-export-${user.username}.json`, hidden: true });
      document.body.append(anchor);
      anchor.click();
      anchor.remove();
      // The download has its own copy once started; the URL can go a moment later.
      setTimeout(() => URL.revokeObjectURL(url), 10000);
      status.replaceChildren(h("p", { class: "muted" }, `Downloaded fastboard-export-${user.username}.json.`));
    } catch (error) {
      status.replaceChildren(failure("Exporting your data", error, run));
    } finally {
      button.disabled = false;
    }
  };
  button.addEventListener("click", run);
  return h("div", {}, h("div", { class: "actions" }, button), status);
}

/** GET /api/user/export as a Blob: streamed JSON, so not through api() (which parses it). */
async function download() {
  let response;
  try {
    response = await fetch("/api/user/export", {
      headers: { Accept: "application/json", Authorization: `Token ${session.token}` },
    });
  } catch {
    throw new ApiError(0, {});
  }
  if (!response.ok) {
    const parsed = await response.json().catch(() => null);
    if (response.status === 401) session.clear();
    throw new ApiError(response.status, parsed?.errors && typeof parsed.errors === "object" ? parsed.errors : {});
  }
  const blob = await response.blob();
  return new Blob([blob], { type: "application/json" });
}

function signOut() {
  // Flash first: main.js sends a signed-out reader away from /settings, and the flash
  // lasts for the page shown next.
  flash("You are signed out.");
  session.clear();
}

function deleteForm(user) {
  const confirmInput = h("input", {
    name: "confirmation",
    autocomplete: "off",
    spellcheck: "false",
    required: true,
    dataset: { field: "confirmation" },
  });
  const form = h(
    "form",
    { class: "stack", novalidate: true, dataset: { testid: "delete-account" } },
    h(
      "p",
      {},
      "Your account, favorites and follows are removed at once and you are signed out everywhere. ",
      "Your articles and comments stay, shown under “[deleted]”, so the conversations around them keep their sense.",
    ),
    formErrors(),
    field("Type your username to confirm", confirmInput, `Type “${user.username}”.`),
    field(
      "Your password",
      h("input", { name: "password", type: "password", autocomplete: "current-password", required: true, dataset: { field: "password" } }),
    ),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "button danger" }, "Delete my account")),
  );
  return handle(form, async ({ confirmation, password }) => {
    if (confirmation.trim() !== user.username) {
      showFormErrors(form, { errors: { confirmation: [`does not match your username, “${user.username}”`] } });
      return;
    }
    // The live connection is closed for this token (4401) as the account goes: renew()
    // keeps live.js from taking that as a sign-out before this answer is handled.
    await session.renew(async () => {
      await api("/user", { method: "DELETE", body: { user: { password } } });
      // As for signing out: main.js sends the reader home.
      flash("Your account is deleted. You are signed out.");
      session.clear();
    });
  });
}
