// The daemon's API, called same-origin: the session cookie (HttpOnly, set by the one-time link)
// goes with every request by itself. The page never sees or stores a token.

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** Fired on `window` when the daemon answers 401: the page needs a fresh link. */
export const UNAUTHORIZED = "ragd:unauthorized";

const FRESH_LINK = "This page needs a fresh link: run `ragd open` (or use the tray's Ask…).";

async function errorOf(response) {
  let message = `${response.status} ${response.statusText}`.trim();
  try {
    const body = await response.json();
    message = body?.error?.message || message;
  } catch {
    // not JSON: keep the status line
  }
  if (response.status === 401) {
    window.dispatchEvent(new CustomEvent(UNAUTHORIZED));
    message = FRESH_LINK;
  }
  return new ApiError(response.status, message);
}

async function send(method, path, { params, body, signal } = {}) {
  const url = new URL(path, window.location.origin);
  for (const [key, value] of Object.entries(params || {})) {
    if (value !== null && value !== undefined && value !== "") url.searchParams.set(key, value);
  }
  const init = { method, signal, headers: { Accept: "application/json" } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(url, init);
  if (!response.ok) throw await errorOf(response);
  return response;
}

export const api = {
  get: async (path, params, signal) => (await send("GET", path, { params, signal })).json(),
  post: async (path, body) => (await send("POST", path, { body })).json(),
  del: async (path, params) => (await send("DELETE", path, { params })).json(),
};

/**
 * Ask a question and yield its server-sent events as {type, data} (data parsed from JSON).
 * EventSource cannot POST, so the stream is read and parsed here.
 */
export async function* askStream(question, signal, options = {}) {
  const response = await send("POST", "/v1/ask", { body: { question, stream: true, ...options }, signal });
  for await (const event of serverSentEvents(response.body)) {
    yield { type: event.type, data: JSON.parse(event.data) };
  }
}

/** Parse a text/event-stream body (lines end in CRLF, LF or CR; `:` lines are keep-alives). */
export async function* serverSentEvents(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let pending = "";
  let type = "message";
  let data = [];
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    let text = pending + value;
    const heldCR = text.endsWith("\r") ? "\r" : ""; // a CRLF may be split across two reads
    if (heldCR) text = text.slice(0, -1);
    const lines = text.split(/\r\n|\r|\n/);
    pending = lines.pop() + heldCR;
    for (const line of lines) {
      if (line === "") {
        if (data.length) yield { type, data: data.join("\n") };
        type = "message";
        data = [];
      } else if (!line.startsWith(":")) {
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        const content = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "event") type = content;
        else if (field === "data") data.push(content);
      }
    }
  }
  if (data.length) yield { type, data: data.join("\n") };
}
