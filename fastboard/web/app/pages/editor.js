// Writing and editing an article: title, description, a Markdown body with a preview,
// tags as removable chips, and the board it goes on. /editor writes a new one (on
// ?board=<slug> when coming from a board), /editor/<slug> edits one of your own.
import { api, enc } from "../api.js";
import { articleHref, boardHref } from "../components.js";
import { clearFormErrors, failure, field, h, link, loading, showFormErrors, title } from "../dom.js";
import { renderMarkdown } from "../markdown.js";
import { navigate, refresh } from "../router.js";
import { session } from "../session.js";

const MAX_TAGS = 10;

export async function render(main, { params, query, signal }) {
  const editing = params.slug ?? null;
  title(editing ? "Edit article" : "New article");
  if (!session.signedIn) {
    navigate(`/login?next=${enc(location.pathname + location.search)}`, { replace: true });
    return;
  }
  main.append(loading(editing ? "Loading the article" : "Loading the boards"));

  let article = null;
  let categories;
  try {
    const [articleBody, categoriesBody] = await Promise.all([
      editing ? api(`/articles/${enc(editing)}`, { signal }) : null,
      api("/categories", { signal }),
    ]);
    article = articleBody?.article ?? null;
    categories = categoriesBody.categories;
  } catch (error) {
    if (error.name === "AbortError") throw error;
    main.replaceChildren(
      h("h1", {}, editing ? "Edit article" : "New article"),
      error.status === 404
        ? h("p", {}, "There is no article at this address. ", link("/", {}, "Back to the board"))
        : failure(editing ? "Loading the article" : "Loading the boards", error, refresh),
    );
    return;
  }
  if (article && article.author.username !== session.user.username) {
    main.replaceChildren(
      h(
        "section",
        { class: "notice" },
        h("h1", {}, "Edit article"),
        h("p", {}, "Only the author can edit this article."),
        h("p", {}, link(articleHref(article.slug), {}, "Back to the article")),
      ),
    );
    return;
  }
  main.replaceChildren(editorForm(article, categories, query.get("board")));
}

function editorForm(article, categories, boardParam) {
  const titleInput = h("input", {
    type: "text",
    name: "title",
    required: true,
    maxlength: "200",
    value: article?.title ?? "",
    dataset: { field: "title", testid: "editor-title" },
  });
  const description = h("input", {
    type: "text",
    name: "description",
    required: true,
    value: article?.description ?? "",
    dataset: { field: "description", testid: "editor-description" },
  });
  const body = markdownEditor(article?.body ?? "");
  const tags = tagInput(article?.tagList ?? []);
  const board = boardPicker(categories, article?.board ?? boardParam ?? "general");
  const submit = h(
    "button",
    { type: "submit", class: "button primary", dataset: { testid: "editor-submit" } },
    article ? "Save changes" : "Publish article",
  );

  const form = h(
    "form",
    { class: "editor", novalidate: true, "aria-labelledby": "editor-heading" },
    h("h1", { id: "editor-heading" }, article ? "Edit article" : "New article"),
    h("div", { "data-form-errors": "", hidden: true, tabindex: "-1", role: "alert" }),
    field("Title", titleInput),
    field("What is it about?", description, "A one-line summary shown in lists."),
    body.element,
    tags.element,
    field("Board", board),
    h(
      "div",
      { class: "actions" },
      submit,
      link(article ? articleHref(article.slug) : boardParam ? boardHref(boardParam) : "/", { class: "button" }, "Cancel"),
    ),
  );

  // An error goes once its field is edited, so what remains is still true.
  form.addEventListener("input", (event) => {
    const name = event.target.dataset?.field;
    if (!name || event.target.getAttribute("aria-invalid") !== "true") return;
    form.querySelector(`[data-error-for="${CSS.escape(name)}"]`)?.remove();
    event.target.removeAttribute("aria-invalid");
    event.target.removeAttribute("aria-describedby");
  });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearFormErrors(form);
    tags.commit();
    const values = {
      title: titleInput.value.trim(),
      description: description.value.trim(),
      body: body.value(),
      tagList: tags.value(),
      board: board.value,
    };
    const missing = {};
    for (const name of ["title", "description", "body"]) {
      if (!values[name].trim()) missing[name] = ["can't be blank"];
    }
    if (Object.keys(missing).length) {
      showFormErrors(form, { errors: missing });
      return;
    }
    let payload = values;
    if (article) {
      // Only what changed: an unchanged board is not a move, an unchanged title keeps the slug.
      payload = {};
      for (const [name, value] of Object.entries(values)) {
        const before = article[name];
        const same = Array.isArray(value) ? value.join("\n") === [...before].sort().join("\n") : value === before;
        if (!same) payload[name] = value;
      }
      if (!Object.keys(payload).length) {
        navigate(articleHref(article.slug));
        return;
      }
    }
    submit.disabled = true;
    try {
      const answer = await api(article ? `/articles/${enc(article.slug)}` : "/articles", {
        method: article ? "PUT" : "POST",
        body: { article: payload },
      });
      navigate(articleHref(answer.article.slug));
    } catch (error) {
      if (error.name === "AbortError") return;
      // The API names "body" for the article's body, which this form has a field for.
      showFormErrors(form, error);
      if (error.errors?.body) body.showWrite();
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

/** The body: a textarea and a sanitized preview, switched by two tabs (arrow keys too). */
function markdownEditor(initial) {
  const textarea = h(
    "textarea",
    { name: "body", rows: "14", required: true, dataset: { field: "body", testid: "editor-body" } },
  );
  textarea.value = initial;
  const id = "editor-body";
  textarea.id = id;
  const preview = h("div", {
    class: "markdown preview-pane",
    id: "editor-preview",
    role: "tabpanel",
    tabindex: "0",
    "aria-labelledby": "tab-preview",
    dataset: { testid: "preview" },
  });
  const writePanel = h("div", { id: "editor-write", role: "tabpanel", "aria-labelledby": "tab-write" }, textarea);
  const tab = (tabId, label, panel) =>
    h("button", { type: "button", role: "tab", id: tabId, "aria-controls": panel, class: "tab" }, label);
  const writeTab = tab("tab-write", "Write", "editor-write");
  const previewTab = tab("tab-preview", "Preview", "editor-preview");

  const select = (showPreview, focus = false) => {
    writeTab.setAttribute("aria-selected", String(!showPreview));
    previewTab.setAttribute("aria-selected", String(showPreview));
    writeTab.tabIndex = showPreview ? -1 : 0;
    previewTab.tabIndex = showPreview ? 0 : -1;
    writePanel.hidden = showPreview;
    preview.hidden = !showPreview;
    if (showPreview) {
      preview.replaceChildren(
        textarea.value.trim() ? renderMarkdown(textarea.value) : h("p", { class: "muted" }, "Nothing to preview yet."),
      );
    }
    if (focus) (showPreview ? previewTab : writeTab).focus();
  };
  writeTab.addEventListener("click", () => select(false));
  previewTab.addEventListener("click", () => select(true));
  const tabs = h("div", { class: "editor-tabs", role: "tablist", "aria-label": "Body" }, writeTab, previewTab);
  tabs.addEventListener("keydown", (event) => {
    if (event.key === "ArrowLeft" || event.key === "ArrowRight" || event.key === "Home" || event.key === "End") {
      event.preventDefault();
      const toPreview = event.key === "End" || (event.key !== "Home" && writeTab.getAttribute("aria-selected") === "true");
      select(toPreview, true);
    }
  });
  select(false);

  const element = h(
    "div",
    { class: "field body-field" },
    h("label", { for: id }, "Body"),
    tabs,
    writePanel,
    preview,
    h(
      "p",
      { class: "hint" },
      "Markdown: **bold**, _italic_, [links](https://example.com), lists, `code`. Scripts and styles are removed.",
    ),
  );
  return { element, value: () => textarea.value, showWrite: () => select(false) };
}

/**
 * Tags typed into one input: a comma or Enter turns the text into a chip, each chip has a
 * remove button, Backspace in the empty input removes the last one. Korean and other
 * IME input is left alone while it is being composed.
 */
function tagInput(initial) {
  const tags = [...initial];
  const input = h("input", {
    type: "text",
    name: "tags",
    autocomplete: "off",
    dataset: { field: "tagList", testid: "editor-tags" },
    "aria-describedby": "tags-hint",
  });
  input.id = "editor-tags";
  const chips = h("ul", { class: "chips", "aria-label": "Tags added" });
  const status = h("p", { class: "visually-hidden", role: "status", "aria-live": "polite" });

  const paint = () => {
    chips.replaceChildren(
      ...tags.map((tag, index) =>
        h(
          "li",
          { class: "chip", dataset: { testid: "tag-chip" } },
          h("span", {}, tag),
          h(
            "button",
            {
              type: "button",
              class: "chip-remove",
              "aria-label": `Remove tag ${tag}`,
              onclick: () => {
                tags.splice(index, 1);
                paint();
                status.textContent = `Removed ${tag}.`;
                input.focus();
              },
            },
            "×",
          ),
        ),
      ),
    );
    chips.hidden = !tags.length;
  };

  const add = (text) => {
    const added = [];
    for (const raw of text.split(",")) {
      const tag = raw.trim();
      if (!tag || tags.includes(tag)) continue;
      tags.push(tag);
      added.push(tag);
    }
    if (added.length) {
      paint();
      status.textContent = `Added ${added.join(", ")}.${tags.length > MAX_TAGS ? ` At most ${MAX_TAGS} tags.` : ""}`;
    }
  };

  const commit = () => {
    add(input.value);
    input.value = "";
  };

  input.addEventListener("keydown", (event) => {
    if (event.isComposing || event.keyCode === 229) return;
    if (event.key === "Enter" || event.key === ",") {
      // Enter adds the tag rather than submitting the form; an empty input lets it submit.
      if (event.key === "Enter" && !input.value.trim()) return;
      event.preventDefault();
      commit();
    } else if (event.key === "Backspace" && !input.value && tags.length) {
      const tag = tags.pop();
      paint();
      status.textContent = `Removed ${tag}.`;
    }
  });
  // Pasted "a, b, c" (or a comma typed through an IME) becomes chips too.
  input.addEventListener("input", (event) => {
    if (event.isComposing || !input.value.includes(",")) return;
    const parts = input.value.split(",");
    const rest = parts.pop();
    add(parts.join(","));
    input.value = rest.trimStart();
  });
  paint();

  const element = h(
    "div",
    { class: "field tags-field" },
    h("label", { for: "editor-tags" }, "Tags"),
    chips,
    input,
    h("p", { class: "hint", id: "tags-hint" }, `Press Enter or type a comma after each tag; up to ${MAX_TAGS}.`),
    status,
  );
  return { element, commit, value: () => [...tags].sort() };
}

/** A <select> of the live boards, grouped by category. */
function boardPicker(categories, current) {
  const select = h("select", { name: "board", dataset: { field: "board", testid: "editor-board" } });
  let found = false;
  for (const category of categories) {
    const group = h("optgroup", { label: category.name });
    for (const board of category.boards) {
      const selected = board.slug === current;
      found ||= selected;
      group.append(h("option", { value: board.slug, selected }, board.name));
    }
    if (group.children.length) select.append(group);
  }
  if (!found && current) {
    // Archived, or a ?board= that is gone: shown as it is; the API says what is wrong with it.
    select.prepend(h("option", { value: current, selected: true }, current));
  }
  for (const option of select.options) option.selected = option.value === current;
  return select;
}
