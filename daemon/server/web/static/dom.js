// Small DOM helpers. Data never goes through innerHTML: every string becomes a text node.

export const $ = (selector, root = document) => root.querySelector(selector);

/** Create an element: h("a", {href: "#x", class: "y", onclick: fn}, "text", child). */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key in el && !key.includes("-")) el[key] = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  el.append(...nodes(children));
  return el;
}

function nodes(children) {
  return children.flat(Infinity)
    .filter((c) => c !== null && c !== undefined && c !== false)
    .map((c) => (c instanceof Node ? c : document.createTextNode(String(c))));
}

/** Replace an element's children. */
export function fill(el, ...children) {
  el.replaceChildren(...nodes(children));
  return el;
}

/** Show or hide an element; returns it. */
export function show(el, visible = true) {
  el.hidden = !visible;
  return el;
}

/** Show a message in an error element, or hide it when the message is empty. */
export function setError(el, message) {
  el.textContent = message || "";
  el.hidden = !message;
}

const JAPANESE = /[\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uff66-\uff9f]/;

/** Mark an element holding user text as Japanese when it is, so the right glyphs are used. */
export function withLang(el, text) {
  if (JAPANESE.test(text || "")) el.lang = "ja";
  else el.removeAttribute("lang");
  return el;
}

/** "1 file", "3 files". */
export function count(n, word) {
  const value = n ?? 0;
  return `${value} ${word}${value === 1 ? "" : "s"}`;
}

export function basename(path) {
  const parts = String(path).split(/[\\/]/);
  return parts[parts.length - 1] || String(path);
}

/** "page 3 · lines 4–6", "sheet “March” · rows 2–5", "slide 4", "· OCR" (only the parts that are known). */
export function locator({ page, line_start: start, line_end: end, sheet, slide, ocr }) {
  const bits = [];
  const isSheet = sheet !== null && sheet !== undefined;
  if (isSheet) bits.push(`sheet “${sheet}”`);
  if (slide) bits.push(`slide ${slide}`);
  if (page) bits.push(`page ${page}`);
  const [one, many] = isSheet ? ["row", "rows"] : ["line", "lines"];
  if (start) bits.push(end && end !== start ? `${many} ${start}–${end}` : `${one} ${start}`);
  if (ocr) bits.push("OCR");
  return bits.join(" · ");
}

export function formatSize(bytes) {
  if (bytes === null || bytes === undefined) return "";
  const units = ["B", "KB", "MB", "GB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${unit ? value.toFixed(value < 10 ? 1 : 0) : value} ${units[unit]}`;
}

/** A time from the API (epoch seconds or ISO text) in the reader's own format. */
export function formatTime(value) {
  if (value === null || value === undefined || value === "") return "";
  const date = typeof value === "number" ? new Date(value * 1000) : new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  return date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

export function formatSeconds(s) {
  if (s === null || s === undefined) return "";
  if (s < 1) return `${Math.round(s * 1000)} ms`;
  if (s < 90) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  const minutes = Math.round(s / 60);
  return minutes < 90 ? `${minutes} min` : `${(minutes / 60).toFixed(1)} h`;
}

/** Run fn at most once per `ms` of quiet (for filters typed into a box). */
export function debounce(fn, ms = 250) {
  let timer = 0;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

/** Ask the reader to confirm, in the page's own dialog; resolves to true or false. */
export function confirmAction(message, action = "Remove") {
  const dialog = $("#confirm");
  $("#confirm-text").textContent = message;
  $("#confirm-yes").textContent = action;
  withLang($("#confirm-text"), message);
  dialog.returnValue = "";
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "yes"), { once: true });
  });
}
