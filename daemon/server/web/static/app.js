// ragd's page: three views switched by the URL hash (#ask, #sources, #history).

import { api, UNAUTHORIZED } from "./api.js";
import { focusAskBox, setUpAsk } from "./ask.js";
import { $, count, show } from "./dom.js";
import { enterHistory, setUpHistory } from "./history.js";
import { setUpPassage } from "./passage.js";
import { enterSources, leaveSources, setUpSources, STATUS } from "./sources.js";

const VIEWS = ["ask", "sources", "history"];
const ENTER = { ask: focusAskBox, sources: enterSources, history: enterHistory };
const LEAVE = { sources: leaveSources };
let currentView = null;

function viewFromHash() {
  const name = window.location.hash.replace(/^#/, "");
  return VIEWS.includes(name) ? name : "ask";
}

function showView() {
  const next = viewFromHash();
  if (next === currentView) return;
  if (currentView) LEAVE[currentView]?.();
  currentView = next;
  for (const section of document.querySelectorAll("main > .view")) show(section, section.dataset.view === next);
  for (const link of document.querySelectorAll(".tabs a")) {
    if (link.dataset.view === next) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  document.title = next === "ask" ? "ragd" : `ragd · ${next[0].toUpperCase()}${next.slice(1)}`;
  ENTER[next]?.();
}

/** `/` anywhere but in a text field jumps to the ask box. */
function onKey(event) {
  if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) return;
  const target = event.target;
  if (target.closest?.("input, textarea, select, [contenteditable]") || $("dialog[open]")) return;
  event.preventDefault();
  if (viewFromHash() !== "ask") window.location.hash = "#ask";
  else focusAskBox();
}

/** The index in a few words, in the header (and the first check that the session works). */
async function loadSummary() {
  try {
    renderSummary(await api.get("/v1/status"));
  } catch (error) {
    if (error.status !== 401) $("#summary").textContent = "daemon unreachable";
  }
}

function renderSummary(status) {
  const parts = [count(status.indexed, "file"), count(status.chunks, "passage")];
  if (status.paused) parts.push("indexing paused");
  $("#summary").textContent = parts.join(" · ");
}

function onUnauthorized() {
  show($("#banner"));
  document.body.classList.add("signed-out");
}

function start() {
  window.addEventListener(UNAUTHORIZED, onUnauthorized);
  window.addEventListener(STATUS, (event) => renderSummary(event.detail));
  window.addEventListener("hashchange", showView);
  document.addEventListener("keydown", onKey);
  setUpPassage();
  setUpAsk({ onAnswered: loadSummary });
  setUpSources();
  setUpHistory();
  showView();
  loadSummary();
}

start();
