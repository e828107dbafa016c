// Markdown from users, rendered and then sanitized: marked turns it into HTML, DOMPurify
// removes anything that could run script (tags, event handlers, javascript: URLs) before
// a single node of it reaches the page.
import { marked } from "../vendor/marked.esm.js";
import DOMPurify from "../vendor/purify.es.mjs";
import { isAllowedImage } from "./dom.js";

const ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
const escapeHtml = (text) => text.replace(/[&<>"']/g, (c) => ESCAPES[c]);

// Raw HTML in a post is shown as the text it is, never parsed: besides being safe (the
// sanitizer would remove the dangerous parts anyway), an HTML fragment with event handlers
// that reaches the browser's parser makes it report CSP violations, even in the inert
// document DOMPurify parses in.
//
// Headings move one level down (# is an h2): the page's own title is its only h1.
marked.use({
  gfm: true,
  breaks: false,
  renderer: { html: (token) => escapeHtml(token.text) },
  walkTokens: (token) => {
    if (token.type === "heading") token.depth = Math.min(6, token.depth + 1);
  },
});

// Links in user content open normally but never pass the reader's page to the target.
DOMPurify.addHook("afterSanitizeAttributes", (node) => {
  if (node.tagName === "A" && node.hasAttribute("href")) {
    node.setAttribute("rel", "nofollow noopener noreferrer ugc");
  }
  // The CSP loads images from this site and https: only; anything else would be blocked
  // (and reported) by the browser, so it is not asked for.
  if (node.tagName === "IMG" && !isAllowedImage(node.getAttribute("src"))) {
    node.removeAttribute("src");
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
