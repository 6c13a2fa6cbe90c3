// The Sources view: live indexing progress, the watched folders, problems and the per-file table.

import { api } from "./api.js";
import { summarise } from "./ask.js";
import {
  $, confirmAction, count, debounce, fill, formatSeconds, formatSize, formatTime, h, setError, show, withLang,
} from "./dom.js";

const POLL_MS = 1000;
const PAGE = 200;
const STATES = {
  starting: "Starting", scanning: "Scanning", indexing: "Indexing", idle: "Up to date",
  paused: "Paused", stopped: "Stopped", out_of_space: "Stopped: the disk is full",
};

/** Fired on `window` with each status polled (the header's summary listens). */
export const STATUS = "ragd:status";

let polling = false;
let pollTimer = 0;
let lastSeen = ""; // what the file table was last loaded for (counts + written requests)
let fileLimit = PAGE;
let filesRequest = null;

export function setUpSources() {
  $("#pause-button").addEventListener("click", () => act(() => api.post("/v1/pause")));
  $("#resume-button").addEventListener("click", () => act(() => api.post("/v1/resume")));
  $("#source-form").addEventListener("submit", addSource);
  const reload = () => { fileLimit = PAGE; loadFiles(); };
  $("#file-filters").addEventListener("submit", (event) => event.preventDefault());
  $("#file-source").addEventListener("change", reload);
  $("#file-status").addEventListener("change", reload);
  $("#file-text").addEventListener("input", debounce(reload));
  $("#file-more").addEventListener("click", () => { fileLimit += PAGE; loadFiles(); });
  document.addEventListener("visibilitychange", () => { if (polling && !document.hidden) poll(); });
}

/** Start polling /v1/status (the view is on screen) and load the folders and files. */
export function enterSources() {
  polling = true;
  lastSeen = "";
  loadSources();
  poll();
}

export function leaveSources() {
  polling = false;
  clearTimeout(pollTimer);
}

async function poll() {
  clearTimeout(pollTimer);
  if (!polling) return;
  try {
    const status = await api.get("/v1/status");
    window.dispatchEvent(new CustomEvent(STATUS, { detail: status }));
    renderProgress(status);
    renderProblems(status);
    refreshFilesIfChanged(status);
    setError($("#sources-error"), "");
  } catch (error) {
    setError($("#sources-error"), error.status === 401 ? "" : `Cannot reach the daemon: ${error.message}`);
    if (error.status === 401) return leaveSources();
  }
  if (polling && !document.hidden) pollTimer = setTimeout(poll, POLL_MS);
}

function renderProgress(status) {
  const run = status.indexing || {};
  const state = status.paused ? "paused" : run.state || "";
  const label = $("#indexing-state");
  label.textContent = STATES[state] || state;
  label.dataset.state = state;
  $("#pause-button").disabled = Boolean(status.paused);
  $("#resume-button").disabled = !status.paused;

  const { done = 0, total = 0 } = run.batch || {};
  const bar = $("#indexing-progress");
  if (total > 0) {
    bar.max = total;
    bar.value = done;
  } else {
    bar.max = 1;
    bar.value = state === "idle" ? 1 : 0;
  }
  const detail = [];
  if (total > 0) detail.push(`${done} of ${count(total, "file")}`);
  if (run.queued) detail.push(`${run.queued} queued`);
  if (run.eta_s) detail.push(`about ${formatSeconds(run.eta_s)} left`);
  fill($("#indexing-detail"), detail.join(" · "));
  withLang(fill($("#indexing-current"), run.current || ""), run.current);

  const counts = [`${count(status.indexed, "file")} indexed`, count(status.chunks, "passage")];
  if (status.failed) counts.push(`${status.failed} failed`);
  if (status.skipped) counts.push(`${status.skipped} skipped`);
  if (run.last_scan) counts.push(scanSummary(run.last_scan));
  if (run.last_error) counts.push(`last error: ${run.last_error}`);
  fill($("#indexing-counts"), counts.join(" · "));
}

/** The last full scan's stats, in a few words. */
function scanSummary(scan) {
  const bits = [`${scan.files_indexed ?? 0} indexed`, `${scan.files_unchanged ?? 0} unchanged`];
  if (scan.files_failed) bits.push(`${scan.files_failed} failed`);
  const took = typeof scan.seconds === "number" ? ` in ${formatSeconds(scan.seconds)}` : "";
  return `last full scan: ${bits.join(", ")}${took}`;
}

function renderProblems(status) {
  const problems = status.problems || [];
  fill($("#problem-list"), problems.map((p) => h("li", {},
    withLang(h("span", { class: "mono path" }, p.path), p.path),
    h("span", { class: `badge ${p.status}` }, p.status),
    withLang(h("span", { class: "reason" }, p.reason || ""), p.reason))));
  const more = (status.problems_total || 0) - problems.length;
  if (more > 0) $("#problem-list").append(h("li", { class: "muted" }, `and ${more} more`));
  show($("#problems"), problems.length > 0);
}

/** Reload the table when the index changed (the counts or the requests written moved on). */
function refreshFilesIfChanged(status) {
  const run = status.indexing || {};
  const seen = [status.files, status.indexed, status.failed, status.skipped, status.chunks, run.done_through,
    run.files_done, run.files_failed].join("/");
  if (seen !== lastSeen) {
    lastSeen = seen;
    loadFiles();
    loadSources(); // the folders' file counts
  }
}

async function act(call) {
  try {
    await call();
    await poll();
  } catch (error) {
    setError($("#sources-error"), error.message);
  }
}

// -- folders ------------------------------------------------------------------------------------
async function loadSources() {
  try {
    renderSources(await api.get("/v1/sources"));
  } catch (error) {
    setError($("#sources-error"), error.status === 401 ? "" : error.message);
  }
}

function renderSources(sources) {
  const list = $("#source-list");
  fill(list, sources.map(sourceItem));
  if (!sources.length) list.append(h("li", { class: "muted" }, "No folders yet: add one below."));
  const select = $("#file-source");
  const chosen = select.value;
  fill(select, h("option", { value: "" }, "All folders"),
    sources.map((s) => withLang(h("option", { value: s.path }, s.path), s.path)));
  select.value = sources.some((s) => s.path === chosen) ? chosen : "";
}

function sourceItem(source) {
  const notes = [count(source.files, "file")];
  if (!source.exists) notes.push("missing");
  else if (!source.watched) notes.push("not watched");
  if (source.from_config) notes.push("from the config file");
  return h("li", { class: "source", dataset: { path: source.path } },
    h("div", { class: "source-main" },
      withLang(h("span", { class: "mono path" }, source.path), source.path),
      h("span", { class: "muted small" }, notes.join(" · ")),
      source.problem ? withLang(h("span", { class: "error small" }, source.problem), source.problem) : null),
    h("button", {
      type: "button", class: "quiet", "aria-label": `Remove ${source.path}`,
      onclick: () => removeSource(source.path),
    }, "Remove"));
}

async function addSource(event) {
  event.preventDefault();
  const input = $("#source-path");
  const path = input.value.trim();
  if (!path) return;
  try {
    await api.post("/v1/sources", { path });
    input.value = "";
    setError($("#sources-error"), "");
    await loadSources();
    poll();
  } catch (error) {
    setError($("#sources-error"), error.message);
  }
}

async function removeSource(path) {
  const sure = await confirmAction(
    `Stop watching ${path}? Its files leave the index; the files themselves are not touched.`, "Remove");
  if (!sure) return;
  try {
    await api.del("/v1/sources", { path });
    await loadSources();
    poll();
  } catch (error) {
    setError($("#sources-error"), error.message);
  }
}

// -- files ----------------------------------------------------------------------------------------
async function loadFiles() {
  filesRequest?.abort();
  const request = new AbortController();
  filesRequest = request;
  const table = $("#file-table");
  table.setAttribute("aria-busy", "true");
  try {
    const page = await api.get("/v1/files", {
      under: $("#file-source").value, status: $("#file-status").value, q: $("#file-text").value.trim(),
      limit: fileLimit, offset: 0,
    }, request.signal);
    renderFiles(page);
    table.setAttribute("aria-busy", "false");
  } catch (error) {
    if (error.name === "AbortError") return;
    table.setAttribute("aria-busy", "false");
    setError($("#sources-error"), error.status === 401 ? "" : error.message);
  }
}

function renderFiles({ total, files }) {
  const rows = files.map(fileRow);
  if (!files.length) {
    rows.push(h("tr", {}, h("td", { colSpan: 6, class: "muted" }, "No files match.")));
  }
  fill($("#file-rows"), rows);
  fill($("#file-count"), total ? `${files.length} of ${count(total, "file")}` : "");
  show($("#file-more"), files.length < total);
}

function fileRow(file) {
  return h("tr", { dataset: { path: file.path, status: file.status } },
    h("td", {}, h("div", { class: "file" },
      withLang(h("span", { class: "mono path" }, file.path), file.path),
      file.reason ? withLang(h("span", { class: "reason" }, file.reason), file.reason) : null)),
    h("td", {}, h("span", { class: `badge ${file.status}` }, file.status)),
    h("td", { class: "num" }, file.chunks ?? ""),
    h("td", { class: "num" }, formatSize(file.size)),
    h("td", { class: "muted nowrap" }, formatTime(file.indexed_at)),
    h("td", {}, file.status === "indexed"
      ? h("button", { type: "button", class: "small summarise", onclick: () => summarise(file.path) }, "Summarise")
      : null));
}
