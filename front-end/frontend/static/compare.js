// The "Compare transports" panel: POST /bench on the broker runs the load server-side and streams
// newline-delimited JSON (progress lines, then one result or error line), read here as it arrives.
// Everything shown comes from the network, so it is written with textContent, never as HTML.

import {
  PATHS,
  PATH_NAMES,
  TRANSPORTS,
  formatCount,
  formatMs,
  latencyChart,
  svg,
  throughputChart,
} from "./charts.js";

const LIMITS = { n: [1, 10000], concurrency: [1, 64] };
// The broker's other actions, measured through the broker only and by their replies: the broker holds no
// count of the mails received (`make bench` counts them in the SMTP catcher), nor of logins.
const ACTIONS = ["mail", "auth"];
const NAMES = { broker: [...TRANSPORTS, ...ACTIONS], direct: TRANSPORTS };
// The broker sends a progress line at least every 0.5 s; this long without one means it is stuck.
const STALL_MS = 30000;

const $ = (id) => document.getElementById(id);
// The progress rows of the current run, by "path/transport".
const progressRows = new Map();

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

class BenchFailure extends Error {}

// An integer in [min, max] from an input, or the message saying what is wrong with it.
function readField(name) {
  const input = $(`bench-${name}`);
  const [min, max] = LIMITS[name];
  const text = input.value.trim();
  const value = Number(text);
  const valid = /^\d+$/.test(text) && value >= min && value <= max;
  const message = valid ? "" : `enter a whole number from ${formatCount(min)} to ${formatCount(max)}`;
  $(`bench-${name}-error`).textContent = message;
  input.setAttribute("aria-invalid", String(!valid));
  return valid ? value : null;
}

function setStatus(state, text) {
  const status = $("bench-status");
  status.dataset.state = state;
  status.textContent = text;
}

function showError(message) {
  const box = $("bench-error");
  box.textContent = message;
  box.hidden = false;
}

function seconds(since) {
  return `${((performance.now() - since) / 1000).toFixed(1)} s`;
}

// A bar of stored (solid) over accepted (light) events, out of n.
function meter() {
  const wrap = element("div", "meter");
  wrap.setAttribute("role", "progressbar");
  wrap.setAttribute("aria-valuemin", "0");
  const graphic = svg("svg", { "aria-hidden": "true" });
  for (const part of ["track", "accepted", "stored"]) {
    const width = part === "track" ? "100%" : 0;
    graphic.append(svg("rect", { class: `meter-${part}`, height: "100%", width, rx: 4 }));
  }
  wrap.append(graphic);
  return wrap;
}

// What a row's bar counts: stored events, or the replies of an action.
const counted = (transport) => (ACTIONS.includes(transport) ? "answered" : "stored");

// n is unknown (null) for the logins until the broker's first progress line says it.
function progressRow(path, transport, n) {
  const row = element("div", "progress-row");
  row.dataset.testid = "bench-progress-row";
  row.dataset.path = path;
  row.dataset.transport = transport;
  row.dataset.state = "pending";
  const badge = element("span", "badge", transport);
  badge.dataset.transport = transport;
  const bar = meter();
  bar.setAttribute("aria-label", `${transport} ${PATH_NAMES[path]}: requests ${counted(transport)}`);
  if (n !== null) bar.setAttribute("aria-valuemax", String(n));
  bar.setAttribute("aria-valuenow", "0");
  const waiting = n === null ? "waiting" : `waiting · 0 / ${formatCount(n)}`;
  row.append(badge, bar, element("span", "progress-text", waiting));
  return row;
}

function renderProgress(n) {
  progressRows.clear();
  const columns = PATHS.map((path) => {
    const column = element("div", "progress-column");
    column.append(element("h3", "", PATH_NAMES[path]));
    for (const transport of NAMES[path]) {
      const row = progressRow(path, transport, transport === "auth" ? null : n);
      progressRows.set(`${path}/${transport}`, row);
      column.append(row);
    }
    return column;
  });
  $("bench-progress").replaceChildren(...columns);
  $("bench-progress").hidden = false;
}

function updateProgress({ path, transport, n, sent, accepted, stored }) {
  const row = progressRows.get(`${path}/${transport}`);
  if (!row || !(n > 0)) return;
  const share = (count) => `${(Math.min(Math.max(count / n, 0), 1) * 100).toFixed(2)}%`;
  row.querySelector(".meter-accepted").setAttribute("width", share(accepted));
  row.querySelector(".meter-stored").setAttribute("width", share(stored));
  row.querySelector(".meter").setAttribute("aria-valuemax", String(n));
  row.querySelector(".meter").setAttribute("aria-valuenow", String(stored));
  row.dataset.state = stored >= n ? "done" : "running";
  const text = row.querySelector(".progress-text");
  text.textContent = `${formatCount(stored)} / ${formatCount(n)} ${counted(transport)}`;
  const detail = ` · ${formatCount(accepted)} accepted · ${formatCount(sent)} sent`;
  text.append(element("span", "progress-detail", detail));
}

// A number, or a dash where the path has none (what arrived of a mail or a login).
function numberCell(value, format = formatCount) {
  const td = element("td", "num", value === null ? "—" : format(value));
  td.dataset.value = String(value ?? "");
  return td;
}

function resultRow(path, transport, measured) {
  const row = element("tr");
  row.dataset.testid = "bench-row";
  row.dataset.path = path;
  row.dataset.transport = transport;
  const badge = element("span", "badge", transport);
  badge.dataset.transport = transport;
  const transportCell = element("td");
  transportCell.append(badge);
  // Sends that failed, accepted events never stored, and events stored twice are shown in red.
  const bad = {
    accepted: measured.accepted < measured.sent,
    stored: measured.stored !== null && measured.stored < measured.accepted,
    duplicates: measured.duplicates !== null && measured.duplicates > 0,
  };
  const counts = ["sent", "accepted", "stored", "duplicates", "throughput_per_s"].map((field) => {
    const td = numberCell(measured[field]);
    td.dataset.field = field;
    td.classList.toggle("is-bad", bad[field] === true);
    return td;
  });
  const latencies = ["accept_ms", "deliver_ms"].flatMap((kind) =>
    ["p50", "p95", "p99"].map((p) => {
      const td = numberCell(measured[kind][p], formatMs);
      td.dataset.field = `${kind}.${p}`;
      return td;
    }),
  );
  // The lab's CPU per stored event (per request for an action), from /proc on the broker's machine (absent
  // where it cannot be read).
  const cpu = numberCell(measured.cpu_ms_per_event?.total ?? null, formatMs);
  cpu.dataset.field = "cpu_ms_per_event";
  cpu.title = cpuBreakdown(measured.cpu_ms_per_event);
  row.append(element("td", "path", path), transportCell, ...counts, ...latencies, cpu);
  return row;
}

function cpuBreakdown(cpu) {
  return Object.entries(cpu ?? {})
    .filter(([role]) => role !== "total")
    .map(([role, ms]) => `${role}: ${formatMs(ms)} ms`)
    .join("\n");
}

const HOST_LABELS = { cpus: "CPUs", memory_gib: "memory GiB", load_1m: "load (1 min)" };

function describeHost(host) {
  const parts = Object.entries(host ?? {})
    .filter(([, value]) => ["string", "number", "boolean"].includes(typeof value))
    .map(([name, value]) => `${HOST_LABELS[name] ?? name.replaceAll("_", " ")} ${value}`);
  return parts.length ? ` · host: ${parts.join(", ")}` : "";
}

function checkResult(data) {
  const known = (value) => value === null || Number.isFinite(value);
  const complete =
    data?.paths &&
    Number.isFinite(data.auth_n) &&
    PATHS.every((path) =>
      NAMES[path].every((t) => {
        const m = data.paths[path]?.[t];
        // What arrived is counted on the log paths only.
        const arrived = ["stored", "duplicates"];
        const check = TRANSPORTS.includes(t) ? Number.isFinite : known;
        return (
          m &&
          ["sent", "accepted", "throughput_per_s"].every((field) => Number.isFinite(m[field])) &&
          arrived.every((field) => check(m[field])) &&
          [m.accept_ms, m.deliver_ms].every((ms) => ["p50", "p95", "p99"].every((p) => known(ms?.[p])))
        );
      }),
    );
  if (!complete) throw new BenchFailure("invalid result: a path, transport or percentile is missing");
}

function renderResult(data) {
  checkResult(data);
  for (const path of PATHS) {
    for (const transport of NAMES[path]) {
      const measured = data.paths[path][transport];
      const n = transport === "auth" ? data.auth_n : data.n;
      updateProgress({ path, transport, n, ...measured, stored: measured.stored ?? measured.accepted });
    }
  }
  const started = data.started_at ? new Date(data.started_at) : null;
  const when = started && !Number.isNaN(started.getTime()) ? ` · started ${started.toLocaleString()}` : "";
  $("bench-summary").textContent =
    `${formatCount(data.n)} events per transport and path, and mails · ${formatCount(data.auth_n)} logins · ` +
    `${formatCount(data.concurrency)} concurrent clients${when}${describeHost(data.host)}`;
  $("bench-throughput").replaceChildren(caption("Throughput", "events stored per second, higher is better"));
  $("bench-throughput").append(throughputChart(data.paths));
  const latencyNote = "p50 / p95 / p99 in ms, lower is better; the number is p99";
  $("bench-latency").replaceChildren(caption("Latency", latencyNote));
  $("bench-latency").append(latencyChart(data.paths));
  $("bench-rows").replaceChildren(
    ...PATHS.flatMap((path) => NAMES[path].map((t) => resultRow(path, t, data.paths[path][t]))),
  );
  $("bench-results").hidden = false;
}

function caption(title, note) {
  const node = element("figcaption", "", title);
  node.append(" ", element("span", "chart-note", note));
  return node;
}

// The body's lines as they arrive, split on "\n" across chunk boundaries.
async function* lines(body) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      buffer += decoder.decode(value, { stream: !done });
      const parts = buffer.split("\n");
      buffer = parts.pop();
      for (const line of parts) if (line.trim()) yield line;
      if (done) break;
    }
    if (buffer.trim()) yield buffer;
  } finally {
    reader.releaseLock();
  }
}

function parseJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function parseLine(line) {
  const event = parseJson(line);
  if (event && typeof event === "object") return event;
  throw new BenchFailure("invalid reply from the broker: a line of the stream is not a JSON object");
}

// Why the broker refused to start: its envelope's message, with the status.
async function refusal(response) {
  const body = parseJson(await response.text());
  const message = typeof body?.message === "string" ? body.message : "invalid reply (not a JSON envelope)";
  return `HTTP ${response.status}: ${message}`;
}

// Reads the stream to its end; resolves to the result's data or throws a BenchFailure saying why not.
async function stream(url, request, started) {
  const controller = new AbortController();
  let stalled = false;
  let timer;
  const watch = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      stalled = true;
      controller.abort();
    }, STALL_MS);
  };
  let connected = false;
  try {
    watch();
    const response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(request),
      signal: controller.signal,
    });
    if (!response.ok) throw new BenchFailure(await refusal(response));
    connected = true;
    renderProgress(request.n);
    for await (const line of lines(response.body)) {
      watch();
      const event = parseLine(line);
      if (event.type === "progress") {
        updateProgress(event);
        setStatus("running", `running · ${seconds(started)}`);
      } else if (event.type === "result") {
        return event.data;
      } else if (event.type === "error") {
        const given = typeof event.message === "string";
        throw new BenchFailure(given ? event.message : "the benchmark failed and gave no reason");
      }
    }
    throw new BenchFailure("the broker ended the stream without a result");
  } catch (error) {
    if (error instanceof BenchFailure) throw error;
    if (stalled) throw new BenchFailure(`no progress from the broker for ${STALL_MS / 1000} s`);
    const reason = error.message || error.name;
    throw new BenchFailure(
      connected ? `the connection to the broker was lost: ${reason}` : `broker unreachable: ${reason}`,
    );
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
}

async function run(config, request) {
  const button = $("btn-bench");
  button.disabled = true;
  button.textContent = "Running…";
  $("bench-error").hidden = true;
  $("bench-results").hidden = true;
  $("bench-progress").hidden = true;
  const started = performance.now();
  setStatus("running", "starting…");
  try {
    const data = await stream(`${config.brokerUrl}/bench`, request, started);
    renderResult(data);
    setStatus("done", `done in ${seconds(started)}`);
  } catch (error) {
    showError(error.message);
    setStatus("error", "failed");
  } finally {
    button.disabled = false;
    button.textContent = "Run benchmark";
  }
}

export function initCompare(config) {
  for (const name of Object.keys(LIMITS)) {
    $(`bench-${name}`).addEventListener("input", () => readField(name));
  }
  $("bench-form").addEventListener("submit", (event) => {
    event.preventDefault();
    if ($("btn-bench").disabled) return;
    const [n, concurrency] = [readField("n"), readField("concurrency")];
    if (n === null) $("bench-n").focus();
    else if (concurrency === null) $("bench-concurrency").focus();
    else run(config, { n, concurrency });
  });
}
