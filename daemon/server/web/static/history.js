// The History view: past questions, searchable; an entry opens to its answer and sources.

import { api } from "./api.js";
import { citationItems, renderAnswerText } from "./ask.js";
import { $, confirmAction, debounce, fill, formatTime, h, setError, show, withLang } from "./dom.js";

const LIMIT = 100;
let listing = null; // AbortController of the listing in flight

export function setUpHistory() {
  const search = $("#history-search");
  $("#history-form").addEventListener("submit", (event) => {
    event.preventDefault();
    loadHistory();
  });
  search.addEventListener("input", debounce(loadHistory));
}

export function enterHistory() {
  loadHistory();
}

async function loadHistory() {
  listing?.abort();
  const request = new AbortController();
  listing = request;
  const list = $("#history-list");
  list.setAttribute("aria-busy", "true");
  try {
    const search = $("#history-search").value.trim();
    const { entries } = await api.get("/v1/history", { search, limit: LIMIT }, request.signal);
    fill(list, entries.map(entryItem));
    fill($("#history-empty"), search ? "No question or answer matches." : "Nothing asked yet.");
    show($("#history-empty"), !entries.length);
    setError($("#history-error"), "");
  } catch (error) {
    if (error.name === "AbortError") return;
    setError($("#history-error"), error.status === 401 ? "" : error.message);
  }
  list.setAttribute("aria-busy", "false");
}

function entryItem(entry) {
  const answer = h("div", { class: "answer-text done" });
  renderAnswerText(answer, entry.answer || "", entry.citations, entry.sentences);
  const sources = citationItems(entry.citations);
  return h("li", { class: "history-entry", dataset: { id: entry.id } },
    h("details", {},
      h("summary", {},
        withLang(h("span", { class: "history-question" }, entry.question), entry.question),
        h("span", { class: "history-meta" },
          entry.grounded ? null : h("span", { class: "badge skipped" }, "not in your files"),
          h("time", { dateTime: String(entry.time) }, formatTime(entry.time)))),
      h("div", { class: "history-body" },
        answer,
        sources.length ? h("ol", { class: "ref-list" }, sources) : null,
        h("div", { class: "history-actions" },
          entry.model ? h("span", { class: "muted small" }, entry.model.replace(/^gguf:/, "")) : null,
          h("button", { type: "button", class: "quiet", onclick: () => forget(entry) }, "Delete")))));
}

async function forget(entry) {
  if (!(await confirmAction(`Delete “${entry.question}” from the history?`, "Delete"))) return;
  try {
    await api.del(`/v1/history/${encodeURIComponent(entry.id)}`);
    await loadHistory();
  } catch (error) {
    setError($("#history-error"), error.message);
  }
}
