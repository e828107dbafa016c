// Markdown from users, rendered and then sanitized: marked turns it into HTML, DOMPurify
// removes anything that could run script (tags, event handlers, javascript: URLs) before
// a single node of it reaches the page.
import { marked } from "../vendor/marked.esm.js";
import DOMPurify from "../vendor/purify.es.mjs";

marked.use({ gfm: true, breaks: false });

// Links in user content open normally but never pass the reader's page to the target.
DOMPurify.addHook("afterSanitizeAttributes", (node) => {
  if (node.tagName === "A" && node.hasAttribute("href")) {
    node.setAttribute("rel", "nofollow noopener noreferrer ugc");
  }
});

/** The rendered, sanitized Markdown as a DocumentFragment. */
export function renderMarkdown(text) {
  const html = marked.parse(String(text ?? ""), { async: false });
  return DOMPurify.sanitize(html, {
    RETURN_DOM_FRAGMENT: true,
    FORBID_TAGS: ["style", "form", "input", "button", "textarea", "select"],
    FORBID_ATTR: ["style"],
  });
}
