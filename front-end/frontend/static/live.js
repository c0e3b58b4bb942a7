// The "Transports, live" panel: GET /metrics/live on the broker, which relays a fixed set of PromQL
// queries to Prometheus. Refreshed every few seconds; when Prometheus (or the broker) cannot answer, the
// panel says "metrics unavailable" and the rest of the page goes on. Written with textContent only.

import { TRANSPORTS, svg } from "./charts.js";

const REFRESH_MS = 3000;
const TIMEOUT_MS = 5000;
const $ = (id) => document.getElementById(id);
const number = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function setStatus(state, text) {
  const status = $("live-status");
  status.dataset.state = state;
  status.textContent = text;
}

// The latest value of a series (the last point that has one), or null.
function latest(series) {
  const points = (series?.points ?? []).filter(([, value]) => value !== null);
  return points.length ? points.at(-1)[1] : null;
}

function find(list, labels) {
  return list.find((item) => Object.entries(labels).every(([key, value]) => item[key] === value));
}

function rate(list, labels) {
  const value = latest(find(list, labels));
  return value === null ? "—" : number.format(value);
}

function ms(value) {
  return value === null || value === undefined ? "—" : number.format(value);
}

function row(transport, data) {
  const { accepted, stored, failed } = data.series;
  const tr = element("tr");
  tr.dataset.testid = "live-row";
  tr.dataset.transport = transport;
  const badge = element("span", "badge", transport);
  badge.dataset.transport = transport;
  const latency = data.latency_ms[transport];
  const deliver =
    transport === "rabbitmq" ? `${ms(latency.deliver_p50)} / ${ms(latency.deliver_p95)}` : "—";
  const cells = [
    ["accepted", rate(accepted, { transport, path: "broker" })],
    ["direct", rate(accepted, { transport, path: "direct" })],
    ["stored", rate(stored, { transport })],
    ["failed", rate(failed, { transport, path: "broker" })],
    ["p50", ms(latency.accept_p50)],
    ["p95", ms(latency.accept_p95)],
    ["deliver", deliver],
  ];
  const first = element("td");
  first.append(badge);
  tr.append(first);
  for (const [name, text] of cells) {
    const td = element("td", "num", text);
    td.dataset.testid = `live-${name}`;
    tr.append(td);
  }
  return tr;
}

// Accepted events per second through the broker (solid) and stored per second (dashed), per transport.
function chart(data) {
  const [width, height] = [900, 200];
  const plot = { left: 44, right: width - 8, top: 12, bottom: height - 24 };
  const lines = [];
  for (const transport of TRANSPORTS) {
    lines.push({ transport, stored: false, series: find(data.series.accepted, { transport, path: "broker" }) });
    lines.push({ transport, stored: true, series: find(data.series.stored, { transport }) });
  }
  const values = lines.flatMap(({ series }) => (series?.points ?? []).map(([, v]) => v ?? 0));
  const top = Math.max(1, ...values);
  const end = data.at;
  const x = (t) => plot.left + ((t - (end - data.window_s)) / data.window_s) * (plot.right - plot.left);
  const y = (v) => plot.bottom - (v / top) * (plot.bottom - plot.top);
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": "Events per second" });
  root.append(
    svg("line", { x1: plot.left, x2: plot.right, y1: plot.bottom, y2: plot.bottom, class: "baseline" }),
    svg("text", { x: plot.left - 6, y: plot.top + 8, "text-anchor": "end", class: "tick" }, number.format(top)),
    svg("text", { x: plot.left - 6, y: plot.bottom, "text-anchor": "end", class: "tick" }, "0"),
    svg("text", { x: plot.left, y: height - 6, class: "axis-unit" }, `events/s, last ${data.window_s / 60} min`),
    svg("text", { x: plot.right, y: height - 6, "text-anchor": "end", class: "axis-unit" }, "solid: accepted · dashed: stored"),
  );
  for (const { transport, stored, series } of lines) {
    const points = (series?.points ?? []).filter(([, v]) => v !== null);
    if (!points.length) continue;
    const d = points.map(([t, v], i) => `${i ? "L" : "M"}${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
    const path = svg("path", { d, class: stored ? "live-line is-stored" : "live-line", "data-transport": transport });
    path.append(svg("title", {}, `${transport} ${stored ? "stored" : "accepted"}/s`));
    root.append(path);
  }
  $("live-chart").replaceChildren(root);
}

function queue(data) {
  const line = $("live-queue");
  if (!data.rabbitmq_metrics) {
    line.dataset.state = "off";
    line.textContent =
      "RabbitMQ's metrics are off: its rabbitmq_prometheus plugin is not enabled on this server " +
      "(the lab enables it only on RabbitMQ nodes it starts itself).";
    return;
  }
  line.dataset.state = "on";
  const depth = (name) => latest(find(data.series.queue, { queue: name }));
  line.textContent =
    `RabbitMQ queue logs: ${ms(depth("logs") ?? 0)} messages · ` +
    `dead letters waiting: ${ms(depth("logs_dead_letter") ?? 0)} · ` +
    `dead-lettered by the listener: ${ms(data.dead_lettered_total)}`;
}

async function refresh(config) {
  try {
    const response = await fetch(`${config.brokerUrl}/metrics/live`, { signal: AbortSignal.timeout(TIMEOUT_MS) });
    const body = await response.json().catch(() => null);
    if (response.ok && body?.data?.series) {
      $("live-rows").replaceChildren(...TRANSPORTS.map((transport) => row(transport, body.data)));
      chart(body.data);
      queue(body.data);
      setStatus("live", `live · updated ${new Date().toLocaleTimeString()}`);
    } else {
      // The broker's message says it: "metrics unavailable: Prometheus cannot be reached".
      setStatus("error", body?.message ?? `metrics unavailable: HTTP ${response.status}`);
    }
  } catch (error) {
    const reason = error.name === "TimeoutError" ? "no answer" : error.message;
    setStatus("error", `metrics unavailable: broker unreachable (${reason})`);
  }
  setTimeout(() => refresh(config), REFRESH_MS);
}

export function initLive(config) {
  refresh(config);
}
