import { h, link, title } from "../dom.js";

export function render(main) {
  title("Not found");
  main.append(
    h(
      "section",
      { class: "notice" },
      h("h1", {}, "Page not found"),
      h("p", {}, "There is nothing at this address. It may have moved or been deleted."),
      h("p", {}, link("/", {}, "Back to the board")),
    ),
  );
}
