// Home: all articles or your feed, a tag filter, and the category/board tree beside them.
import { api, enc, query } from "../api.js";
import { articleList, boardHref, PAGE_SIZE } from "../components.js";
import { failure, h, link, loading, title } from "../dom.js";
import { session } from "../session.js";

export async function render(main, { query: params, signal }) {
  const tag = params.get("tag") || "";
  const feed = params.get("feed") === "1" && session.signedIn;
  const page = Math.max(1, Number.parseInt(params.get("page") || "1", 10) || 1);
  const offset = (page - 1) * PAGE_SIZE;
  title(tag ? `#${tag}` : feed ? "Your feed" : "");

  const tabs = [
    session.signedIn ? ["Your feed", "/?feed=1", feed] : null,
    ["All articles", "/", !feed && !tag],
    tag ? [`#${tag}`, `/?tag=${enc(tag)}`, true] : null,
  ].filter(Boolean);

  const path = feed ? "/articles/feed" : `/articles${query({ tag })}`;
  const hrefFor = (nextOffset) => {
    const next = new URLSearchParams();
    if (feed) next.set("feed", "1");
    if (tag) next.set("tag", tag);
    if (nextOffset) next.set("page", String(nextOffset / PAGE_SIZE + 1));
    const text = next.toString();
    return text ? `/?${text}` : "/";
  };

  main.append(
    h(
      "div",
      { class: "layout" },
      h(
        "div",
        { class: "primary" },
        h("h1", { class: "visually-hidden" }, tag ? `Articles tagged ${tag}` : feed ? "Your feed" : "All articles"),
        h(
          "nav",
          { class: "tabs", "aria-label": "Article lists" },
          h(
            "ul",
            {},
            tabs.map(([label, href, current]) =>
              h("li", {}, link(href, { "aria-current": current ? "page" : null }, label)),
            ),
          ),
        ),
        articleList({
          path,
          offset,
          hrefFor,
          signal,
          empty: feed ? "Nothing in your feed yet: follow people to see their articles here." : "No articles here yet.",
        }),
      ),
      h("aside", { class: "secondary", "aria-label": "Boards and tags" }, boardTree(signal), popularTags(signal)),
    ),
  );
}

export function boardTree(signal) {
  const box = h("section", { class: "panel", "aria-labelledby": "boards-heading" }, h("h2", { id: "boards-heading" }, "Boards"));
  const body = h("div", {}, loading("Loading boards"));
  box.append(body);
  const load = async () => {
    try {
      const { categories } = await api("/categories", { signal });
      body.replaceChildren(
        ...categories.map((category) =>
          h(
            "div",
            { class: "category" },
            h("h3", {}, category.name),
            h(
              "ul",
              { class: "boards" },
              category.boards.map((board) =>
                h(
                  "li",
                  {},
                  link(boardHref(board.slug), {}, board.name),
                  h("span", { class: "muted count", "aria-label": `${board.articlesCount} articles` }, ` ${board.articlesCount}`),
                ),
              ),
            ),
          ),
        ),
      );
    } catch (error) {
      if (error.name !== "AbortError") body.replaceChildren(failure("Loading the boards", error, load));
    }
  };
  load();
  return box;
}

function popularTags(signal) {
  const box = h("section", { class: "panel", "aria-labelledby": "tags-heading" }, h("h2", { id: "tags-heading" }, "Popular tags"));
  const body = h("div", {}, loading("Loading tags"));
  box.append(body);
  const load = async () => {
    try {
      const { tags } = await api("/tags", { signal });
      body.replaceChildren(
        tags.length
          ? h("ul", { class: "tags" }, tags.map((tag) => h("li", {}, link(`/?tag=${enc(tag)}`, { class: "tag" }, tag))))
          : h("p", { class: "muted" }, "No tags yet."),
      );
    } catch (error) {
      if (error.name !== "AbortError") body.replaceChildren(failure("Loading the tags", error, load));
    }
  };
  load();
  return box;
}
