// Small DOM and formatting helpers. Text always goes in as text nodes, never as HTML:
// creative and audience names are user data.

/** el("td", {class: "num", onclick: f}, "text", child, ...) */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  setAttrs(node, attrs);
  append(node, children);
  return node;
}

export function setAttrs(node, attrs) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(node.dataset, v);
    else if (k === "value" || k === "checked") node[k] = v;
    else node.setAttribute(k, v === true ? "" : String(v));
  }
}

/** Replace a node's children; like replaceChildren, but arrays and empty values are fine. */
export function fill(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

export function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

const money = new Intl.NumberFormat("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const count = new Intl.NumberFormat("en-US", { maximumFractionDigits: 1 });

export const fmt = {
  money: (x) => (x === null || x === undefined || Number.isNaN(x) ? "—" : money.format(x)),
  count: (x) => (x === null || x === undefined || Number.isNaN(x) ? "—" : count.format(x)),
  pct: (x, digits = 1) =>
    x === null || x === undefined || Number.isNaN(x) ? "—" : `${(100 * x).toFixed(digits)}%`,
  ratio: (x) => (x === null || x === undefined || Number.isNaN(x) ? "—" : x.toFixed(2)),
  /** A small number with 3 significant digits: conversions per unit of spend. */
  sig: (x) => (x === null || x === undefined || Number.isNaN(x) ? "—" : Number(x).toPrecision(3)),
  date: (s) => (s ? String(s).slice(0, 10) : "—"),
  when: (s) => (s ? new Date(s).toLocaleString("en-GB", { dateStyle: "medium", timeStyle: "short" }) : "—"),
};

/** The window choices of the campaigns list and the campaign page: [days, label]. */
export const WINDOWS = [["all", "all data"], ["7", "last 7 days"], ["14", "last 14 days"], ["30", "last 30 days"], ["90", "last 90 days"]];

/** A status badge: pending / approved / rejected / edited. */
export function badge(status) {
  return el("span", { class: `badge ${status}` }, status);
}

/** The API's error as a block: detail, then each problem's row, field and rule. */
export function errorBox(err) {
  const box = el("div", { class: "error", role: "alert" }, el("b", {}, err.message));
  if (err.problems && err.problems.length) {
    box.append(
      el("ul", {}, err.problems.slice(0, 50).map((p) =>
        el("li", {}, p.row ? `row ${p.row}, ` : "", p.field ? `${p.field}: ` : "", p.rule))),
    );
    if (err.problems.length > 50) box.append(el("div", {}, `… and ${err.problems.length - 50} more`));
  }
  return box;
}

/** A minimal RFC 4180 CSV reader (quotes, doubled quotes, CRLF) for showing uploaded rows. */
export function parseCsv(text, maxRows = 1_000_000) {
  const rows = [];
  let row = [];
  let cell = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { cell += '"'; i++; }
      else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") { row.push(cell); cell = ""; }
    else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      row.push(cell); rows.push(row); row = []; cell = "";
      if (rows.length > maxRows) break;
    } else cell += c;
  }
  if (cell !== "" || row.length) { row.push(cell); rows.push(row); }
  return rows;
}

/** Mark the view as rendered: tests and the render benchmark wait for this. */
export function ready(view) {
  document.body.dataset.view = view;
  document.body.dataset.ready = "1";
  performance.mark(`adbandit:ready:${view}`);
}
