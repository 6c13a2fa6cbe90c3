// The side sheet that shows a cited passage in its file: the lines around it, the cited ones
// highlighted, where it is, and an "Open file" button.

import { api } from "./api.js";
import { summarise } from "./ask.js";
import { $, basename, fill, h, locator, withLang } from "./dom.js";

const AROUND = 10;
let current = null; // the passage on show: {path, page, line_start, line_end, doc_key}
let loading = null; // AbortController of the request in flight

export function setUpPassage() {
  const dialog = $("#passage");
  $("#passage-close").addEventListener("click", () => dialog.close());
  $("#passage-open").addEventListener("click", openCurrentFile);
  $("#passage-summarise").addEventListener("click", () => {
    if (current) summarise(current.path);
  });
  dialog.addEventListener("click", (event) => {
    if (event.target === dialog) dialog.close(); // a click on the backdrop
  });
  dialog.addEventListener("close", () => loading?.abort());
}

/** A button that opens `ref` (a citation or a search hit) in context. */
export function passageButton(ref, label, extra = {}) {
  return h("button", {
    type: "button",
    class: extra.class || "ref-button",
    title: `${ref.path}${locator(ref) ? ` (${locator(ref)})` : ""}`,
    "aria-label": extra.ariaLabel || null,
    onclick: () => showPassage(ref),
  }, label);
}

/** Open the sheet on `ref` and load the lines around it. */
export async function showPassage(ref) {
  current = ref;
  const dialog = $("#passage");
  withLang(fill($("#passage-title"), basename(ref.path)), ref.path);
  withLang(fill($("#passage-path"), ref.path), ref.path);
  fill($("#passage-where"), locator(ref));
  fill($("#passage-message"));
  const lines = fill($("#passage-lines"), h("p", { class: "muted" }, "Loading…"));
  lines.dataset.state = "loading";
  if (!dialog.open) dialog.showModal();

  loading?.abort();
  loading = new AbortController();
  try {
    const context = await api.get("/v1/documents/context", {
      path: ref.path, page: ref.page, sheet: ref.sheet, slide: ref.slide, line_start: ref.line_start,
      line_end: ref.line_end,
      doc_key: ref.doc_key, around: AROUND,
    }, loading.signal);
    if (current !== ref) return;
    renderLines(lines, context.lines);
    lines.dataset.state = "ready";
  } catch (error) {
    if (error.name === "AbortError") return;
    fill(lines, h("p", { class: "error" }, error.status === 404
      ? "This file is no longer in the index (moved, deleted or changed since)."
      : error.message));
    lines.dataset.state = "error";
  }
}

function renderLines(container, lines) {
  if (!lines.length) {
    fill(container, h("p", { class: "muted" }, "No text to show for this passage."));
    return;
  }
  const rows = lines.map((line) => h("div", { class: line.cited ? "line cited" : "line" },
    h("span", { class: "ln", "aria-hidden": "true" }, line.n ?? ""),
    withLang(line.cited ? h("mark", { class: "text" }, line.text) : h("span", { class: "text" }, line.text),
      line.text)));
  fill(container, rows);
  const first = container.querySelector(".cited");
  first?.scrollIntoView({ block: "center" });
}

async function openCurrentFile() {
  if (!current) return;
  const message = $("#passage-message");
  message.textContent = "Opening…";
  try {
    await api.post("/v1/open", { path: current.path });
    message.textContent = "Opened in its application.";
  } catch (error) {
    message.textContent = error.status === 404 ? "This file is not in the index any more." : error.message;
  }
}
