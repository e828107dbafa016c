// One article: its Markdown body (sanitized), favorite and follow, the author's edit and
// delete, moderators' lock and delete, a link to its edit history, and the comments (voted
// on, edited by their authors, newest or top first), all kept current by the live topic
// article:<slug>.
import { api, enc } from "../api.js";
import {
  articleHref,
  avatar,
  boardHref,
  byline,
  confirmInline,
  demoteHeadings,
  favoriteButton,
  followButton,
  outranks,
  profileHref,
  roleBadge,
  signInHref,
  tagList,
} from "../components.js";
import { clearFormErrors, failure, field, h, link, loading, showFormErrors, time, title } from "../dom.js";
import { listen } from "../live.js";
import { renderMarkdown } from "../markdown.js";
import { navigate, refresh } from "../router.js";
import { session } from "../session.js";

export async function render(main, { params, signal }) {
  const slug = params.slug;
  title("Article");
  main.append(loading("Loading the article"));

  let article;
  // Comments load beside the article; their failure is shown in their own section.
  const commentsRequest = api(`/articles/${enc(slug)}/comments?order=new`, { signal });
  commentsRequest.catch(() => {});
  try {
    article = (await api(`/articles/${enc(slug)}`, { signal })).article;
  } catch (error) {
    if (error.name === "AbortError") throw error;
    main.replaceChildren();
    if (error.status === 404) {
      title("Article not found");
      main.append(
        h(
          "section",
          { class: "notice" },
          h("h1", {}, "Article not found"),
          h("p", {}, "There is no article at this address. It may have been deleted."),
          h("p", {}, link("/", {}, "Back to the board")),
        ),
      );
    } else {
      main.append(h("h1", {}, "Article"), failure("Loading the article", error, refresh));
    }
    return;
  }
  title(article.title);
  return new ArticlePage(main, article, commentsRequest, signal).start();
}

class ArticlePage {
  constructor(main, article, commentsRequest, signal) {
    this.main = main;
    this.article = article;
    this.signal = signal;
    this.commentsRequest = commentsRequest;
    this.locked = Boolean(article.locked);
    this.deleted = false;
    this.comments = new Map(); // id -> element (its .comment is the comment it shows)
    this.order = "new"; // the comments' order: "new" or "top" (by score)
    this.mine = session.signedIn && session.user.username === article.author.username;
  }

  start() {
    const a = this.article;
    this.titleEl = h("h1", { dataset: { testid: "article-title" } }, a.title);
    this.descriptionEl = h("p", { class: "description lead" }, a.description);
    this.bodyEl = h("div", { class: "markdown article-body", dataset: { testid: "article-body" } }, renderMarkdown(a.body));
    this.tagsEl = h("div", { class: "article-tags" }, tagList(a.tagList));
    this.boardEl = h("p", { class: "crumbs" }, link(boardHref(a.board), { class: "board-link", dataset: { testid: "article-board" } }, a.board));
    this.lockNote = h("p", { class: "locked-note", role: "note", dataset: { testid: "locked" } }, "🔒 This article is locked: it takes no new comments.");
    this.lockNote.hidden = !this.locked;
    this.status = h("div", { class: "visually-hidden", role: "status", "aria-live": "polite" });
    this.deletedNote = h("div", { class: "deleted-note", role: "alert", dataset: { testid: "article-deleted" } });
    this.deletedNote.hidden = true;
    this.favorite = favoriteButton(a);

    this.main.replaceChildren(
      h(
        "article",
        { class: "article-page", "aria-labelledby": "article-heading" },
        h(
          "header",
          { class: "article-header" },
          this.deletedNote,
          this.boardEl,
          this.titleEl,
          this.descriptionEl,
          h(
            "div",
            { class: "article-meta" },
            byline(a),
            this.mine ? null : followButton({ ...a.author }),
            this.favorite,
          ),
          this.actions(),
          this.lockNote,
        ),
        this.bodyEl,
        this.tagsEl,
      ),
      this.commentSection(),
      this.status,
    );
    this.titleEl.id = "article-heading";

    this.listenTo(a.slug);
    return () => this.stopListening?.();
  }

  listenTo(slug) {
    this.stopListening?.();
    this.stopListening = listen(
      `article:${slug}`,
      (event) => this.onEvent(event),
      () => this.loadComments(),
    );
  }

  actions() {
    const a = this.article;
    const canModerate = outranks(a.author.role);
    this.historyLink = link(historyHref(a.slug), { class: "button", dataset: { testid: "history-link" } }, "History");
    const items = [this.historyLink];
    if (this.mine) {
      this.editLink = link(`/editor/${enc(a.slug)}`, { class: "button", dataset: { testid: "edit-article" } }, "Edit");
      items.push(this.editLink);
    }
    if (this.mine || canModerate) {
      const button = h("button", { type: "button", class: "button danger", dataset: { testid: "delete-article" } }, "Delete article");
      button.addEventListener("click", () => this.confirmDelete(button, !this.mine));
      items.push(button);
    }
    if (session.isModerator && (this.mine || canModerate)) {
      this.lockButton = h("button", { type: "button", class: "button", dataset: { testid: "lock" } });
      this.paintLockButton();
      this.lockButton.addEventListener("click", () => this.toggleLock());
      items.push(this.lockButton);
    }
    this.actionsEl = h("div", { class: "actions article-actions" }, items);
    return this.actionsEl;
  }

  paintLockButton() {
    if (!this.lockButton) return;
    this.lockButton.textContent = this.locked ? "Unlock comments" : "Lock comments";
    this.lockButton.setAttribute("aria-pressed", String(this.locked));
  }

  async toggleLock() {
    const button = this.lockButton;
    button.disabled = true;
    button.nextElementSibling?.matches?.(".failure") && button.nextElementSibling.remove();
    try {
      const path = `/articles/${enc(this.article.slug)}/lock`;
      const body = this.locked ? await api(path, { method: "DELETE" }) : await api(path, { method: "POST", body: { lock: {} } });
      this.setLocked(body.lock.locked);
    } catch (error) {
      button.after(failure(this.locked ? "Unlocking" : "Locking", error));
    } finally {
      button.disabled = false;
    }
  }

  confirmDelete(button, moderating) {
    const reason = moderating ? h("input", { type: "text", maxlength: "500", dataset: { testid: "reason" } }) : null;
    confirmInline(button, {
      question: "Delete this article and its comments? This cannot be undone.",
      confirmLabel: "Delete article",
      extra: reason ? field("Reason (shown in the moderation log, optional)", reason) : null,
      onConfirm: async () => {
        const q = reason?.value.trim() ? `?reason=${enc(reason.value.trim())}` : "";
        await api(`/articles/${enc(this.article.slug)}${q}`, { method: "DELETE" });
        this.deleted = true;
        navigate(boardHref(this.article.board), { replace: true });
      },
    });
  }

  setLocked(locked) {
    this.locked = locked;
    this.lockNote.hidden = !locked;
    this.paintLockButton();
    this.paintForm();
  }

  // --- comments -------------------------------------------------------------------

  commentSection() {
    this.countEl = h("span", { class: "muted count" });
    this.formBox = h("div", { class: "comment-form-box" });
    this.listEl = h("ol", { class: "comments", "aria-label": "Comments" });
    this.listBox = h("div", {}, loading("Loading comments"));
    this.paintForm();
    this.loadComments(this.commentsRequest);
    return h(
      "section",
      { class: "comment-section", "aria-labelledby": "comments-heading" },
      h("h2", { id: "comments-heading" }, "Comments ", this.countEl),
      this.formBox,
      this.orderControl(),
      this.listBox,
    );
  }

  // New / Top: two toggle buttons (aria-pressed), the list fetched again in that order.
  orderControl() {
    const buttons = [
      ["new", "Newest"],
      ["top", "Top"],
    ].map(([order, label]) => {
      const button = h(
        "button",
        { type: "button", class: "button compact", "aria-pressed": String(order === this.order), dataset: { testid: `order-${order}` } },
        label,
      );
      button.addEventListener("click", () => {
        if (this.order === order) return;
        this.order = order;
        for (const other of buttons) other.setAttribute("aria-pressed", String(other === button));
        this.listBox.replaceChildren(loading("Loading comments"));
        this.loadComments();
      });
      return button;
    });
    return h(
      "div",
      { class: "comment-order", role: "group", "aria-label": "Order comments by", dataset: { testid: "comment-order" } },
      h("span", { class: "muted", "aria-hidden": "true" }, "Order: "),
      buttons,
    );
  }

  async loadComments(request) {
    const load = () => this.loadComments();
    const order = this.order;
    try {
      const body = await (request ?? api(`/articles/${enc(this.article.slug)}/comments?order=${order}`, { signal: this.signal }));
      if (order !== this.order) return; // the reader switched again meanwhile
      // A comment being edited keeps its element (and the draft in it) across a reload,
      // as after the live connection's resync.
      const before = new Map(this.comments);
      this.comments.clear();
      const keep = (comment) => {
        const item = before.get(comment.id);
        if (!item?.editing) return this.commentItem(comment);
        item.comment = { ...comment };
        item.paint();
        this.comments.set(comment.id, item);
        return item;
      };
      this.listEl.replaceChildren(...body.comments.map(keep));
      this.listBox.replaceChildren(this.listEl);
      this.paintCount();
    } catch (error) {
      if (error.name === "AbortError") return;
      this.listBox.replaceChildren(failure("Loading the comments", error, load));
    }
  }

  paintCount() {
    const n = this.comments.size;
    this.countEl.textContent = `(${n})`;
    if (!n && this.listBox.contains(this.listEl)) {
      if (!this.emptyEl) this.emptyEl = h("p", { class: "empty" }, "No comments yet.");
      this.listBox.replaceChildren(this.emptyEl, this.listEl);
    } else {
      this.emptyEl?.remove();
    }
  }

  commentItem(comment) {
    const author = comment.author;
    const own = session.signedIn && session.user.username === author.username;
    const item = h("li", { class: "comment", dataset: { testid: "comment", commentId: String(comment.id) } });
    item.comment = comment;
    const when = h("span", { class: "muted" });
    const bodyEl = h("div", { class: "markdown comment-body", dataset: { testid: "comment-text" } });
    const votes = this.voteControl(item);
    // What an edit or a live update changes: the body, the "edited" mark, the score.
    item.paint = () => {
      const c = item.comment;
      const edited = c.updatedAt && c.updatedAt !== c.createdAt;
      when.replaceChildren(" · ", time(c.createdAt, true));
      if (edited) {
        when.append(
          " · ",
          link(
            commentHistoryHref(this.article.slug, c.id),
            { class: "edited", dataset: { testid: "comment-edited" }, title: "Edited: see its history" },
            "edited",
            h("span", { class: "visually-hidden" }, ", see the comment's history"),
          ),
        );
      }
      if (!item.editing) bodyEl.replaceChildren(demoteHeadings(renderMarkdown(c.body)));
      votes.paint();
    };
    const footer = [votes];
    if (own) {
      const edit = h("button", { type: "button", class: "button compact", dataset: { testid: "edit-comment" } }, "Edit");
      edit.addEventListener("click", () => this.editComment(item, bodyEl, edit));
      footer.push(edit);
    }
    if (own || outranks(author.role)) {
      const del = h("button", { type: "button", class: "button danger compact", dataset: { testid: "delete-comment" } }, "Delete");
      del.addEventListener("click", () =>
        confirmInline(del, {
          question: "Delete this comment?",
          confirmLabel: "Delete comment",
          onConfirm: async () => {
            await api(`/articles/${enc(this.article.slug)}/comments/${comment.id}`, { method: "DELETE" });
            this.removeComment(comment.id);
            this.status.textContent = "Comment deleted.";
            this.formBox.querySelector("textarea")?.focus();
          },
        }),
      );
      footer.push(del);
    }
    item.append(
      h(
        "header",
        { class: "byline" },
        avatar(author),
        h("span", {}, link(profileHref(author.username), { class: "author" }, author.username), " ", roleBadge(author.role), when),
      ),
      bodyEl,
      h("footer", { class: "actions" }, footer),
    );
    item.paint();
    this.comments.set(comment.id, item);
    return item;
  }

  // ▲ score ▼: toggles (aria-pressed says which vote is the reader's); the same button
  // again takes the vote back. Anonymous readers are sent to sign in.
  voteControl(item) {
    const score = h("span", { class: "score", dataset: { testid: "comment-score" } });
    const up = h("button", { type: "button", class: "button compact vote up", dataset: { testid: "vote-up" } }, h("span", { "aria-hidden": "true" }, "▲"), h("span", { class: "visually-hidden" }, "Vote up"));
    const down = h("button", { type: "button", class: "button compact vote down", dataset: { testid: "vote-down" } }, h("span", { "aria-hidden": "true" }, "▼"), h("span", { class: "visually-hidden" }, "Vote down"));
    const errorBox = h("div", { class: "vote-error" });
    const group = h(
      "div",
      { class: "votes", role: "group", "aria-label": "Votes", dataset: { testid: "votes" } },
      up,
      h("span", { class: "visually-hidden" }, "Score "),
      score,
      down,
      errorBox,
    );
    group.paint = () => {
      const { score: n, myVote } = item.comment;
      score.textContent = String(n ?? 0);
      up.setAttribute("aria-pressed", String(myVote === 1));
      down.setAttribute("aria-pressed", String(myVote === -1));
    };
    const vote = async (value) => {
      if (!session.signedIn) return navigate(signInHref());
      const c = item.comment;
      const path = `/articles/${enc(this.article.slug)}/comments/${c.id}/vote`;
      up.disabled = down.disabled = true;
      errorBox.replaceChildren();
      try {
        const body =
          c.myVote === value
            ? await api(path, { method: "DELETE" })
            : await api(path, { method: "PUT", body: { vote: { value } } });
        item.comment = { ...c, score: body.comment.score, myVote: body.comment.myVote };
        group.paint();
        this.status.textContent = `Score ${body.comment.score}.`;
      } catch (error) {
        if (error.name === "AbortError") return;
        errorBox.replaceChildren(failure("Voting", error));
      } finally {
        up.disabled = down.disabled = false;
      }
    };
    up.addEventListener("click", () => vote(1));
    down.addEventListener("click", () => vote(-1));
    return group;
  }

  // The author's inline edit: a textarea in place of the body, Save and Cancel (Escape
  // cancels; focus goes back to the Edit button either way).
  editComment(item, bodyEl, editButton) {
    if (item.editing) return;
    item.editing = true;
    editButton.hidden = true;
    const textarea = h("textarea", { name: "body", rows: "4", required: true, dataset: { field: "body", testid: "comment-edit-body" } });
    textarea.value = item.comment.body;
    const save = h("button", { type: "submit", class: "button primary compact", dataset: { testid: "comment-save" } }, "Save");
    const cancelButton = h("button", { type: "button", class: "button compact", dataset: { testid: "comment-cancel" } }, "Cancel");
    const form = h(
      "form",
      { class: "comment-edit", dataset: { testid: "comment-edit-form" }, novalidate: true },
      field("Edit your comment", textarea, "Markdown works here. Ctrl+Enter saves, Escape cancels."),
      h("div", { "data-form-errors": "", hidden: true, tabindex: "-1", role: "alert" }),
      h("div", { class: "actions" }, save, cancelButton),
    );
    const close = () => {
      item.editing = false;
      editButton.hidden = false;
      item.paint();
      editButton.focus();
    };
    cancelButton.addEventListener("click", close);
    form.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        event.preventDefault();
        event.stopPropagation();
        close();
      } else if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        form.requestSubmit();
      }
    });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearFormErrors(form);
      if (!textarea.value.trim()) {
        showFormErrors(form, { errors: { body: ["can't be blank"] } });
        return;
      }
      save.disabled = cancelButton.disabled = true;
      try {
        const body = await api(`/articles/${enc(this.article.slug)}/comments/${item.comment.id}`, {
          method: "PUT",
          body: { comment: { body: textarea.value } },
        });
        item.comment = { ...item.comment, ...body.comment };
        this.status.textContent = "Comment saved.";
        close();
      } catch (error) {
        if (error.name === "AbortError") return;
        if (error.status === 403 && error.errors?.article) showFormErrors(form, { message: error.errors.article.join("; ") });
        else showFormErrors(form, error);
        save.disabled = cancelButton.disabled = false;
      }
    });
    bodyEl.replaceChildren(form);
    textarea.focus();
  }

  addComment(comment) {
    if (this.comments.has(comment.id)) return false;
    const item = this.commentItem(comment);
    if (this.order === "top") {
      // Highest score first, ties newest first: before the first one it does not trail.
      const score = comment.score ?? 0;
      const after = [...this.listEl.children].find((other) => (other.comment?.score ?? 0) <= score);
      this.listEl.insertBefore(item, after ?? null);
    } else {
      // Newest first, as the API lists them.
      this.listEl.prepend(item);
    }
    if (!this.listBox.contains(this.listEl)) this.listBox.replaceChildren(this.listEl);
    this.paintCount();
    return true;
  }

  /** A comment edited elsewhere (comment.updated): its body and mark, this reader's vote kept. */
  updateComment(comment) {
    const item = this.comments.get(comment.id);
    if (!item) return;
    item.comment = { ...item.comment, body: comment.body, updatedAt: comment.updatedAt, score: comment.score ?? item.comment.score };
    item.paint();
  }

  removeComment(id) {
    const item = this.comments.get(id);
    if (!item) return;
    if (item.contains(document.activeElement)) this.formBox.querySelector("textarea, a")?.focus();
    item.remove();
    this.comments.delete(id);
    this.paintCount();
  }

  paintForm() {
    if (!this.formBox) return;
    if (this.deleted) {
      this.formBox.replaceChildren();
    } else if (this.locked) {
      this.formBox.replaceChildren(h("p", { class: "muted" }, "Comments are closed on this article."));
    } else if (!session.signedIn) {
      const next = enc(articleHref(this.article.slug));
      this.formBox.replaceChildren(
        h("p", {}, link(`/login?next=${next}`, {}, "Sign in"), " or ", link(`/register?next=${next}`, {}, "sign up"), " to comment."),
      );
    } else if (!this.formBox.querySelector("form")) {
      this.formBox.replaceChildren(this.commentForm());
    }
  }

  commentForm() {
    const textarea = h("textarea", {
      name: "body",
      rows: "4",
      required: true,
      dataset: { field: "body", testid: "comment-body" },
    });
    const submit = h("button", { type: "submit", class: "button primary" }, "Post comment");
    const form = h(
      "form",
      { class: "comment-form", dataset: { testid: "comment-form" }, novalidate: true },
      field("Your comment", textarea, "Markdown works here. Ctrl+Enter posts."),
      h("div", { "data-form-errors": "", hidden: true, tabindex: "-1", role: "alert" }),
      h("div", { class: "actions" }, submit),
    );
    textarea.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        form.requestSubmit();
      }
    });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearFormErrors(form);
      const text = textarea.value;
      if (!text.trim()) {
        showFormErrors(form, { errors: { body: ["can't be blank"] } });
        return;
      }
      submit.disabled = true;
      try {
        const body = await api(`/articles/${enc(this.article.slug)}/comments`, {
          method: "POST",
          body: { comment: { body: text } },
        });
        textarea.value = "";
        this.addComment(body.comment);
        this.status.textContent = "Comment posted.";
      } catch (error) {
        if (error.status === 403 && error.errors?.article) {
          // Locked since the page loaded: say so in the API's words, then close the form.
          showFormErrors(form, { message: error.errors.article.join("; ") });
          if (/locked/i.test(error.errors.article.join(" "))) this.setLocked(true);
        } else {
          showFormErrors(form, error);
        }
      } finally {
        submit.disabled = false;
      }
    });
    return form;
  }

  // --- live -----------------------------------------------------------------------

  onEvent(event) {
    const data = event.data ?? {};
    switch (event.event) {
      case "comment.created":
        if (this.addComment(data)) this.status.textContent = `New comment from ${data.author?.username ?? "someone"}.`;
        break;
      case "comment.updated":
        this.updateComment(data);
        break;
      case "comment.deleted":
        this.removeComment(data.id);
        break;
      case "article.favorites":
        this.favorite.setCount(data.favoritesCount);
        break;
      case "article.updated":
        this.updated(data);
        break;
      case "article.deleted":
        this.gone();
        break;
      case "article.locked":
      case "article.unlocked":
        this.setLocked(Boolean(data.locked));
        break;
      default:
        break;
    }
  }

  updated(data) {
    // The event is what an anonymous reader sees: keep this reader's own flags.
    const { favorited, author, slug } = this.article;
    Object.assign(this.article, data, { favorited, author: { ...data.author, following: author.following } });
    this.titleEl.textContent = data.title;
    this.descriptionEl.textContent = data.description;
    this.bodyEl.replaceChildren(renderMarkdown(data.body));
    this.tagsEl.replaceChildren(tagList(data.tagList) ?? "");
    this.boardEl.replaceChildren(link(boardHref(data.board), { class: "board-link" }, data.board));
    if (typeof data.locked === "boolean") this.setLocked(data.locked);
    title(data.title);
    this.status.textContent = "The article was edited.";
    if (data.slug && data.slug !== slug) {
      // Retitled: a new address, and its later events come on the new slug's topic.
      history.replaceState(null, "", articleHref(data.slug));
      this.editLink?.setAttribute("href", `/editor/${enc(data.slug)}`);
      this.historyLink?.setAttribute("href", historyHref(data.slug));
      this.listenTo(data.slug);
    }
  }

  gone() {
    if (this.deleted) return;
    this.deleted = true;
    this.deletedNote.replaceChildren(
      h("p", {}, h("strong", {}, "This article was deleted."), " ", link(boardHref(this.article.board), {}, "Back to the board")),
    );
    this.deletedNote.hidden = false;
    this.actionsEl.replaceChildren();
    this.favorite.disabled = true;
    this.paintForm();
  }
}

function historyHref(slug) {
  return `/article/${enc(slug)}/history`;
}

function commentHistoryHref(slug, id) {
  return `/article/${enc(slug)}/comments/${id}/history`;
}
