// Search (/search?q=&board=&page=): articles and comments matching the words, each with a
// snippet whose matched terms are highlighted, page by page, optionally on one board.
import { api, enc, query } from "../api.js";
import { articleHref, avatar, boardHref, byline, PAGE_SIZE, pagination, profileHref, roleBadge } from "../components.js";
import { clearFormErrors, failure, field, h, link, loading, showFormErrors, time, title } from "../dom.js";
import { navigate } from "../router.js";

const MAX_QUERY = 200; // the API's limit on q (a 422 beyond it)

export async function render(main, { query: params, signal }) {
  const q = (params.get("q") || "").trim();
  const board = params.get("board") || "";
  const page = Math.max(1, Number.parseInt(params.get("page") || "1", 10) || 1);
  const offset = (page - 1) * PAGE_SIZE;
  title(q ? `Search: ${q}` : "Search");

  const input = h("input", {
    type: "search",
    name: "q",
    value: q,
    maxlength: String(MAX_QUERY),
    autocomplete: "off",
    enterkeyhint: "search",
    dataset: { field: "q", testid: "search-query" },
  });
  const select = h(
    "select",
    { name: "board", dataset: { field: "board", testid: "search-board" } },
    h("option", { value: "" }, "All boards"),
  );
  const form = h(
    "form",
    { class: "search-form", role: "search", "aria-label": "Search the board", dataset: { testid: "search-form" }, novalidate: true },
    h(
      "div",
      { class: "search-fields" },
      field("Words to look for", input, "Every word must match; \"quotes\" for a phrase, -word to leave out."),
      field("Board", select),
    ),
    h("div", { "data-form-errors": "", hidden: true, tabindex: "-1", role: "alert" }),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "button primary" }, "Search")),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    clearFormErrors(form);
    const words = input.value.trim();
    if (!words) {
      showFormErrors(form, { errors: { q: ["can't be blank"] } });
      return;
    }
    navigate(`/search${query({ q: words, board: select.value })}`);
  });
  fillBoards(select, board, signal);

  const results = h("div", { class: "search-results", dataset: { testid: "search-results" } });
  main.append(h("div", { class: "search-page" }, h("h1", {}, q ? `Search results for “${q}”` : "Search"), form, results));

  if (!q) {
    results.append(h("p", { class: "empty" }, "Type a few words to find articles and comments."));
    return;
  }

  const hrefFor = (nextOffset) =>
    `/search${query({ q, board, page: nextOffset ? nextOffset / PAGE_SIZE + 1 : "" })}`;

  const load = async () => {
    results.replaceChildren(loading("Searching"));
    let body;
    try {
      body = await api(`/search${query({ q, board, limit: PAGE_SIZE, offset })}`, { signal });
    } catch (error) {
      if (error.name === "AbortError") throw error;
      results.replaceChildren();
      if (error.status === 422 && error.errors?.q) showFormErrors(form, error);
      else results.append(failure("Searching", error, load));
      return;
    }
    results.replaceChildren(...paint(body, { q, offset, hrefFor }));
  };
  await load();
}

function paint(body, { q, offset, hrefFor }) {
  const { articles, articlesCount, comments, commentsCount } = body;
  // Counts are exact up to 1,000 and say 1000 beyond (README "Search").
  const count = (n) => (n >= 1000 ? "1,000+" : String(n));
  const status = h(
    "p",
    { class: "muted", role: "status", dataset: { testid: "search-summary" } },
    articlesCount || commentsCount
      ? `${count(articlesCount)} ${articlesCount === 1 ? "article" : "articles"} and ${count(commentsCount)} ${commentsCount === 1 ? "comment" : "comments"} found.`
      : `Nothing found for “${q}”.`,
  );
  if (!articlesCount && !commentsCount) {
    return [status, h("p", { class: "empty" }, "Try fewer or different words, or all boards.")];
  }
  return [
    status,
    section("articles", `Articles (${count(articlesCount)})`, articles.map(articleResult), articlesCount, offset, "No more articles match."),
    section("comments", `Comments (${count(commentsCount)})`, comments.map(commentResult), commentsCount, offset, "No more comments match."),
    pagination(Math.min(Math.max(articlesCount, commentsCount), 1000), offset, hrefFor) ?? "",
  ];
}

function section(kind, heading, items, total, offset, past) {
  const id = `search-${kind}-heading`;
  let content;
  if (items.length) content = h("ol", { class: "search-list", start: String(offset + 1) }, items);
  else content = h("p", { class: "empty" }, total ? past : `No ${kind} match.`);
  return h(
    "section",
    { class: "search-section", "aria-labelledby": id, dataset: { testid: `search-${kind}` } },
    h("h2", { id }, heading),
    content,
  );
}

function articleResult(article) {
  return h(
    "li",
    { class: "search-result", dataset: { testid: "search-article", slug: article.slug } },
    h("h3", {}, link(articleHref(article.slug), { class: "preview-title" }, article.title)),
    h("p", { class: "snippet", dataset: { testid: "snippet" } }, highlighted(article.highlight)),
    h(
      "div",
      { class: "search-meta" },
      byline(article),
      article.board ? link(boardHref(article.board), { class: "board-link" }, article.board) : null,
    ),
  );
}

function commentResult(comment) {
  const author = comment.author;
  return h(
    "li",
    { class: "search-result", dataset: { testid: "search-comment", commentId: String(comment.id) } },
    h(
      "p",
      { class: "search-on" },
      "On ",
      link(articleHref(comment.article.slug), { class: "preview-title" }, comment.article.title),
    ),
    h("p", { class: "snippet", dataset: { testid: "snippet" } }, highlighted(comment.highlight)),
    h(
      "div",
      { class: "byline" },
      avatar(author),
      h(
        "span",
        {},
        link(profileHref(author.username), { class: "author" }, author.username),
        " ",
        roleBadge(author.role),
        h("span", { class: "muted" }, " · ", time(comment.createdAt)),
      ),
    ),
  );
}

async function fillBoards(select, current, signal) {
  // The filter is optional: without the board list the select offers "All boards" (and
  // the board in the address, so the form still says what was searched).
  const keep = (slug) => {
    if (slug && !select.querySelector(`option[value="${CSS.escape(slug)}"]`)) {
      select.append(h("option", { value: slug }, slug));
    }
    select.value = slug;
  };
  try {
    const { categories } = await api("/categories", { signal });
    for (const category of categories) {
      if (!category.boards.length) continue;
      select.append(
        h(
          "optgroup",
          { label: category.name },
          category.boards.map((b) => h("option", { value: b.slug }, b.name)),
        ),
      );
    }
  } catch (error) {
    if (error.name === "AbortError") return;
    console.warn(error);
  }
  keep(current);
}

// The API's `highlight` is the one field that is HTML: the matched terms in <mark>…</mark>,
// everything else escaped (Python's html.escape). It is never parsed as HTML here: split
// on the two literal markers, every piece unescaped into a text node, the marked pieces
// wrapped in <mark> built by h(). Whatever else the text holds stays text.
const ENTITIES = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'", nbsp: "\u00a0" };

export function unescapeHtml(text) {
  return text.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (whole, name) => {
    if (name[0] === "#") {
      const code = name[1] === "x" || name[1] === "X" ? Number.parseInt(name.slice(2), 16) : Number.parseInt(name.slice(1), 10);
      return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }
    return ENTITIES[name.toLowerCase()] ?? whole;
  });
}

export function highlighted(html) {
  const nodes = [];
  const parts = String(html ?? "").split(/<mark>|<\/mark>/);
  // Even pieces are outside a mark, odd ones inside (the markers never nest).
  parts.forEach((part, i) => {
    if (!part) return;
    const text = unescapeHtml(part);
    nodes.push(i % 2 ? h("mark", {}, text) : text);
  });
  return nodes;
}
