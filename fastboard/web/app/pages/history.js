// The edit history of an article (/article/<slug>/history) or of one of its comments
// (/article/<slug>/comments/<id>/history): its versions newest first, who wrote each and
// when, what changed (the body as a unified diff, the other fields side by side), page by
// page, and the whole history as a CSV download.
import { api, enc, query } from "../api.js";
import { articleHref, avatar, PAGE_SIZE, pagination, profileHref, roleBadge, tagList } from "../components.js";
import { failure, h, link, loading, time, title } from "../dom.js";
import { refresh } from "../router.js";
import { session } from "../session.js";

export async function render(main, { params, query: search, signal }) {
  const slug = params.slug;
  const commentId = params.id ? Number.parseInt(params.id, 10) : null;
  const page = Math.max(1, Number.parseInt(search.get("page") || "1", 10) || 1);
  const offset = (page - 1) * PAGE_SIZE;
  const base = `/articles/${enc(slug)}${commentId ? `/comments/${commentId}` : ""}/history`;
  const what = commentId ? "comment" : "article";
  title(commentId ? "Comment history" : "Article history");
  main.append(loading("Loading the history"));

  // The article's title names the page; a deleted article (whose history moderators still
  // see) has none, and the versions say what it was.
  const articleRequest = api(`/articles/${enc(slug)}`, { signal }).then(
    (body) => body.article,
    () => null,
  );
  let body;
  try {
    body = await api(`${base}${query({ limit: PAGE_SIZE, offset })}`, { signal });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    main.replaceChildren();
    if (error.status === 404) {
      title("History not found");
      main.append(
        h(
          "section",
          { class: "notice" },
          h("h1", {}, "History not found"),
          h("p", {}, `There is no ${what} with a history at this address. It may have been deleted.`),
          h("p", {}, link("/", {}, "Back to the board")),
        ),
      );
    } else {
      main.append(h("h1", {}, "History"), failure("Loading the history", error, refresh));
    }
    return;
  }
  const article = await articleRequest;
  if (signal.aborted) return;
  const name = article?.title ?? (!commentId ? body.versions[0]?.title : null) ?? slug;
  title(commentId ? `Comment history — ${name}` : `History — ${name}`);

  const hrefFor = (nextOffset) =>
    `/article/${enc(slug)}${commentId ? `/comments/${commentId}` : ""}/history${query({ page: nextOffset ? nextOffset / PAGE_SIZE + 1 : "" })}`;
  const csvHref = `/api${base}.csv`;
  const download = h(
    "a",
    { class: "button", href: csvHref, download: true, type: "text/csv", dataset: { testid: "history-csv" } },
    "Download CSV",
  );
  // A deleted article's history answers moderators only, and a link carries no token:
  // for them the file is fetched with it (as the settings page's export is).
  download.addEventListener("click", (event) => {
    if (article || !session.signedIn) return;
    event.preventDefault();
    downloadWithToken(csvHref, download);
  });

  main.replaceChildren(
    h(
      "div",
      { class: "history-page" },
      h("p", { class: "crumbs" }, article ? link(articleHref(article.slug), { dataset: { testid: "history-back" } }, `← ${article.title}`) : null),
      h("h1", {}, commentId ? `History of a comment on “${name}”` : `History of “${name}”`),
      h(
        "div",
        { class: "actions history-actions" },
        h("p", { class: "muted", dataset: { testid: "history-count" } }, `${body.versionsCount} ${body.versionsCount === 1 ? "version" : "versions"}, newest first.`),
        download,
      ),
      body.versions.length
        ? h(
            "ol",
            { class: "versions", "aria-label": "Versions", dataset: { testid: "versions" } },
            body.versions.map((version, i) => versionItem(version, body.versions[i + 1], commentId === null)),
          )
        : h("p", { class: "empty" }, "No versions on this page."),
      pagination(body.versionsCount, offset, hrefFor) ?? "",
    ),
  );
}

function versionItem(version, older, isArticle) {
  const editor = version.editor;
  return h(
    "li",
    { class: "version", dataset: { testid: "version", version: String(version.version) } },
    h(
      "header",
      { class: "byline" },
      editor ? avatar(editor) : null,
      h(
        "span",
        {},
        h("strong", {}, `Version ${version.version}`),
        " by ",
        editor ? [link(profileHref(editor.username), { class: "author" }, editor.username), " ", roleBadge(editor.role)] : h("span", { class: "muted" }, "a deleted account"),
        h("span", { class: "muted" }, " · ", time(version.createdAt, true)),
      ),
    ),
    isArticle ? fieldChanges(version, older) : null,
    diffBlock(version.diff, version.version),
  );
}

// The fields besides the body: what this version set them to where they differ from the
// version before it (version 1, or the oldest on a page: every field as it was).
function fieldChanges(version, older) {
  const same = (key) => older && JSON.stringify(older[key]) === JSON.stringify(version[key]);
  const rows = [];
  const row = (label, key, show) => {
    if (same(key)) return;
    rows.push(h("dt", {}, label), h("dd", { dataset: { testid: `version-${key}` } }, show(version[key])));
  };
  row("Title", "title", (v) => v);
  row("Description", "description", (v) => v || h("span", { class: "muted" }, "(none)"));
  row("Tags", "tagList", (v) => tagList(v, { linked: false }) ?? h("span", { class: "muted" }, "(none)"));
  row("Board", "board", (v) => v);
  row("Address", "slug", (v) => `/article/${v}`);
  if (!rows.length) return null;
  return h("dl", { class: "version-fields" }, rows);
}

// A unified diff as text, one line per element so added and removed lines can be styled
// by class. Never HTML: every line is a text node. The +/- signs stay in the text, so
// the colours are not the only way to tell the lines apart.
function diffBlock(diff, number) {
  if (!diff) return h("p", { class: "muted diff-none" }, "The text did not change in this version.");
  const lines = diff.replace(/\n$/, "").split("\n");
  return h(
    "pre",
    { class: "diff", dataset: { testid: "diff" }, "aria-label": `Changes in version ${number}`, role: "figure" },
    lines.map((line) => {
      let kind = "context";
      if (line.startsWith("+++") || line.startsWith("---")) kind = "file";
      else if (line.startsWith("@@")) kind = "hunk";
      else if (line.startsWith("+")) kind = "added";
      else if (line.startsWith("-")) kind = "removed";
      // Each line a block of its own (an empty one keeps its height with a space).
      return h("span", { class: `diff-line diff-${kind}` }, line || " ");
    }),
  );
}

async function downloadWithToken(href, anchor) {
  const status = anchor.nextElementSibling?.matches?.(".download-status")
    ? anchor.nextElementSibling
    : anchor.insertAdjacentElement("afterend", h("span", { class: "download-status muted", "aria-live": "polite" }));
  status.replaceChildren();
  try {
    const response = await fetch(href, { headers: { Accept: "text/csv", Authorization: `Token ${session.token}` } });
    if (!response.ok) throw Object.assign(new Error(`The request failed (HTTP ${response.status}).`), { status: response.status });
    const url = URL.createObjectURL(await response.blob());
    const name = href.split("/").slice(-2).join("-");
    const temporary = h("a", { href: url, download: name, hidden: true });
    document.body.append(temporary);
    temporary.click();
    temporary.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
    status.textContent = "Downloaded.";
  } catch (error) {
    status.replaceChildren(failure("Downloading the history", error));
  }
}
