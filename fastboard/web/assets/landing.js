// Progressive enhancement for the landing page: the page is complete without it.
// Shows whether the service and its database answer, and lists the newest articles.
"use strict";

async function getJSON(path) {
  const response = await fetch(path, { headers: { Accept: "application/json" } });
  return { ok: response.ok, body: await response.json().catch(() => null) };
}

async function showStatus() {
  const status = document.getElementById("status");
  const text = document.getElementById("status-text");
  try {
    const ready = await getJSON("/ready");
    status.dataset.state = ready.ok ? "up" : "down";
    text.textContent = ready.ok ? "Service and database are up" : "Database unreachable";
  } catch {
    status.dataset.state = "down";
    text.textContent = "Service unreachable";
  }
}

async function showArticles() {
  const list = document.getElementById("articles");
  try {
    const { ok, body } = await getJSON("/api/articles?limit=5");
    if (!ok || !body) return;
    list.replaceChildren();
    if (body.articles.length === 0) {
      const empty = document.createElement("li");
      empty.className = "muted";
      empty.textContent = "No articles yet: be the first to write one through the API.";
      list.append(empty);
      return;
    }
    for (const article of body.articles) {
      const item = document.createElement("li");
      const link = document.createElement("a");
      link.href = `/api/articles/${encodeURIComponent(article.slug)}`;
      link.textContent = article.title;
      const meta = document.createElement("span");
      meta.className = "meta";
      meta.textContent = ` by ${article.author.username}`;
      item.append(link, meta);
      list.append(item);
    }
  } catch {
    // Leave the placeholder text: the links above still work.
  }
}

showStatus();
showArticles();
