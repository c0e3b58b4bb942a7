// The test page: each button sends one request to the broker; a panel polls the stored log entries.
// Everything shown comes from the network, so it is written with textContent, never as HTML.

import { initCompare } from "./compare.js";
import { initLive } from "./live.js";

const config = JSON.parse(document.getElementById("lab-config").textContent);
const REQUEST_TIMEOUT_MS = 15000;
const POLL_INTERVAL_MS = 1500;
const POLL_TIMEOUT_MS = 3000;
const LOG_LIMIT = 20;

// A log action's body is made at click time, with the level chosen then.
const logAction = (transport) => ({
  label: `log · ${transport}`,
  path: "/handle",
  body: () => ({
    action: "log",
    log: { name: "event", data: "Some kind of data", level: $("log-level").value },
    transport,
  }),
});

const ACTIONS = {
  broker: { label: "broker", path: "/", body: null },
  auth: {
    label: "auth",
    path: "/handle",
    body: { action: "auth", auth: { email: "admin@example.com", password: "verysecret" } },
  },
  rabbitmq: logAction("rabbitmq"),
  rpc: logAction("rpc"),
  grpc: logAction("grpc"),
  http: logAction("http"),
  mail: {
    label: "mail",
    path: "/handle",
    body: {
      action: "mail",
      mail: { from: "me@example.com", to: "you@there.com", subject: "Test email", message: "Hello, world!" },
    },
  },
};

const $ = (id) => document.getElementById(id);

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function pretty(value) {
  return JSON.stringify(value, null, 2);
}

// The reply as the lab's JSON envelope, or null when it is something else.
function parseEnvelope(text) {
  try {
    const body = JSON.parse(text);
    return typeof body?.message === "string" ? body : null;
  } catch {
    return null;
  }
}

// One round trip to the broker. Resolves to what the page shows; never rejects.
async function callBroker(action) {
  const init = { method: "POST", signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) };
  if (action.body !== null) {
    init.headers = { "Content-Type": "application/json" };
    init.body = JSON.stringify(action.body);
  }
  const started = performance.now();
  try {
    const response = await fetch(config.brokerUrl + action.path, init);
    const text = await response.text();
    const reply = {
      status: response.status,
      ms: performance.now() - started,
      requestId: response.headers.get("X-Request-ID"),
    };
    const envelope = parseEnvelope(text);
    if (envelope === null) {
      return { ...reply, ok: false, message: "invalid reply: not a JSON envelope", received: text };
    }
    const ok = response.ok && envelope.error === false;
    return { ...reply, ok, message: envelope.message, received: pretty(envelope) };
  } catch (error) {
    const ms = performance.now() - started;
    const reason =
      error.name === "TimeoutError" ? `no answer within ${REQUEST_TIMEOUT_MS / 1000} s` : error.message;
    const message = `broker unreachable: ${reason}`;
    return { status: null, ms, requestId: null, ok: false, message, received: message };
  }
}

function showSent(action) {
  $("sent-meta").textContent = `POST ${config.brokerUrl}${action.path}`;
  $("pane-sent").textContent = action.body === null ? "(no body)" : pretty(action.body);
}

function showWaiting() {
  $("received-meta").textContent = "waiting…";
  $("pane-received").textContent = "";
  $("pane-received").classList.remove("is-error");
}

function showReceived(result) {
  const status = result.status === null ? "no response" : `HTTP ${result.status}`;
  const id = result.requestId ? ` · request ${result.requestId}` : "";
  $("received-meta").textContent = `${status} · ${Math.round(result.ms)} ms${id}`;
  const pane = $("pane-received");
  pane.textContent = result.received;
  pane.classList.toggle("is-error", !result.ok);
}

function appendOutput(action, result) {
  const line = element("li", result.ok ? "line" : "line is-error");
  line.dataset.testid = "output-line";
  line.dataset.action = action.label;
  line.dataset.status = result.status ?? "unreachable";
  const label = element("span", "line-label", action.label);
  label.append(" ", element("code", "line-path", `POST ${action.path}`));
  line.append(
    element("time", "line-time", new Date().toLocaleTimeString()),
    element("span", "line-status", result.status === null ? "ERR" : String(result.status)),
    label,
    element("span", "line-message", result.message),
    element("span", "line-ms", `${Math.round(result.ms)} ms`),
  );
  if (result.ok && action.label === ACTIONS.mail.label) {
    const inbox = element("a", "line-link", "open inbox ↗");
    inbox.href = config.mailUiUrl;
    inbox.target = "_blank";
    inbox.rel = "noopener noreferrer";
    line.querySelector(".line-message").append(" ", inbox);
  }
  const output = $("output");
  output.append(line);
  output.scrollTop = output.scrollHeight;
}

let latestRequest = 0;

async function run(name) {
  const template = ACTIONS[name];
  const action = typeof template.body === "function" ? { ...template, body: template.body() } : template;
  const request = ++latestRequest;
  showSent(action);
  showWaiting();
  const result = await callBroker(action);
  if (request === latestRequest) showReceived(result);
  appendOutput(action, result);
}

function setLogsStatus(state, text) {
  const status = $("logs-status");
  status.dataset.state = state;
  status.textContent = text;
}

// The ids shown by the previous poll; null until the first one.
let shownIds = null;

function cell(content) {
  const td = element("td");
  td.append(content);
  return td;
}

function logRow(entry, fresh) {
  const row = element("tr", fresh ? "is-fresh" : "");
  row.dataset.testid = "log-row";
  row.dataset.id = entry.id;
  row.dataset.transport = entry.transport ?? "";
  const created = entry.created_at ? new Date(entry.created_at) : null;
  const time = element("time", "", created ? created.toLocaleTimeString() : "—");
  if (created) {
    time.dateTime = entry.created_at;
    time.title = created.toLocaleString();
  }
  row.dataset.level = entry.level ?? "";
  const level = element("span", "level", entry.level ?? "—");
  level.dataset.level = entry.level ?? "";
  const badge = element("span", "badge", entry.transport ?? "unknown");
  badge.dataset.transport = entry.transport ?? "";
  row.append(cell(time), cell(level), cell(entry.name ?? ""), cell(entry.data ?? ""), cell(badge));
  return row;
}

// Entries that arrived since the previous poll are highlighted as they appear.
function renderLogs(entries) {
  const rows = entries.map((entry) => logRow(entry, shownIds !== null && !shownIds.has(entry.id)));
  shownIds = new Set(entries.map((entry) => entry.id));
  $("logs").replaceChildren(...rows);
}

async function pollLogs() {
  try {
    const response = await fetch(`${config.brokerUrl}/logs?limit=${LOG_LIMIT}`, {
      signal: AbortSignal.timeout(POLL_TIMEOUT_MS),
    });
    const body = await response.json().catch(() => null);
    if (response.ok && Array.isArray(body?.data)) {
      renderLogs(body.data);
      setLogsStatus("live", `live · updated ${new Date().toLocaleTimeString()}`);
    } else {
      setLogsStatus("error", `HTTP ${response.status}: ${body?.message ?? "invalid reply"}`);
    }
  } catch (error) {
    const reason = error.name === "TimeoutError" ? "no answer" : error.message;
    setLogsStatus("error", `broker unreachable: ${reason}`);
  }
  setTimeout(pollLogs, POLL_INTERVAL_MS);
}

function bindButtons() {
  document.querySelectorAll("button[data-action]").forEach((button) => {
    button.addEventListener("click", () => run(button.dataset.action));
  });
  $("btn-clear").addEventListener("click", () => $("output").replaceChildren());
}

bindButtons();
initCompare(config);
initLive(config);
pollLogs();
