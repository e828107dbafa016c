// Pieces several pages show: article previews, pagination, tags, avatars, the favorite
// and follow buttons.
import { api, enc } from "./api.js";
import { failure, h, isAllowedImage, link, loading, time } from "./dom.js";
import { navigate } from "./router.js";
import { session } from "./session.js";

export const PAGE_SIZE = 20;

export function avatar(profile, size = "small") {
  // Images come from user-given URLs: only those the CSP lets load (https:, this site)
  // are asked for, and a broken one falls back to the initial.
  const initial = (profile.username || "?").slice(0, 1).toUpperCase();
  if (isAllowedImage(profile.image)) {
    const img = h("img", { class: `avatar ${size}`, src: profile.image, alt: "", loading: "lazy" });
    img.addEventListener("error", () => img.replaceWith(h("span", { class: `avatar ${size}`, "aria-hidden": "true" }, initial)));
    return img;
  }
  return h("span", { class: `avatar ${size}`, "aria-hidden": "true" }, initial);
}

export function profileHref(username) {
  return `/profile/${enc(username)}`;
}

export function articleHref(slug) {
  return `/article/${enc(slug)}`;
}

export function boardHref(slug) {
  return `/board/${enc(slug)}`;
}

export function roleBadge(role) {
  if (role !== "moderator" && role !== "admin") return null;
  return h("span", { class: `badge role-${role}` }, role);
}

export function byline(article) {
  const author = article.author;
  return h(
    "div",
    { class: "byline" },
    avatar(author),
    h(
      "span",
      {},
      link(profileHref(author.username), { class: "author" }, author.username),
      " ",
      roleBadge(author.role),
      h("span", { class: "muted" }, " · ", time(article.createdAt)),
    ),
  );
}

export function tagList(tags, { linked = true } = {}) {
  if (!tags?.length) return null;
  return h(
    "ul",
    { class: "tags", "aria-label": "Tags" },
    tags.map((tag) =>
      h("li", {}, linked ? link(`/?tag=${enc(tag)}`, { class: "tag" }, tag) : h("span", { class: "tag" }, tag)),
    ),
  );
}

export function articlePreview(article) {
  return h(
    "article",
    { class: "preview", dataset: { testid: "article-preview", slug: article.slug } },
    h(
      "header",
      {},
      byline(article),
      favoriteButton(article, { compact: true }),
    ),
    h("h2", {}, link(articleHref(article.slug), { class: "preview-title" }, article.title)),
    article.description ? h("p", { class: "description" }, article.description) : null,
    h(
      "footer",
      {},
      article.board ? link(boardHref(article.board), { class: "board-link" }, article.board) : null,
      tagList(article.tagList),
    ),
  );
}

/** Page numbers for a list of `total` items, each a link built by hrefFor(offset). */
export function pagination(total, offset, hrefFor, limit = PAGE_SIZE) {
  const pages = Math.ceil(total / limit);
  if (pages <= 1) return null;
  const current = Math.floor(offset / limit);
  const shown = new Set([0, pages - 1, current - 2, current - 1, current, current + 1, current + 2]);
  const items = [];
  let gap = false;
  for (let i = 0; i < pages; i++) {
    if (!shown.has(i)) {
      if (!gap) items.push(h("li", { class: "gap", "aria-hidden": "true" }, "…"));
      gap = true;
      continue;
    }
    gap = false;
    items.push(
      h(
        "li",
        {},
        link(hrefFor(i * limit), { "aria-current": i === current ? "page" : null, "aria-label": `Page ${i + 1}` }, String(i + 1)),
      ),
    );
  }
  return h("nav", { class: "pagination", "aria-label": "Pages" }, h("ul", {}, items));
}

/**
 * A paginated list of articles: fetches `path` (an /api/articles query without
 * limit/offset) and renders previews plus pagination. Returns the element; it fills in.
 */
export function articleList({ path, offset = 0, hrefFor, empty = "No articles here yet.", signal }) {
  const box = h("section", { class: "article-list", dataset: { testid: "article-list" }, "aria-label": "Articles" });
  const load = async () => {
    box.replaceChildren(loading("Loading articles"));
    const sep = path.includes("?") ? "&" : "?";
    try {
      const body = await api(`${path}${sep}limit=${PAGE_SIZE}&offset=${offset}`, { signal });
      box.replaceChildren();
      if (!body.articles.length) box.append(h("p", { class: "empty" }, empty));
      for (const article of body.articles) box.append(articlePreview(article));
      box.append(pagination(body.articlesCount, offset, hrefFor) ?? "");
    } catch (error) {
      if (error.name === "AbortError") return;
      box.replaceChildren(failure("Loading the articles", error, load));
    }
  };
  load();
  return box;
}

function requireSignIn() {
  navigate(`/login?next=${enc(location.pathname + location.search)}`);
}

/** ♥ with the count; toggles the favorite. Anonymous readers are sent to sign in. */
export function favoriteButton(article, { compact = false } = {}) {
  // A toggle: its name stays "Favorite <title>" and aria-pressed says whether it is on.
  // The name is the button's own text (a compact button hides the words visually only),
  // so what a speech-input user reads on screen is part of what they can say.
  const count = h("span", { class: "count", dataset: { testid: "favorites-count" } }, String(article.favoritesCount));
  const button = h(
    "button",
    {
      type: "button",
      class: ["button", "favorite", compact && "compact"],
      "aria-pressed": String(Boolean(article.favorited)),
      dataset: { testid: "favorite" },
    },
    h("span", { "aria-hidden": "true" }, "♥ "),
    h("span", { class: compact ? "visually-hidden" : "label" }, "Favorite "),
    h("span", { class: "visually-hidden" }, `“${article.title}”, `),
    count,
  );
  const paint = () => {
    button.setAttribute("aria-pressed", String(Boolean(article.favorited)));
    count.textContent = String(article.favoritesCount);
  };
  button.addEventListener("click", async () => {
    if (!session.signedIn) return requireSignIn();
    button.disabled = true;
    try {
      const body = await api(`/articles/${enc(article.slug)}/favorite`, {
        method: article.favorited ? "DELETE" : "POST",
      });
      Object.assign(article, body.article);
      paint();
    } catch (error) {
      button.after(failure("Favoriting", error));
    } finally {
      button.disabled = false;
    }
  });
  // Live count updates (article page) call this.
  button.setCount = (n) => {
    article.favoritesCount = n;
    paint();
  };
  return button;
}

/** Follow / Unfollow <username>. */
export function followButton(profile) {
  const button = h("button", { type: "button", class: "button follow", dataset: { testid: "follow" } });
  const paint = () => {
    button.textContent = `${profile.following ? "Unfollow" : "Follow"} ${profile.username}`;
    button.setAttribute("aria-pressed", String(Boolean(profile.following)));
  };
  paint();
  button.addEventListener("click", async () => {
    if (!session.signedIn) return requireSignIn();
    button.disabled = true;
    try {
      const body = await api(`/profiles/${enc(profile.username)}/follow`, {
        method: profile.following ? "DELETE" : "POST",
      });
      Object.assign(profile, body.profile);
      paint();
    } catch (error) {
      button.after(failure("Following", error));
    } finally {
      button.disabled = false;
    }
  });
  return button;
}

// --- Article page and editor pieces -------------------------------------------------

/** Whether the signed-in reader may moderate content by someone of `role` (a lower role). */
export function outranks(role) {
  return session.isModerator && roleRank(session.user.role) > roleRank(role);
}

/**
 * An accessible inline confirmation in place of `button`: a question with Confirm and
 * Cancel buttons (Escape cancels, focus returns to the button). `extra` is an optional
 * element shown with the question (a reason input, say). `onConfirm` may be async; what
 * it throws is shown under the question.
 */
export function confirmInline(button, { question, confirmLabel, onConfirm, extra = null }) {
  const box = h("div", { class: "confirm", role: "group", "aria-label": question, dataset: { testid: "confirm-box" } });
  const errorBox = h("div", { "aria-live": "assertive" });
  const cancel = () => {
    box.replaceWith(button);
    button.focus();
  };
  const yes = h("button", { type: "button", class: "button danger", dataset: { testid: "confirm" } }, confirmLabel);
  const no = h("button", { type: "button", class: "button", dataset: { testid: "cancel" }, onclick: cancel }, "Cancel");
  yes.addEventListener("click", async () => {
    yes.disabled = true;
    no.disabled = true;
    errorBox.replaceChildren();
    try {
      await onConfirm();
    } catch (error) {
      if (error?.name === "AbortError") return;
      errorBox.replaceChildren(failure(confirmLabel, error));
      yes.disabled = false;
      no.disabled = false;
    }
  });
  box.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      event.preventDefault();
      cancel();
    } else if (event.key === "Enter" && event.target.matches("input")) {
      // A reason typed in: Enter confirms, as it would submit a form.
      event.preventDefault();
      yes.click();
    }
  });
  box.append(h("p", { class: "question" }, question), extra, h("div", { class: "actions" }, yes, no), errorBox);
  button.replaceWith(box);
  (extra?.querySelector?.("input") ?? no).focus();
}

// ---- Accounts, settings, profile and moderation pages (and the header) ----

/**
 * Where ?next= may send the reader after signing in: a path on this site only — one
 * leading "/", never "//host" or "/\host" (browsers read both as another site), never
 * back to the sign-in pages themselves. Anything else is home.
 */
export function safeNext(value) {
  if (typeof value !== "string" || !/^\/(?![/\\])/.test(value)) return "/";
  let url;
  try {
    url = new URL(value, location.origin);
  } catch {
    return "/";
  }
  if (url.origin !== location.origin || /^\/(login|register)\/?$/.test(url.pathname)) return "/";
  return url.pathname + url.search + url.hash;
}

/** A form's box for the API errors no input names (showFormErrors fills it, focuses it). */
export function formErrors() {
  return h("div", { class: "form-errors", "data-form-errors": true, role: "alert", tabindex: "-1", hidden: true });
}

/** The sign-in address that comes back here afterwards. */
export function signInHref(back = location.pathname + location.search) {
  return `/login?next=${enc(back)}`;
}

// A message that outlives the page that set it (settings saved, account deleted): shown
// above the page, announced, gone after the next navigation but one.
let flashBox = null;
let flashAge = 0;
let flashFocus = false;

export function flash(text, { kind = "ok" } = {}) {
  flashBox?.remove();
  flashBox = h(
    "div",
    { class: `flash wrap ${kind}`, role: "status", tabindex: "-1", dataset: { testid: "flash" } },
    h("p", {}, text),
    h("button", { type: "button", class: "button compact", "aria-label": "Dismiss message", onclick: dropFlash }, "×"),
  );
  flashAge = 0;
  flashFocus = true;
  document.getElementById("main")?.before(flashBox);
  return flashBox;
}

function dropFlash() {
  const hadFocus = flashBox?.contains(document.activeElement);
  flashBox?.remove();
  flashBox = null;
  if (hadFocus) document.getElementById("main")?.focus();
}

/** Called on every page shown (main.js): the flash survives the one it was set for. */
export function ageFlash() {
  if (flashBox && ++flashAge > 1) dropFlash();
}

/** A page re-rendered in place (no heading focus) puts keyboard focus on a fresh flash. */
export function focusFlash() {
  if (flashBox && flashFocus) {
    flashFocus = false;
    flashBox.focus();
  }
}

/** "2030-01-31T12:00" from a datetime-local input → an instant with its offset, for the API. */
export function localToIso(value) {
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? "" : date.toISOString();
}

/** The value a datetime-local input takes for `date` in the reader's time zone. */
export function isoToLocal(date) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

/** The ranks behind "nobody moderates an equal or higher role" (the API decides; the UI hides). */
export function roleRank(role) {
  return { user: 0, moderator: 1, admin: 2 }[role] ?? 0;
}

/**
 * Markdown headings moved `by` more levels down (at most h6): renderMarkdown() already
 * starts them at h2, under the page's h1; a comment sits under the h2 "Comments", so its
 * headings start at h3. Works on the sanitized fragment; children move over as nodes,
 * never as HTML.
 */
export function demoteHeadings(fragment, by = 1) {
  for (const heading of fragment.querySelectorAll("h1, h2, h3, h4, h5, h6")) {
    const level = Math.min(6, Number(heading.tagName[1]) + by);
    const replacement = document.createElement(`h${level}`);
    for (const attribute of heading.attributes) replacement.setAttribute(attribute.name, attribute.value);
    replacement.append(...heading.childNodes);
    heading.replaceWith(replacement);
  }
  return fragment;
}
