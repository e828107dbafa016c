// The single-page app's entry: restores the session, draws the header, starts the router
// and the notification badge fed by the `me` live topic.
import { api, query } from "./api.js";
import { ageFlash, articleHref, avatar, profileHref } from "./components.js";
import { h, link, time } from "./dom.js";
import { listen, onState } from "./live.js";
import { navigate, refresh, start } from "./router.js";
import { session } from "./session.js";

const header = document.getElementById("site-nav");
const main = document.getElementById("main");
const liveStatus = document.getElementById("live-status");
const searchBox = headerSearch();

// Notifications from the `me` topic, newest first, kept for this tab only. The menu is
// one element for the whole session, updated in place: an event arriving while it is
// open (or focused) must not close it or move focus.
const notifications = [];
let unread = 0;
let stopMe = null;
let menu = null; // {details, summary, list, say}

function describe(event) {
  const data = event.data ?? {};
  switch (event.event) {
    case "comment.created":
      return { text: `${data.author?.username ?? "Someone"} commented on your article`, href: articleHref(data.article) };
    case "comment.reply":
      return { text: `${data.author?.username ?? "Someone"} replied where you commented`, href: articleHref(data.article) };
    case "profile.followed":
      return { text: `${data.username} followed you`, href: profileHref(data.username) };
    default:
      return null;
  }
}

// The header's search box: one form for the whole session, after the links (a row of its
// own at phone widths, style.css), sending Enter to the search page. It shows the words
// searched for while that page is open.
function headerSearch() {
  const input = h("input", {
    type: "search",
    name: "q",
    id: "header-search",
    maxlength: "200",
    autocomplete: "off",
    enterkeyhint: "search",
    placeholder: "Search",
    dataset: { testid: "header-search" },
  });
  const form = h(
    "form",
    { class: "header-search", role: "search", action: "/search", dataset: { testid: "header-search-form" } },
    h("label", { for: "header-search", class: "visually-hidden" }, "Search"),
    input,
    h("button", { type: "submit", class: "button compact" }, "Search"),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const words = input.value.trim();
    if (!words) {
      input.focus();
      return;
    }
    navigate(`/search${query({ q: words })}`);
  });
  header.after(form);
  return input;
}

function drawHeader(pathname = location.pathname) {
  if (document.activeElement !== searchBox) {
    searchBox.value = pathname === "/search" ? new URLSearchParams(location.search).get("q") ?? "" : "";
  }
  const current = (href) => (pathname === href ? "page" : null);
  const items = [link("/", { "aria-current": current("/") }, "Home")];
  const nav = [];
  if (session.signedIn) {
    items.push(link("/editor", { "aria-current": current("/editor"), dataset: { testid: "nav-new-article" } }, "New article"));
    if (session.isModerator) items.push(link("/moderation", { "aria-current": current("/moderation") }, "Moderation"));
    items.push(link("/settings", { "aria-current": current("/settings") }, "Settings"));
    items.push(
      link(
        profileHref(session.user.username),
        { class: "me", "aria-current": current(profileHref(session.user.username)), dataset: { testid: "nav-profile" } },
        avatar(session.user),
        session.user.username,
      ),
    );
    nav.push(notificationMenu().details, menuButton());
  } else {
    items.push(link("/login", { "aria-current": current("/login") }, "Sign in"));
    items.push(link("/register", { "aria-current": current("/register") }, "Sign up"));
  }
  const list = h(
    "ul",
    { id: "nav-links", class: ["nav-links", session.signedIn && "collapsible"] },
    items.map((item) => h("li", {}, item)),
  );
  delete header.dataset.open;
  header.replaceChildren(...nav, list);
}

// At phone widths the signed-in links fold behind a Menu button (style.css shows it
// below 40rem); the notification bell stays outside, always one tap away.
function menuButton() {
  const button = h(
    "button",
    { type: "button", class: "button menu-toggle", "aria-expanded": "false", "aria-controls": "nav-links" },
    "Menu",
  );
  button.addEventListener("click", () => setMenu(header.dataset.open === undefined));
  return button;
}

function setMenu(open, { focus = false } = {}) {
  const button = header.querySelector(".menu-toggle");
  if (!button) return;
  if (open) header.dataset.open = "";
  else delete header.dataset.open;
  button.setAttribute("aria-expanded", String(open));
  if (focus) button.focus();
}

function notificationMenu() {
  if (menu) return menu;
  const summary = h("summary", {});
  const list = h("ul", { class: "menu", "aria-label": "Notifications" });
  const say = h("span", { class: "visually-hidden", "aria-live": "polite" });
  const details = h("details", { class: "notifications", dataset: { testid: "notifications" } }, summary, list, say);
  menu = { details, summary, list, say };
  details.addEventListener("toggle", () => {
    if (details.open && unread) {
      unread = 0;
      paintNotifications();
    }
  });
  // Tabbing past the last notification closes the menu (Escape: see the document's
  // keydown below, which also works when focus has already left it).
  details.addEventListener("focusout", (event) => {
    if (details.open && event.relatedTarget && !details.contains(event.relatedTarget)) details.open = false;
  });
  // Following a notification closes the menu (the header is redrawn on navigation, but
  // this element is kept).
  list.addEventListener("click", (event) => {
    if (event.target.closest("a")) details.open = false;
  });
  paintNotifications();
  return menu;
}

function paintNotifications() {
  if (!menu) return;
  const { summary, list } = menu;
  summary.setAttribute("aria-label", unread ? `Notifications, ${unread} new` : "Notifications");
  summary.replaceChildren(h("span", { class: "bell", "aria-hidden": "true" }));
  if (unread) summary.append(h("span", { class: "badge count", "aria-hidden": "true", dataset: { testid: "notification-count" } }, String(unread)));
  list.replaceChildren(
    ...(notifications.length
      ? notifications.map((item) =>
          h(
            "li",
            { class: item.fresh ? "fresh" : null },
            link(item.href, { dataset: { testid: "notification" } }, item.text),
            h("span", { class: "muted when" }, time(item.at, true)),
          ),
        )
      : [h("li", { class: "muted" }, "Nothing new.")]),
  );
  if (!unread) for (const item of notifications) item.fresh = false;
}

// Listens while signed in. A profile or password change keeps the listener (live.js
// reconnects with the new token by itself) and the notifications so far.
function followMe() {
  if (!session.signedIn) {
    stopMe?.();
    stopMe = null;
    notifications.length = 0;
    unread = 0;
    menu = null;
    return;
  }
  if (stopMe) return;
  stopMe = listen("me", (event) => {
    const item = describe(event);
    if (!item) return;
    notifications.unshift({ ...item, at: new Date().toISOString(), fresh: true });
    notifications.length = Math.min(notifications.length, 20);
    if (!menu?.details.open) unread += 1;
    paintNotifications();
    if (menu) menu.say.textContent = item.text;
  });
}

// Escape closes the phone menu and gives focus back to its button; a click elsewhere
// closes it and the notifications.
document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape") return;
  if (menu?.details.open) {
    menu.details.open = false;
    menu.summary.focus();
  } else if (header.dataset.open !== undefined) setMenu(false, { focus: true });
});
document.addEventListener("click", (event) => {
  if (menu?.details.open && !menu.details.contains(event.target)) menu.details.open = false;
  if (header.dataset.open !== undefined && !header.contains(event.target)) setMenu(false);
});

// The skip link focuses the page's content itself: following "#main" only moves where
// the next Tab starts from, and not in every browser.
document.querySelector(".skip-link")?.addEventListener("click", (event) => {
  event.preventDefault();
  main.focus();
  main.scrollIntoView();
});

onState((state) => {
  liveStatus.dataset.state = state;
  liveStatus.title = state === "open" ? "Live updates on" : "Live updates reconnecting";
});

session.subscribe(() => {
  followMe();
  drawHeader();
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
  await start(main, {
    navigated: (pathname) => {
      ageFlash();
      drawHeader(pathname);
    },
  });
}

// Signing in or out re-renders the page for the new reader (their flags, their buttons).
session.subscribe(() => {
  if (!session.signedIn && /^\/(settings|editor|moderation)/.test(location.pathname)) navigate("/", { replace: true });
  else refresh();
});

boot();
