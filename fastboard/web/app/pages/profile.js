// A profile: /profile/<name> (their articles) and /profile/<name>/favorites. Moderators
// and admins looking at someone of a lower role get the moderation forms for them here.
import { api, enc } from "../api.js";
import { articleList, avatar, followButton, outranks, PAGE_SIZE, profileHref, roleBadge } from "../components.js";
import { failure, h, link, loading, title } from "../dom.js";
import { session } from "../session.js";

export async function render(main, { params, query, signal }) {
  const username = params.username;
  const favorites = /\/favorites\/?$/.test(location.pathname);
  const page = Math.max(1, Number.parseInt(query.get("page") || "1", 10) || 1);
  title(favorites ? `${username}’s favorites` : username);

  const box = h("div", { class: "profile" }, loading("Loading the profile"));
  main.append(box);
  const load = async () => {
    let profile;
    try {
      profile = (await api(`/profiles/${enc(username)}`, { signal })).profile;
    } catch (error) {
      if (error.name === "AbortError") return;
      if (error.status === 404) {
        title("Profile not found");
        box.replaceChildren(
          h(
            "section",
            { class: "notice" },
            h("h1", {}, "Profile not found"),
            h("p", {}, `Nobody here goes by “${username}”. The account may have been renamed or deleted.`),
            h("p", {}, link("/", {}, "Back to the board")),
          ),
        );
        return;
      }
      box.replaceChildren(h("h1", {}, username), failure("Loading the profile", error, load));
      return;
    }
    box.replaceChildren(...profileView(profile, { favorites, page, signal }).filter(Boolean));
  };
  await load();
}

function profileView(profile, { favorites, page, signal }) {
  const own = session.signedIn && session.user.username === profile.username;
  const base = profileHref(profile.username);
  const offset = (page - 1) * PAGE_SIZE;
  const tabHref = favorites ? `${base}/favorites` : base;
  const hrefFor = (next) => (next ? `${tabHref}?page=${next / PAGE_SIZE + 1}` : tabHref);
  const moderates = !own && outranks(profile.role);
  return [
    h(
      "header",
      { class: "profile-head" },
      avatar(profile, "large"),
      h(
        "div",
        { class: "profile-who" },
        h("h1", { dataset: { testid: "profile-name" } }, profile.username, " ", roleBadge(profile.role)),
        profile.bio ? h("p", { class: "bio" }, profile.bio) : h("p", { class: "bio muted" }, "No bio yet."),
        h(
          "div",
          { class: "actions" },
          own ? link("/settings", { class: "button" }, "Edit your profile") : followButton(profile),
          moderates ? link(`/moderation?user=${enc(profile.username)}`, { class: "button" }, "Moderation page") : null,
        ),
      ),
    ),
    moderates ? moderationPanel(profile) : null,
    h(
      "nav",
      { class: "tabs", "aria-label": `${profile.username}’s lists` },
      h(
        "ul",
        {},
        h("li", {}, link(base, { "aria-current": favorites ? null : "page" }, "Articles")),
        h("li", {}, link(`${base}/favorites`, { "aria-current": favorites ? "page" : null }, "Favorites")),
      ),
    ),
    h("h2", { class: "visually-hidden" }, favorites ? `Articles ${profile.username} favorited` : `Articles by ${profile.username}`),
    articleList({
      path: `/articles?${favorites ? "favorited" : "author"}=${enc(profile.username)}`,
      offset,
      hrefFor,
      signal,
      empty: favorites ? `${profile.username} has no favorites yet.` : `${profile.username} has not written anything yet.`,
    }),
  ];
}

/** A role change made here shows in the heading's badge at once. */
function showRole(details, role) {
  const heading = details.closest(".profile")?.querySelector("[data-testid=profile-name]");
  if (!heading) return;
  heading.querySelector(".badge")?.remove();
  const badge = roleBadge(role);
  if (badge) heading.append(badge);
}

/** Suspend / lift / role for this user, folded away until asked for. */
function moderationPanel(profile) {
  const details = h(
    "details",
    { class: "panel moderate", dataset: { testid: "profile-moderation" } },
    h("summary", {}, `Moderate ${profile.username}`),
  );
  // The forms live in the moderation page's module: loaded when the panel is first opened.
  details.addEventListener(
    "toggle",
    async () => {
      if (!details.open || details.dataset.loaded) return;
      details.dataset.loaded = "1";
      const body = h("div", { class: "moderate-forms" }, loading("Loading"));
      details.append(body);
      try {
        const { suspendForm, liftForm, roleForm } = await import("./moderation.js");
        const username = profile.username;
        body.replaceChildren(
          h("section", { "aria-labelledby": "p-suspend" }, h("h2", { id: "p-suspend" }, "Suspend"), suspendForm({ username })),
          h("section", { "aria-labelledby": "p-lift" }, h("h2", { id: "p-lift" }, "Lift a suspension"), liftForm({ username })),
          session.isAdmin
            ? h("section", { "aria-labelledby": "p-role" }, h("h2", { id: "p-role" }, "Change the role"), roleForm({ username, current: profile.role, onDone: (body) => showRole(details, body.profile.role) }))
            : null,
        );
      } catch (error) {
        body.replaceChildren(failure("Loading the moderation forms", error));
      }
    },
  );
  return details;
}
