// The Ask view: the question box, the streamed answer, its sources and the nearest passages; the conversation
// it is part of (earlier turns above the box, "New conversation" to start over), the filters that narrow it to
// some files, and whole-document requests (the "Summarise" actions).

import { askStream } from "./api.js";
import { $, basename, fill, formatSeconds, h, locator, setError, show, withLang } from "./dom.js";
import { passageButton } from "./passage.js";

const NOT_FOUND = "Your files do not seem to contain the answer.";
const SUMMARISE = "Summarise this document.";
let asking = null; // AbortController of the question in flight
let conversation = newConversationId();
let lastTurn = null; // the answered turn on show: {question, answer}, moved into the thread by the next question
let answered = () => {};

function newConversationId() {
  const bytes = crypto.getRandomValues(new Uint8Array(6));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function setUpAsk({ onAnswered }) {
  const form = $("#ask-form");
  const input = $("#ask-input");
  answered = onAnswered;
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const question = input.value.trim();
    if (question) ask(question).then(onAnswered);
  });
  $("#new-conversation").addEventListener("click", startConversation);
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) { // not while an IME composes
      event.preventDefault();
      form.requestSubmit();
    }
  });
  input.addEventListener("input", () => withLang(input, input.value));
}

export function focusAskBox() {
  const input = $("#ask-input");
  input.focus();
  input.select();
}

/** A new conversation: the thread and the answer cleared, a new id for the next question. */
export function startConversation() {
  asking?.abort();
  conversation = newConversationId();
  lastTurn = null;
  fill($("#thread"));
  show($("#thread-box"), false);
  show($("#answer"), false);
  focusAskBox();
}

/** Summarise the indexed file at `path` as a whole (every passage read, not a top-k sample). */
export function summarise(path) {
  if (window.location.hash !== "#ask") window.location.hash = "#ask";
  $("#passage").close?.();
  return ask(SUMMARISE, { files: [path] }).then(answered);
}

/** The filters of "Only some files", as the API's fields (only those set). */
function scopeFields() {
  const out = {};
  const place = $("#scope-in").value.trim();
  const types = $("#scope-type").value.split(/[\s,]+/).filter(Boolean);
  if (place) out.in = [place];
  if (types.length) out.type = types;
  if ($("#scope-since").value) out.since = $("#scope-since").value;
  if ($("#scope-until").value) out.until = $("#scope-until").value;
  return out;
}

function keepInThread(turn) {
  const item = h("li", { class: "turn" },
    withLang(h("p", { class: "turn-question" }, turn.question), turn.question),
    withLang(h("p", { class: "turn-answer" }, clip(turn.answer, 400)), turn.answer));
  $("#thread").append(item);
  show($("#thread-box"));
}

/** Ask `question` as the next turn of the conversation, streaming the model's text, then show the final
 * answer in its place. */
async function ask(question, extra = {}) {
  asking?.abort();
  const controller = new AbortController();
  asking = controller;
  if (lastTurn) keepInThread(lastTurn);
  lastTurn = null;
  const label = extra.files ? `${question} (${extra.files.map(basename).join(", ")})` : question;
  const view = startAnswer(label);
  const options = { conversation, ...scopeFields(), ...extra };
  let streamed = "";
  try {
    for await (const { type, data } of askStream(question, controller.signal, options)) {
      if (type === "token") {
        streamed += data.text;
        showStreamed(view, streamed);
      } else if (type === "answer") {
        showAnswer(view, data, streamed);
        lastTurn = { question: label, answer: data.answer };
        return;
      } else if (type === "error") {
        throw new Error(data?.error?.message || "the daemon could not answer");
      }
    }
    throw new Error("the answer stream ended early; is the daemon still running?");
  } catch (error) {
    if (error.name !== "AbortError") showFailure(view, error.message);
  } finally {
    if (asking === controller) {
      asking = null;
      $("#ask-button").disabled = false;
      view.answer.setAttribute("aria-busy", "false");
    }
  }
}

function startAnswer(question) {
  const view = {
    answer: $("#answer"), text: $("#answer-text"), status: $("#answer-status"),
  };
  show(view.answer);
  view.answer.dataset.state = "waiting";
  view.answer.setAttribute("aria-busy", "true");
  $("#ask-button").disabled = true;
  withLang(fill($("#answer-question"), question), question);
  fill(view.status, "Looking through your files…");
  fill(view.text);
  view.text.classList.remove("done");
  for (const id of ["#answer-not-found", "#answer-note", "#answer-support", "#answer-notice", "#answer-searched",
    "#citations", "#nearest"]) {
    show($(id), false);
  }
  setError($("#answer-error"), "");
  fill($("#timings"));
  return view;
}

function showStreamed(view, text) {
  view.answer.dataset.state = "streaming";
  fill(view.status, "Writing…");
  withLang(fill(view.text, text), text);
}

function showAnswer(view, answer, streamed) {
  view.answer.dataset.state = "done";
  view.answer.dataset.grounded = String(answer.grounded);
  fill(view.status);
  view.text.classList.add("done");
  if (answer.grounded) renderAnswerText(view.text, answer.answer, answer.citations, answer.sentences);
  else fill(view.text); // the answer is only "not found": said once, plainly, in the callout
  const notFound = $("#answer-not-found");
  withLang(fill(notFound, answer.answer || NOT_FOUND), answer.answer);
  show(notFound, !answer.grounded);
  show($("#answer-note"), Boolean(streamed.trim()) && normalized(streamed) !== normalized(answer.answer));
  const searched = answer.searched && answer.searched !== answer.question ? answer.searched : "";
  withLang(fill($("#answer-searched"), searched ? `Searched for: ${searched}` : ""), searched);
  show($("#answer-searched"), Boolean(searched));
  const support = supportLine(answer);
  fill($("#answer-support"), support);
  show($("#answer-support"), Boolean(support));
  fill($("#answer-notice"), answer.notice || ""); // e.g. the tiny demo model wrote it
  show($("#answer-notice"), Boolean(answer.notice));
  renderRefs($("#citations"), $("#citation-list"), citationItems(answer.citations));
  renderRefs($("#nearest"), $("#nearest-list"), answer.grounded ? [] : nearestItems(answer.nearest));
  fill($("#timings"), timingsLine(answer));
}

function showFailure(view, message) {
  view.answer.dataset.state = "error";
  fill(view.status);
  setError($("#answer-error"), message);
}

const normalized = (text) => (text || "").replace(/\s+/g, " ").trim();

/** "1 of 3 sentences is not found in your files", or "" when every sentence is supported. */
export function supportLine(answer) {
  const sentences = (answer.grounded && answer.sentences) || [];
  const missing = sentences.filter((s) => s.support === "unsupported").length;
  const partly = sentences.filter((s) => s.support === "partly").length;
  const leftOut = (answer.left_out || []).length;
  const parts = [];
  const verb = missing === 1 ? "is" : "are";
  if (missing) parts.push(`${missing} of ${sentences.length} sentences ${verb} not found in your files`);
  if (partly) parts.push(`${partly} of ${sentences.length} only partly found`);
  if (leftOut) parts.push(`${leftOut} left out of the answer for not being found`);
  return parts.length ? `${parts.join("; ")}.` : "";
}

const CLAIM_NOTES = {
  unsupported: () => "not found in your files",
  partly: (s) => (s.missing && s.missing.length
    ? `only partly found in your files: ${s.missing.join(", ")} not in the source`
    : "only partly found in your files"),
};

/** The answer's text with each `[n]` that names a citation turned into a button that opens it, and each
 * sentence the files do not support (`sentences`, from the answer) dimmed and labelled. */
export function renderAnswerText(el, text, citations, sentences) {
  const byNumber = new Map();
  for (const c of citations || []) if (!byNumber.has(c.n)) byNumber.set(c.n, c);
  const cited = (from, to) => {
    const parts = [];
    let last = from;
    for (const match of text.slice(from, to).matchAll(/\[(\d+)\]/g)) {
      const citation = byNumber.get(Number(match[1]));
      if (!citation) continue;
      parts.push(text.slice(last, from + match.index));
      parts.push(passageButton(citation, `[${citation.n}]`, {
        class: "cite", ariaLabel: `Source ${citation.n}: ${basename(citation.path)}`,
      }));
      last = from + match.index + match[0].length;
    }
    parts.push(text.slice(last, to));
    return parts;
  };
  // the API's offsets count code points; a JS string counts UTF-16 units (an emoji or a rare kanji is two)
  const unit = [0];
  for (const ch of text) unit.push(unit[unit.length - 1] + ch.length);
  const parts = [];
  let pos = 0;
  for (const s of sentences || []) {
    const note = CLAIM_NOTES[s.support];
    const start = unit[s.start];
    const end = unit[s.end];
    if (!note || start === undefined || end === undefined || start < pos) continue;
    parts.push(...cited(pos, start));
    const why = note(s);
    parts.push(h("span", { class: `claim ${s.support}`, title: why, "data-support": s.support },
      ...cited(start, end), h("span", { class: "claim-note" }, ` (${why})`)));
    pos = end;
  }
  parts.push(...cited(pos, text.length));
  withLang(fill(el, parts), text);
}

/** List items for citations: [n] file · where, then the quote. */
export function citationItems(citations) {
  return (citations || []).map((c) => h("li", { class: "ref" },
    passageButton(c, [h("span", { class: "ref-n" }, `[${c.n}]`), " ", refName(c)]),
    c.quote ? withLang(h("blockquote", { class: "quote" }, c.quote), c.quote) : null));
}

function nearestItems(hits) {
  return (hits || []).map((hit) => h("li", { class: "ref" },
    passageButton(hit, refName(hit)),
    withLang(h("p", { class: "quote" }, clip(hit.text, 320)), hit.text)));
}

function refName(ref) {
  const where = locator(ref);
  return [withLang(h("span", { class: "ref-file" }, basename(ref.path)), ref.path),
    where ? h("span", { class: "ref-where" }, ` · ${where}`) : null];
}

function renderRefs(section, list, items) {
  fill(list, items);
  show(section, items.length > 0);
}

const clip = (text, n) => (text && text.length > n ? `${text.slice(0, n).trimEnd()}…` : text || "");

function timingsLine({ timings = {}, model }) {
  const names = { retrieve: "search", first_token: "first word", total: "total" };
  const parts = Object.entries(names)
    .filter(([key]) => typeof timings[key] === "number")
    .map(([key, name]) => `${name} ${formatSeconds(timings[key])}`);
  if (model) parts.push(model.replace(/^gguf:/, ""));
  return parts.join(" · ");
}
