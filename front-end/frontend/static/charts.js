// The benchmark's two charts, drawn as inline SVG with DOM calls. Colours come from app.css: every bar
// carries data-transport, which sets the same --dot colour as the transport badges on the page.

export const TRANSPORTS = ["rabbitmq", "rpc", "grpc", "http"];
export const PATHS = ["broker", "direct"];
export const PATH_NAMES = { broker: "through the broker", direct: "direct to the logger" };
const PERCENTILES = ["p99", "p95", "p50"];
const LATENCY_KINDS = [
  { key: "accept_ms", kind: "accept", title: "Accept", note: "until the 202" },
  { key: "deliver_ms", kind: "deliver", title: "Deliver", note: "from sending until stored" },
];

const SVG_NS = "http://www.w3.org/2000/svg";
// An estimate of a label's width at the charts' 11px font, to place legend items without measuring.
const CHAR_WIDTH = 6.4;

const countFormat = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const compactFormat = new Intl.NumberFormat(undefined, { notation: "compact", maximumFractionDigits: 1 });

export function formatCount(value) {
  return countFormat.format(value);
}

// Milliseconds with two significant decimals at most; a percentile of no values is null.
export function formatMs(value) {
  if (value === null) return "—";
  const digits = value >= 100 ? 0 : value >= 10 ? 1 : 2;
  return value.toFixed(digits);
}

const tickFormat = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 });

function formatRate(value) {
  return value >= 10000 ? compactFormat.format(value) : countFormat.format(value);
}

export function svg(tag, attributes = {}, text) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

// Round steps (1, 2, 2.5, 5 times a power of ten) from 0 to at least max.
function niceTicks(max, count) {
  if (!(max > 0)) return [0, 1];
  const raw = max / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= raw);
  const steps = Math.ceil(max / step - 1e-9);
  return Array.from({ length: steps + 1 }, (_, i) => Number((i * step).toPrecision(12)));
}

function chartRoot(id, width, height, title, description) {
  const root = svg("svg", {
    viewBox: `0 0 ${width} ${height}`,
    role: "img",
    "aria-labelledby": `${id}-title ${id}-desc`,
    class: "chart-svg",
    id,
    "data-testid": id,
  });
  root.append(svg("title", { id: `${id}-title` }, title), svg("desc", { id: `${id}-desc` }, description));
  const pattern = svg("pattern", {
    id: `${id}-hatch`,
    patternUnits: "userSpaceOnUse",
    width: 6,
    height: 6,
    patternTransform: "rotate(45)",
  });
  pattern.append(svg("rect", { width: 2.4, height: 6, class: "hatch-stripe" }));
  const defs = svg("defs");
  defs.append(pattern);
  root.append(defs);
  return root;
}

// The stripes that mark the direct path, laid over a bar of the transport's colour.
function hatch(id, x, y, width, height) {
  return svg("rect", { x, y, width, height, fill: `url(#${id}-hatch)`, class: "hatch" });
}

function bar(x, y, width, height, attributes, label) {
  const node = svg("rect", { x, y, width: Math.max(width, 0), height: Math.max(height, 0), ...attributes });
  node.append(svg("title", {}, label));
  return node;
}

// Legend items laid out left to right from x; each draws its swatch and has a label.
function legend(items, x, y) {
  const group = svg("g", { class: "legend" });
  let left = x;
  for (const { draw, label } of items) {
    const text = svg("text", { x: left + 17, y: y + 1, class: "legend-label" }, label);
    group.append(...draw(left, y - 9, 12, 12), text);
    left += 17 + label.length * CHAR_WIDTH + 18;
  }
  return group;
}

function legendWidth(items) {
  return items.reduce((sum, { label }) => sum + 17 + label.length * CHAR_WIDTH + 18, -18);
}

function swatch(x, y, width, height, className = "") {
  return svg("rect", { x, y, width, height, rx: 2, class: `swatch ${className}`.trim() });
}

function pathSwatches(id) {
  return [
    { label: PATH_NAMES.broker, draw: (x, y, w, h) => [swatch(x, y, w, h)] },
    { label: PATH_NAMES.direct, draw: (x, y, w, h) => [swatch(x, y, w, h), hatch(id, x, y, w, h)] },
  ];
}

function transportLabel(transport, cx, y) {
  const group = svg("g", { class: "axis-transport", "data-transport": transport });
  const half = (transport.length * CHAR_WIDTH) / 2;
  group.append(
    svg("circle", { cx: cx - half - 5, cy: y - 4, r: 4, class: "dot" }),
    svg("text", { x: cx + 5, y, "text-anchor": "middle", class: "axis-strong" }, transport),
  );
  return group;
}

// Events stored per second, one group per transport: the broker path solid, the direct path striped.
export function throughputChart(paths) {
  const id = "bench-throughput-chart";
  const [width, height] = [500, 290];
  const plot = { left: 54, right: 488, top: 44, bottom: 244 };
  const values = PATHS.flatMap((path) => TRANSPORTS.map((t) => paths[path][t].throughput_per_s));
  const ticks = niceTicks(Math.max(...values), 5);
  const top = ticks.at(-1);
  const y = (value) => plot.bottom - (value / top) * (plot.bottom - plot.top);
  const root = chartRoot(
    id,
    width,
    height,
    "Throughput per transport",
    "Events stored per second for each transport, through the broker and direct to the logger; higher is better.",
  );

  const swatches = pathSwatches(id);
  root.append(
    svg("text", { x: plot.left - 8, y: 16, "text-anchor": "end", class: "axis-unit" }, "events/s"),
    legend(swatches, plot.right - legendWidth(swatches), 16),
  );
  for (const tick of ticks) {
    root.append(
      svg("line", { x1: plot.left, x2: plot.right, y1: y(tick), y2: y(tick), class: tick ? "grid" : "baseline" }),
      svg("text", { x: plot.left - 8, y: y(tick) + 4, "text-anchor": "end", class: "tick" }, formatRate(tick)),
    );
  }

  const groupWidth = (plot.right - plot.left) / TRANSPORTS.length;
  const barWidth = 38;
  const gap = 6;
  TRANSPORTS.forEach((transport, i) => {
    const center = plot.left + groupWidth * (i + 0.5);
    PATHS.forEach((path, j) => {
      const value = paths[path][transport].throughput_per_s;
      const x = center - barWidth - gap / 2 + j * (barWidth + gap);
      const label = `${transport} ${PATH_NAMES[path]}: ${formatCount(value)} events/s`;
      const attributes = {
        class: "bar",
        "data-testid": "throughput-bar",
        "data-transport": transport,
        "data-path": path,
      };
      root.append(bar(x, y(value), barWidth, plot.bottom - y(value), attributes, label));
      if (path === "direct") root.append(hatch(id, x, y(value), barWidth, plot.bottom - y(value)));
      root.append(
        svg(
          "text",
          { x: x + barWidth / 2, y: y(value) - 5, "text-anchor": "middle", class: "value" },
          formatRate(value),
        ),
      );
    });
    root.append(transportLabel(transport, center, plot.bottom + 22));
  });
  return root;
}

// Latency percentiles as layered bars (p50 darkest, then p95, then p99 lightest), one row per transport
// and path, accept beside deliver on one shared scale so the queue's delivery delay shows.
export function latencyChart(paths) {
  const id = "bench-latency-chart";
  const [width, height] = [700, 290];
  const labels = 142;
  const facetGap = 26;
  const facetWidth = (width - labels - facetGap) / 2;
  const valueRoom = 56;
  const rowHeight = 20;
  const barHeight = 13;
  const pairGap = 8;
  const top = 52;
  const rowY = (t, p) => top + t * (2 * rowHeight + pairGap) + p * rowHeight;
  const bottom = rowY(TRANSPORTS.length - 1, 1) + rowHeight;

  const values = PATHS.flatMap((path) =>
    TRANSPORTS.flatMap((t) => LATENCY_KINDS.flatMap(({ key }) => PERCENTILES.map((p) => paths[path][t][key][p]))),
  ).filter((value) => value !== null);
  const ticks = niceTicks(Math.max(...values), 4);
  const scale = (value) => (value / ticks.at(-1)) * (facetWidth - valueRoom);

  const root = chartRoot(
    id,
    width,
    height,
    "Latency percentiles per transport",
    "p50, p95 and p99 in milliseconds of the accept latency (until the 202) and the delivery latency " +
      "(from sending until stored), for each transport through the broker and direct to the logger.",
  );
  const shade = (percentile) => (x, y, w, h) => [swatch(x, y, w, h, `lat-${percentile}`)];
  const items = [
    { label: "p50", draw: shade("p50") },
    { label: "p95", draw: shade("p95") },
    { label: "p99", draw: shade("p99") },
    ...pathSwatches(id).slice(1),
  ];
  root.append(legend(items, width - legendWidth(items) - 4, 16));

  TRANSPORTS.forEach((transport, t) => {
    const group = svg("g", { "data-transport": transport });
    group.append(
      svg("circle", { cx: 5, cy: rowY(t, 1) - 4, r: 4, class: "dot" }),
      svg("text", { x: 14, y: rowY(t, 1), class: "axis-strong" }, transport),
    );
    PATHS.forEach((path, p) => {
      const label = path === "broker" ? "broker" : "direct";
      group.append(
        svg("text", { x: labels - 10, y: rowY(t, p) + barHeight - 2, "text-anchor": "end", class: "tick" }, label),
      );
    });
    root.append(group);
  });

  LATENCY_KINDS.forEach(({ key, kind, title, note }, k) => {
    const left = labels + k * (facetWidth + facetGap);
    const heading = svg("text", { x: left, y: 40, class: "facet-title" }, title);
    heading.append(svg("tspan", { class: "facet-note", dx: 6 }, note));
    root.append(heading);
    for (const tick of ticks) {
      const x = left + scale(tick);
      root.append(
        svg("line", { x1: x, x2: x, y1: top - 4, y2: bottom, class: tick ? "grid" : "baseline" }),
        svg("text", { x, y: bottom + 16, "text-anchor": "middle", class: "tick" }, tickFormat.format(tick)),
      );
    }
    const unit = { x: left + facetWidth - 6, y: bottom + 16, "text-anchor": "end", class: "axis-unit" };
    root.append(svg("text", unit, "ms"));
    TRANSPORTS.forEach((transport, t) => {
      PATHS.forEach((path, p) => {
        const measured = paths[path][transport][key];
        const y = rowY(t, p);
        const width = (value) => Math.max(scale(value), 1.5);
        for (const percentile of PERCENTILES) {
          const value = measured[percentile];
          if (value === null) continue;
          const attributes = {
            class: `bar lat-${percentile}`,
            "data-testid": "latency-bar",
            "data-transport": transport,
            "data-path": path,
            "data-kind": kind,
            "data-percentile": percentile,
          };
          const label = `${transport} ${PATH_NAMES[path]}, ${kind} ${percentile}: ${formatMs(value)} ms`;
          root.append(bar(left, y, width(value), barHeight, attributes, label));
        }
        const p99 = measured.p99 ?? 0;
        if (path === "direct" && p99) root.append(hatch(id, left, y, width(p99), barHeight));
        const text = measured.p99 === null ? "no data" : formatMs(p99);
        root.append(svg("text", { x: left + width(p99) + 5, y: y + barHeight - 2, class: "value" }, text));
      });
    });
  });
  return root;
}
