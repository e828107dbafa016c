// The single-page app's entry: restores the session, draws the header, starts the router
// and the notification badge fed by the `me` live topic.
import { api } from "./api.js";
import { avatar, profileHref } from "./components.js";
import { h, link } from "./dom.js";
import { listen, onState } from "./live.js";
import { navigate, refresh, start } from "./router.js";
import { session } from "./session.js";

const header = document.getElementById("site-nav");
const main = document.getElementById("main");
const liveStatus = document.getElementById("live-status");

// Notifications from the `me` topic, newest first, kept for this tab only.
const notifications = [];
let unread = 0;
let stopMe = null;

function describe(event) {
  const data = event.data;
  switch (event.event) {
    case "comment.created":
      return [`${data.author?.username ?? "Someone"} commented on your article`, `/article/${encodeURIComponent(data.article)}`];
    case "comment.reply":
      return [`${data.author?.username ?? "Someone"} replied where you commented`, `/article/${encodeURIComponent(data.article)}`];
    case "profile.followed":
      return [`${data.username} followed you`, profileHref(data.username)];
    default:
      return null;
  }
}

function drawHeader(pathname = location.pathname) {
  const current = (href) => (pathname === href ? "page" : null);
  const items = [link("/", { "aria-current": current("/") }, "Home")];
  if (session.signedIn) {
    items.push(link("/editor", { "aria-current": current("/editor"), dataset: { testid: "nav-new-article" } }, "New article"));
    if (session.isModerator) items.push(link("/moderation", { "aria-current": current("/moderation") }, "Moderation"));
    items.push(notificationMenu());
    items.push(link("/settings", { "aria-current": current("/settings") }, "Settings"));
    items.push(
      link(
        profileHref(session.user.username),
        { class: "me", "aria-current": current(profileHref(session.user.username)), dataset: { testid: "nav-profile" } },
        avatar(session.user),
        session.user.username,
      ),
    );
  } else {
    items.push(link("/login", { "aria-current": current("/login") }, "Sign in"));
    items.push(link("/register", { "aria-current": current("/register") }, "Sign up"));
  }
  header.replaceChildren(h("ul", {}, items.map((item) => h("li", {}, item))));
}

function notificationMenu() {
  const details = h("details", { class: "notifications", dataset: { testid: "notifications" } });
  const summary = h(
    "summary",
    { "aria-label": unread ? `Notifications, ${unread} new` : "Notifications" },
    h("span", { "aria-hidden": "true" }, "🔔"),
    unread ? h("span", { class: "badge count", dataset: { testid: "notification-count" } }, String(unread)) : null,
  );
  const list = h(
    "ul",
    { class: "menu" },
    notifications.length
      ? notifications.map(([text, href]) => h("li", {}, link(href, {}, text)))
      : h("li", { class: "muted" }, "Nothing new."),
  );
  details.append(summary, list);
  details.addEventListener("toggle", () => {
    if (details.open && unread) {
      unread = 0;
      summary.querySelector(".badge")?.remove();
      summary.setAttribute("aria-label", "Notifications");
    }
  });
  details.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && details.open) {
      details.open = false;
      summary.focus();
    }
  });
  return details;
}

function followMe() {
  stopMe?.();
  stopMe = null;
  if (!session.signedIn) return;
  stopMe = listen("me", (event) => {
    const item = describe(event);
    if (!item) return;
    notifications.unshift(item);
    notifications.length = Math.min(notifications.length, 20);
    unread += 1;
    drawHeader();
  });
}

onState((state) => {
  liveStatus.dataset.state = state;
  liveStatus.title = state === "open" ? "Live updates on" : "Live updates reconnecting";
});

session.subscribe(() => {
  drawHeader();
  followMe();
});

async function boot() {
  if (session.token) {
    try {
      const body = await api("/user");
      session.user = { ...body.user, token: body.user.token ?? session.token };
    } catch (error) {
      // 401 already signed out (api.js); a network failure keeps the token for later.
      if (error.status !== 0) session.clear();
    }
  }
  drawHeader();
  followMe();
  await start(main, { navigated: drawHeader });
}

// Signing in or out re-renders the page for the new reader (their flags, their buttons).
session.subscribe(() => {
  if (!session.signedIn && /^\/(settings|editor|moderation)/.test(location.pathname)) navigate("/", { replace: true });
  else refresh();
});

boot();
