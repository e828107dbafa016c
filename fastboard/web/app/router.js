// Client-side routing with real URLs: every page has an address that can be shared and
// reloaded (NGINX and the dev server answer these paths with index.html).
//
// A page module exports `render(main, ctx)` where ctx = {params, query, signal}; it may
// return a cleanup function, called when the reader navigates away (to unsubscribe live
// topics, say). `signal` aborts when the page is left, so slow requests never paint over
// the next page.

const routes = [
  ["/", () => import("./pages/home.js")],
  ["/board/:slug", () => import("./pages/board.js")],
  ["/article/:slug", () => import("./pages/article.js")],
  ["/article/:slug/history", () => import("./pages/history.js")],
  ["/article/:slug/comments/:id/history", () => import("./pages/history.js")],
  ["/editor", () => import("./pages/editor.js")],
  ["/editor/:slug", () => import("./pages/editor.js")],
  ["/profile/:username", () => import("./pages/profile.js")],
  ["/profile/:username/favorites", () => import("./pages/profile.js")],
  ["/settings", () => import("./pages/settings.js")],
  ["/login", () => import("./pages/auth.js")],
  ["/register", () => import("./pages/auth.js")],
  ["/moderation", () => import("./pages/moderation.js")],
  ["/search", () => import("./pages/search.js")],
].map(([pattern, load]) => [compile(pattern), load]);

function compile(pattern) {
  const names = [];
  const source = pattern.replace(/:(\w+)/g, (_, name) => {
    names.push(name);
    return "([^/]+)";
  });
  return { regex: new RegExp(`^${source}/?$`), names };
}

function match(pathname) {
  for (const [{ regex, names }, load] of routes) {
    const found = regex.exec(pathname);
    if (!found) continue;
    const params = {};
    names.forEach((name, i) => {
      params[name] = decodeURIComponent(found[i + 1]);
    });
    return { load, params };
  }
  return { load: () => import("./pages/notfound.js"), params: {} };
}

let cleanup = null;
let controller = null;
let main = null;
let onNavigate = () => {};

export function navigate(href, { replace = false } = {}) {
  const url = new URL(href, location.origin);
  if (url.origin !== location.origin) {
    location.assign(url);
    return;
  }
  if (replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  return show(true);
}

/** The current page, rendered again (after signing in or out, say). */
export function refresh() {
  return show(false);
}

async function show(moveFocus) {
  controller?.abort();
  controller = new AbortController();
  const { signal } = controller;
  if (typeof cleanup === "function") cleanup();
  cleanup = null;
  const { load, params } = match(location.pathname);
  const query = new URLSearchParams(location.search);
  onNavigate(location.pathname);
  let page;
  try {
    page = await load();
  } catch (error) {
    // A module that failed to load: after a deploy the old file may be gone.
    console.warn(error);
    main.replaceChildren();
    const { failure } = await import("./dom.js");
    main.append(failure("Loading this page", { status: 0, message: "Reload to get the new version." }, () => location.reload()));
    return;
  }
  if (signal.aborted) return;
  main.replaceChildren();
  main.setAttribute("aria-busy", "true");
  try {
    cleanup = (await page.render(main, { params, query, signal })) ?? null;
  } catch (error) {
    if (error?.name !== "AbortError") throw error;
  } finally {
    main.removeAttribute("aria-busy");
  }
  if (signal.aborted) return;
  if (moveFocus) {
    // Screen reader and keyboard users start at the new page's heading, as after a load.
    window.scrollTo(0, 0);
    const heading = main.querySelector("h1");
    if (heading) {
      heading.setAttribute("tabindex", "-1");
      heading.focus({ preventScroll: true });
    }
  }
}

function internal(anchor, event) {
  if (event.defaultPrevented || event.button !== 0) return false;
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return false;
  if (anchor.target && anchor.target !== "_self") return false;
  if (anchor.hasAttribute("download") || anchor.origin !== location.origin) return false;
  // A link within this page (the skip link's #main) scrolls and focuses, as browsers do.
  if (anchor.hash && anchor.pathname === location.pathname && anchor.search === location.search) return false;
  // Server-rendered or non-UI paths load normally.
  return !/^\/(api|docs|redoc|openapi\.json|health|ready|metrics|assets|app|vendor)(\/|$)/.test(
    anchor.pathname,
  );
}

export function start(mainElement, { navigated } = {}) {
  main = mainElement;
  if (navigated) onNavigate = navigated;
  document.addEventListener("click", (event) => {
    const anchor = event.target.closest?.("a[href]");
    if (!anchor || !internal(anchor, event)) return;
    event.preventDefault();
    navigate(anchor.href);
  });
  window.addEventListener("popstate", () => show(true));
  return show(false);
}
