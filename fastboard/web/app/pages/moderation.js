// Moderation (moderators and admins): suspend and lift by username, roles (admins), and
// the moderation log. The forms are exported for the profile page, which shows them for
// the profile's user (no username field there).
import { api, enc, query } from "../api.js";
import { articleHref, formErrors, isoToLocal, localToIso, pagination, profileHref, signInHref } from "../components.js";
import { clearFormErrors, failure, field, h, link, loading, showFormErrors, time, title } from "../dom.js";
import { navigate } from "../router.js";
import { session } from "../session.js";

const LOG_PAGE = 20;

export function render(main, { query: params, signal }) {
  title("Moderation");
  if (!session.signedIn) {
    navigate(signInHref(), { replace: true });
    return;
  }
  if (!session.isModerator) {
    main.append(
      h(
        "section",
        { class: "notice" },
        h("h1", {}, "Moderation"),
        h("p", { dataset: { testid: "no-access" } }, "You do not have access to this page: it is for moderators and admins."),
        h("p", {}, link("/", {}, "Back to the board")),
      ),
    );
    return;
  }
  const prefill = params.get("user") || "";
  const page = Math.max(1, Number.parseInt(params.get("page") || "1", 10) || 1);
  const log = moderationLog((page - 1) * LOG_PAGE, signal);
  const reloadLog = () => log.reload();
  main.append(
    h(
      "div",
      { class: "moderation" },
      h("h1", {}, "Moderation"),
      h(
        "div",
        { class: "moderation-forms" },
        panel("suspend-heading", "Suspend a user", suspendForm({ prefill, onDone: reloadLog })),
        panel("lift-heading", "Lift a suspension", liftForm({ prefill, onDone: reloadLog })),
        session.isAdmin ? panel("role-heading", "Change a role", roleForm({ prefill, onDone: reloadLog })) : null,
      ),
      h("section", { "aria-labelledby": "log-heading" }, h("h2", { id: "log-heading" }, "Moderation log"), log),
    ),
  );
}

function panel(id, heading, form) {
  return h("section", { class: "panel", "aria-labelledby": id }, h("h2", { id }, heading), form);
}

/** The username input, or nothing when the form is for one known user (profile page). */
function usernameField(username, prefill) {
  if (username) return null;
  return field(
    "Username",
    h("input", { name: "username", required: true, autocomplete: "off", spellcheck: "false", value: prefill, dataset: { field: "username" } }),
  );
}

/**
 * Wires a moderation form: `send(data, username)` makes the call and returns the success
 * text and the answer (given to onDone); the API's errors go next to their fields ("profile not found" next to the
 * username), the success in the form's status line.
 */
function moderationForm(form, { username, onDone }, send) {
  const status = h("p", { class: "form-status", role: "status", dataset: { testid: "form-status" } });
  form.append(status);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const submit = form.querySelector("button[type=submit]");
    const data = Object.fromEntries(new FormData(form));
    const target = (username || data.username || "").trim();
    clearFormErrors(form);
    status.textContent = "";
    if (!target) {
      showFormErrors(form, { errors: { username: ["can't be blank"] } });
      return;
    }
    submit.disabled = true;
    try {
      const [text, body] = await send(data, target);
      status.textContent = text;
      onDone?.(body);
    } catch (error) {
      if (error.name === "AbortError") return;
      showFormErrors(form, unknownUser(error, username));
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

function unknownUser(error, fixed) {
  if (error.status !== 404 || fixed) return error;
  return { message: error.message, errors: { username: ["is not a known user"] } };
}

export function suspendForm({ username = "", prefill = "", onDone } = {}) {
  // A week from now, as a starting point.
  const week = new Date(Date.now() + 7 * 86400 * 1000);
  const form = h(
    "form",
    { class: "stack", novalidate: true, dataset: { testid: "suspend-form" } },
    formErrors(),
    usernameField(username, prefill),
    field(
      "Reason",
      h("textarea", { name: "reason", rows: "2", required: true, maxlength: "1000", dataset: { field: "reason" } }),
      "Recorded in the moderation log and shown to the user when they try to write.",
    ),
    field(
      "Suspended until",
      h("input", { name: "until", type: "datetime-local", required: true, value: isoToLocal(week), dataset: { field: "until" } }),
      "Your local time; at most ten years away.",
    ),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "button danger" }, "Suspend")),
  );
  return moderationForm(form, { username, onDone }, async (data, target) => {
    const until = localToIso(data.until);
    if (!until) throw { message: "until is not a date", errors: { until: ["must be a date and time"] } };
    const body = await api(`/profiles/${enc(target)}/suspension`, {
      method: "POST",
      body: { suspension: { until, reason: data.reason } },
    });
    const s = body.suspension;
    return [`${s.username} is suspended until ${new Date(s.until).toLocaleString()}.`, body];
  });
}

export function liftForm({ username = "", prefill = "", onDone } = {}) {
  const form = h(
    "form",
    { class: "stack", novalidate: true, dataset: { testid: "lift-form" } },
    formErrors(),
    usernameField(username, prefill),
    field("Reason (optional)", h("input", { name: "reason", maxlength: "1000", dataset: { field: "reason" } })),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "button" }, "Lift suspension")),
  );
  return moderationForm(form, { username, onDone }, async (data, target) => {
    const body = await api(`/profiles/${enc(target)}/suspension${query({ reason: data.reason?.trim() })}`, {
      method: "DELETE",
    });
    return [`${body.suspension.username} is not suspended.`, body];
  });
}

export function roleForm({ username = "", prefill = "", current = "", onDone } = {}) {
  const select = h(
    "select",
    { name: "role", dataset: { field: "role" } },
    ["user", "moderator", "admin"].map((role) => h("option", { value: role, selected: role === current }, role)),
  );
  const form = h(
    "form",
    { class: "stack", novalidate: true, dataset: { testid: "role-form" } },
    formErrors(),
    usernameField(username, prefill),
    field("Role", select, "Moderators delete, lock and suspend; admins also manage boards and roles."),
    field("Reason (optional)", h("input", { name: "reason", maxlength: "1000", dataset: { field: "reason" } })),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "button" }, "Set role")),
  );
  return moderationForm(form, { username, onDone }, async (data, target) => {
    const reason = data.reason?.trim();
    const body = await api(`/profiles/${enc(target)}/role`, {
      method: "PUT",
      body: reason ? { role: data.role, reason } : { role: data.role },
    });
    return [`${body.profile.username} is now ${body.profile.role}.`, body];
  });
}

const ACTIONS = {
  delete_article: "deleted article",
  delete_comment: "deleted comment",
  lock_article: "locked",
  unlock_article: "unlocked",
  suspend_user: "suspended",
  unsuspend_user: "lifted the suspension of",
  set_role: "changed the role of",
};

function target(entry) {
  if (entry.targetType === "user") return link(profileHref(entry.target), {}, entry.target);
  if (entry.targetType === "article" && entry.action !== "delete_article") return link(articleHref(entry.target), {}, entry.target);
  return h("span", { class: "target" }, entry.targetType === "comment" ? `#${entry.target}` : entry.target);
}

/** "until 2030-01-31T12:00:00.000Z" reads in the reader's time; other details as given. */
function detail(text) {
  const until = /^until (\d{4}-\d\d-\d\dT[\d:.]+Z)$/.exec(text);
  return until ? ["until ", time(until[1], true)] : text;
}

function moderationLog(offset, signal) {
  const box = h("div", { class: "moderation-log", dataset: { testid: "moderation-log" } });
  const load = async () => {
    box.replaceChildren(loading("Loading the moderation log"));
    try {
      const body = await api(`/moderation/log?limit=${LOG_PAGE}&offset=${offset}`, { signal });
      if (!body.entries.length) {
        box.replaceChildren(h("p", { class: "empty" }, offset ? "No entries on this page." : "Nothing has been moderated yet."));
        return;
      }
      box.replaceChildren(
        h(
          "ol",
          { class: "log-entries" },
          body.entries.map((entry) =>
            h(
              "li",
              { dataset: { testid: "log-entry", action: entry.action } },
              h(
                "p",
                {},
                h("strong", {}, entry.moderator),
                ` ${ACTIONS[entry.action] ?? entry.action.replaceAll("_", " ")} `,
                target(entry),
                entry.detail ? h("span", { class: "muted" }, " (", detail(entry.detail), ")") : null,
              ),
              entry.reason ? h("p", { class: "reason" }, "Reason: ", entry.reason) : null,
              h("p", { class: "muted when" }, time(entry.createdAt, true)),
            ),
          ),
        ),
        pagination(body.entriesCount, offset, (next) => (next ? `/moderation?page=${next / LOG_PAGE + 1}` : "/moderation"), LOG_PAGE) ?? "",
      );
    } catch (error) {
      if (error.name !== "AbortError") box.replaceChildren(failure("Loading the moderation log", error, load));
    }
  };
  box.reload = load;
  load();
  return box;
}
