// One board: its name and description, its articles page by page, and a "N new posts" bar
// fed by the live topic board:<slug> that shows them when clicked.
import { api, enc, query } from "../api.js";
import { articleList, boardHref, PAGE_SIZE } from "../components.js";
import { failure, h, link, loading, title } from "../dom.js";
import { listen } from "../live.js";
import { refresh } from "../router.js";

export async function render(main, { params, query: search, signal }) {
  const slug = params.slug;
  const page = Math.max(1, Number.parseInt(search.get("page") || "1", 10) || 1);
  const offset = (page - 1) * PAGE_SIZE;
  title(slug);
  main.append(loading("Loading the board"));

  let board;
  try {
    board = (await api(`/boards/${enc(slug)}`, { signal })).board;
  } catch (error) {
    if (error.name === "AbortError") throw error;
    main.replaceChildren();
    if (error.status === 404) {
      title("Board not found");
      main.append(
        h(
          "section",
          { class: "notice" },
          h("h1", {}, "Board not found"),
          h("p", {}, `There is no board “${slug}”. It may have been renamed or deleted.`),
          h("p", {}, link("/", {}, "Back to all boards")),
        ),
      );
    } else {
      main.append(h("h1", {}, slug), failure("Loading the board", error, refresh));
    }
    return;
  }
  title(board.name);

  const hrefFor = (nextOffset) => {
    const next = nextOffset ? `?page=${nextOffset / PAGE_SIZE + 1}` : "";
    return `${boardHref(board.slug)}${next}`;
  };
  const path = `/articles${query({ board: board.slug })}`;

  // The polite region exists from the start so screen readers announce what appears in it.
  const announcer = h("div", { class: "new-posts-region", "aria-live": "polite", "aria-atomic": "true" });
  let fresh = 0;
  let list = articleList({ path, offset, hrefFor, signal, empty: "No articles on this board yet." });

  const showList = () => {
    fresh = 0;
    announcer.replaceChildren();
    const next = articleList({ path, offset: 0, hrefFor, signal, empty: "No articles on this board yet." });
    list.replaceWith(next);
    list = next;
    if (offset) history.replaceState(null, "", boardHref(board.slug));
  };

  const countEl = h("span", { class: "muted", dataset: { testid: "board-count" } });
  const paintCount = () => {
    countEl.textContent = `${board.articlesCount} ${board.articlesCount === 1 ? "article" : "articles"}`;
  };
  paintCount();

  const paintBar = (text) => {
    const button = h(
      "button",
      { type: "button", class: "button new-posts", dataset: { testid: "new-posts" }, onclick: showList },
      text,
    );
    announcer.replaceChildren(button);
  };

  main.replaceChildren(
    h(
      "header",
      { class: "board-header" },
      h("p", { class: "crumbs muted" }, link("/", {}, "Boards"), ` · ${board.category}`),
      h("h1", {}, board.name),
      board.description ? h("p", { class: "description" }, board.description) : null,
      h(
        "div",
        { class: "actions" },
        countEl,
        board.archived
          ? null
          : link(`/editor?board=${enc(board.slug)}`, { class: "button primary", dataset: { testid: "new-post" } }, "New post"),
      ),
      board.archived
        ? h(
            "p",
            { class: "archived-note", role: "note", dataset: { testid: "archived" } },
            "This board is archived: it is kept for reading and takes no new posts.",
          )
        : null,
    ),
    announcer,
    list,
  );

  const stop = listen(
    `board:${board.slug}`,
    (event) => {
      if (event.event !== "article.created") return;
      fresh += 1;
      board.articlesCount += 1;
      paintCount();
      paintBar(`${fresh} new ${fresh === 1 ? "post" : "posts"}: show`);
    },
    () => paintBar("New posts may have arrived: show"),
  );
  return stop;
}
