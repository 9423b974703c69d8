// Hand-written SVG charts: line charts over days, interval (forest) plots, inline bars.
// No library: a few hundred paths render in milliseconds and work offline.

import { el } from "./dom.js";

const NS = "http://www.w3.org/2000/svg";

/** Okabe-Ito colours (colour-blind safe), then two more. */
export const PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9",
  "#8C6D31", "#000000", "#7D5BA6", "#4A9FB5"];

export function s(tag, attrs = {}, ...children) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v !== undefined && v !== null) node.setAttribute(k, String(v));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** About n round tick values from at or below lo to at or above hi. */
export function niceTicks(lo, hi, n = 5) {
  if (!(hi > lo)) hi = lo + 1;
  const raw = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((x) => x >= raw) || 10 * mag;
  const ticks = [];
  const top = Math.ceil(hi / step - 1e-9) * step;
  for (let t = Math.floor(lo / step + 1e-9) * step; t <= top + step * 1e-9; t += step) {
    ticks.push(Number(t.toPrecision(12)));
  }
  return ticks;
}

const DAY = 86_400_000;
const shortDate = (ms) =>
  new Date(ms).toLocaleDateString("en-GB", { day: "numeric", month: "short", timeZone: "UTC" });
const compact = new Intl.NumberFormat("en-US", { notation: "compact", maximumFractionDigits: 2 });

/**
 * Lines over days. series: [{name, points: [[dayMs, y], ...], color?, width?, dash?}].
 * Series without a colour are drawn thin and grey behind the coloured ones, so 200 arms
 * stay readable: the caller colours the few that matter and the legend names them.
 */
export function lineChart(series, { width = 640, height = 240, yLabel = "", yFormat, yMax } = {}) {
  const m = { top: 12, right: 12, bottom: 26, left: 52 };
  const w = width - m.left - m.right;
  const h = height - m.top - m.bottom;
  let x0 = Infinity, x1 = -Infinity, y1 = 0;
  for (const line of series) {
    for (const [x, y] of line.points) {
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y > y1) y1 = y;
    }
  }
  const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, width: "100%", role: "img",
    "aria-label": yLabel });
  if (!Number.isFinite(x0)) {
    svg.append(s("text", { x: width / 2, y: height / 2, "text-anchor": "middle" }, "no data yet"));
    return svg;
  }
  if (x1 === x0) { x0 -= DAY; x1 += DAY; }
  const yTicks = niceTicks(0, yMax ?? (y1 || 1), 4);
  const yTop = Math.max(yTicks[yTicks.length - 1], yMax ?? 0);
  const X = (x) => m.left + ((x - x0) / (x1 - x0)) * w;
  const Y = (y) => m.top + h - (y / yTop) * h;
  const format = yFormat || ((v) => compact.format(v));
  const axis = s("g", { class: "axis" });
  for (const t of yTicks) {
    axis.append(s("line", { class: "gridline", x1: m.left, x2: m.left + w, y1: Y(t), y2: Y(t) }));
    axis.append(s("text", { x: m.left - 6, y: Y(t) + 4, "text-anchor": "end" }, format(t)));
  }
  const days = Math.max(1, Math.round((x1 - x0) / DAY));
  const every = Math.max(1, Math.ceil(days / 7));
  for (let d = 0; d <= days; d += every) {
    const x = X(x0 + d * DAY);
    axis.append(s("line", { x1: x, x2: x, y1: m.top + h, y2: m.top + h + 4 }));
    axis.append(s("text", { x, y: m.top + h + 16, "text-anchor": "middle" }, shortDate(x0 + d * DAY)));
  }
  axis.append(s("line", { x1: m.left, x2: m.left + w, y1: m.top + h, y2: m.top + h }));
  svg.append(axis);
  const path = (line) =>
    line.points.map(([x, y], i) => `${i ? "L" : "M"}${X(x).toFixed(1)},${Y(y).toFixed(1)}`).join("");
  const grey = s("g", { fill: "none", stroke: "#c5ccd6", "stroke-width": 1 });
  const coloured = s("g", { fill: "none" });
  for (const line of series) {
    if (!line.points.length) continue;
    const p = line.points.length === 1
      ? s("circle", { cx: X(line.points[0][0]), cy: Y(line.points[0][1]), r: 3, fill: line.color || "#c5ccd6" }, s("title", {}, line.name))
      : s("path", { d: path(line) }, s("title", {}, line.name));
    if (line.color) {
      p.setAttribute("stroke", line.color);
      p.setAttribute("stroke-width", line.width || 2);
      if (line.dash) p.setAttribute("stroke-dasharray", line.dash);
      coloured.append(p);
    } else grey.append(p);
  }
  svg.append(grey, coloured);
  hoverCursor(svg, series, { m, w, h, width, X, Y, x0, x1, yTop, format });
  return svg;
}

/**
 * A day cursor on a line chart: under the pointer, the day, the line nearest the pointer
 * (grey ones included, so any arm can be named) and every coloured line's value.
 */
function hoverCursor(svg, series, { m, w, h, width, X, Y, x0, x1, yTop, format }) {
  let index = null; // per series: Map day -> value, built on the first hover
  const days = [...new Set(series.flatMap((l) => l.points.map((p) => p[0])))].sort((a, b) => a - b);
  const cursor = s("g", { visibility: "hidden", "pointer-events": "none", class: "cursor" });
  const vline = s("line", { y1: m.top, y2: m.top + h, stroke: "#5f6b7a", "stroke-dasharray": "2 2" });
  const box = s("rect", { fill: "#fff", stroke: "#b8c0cc", rx: 3, opacity: 0.95 });
  const text = s("text", {});
  cursor.append(vline, box, text);
  const overlay = s("rect", { x: m.left, y: m.top, width: w, height: h, fill: "transparent" });
  svg.append(overlay, cursor);
  overlay.addEventListener("mouseleave", () => cursor.setAttribute("visibility", "hidden"));
  overlay.addEventListener("mousemove", (event) => {
    if (!index) index = series.map((l) => new Map(l.points));
    const r = svg.getBoundingClientRect();
    const scale = width / r.width;
    const px = (event.clientX - r.left) * scale;
    const py = (event.clientY - r.top) * scale;
    const t = x0 + ((px - m.left) / w) * (x1 - x0);
    let lo = 0, hi = days.length - 1;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (days[mid] < t) lo = mid + 1; else hi = mid; }
    const day = lo > 0 && t - days[lo - 1] < days[lo] - t ? days[lo - 1] : days[lo];
    const yAt = py >= m.top ? yTop * (1 - (py - m.top) / h) : yTop;
    let nearest = null, gap = Infinity;
    series.forEach((l, i) => {
      const v = index[i].get(day);
      if (v !== undefined && Math.abs(v - yAt) < gap) { gap = Math.abs(v - yAt); nearest = i; }
    });
    const rows = [[shortDate(day), null, true]];
    if (nearest !== null) rows.push([`${series[nearest].name}: ${format(index[nearest].get(day))}`, series[nearest].color || "#8895a7", true]);
    series.forEach((l, i) => {
      const v = index[i].get(day);
      if (l.color && i !== nearest && v !== undefined) rows.push([`${l.name}: ${format(v)}`, l.color, false]);
    });
    text.replaceChildren(...rows.map(([line, colour, bold], k) => s("tspan", {
      x: 0, dy: k ? 14 : 0, fill: colour || "#1d232b", "font-weight": bold ? 600 : 400 }, line)));
    const bw = 12 + 6.2 * Math.max(...rows.map(([line]) => line.length));
    const bh = 8 + 14 * rows.length;
    const left = X(day) + 10 + bw > width ? X(day) - 10 - bw : X(day) + 10;
    vline.setAttribute("x1", X(day));
    vline.setAttribute("x2", X(day));
    box.setAttribute("x", left);
    box.setAttribute("y", m.top);
    box.setAttribute("width", bw);
    box.setAttribute("height", bh);
    text.setAttribute("transform", `translate(${left + 6},${m.top + 15})`);
    for (const span of text.children) span.setAttribute("x", 0);
    cursor.setAttribute("visibility", "visible");
  });
}

/** A legend for the coloured series of a chart; `more` says what the grey lines are. */
export function legend(series, more) {
  const box = el("div", { class: "legend" });
  for (const line of series.filter((l) => l.color)) {
    box.append(el("span", {}, el("i", { style: `background:${line.color}` }), line.name));
  }
  if (more) box.append(el("span", { class: "muted" }, more));
  return box;
}

/**
 * Intervals on one axis, one row each: items [{label, low, mean, high, color?}].
 * `zero` draws a reference line (e.g. 0 for an uplift).
 */
export function forestPlot(items, { width = 640, rowHeight = 16, format, zero, label = "" } = {}) {
  const m = { top: 8, right: 16, bottom: 26, left: Math.min(260, 12 + 6.2 * Math.max(4, ...items.map((i) => i.label.length))) };
  const height = m.top + m.bottom + rowHeight * Math.max(1, items.length);
  const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, width, style: "max-width:100%;height:auto", role: "img", "aria-label": label });
  const vals = items.flatMap((i) => [i.low, i.high, i.mean]).filter(Number.isFinite);
  if (zero !== undefined) vals.push(zero);
  if (!vals.length) return svg;
  let lo = Math.min(...vals), hi = Math.max(...vals);
  if (hi === lo) { lo -= 1; hi += 1; }
  const ticks = niceTicks(lo, hi, 5);
  lo = Math.min(lo, ticks[0]);
  hi = Math.max(hi, ticks[ticks.length - 1]);
  const w = width - m.left - m.right;
  const X = (v) => m.left + ((v - lo) / (hi - lo)) * w;
  const f = format || ((v) => compact.format(v));
  const axisY = m.top + rowHeight * items.length;
  const g = s("g", { class: "axis" });
  for (const t of ticks) {
    g.append(s("line", { class: "gridline", x1: X(t), x2: X(t), y1: m.top, y2: axisY }));
    g.append(s("text", { x: X(t), y: axisY + 16, "text-anchor": "middle" }, f(t)));
  }
  if (zero !== undefined) {
    g.append(s("line", { x1: X(zero), x2: X(zero), y1: m.top, y2: axisY, stroke: "#5f6b7a", "stroke-dasharray": "3 3" }));
  }
  svg.append(g);
  items.forEach((item, i) => {
    const y = m.top + rowHeight * (i + 0.5);
    const colour = item.color || "#0072B2";
    const row = s("g", {}, s("title", {}, `${item.label}: ${f(item.mean)} (${f(item.low)} – ${f(item.high)})`));
    row.append(s("text", { x: m.left - 8, y: y + 4, "text-anchor": "end" }, item.label));
    if (Number.isFinite(item.low) && Number.isFinite(item.high)) {
      row.append(s("line", { x1: X(item.low), x2: X(item.high), y1: y, y2: y, stroke: colour, "stroke-width": 3, "stroke-linecap": "round", opacity: 0.55 }));
    }
    if (Number.isFinite(item.mean)) row.append(s("circle", { cx: X(item.mean), cy: y, r: 3.5, fill: colour }));
    svg.append(row);
  });
  return svg;
}

/** An inline interval bar on a shared scale [lo, hi] for a table cell. */
export function intervalBar(low, mean, high, lo, hi, { width = 130, height = 14 } = {}) {
  const X = (v) => 2 + ((v - lo) / (hi - lo || 1)) * (width - 4);
  const svg = s("svg", { width, height, viewBox: `0 0 ${width} ${height}`, class: "ibar" });
  svg.append(s("line", { x1: 0, x2: width, y1: height / 2, y2: height / 2, stroke: "#eceff3" }));
  if ([low, high].every(Number.isFinite)) {
    svg.append(s("rect", { x: X(low), y: 3, width: Math.max(1.5, X(high) - X(low)), height: height - 6, rx: 2, fill: "#0072B2", opacity: 0.35 }));
  }
  if (Number.isFinite(mean)) svg.append(s("rect", { x: X(mean) - 1, y: 1, width: 2, height: height - 2, fill: "#0072B2" }));
  return svg;
}

/** A 0..1 bar for a probability. */
export function probBar(p, { width = 60, height = 10 } = {}) {
  const svg = s("svg", { width, height, viewBox: `0 0 ${width} ${height}` });
  svg.append(s("rect", { x: 0, y: 0, width, height, fill: "#eceff3", rx: 2 }));
  svg.append(s("rect", { x: 0, y: 0, width: Math.max(0, Math.min(1, p || 0)) * width, height, fill: "#009E73", rx: 2 }));
  return svg;
}
