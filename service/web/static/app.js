// The review page: sign-in, router and the campaigns list, A/B test and compare views.
// The campaign view lives in campaign.js.

import { api, ApiError, query, session } from "./api.js";
import { PALETTE, forestPlot } from "./charts.js";
import { WINDOWS, badge, el, errorBox, fill, fmt, parseCsv, ready } from "./dom.js";
import { campaignView } from "./campaign.js";

const view = document.getElementById("view");

/** "#/campaigns/3?days=30" -> {path: ["campaigns", "3"], params} */
function route() {
  const [path, qs] = location.hash.replace(/^#\/?/, "").split("?");
  return { path: path.split("/").filter(Boolean), params: new URLSearchParams(qs || "") };
}

let renderId = 0;

async function render() {
  const id = ++renderId;
  delete document.body.dataset.ready;
  header();
  if (!session.key) return signIn();
  const { path, params } = route();
  fill(view, el("p", { class: "muted" }, "Loading…"));
  try {
    if (path[0] === "campaigns" && path[1]) await campaignView(view, Number(path[1]), params, () => id === renderId);
    else if (path[0] === "abtest") await abTestView();
    else if (path[0] === "compare") await compareView(params);
    else await campaignsView(params);
  } catch (err) {
    if (id !== renderId || !session.key) return; // signed out meanwhile: sign-in is showing
    if (!(err instanceof ApiError)) console.error(err);
    fill(view, errorBox(err));
    ready("error");
  }
}

function header() {
  const who = session.who;
  document.getElementById("nav").hidden = !who;
  const box = document.getElementById("who");
  fill(box);
  if (who) {
    box.append(
      el("span", { "data-testid": "who" }, `${who.name} · ${who.role}`),
      el("button", { type: "button", onclick: signOut }, "Sign out"),
    );
  }
}

function signOut() {
  session.clear();
  if (location.hash === "#/") render();
  else location.hash = "#/"; // the hashchange renders
}

function signIn(message) {
  const input = el("input", { type: "password", name: "key", autocomplete: "off", placeholder: "adb_…", required: true });
  const out = el("div");
  const form = el("form", { class: "card signin", onsubmit: async (event) => {
    event.preventDefault();
    const key = input.value.trim();
    fill(out);
    try {
      const who = await api("/v1/me", { key });
      session.save(key, who);
      render();
    } catch (err) {
      fill(out, errorBox(err.status === 401 ? new ApiError(401, { detail: "That key is not accepted (unknown or revoked)." }) : err));
    }
  } },
    el("h1", {}, "Sign in"),
    el("p", { class: "muted" }, "Paste an API key (from ", el("code", {}, "adbandit keys create --role specialist"),
      "). It is kept in this tab only and sent with each request."),
    message ? el("div", { class: "warning" }, message) : null,
    el("label", {}, "API key", input),
    el("p", {}, el("button", { class: "primary", type: "submit" }, "Sign in")),
    out,
  );
  fill(view, form);
  input.focus();
  ready("signin");
}

// -- campaigns list --------------------------------------------------------------------------

async function campaignsView(params) {
  const days = params.get("days") || "all";
  const chosen = { start: params.get("start"), end: params.get("end") };
  const campaigns = await api(`/v1/campaigns${query(chosen.start || chosen.end ? chosen : { days: days === "all" ? null : days })}`);
  // One window for the whole list, resolved by the server (a `days` window ends on the newest stored day).
  const start = campaigns[0]?.window?.start ?? chosen.start, end = campaigns[0]?.window?.end ?? chosen.end;
  const go = (p) => { location.hash = `#/${query({ sort: params.get("sort"), dir: params.get("dir"), ...p })}`; };
  const windowPick = el("select", { name: "window", onchange: (e) => go({ days: e.target.value }) },
    WINDOWS.map(([v, t]) => el("option", { value: v, selected: v === days && !chosen.start && !chosen.end }, t)));
  const from = el("input", { type: "date", name: "start", value: start || "" });
  const to = el("input", { type: "date", name: "end", value: end || "" });
  const sortKey = params.get("sort") || "name";
  const dir = params.get("dir") === "asc" ? 1 : params.get("dir") === "desc" ? -1 : sortKey === "name" ? 1 : -1;
  const value = (c) => (sortKey === "name" ? c.name : sortKey === "status" ? c.latest_recommendation?.status ?? "" : c.window?.[sortKey]);
  campaigns.sort((a, b) => {
    const x = value(a), y = value(b);
    if (typeof x === "string" || typeof y === "string") return dir * String(x ?? "").localeCompare(String(y ?? ""), undefined, { numeric: true });
    return dir * ((x ?? -Infinity) - (y ?? -Infinity)); // no value sorts last when descending
  });
  const sortBy = (key) => {
    const p = Object.fromEntries(params);
    go({ ...p, sort: key, dir: key === sortKey && dir === -1 ? "asc" : key === sortKey ? "desc" : null });
  };
  const columns = [["name", "Campaign"], [null, "Platform"], [null, "Data"], ["spend", "Spend", "num"], ["conversions", "Conversions", "num"],
    ["cpa", "CPA", "num"], ["roas", "ROAS", "num"], [null, "Currency"], ["status", "Latest recommendation"]];
  const rows = campaigns.map((c) => {
    const w = c.window || {};
    const latest = c.latest_recommendation;
    return el("tr", { class: "clickable", onclick: () => { location.hash = `#/campaigns/${c.id}`; } },
      el("td", {}, el("a", { href: `#/campaigns/${c.id}` }, c.name)),
      el("td", {}, c.platform || "—"),
      el("td", {}, `${fmt.date(c.first_date)} → ${fmt.date(c.last_date)}`),
      el("td", { class: "num" }, fmt.money(w.spend)),
      el("td", { class: "num" }, fmt.count(w.conversions)),
      el("td", { class: "num" }, fmt.money(w.cpa)),
      el("td", { class: "num", title: w.revenue ? "" : "no revenue reported" }, w.revenue ? fmt.ratio(w.roas) : "—"),
      el("td", {}, c.currency || ""),
      el("td", {}, latest ? [badge(latest.status), " ", el("span", { class: "muted" }, fmt.when(latest.created_at))] : el("span", { class: "muted" }, "none yet")),
    );
  });
  fill(view,
    el("h1", {}, "Campaigns"),
    el("div", { class: "card" },
      el("div", { class: "row" },
        el("label", {}, "Window", windowPick),
        el("label", {}, "From", from),
        el("label", {}, "To", to),
        el("button", { type: "button", onclick: () => go({ start: from.value, end: to.value }) }, "Apply"),
        el("span", { class: "muted" }, start || end ? `totals from ${start || "the first day"} to ${end || "the last day"}` : "totals over all stored days"),
      ),
      campaigns.length
        ? el("table", { "data-testid": "campaigns" },
          el("thead", {}, el("tr", {}, columns.map(([key, title, cls]) => el("th", key
            ? { class: `sortable ${cls || ""}`, title: "sort", onclick: () => sortBy(key) }
            : { class: cls || "" }, title, key === sortKey ? (dir > 0 ? " ▲" : " ▼") : "")))),
          el("tbody", {}, rows))
        : el("p", { class: "muted" }, "No campaigns yet. Create one with POST /v1/campaigns or ", el("code", {}, "adbandit serve --load stats.csv"), "."),
    ),
  );
  ready("campaigns");
}

// -- A/B test --------------------------------------------------------------------------------

const AB_SAMPLE = "variant,users,conversions\nA,10000,420\nB,10050,480\n";

async function abTestView() {
  const data = el("textarea", { name: "variants", rows: 6, value: sessionStorage.getItem("adbandit.ab") || AB_SAMPLE });
  const control = el("input", { name: "control", value: "A", size: 10 });
  const metric = el("select", { name: "metric" }, ["conversion_rate", "conversions_per_spend", "revenue"].map((m) => el("option", { value: m }, m.replaceAll("_", " "))));
  const level = el("select", { name: "level" }, [0.8, 0.9, 0.95, 0.99].map((l) => el("option", { value: l, selected: l === 0.95 }, `${l * 100}%`)));
  const out = el("div");
  const analyze = async (event) => {
    event?.preventDefault();
    fill(out, el("p", { class: "muted" }, "Analysing…"));
    try {
      const variants = variantsFrom(data.value);
      sessionStorage.setItem("adbandit.ab", data.value);
      const result = await api("/v1/abtests/analyze", { method: "POST", json: {
        control: control.value.trim(), metric: metric.value, level: Number(level.value), variants } });
      fill(out, abResult(result, Number(level.value)));
    } catch (err) {
      fill(out, errorBox(err));
    }
    ready("abtest");
  };
  fill(view,
    el("h1", {}, "A/B test"),
    el("form", { class: "card", onsubmit: analyze },
      el("p", { class: "muted" }, "One line per variant: ", el("code", {}, "variant,users,conversions"), " and optionally ", el("code", {}, "spend,revenue"), ". Nothing is stored."),
      data,
      el("div", { class: "row" }, el("label", {}, "Control", control), el("label", {}, "Metric", metric),
        el("label", {}, "Credible level", level), el("button", { class: "primary", type: "submit" }, "Analyse")),
    ),
    out,
  );
  await analyze();
}

/** The textarea's CSV as API variants; a bad cell is named by line and column. */
function variantsFrom(text) {
  const rows = parseCsv(text.trim()).filter((r) => r.some((c) => c.trim()));
  if (rows.length < 2) throw new ApiError(422, { detail: "need a header line and at least two variants" });
  const head = rows[0].map((c) => c.trim().toLowerCase());
  const problems = [];
  const variants = rows.slice(1).map((r, i) => {
    const v = {};
    head.forEach((name, j) => {
      const cell = (r[j] || "").trim();
      if (name === "variant") v.variant = cell;
      else if (["users", "conversions", "spend", "revenue"].includes(name) && cell !== "") {
        const x = Number(cell);
        if (!Number.isFinite(x) || x < 0 || ((name === "users" || name === "conversions") && !Number.isInteger(x))) {
          problems.push({ row: i + 1, field: name, rule: `${JSON.stringify(cell)} is not a ${name === "users" || name === "conversions" ? "whole number" : "number"} >= 0` });
        } else v[name] = x;
      }
    });
    return v;
  });
  if (problems.length) throw new ApiError(422, { detail: "the variants table has bad cells", problems });
  return variants;
}

function abResult(r, level) {
  const perSpend = r.metric !== "conversion_rate";
  const items = r.variants.filter((v) => v.variant !== r.control).map((v, i) => ({
    label: v.variant, low: v.uplift_low, mean: v.uplift_mean, high: v.uplift_high, color: PALETTE[i % PALETTE.length] }));
  const srm = r.srm || {};
  const srmCell = srm.p_value === null || srm.p_value === undefined
    ? el("span", { class: "muted" }, "not checked (no user counts)")
    : srm.mismatch
      ? [el("span", { class: "badge bad" }, "sample ratio mismatch"), ` p = ${Number(srm.p_value).toPrecision(2)}: the split of users is not what was planned; fix the assignment before trusting any result.`]
      : [el("span", { class: "badge ok" }, "split as planned"), ` p = ${Number(srm.p_value).toPrecision(2)}`];
  return el("div", { "data-testid": "ab-result" },
    el("div", { class: r.stop ? "success" : "warning", "data-testid": "verdict" },
      el("b", {}, r.stop ? (r.winner ? `Stop the test: ${r.winner} wins.` : "Stop the test.") : "Keep the test running."),
      " ", r.verdict),
    el("div", { class: "card" },
      el("h2", {}, "Variants"),
      el("table", {},
        el("thead", {}, el("tr", {}, ["Variant", "Users", "Conversions", perSpend ? "Per spend" : "Rate", `${Math.round(level * 100)}% interval`, "Uplift vs control", "Chance to beat control", "Chance to be best", "Expected loss"].map((t, i) => el("th", { class: i ? "num" : "" }, t)))),
        el("tbody", {}, r.variants.map((v) => el("tr", {},
          el("td", {}, v.variant, v.variant === r.control ? el("span", { class: "pill" }, " control") : null),
          el("td", { class: "num" }, fmt.count(v.users)),
          el("td", { class: "num" }, fmt.count(v.conversions)),
          el("td", { class: "num" }, perSpend ? fmt.sig(v.rate) : fmt.pct(v.rate, 2)),
          el("td", { class: "num" }, perSpend ? `${fmt.sig(v.rate_low)} – ${fmt.sig(v.rate_high)}` : `${fmt.pct(v.rate_low, 2)} – ${fmt.pct(v.rate_high, 2)}`),
          el("td", { class: `num ${v.uplift_mean > 0 ? "up" : v.uplift_mean < 0 ? "down" : ""}` }, v.variant === r.control ? "—" : `${fmt.pct(v.uplift_mean)} (${fmt.pct(v.uplift_low)} – ${fmt.pct(v.uplift_high)})`),
          el("td", { class: "num" }, v.variant === r.control ? "—" : fmt.pct(v.chance_to_beat_control)),
          el("td", { class: "num" }, fmt.pct(v.chance_to_be_best)),
          el("td", { class: "num" }, fmt.pct(v.expected_loss_rel, 2), el("span", { class: "muted" }, " of control")),
        ))),
      ),
      el("h3", {}, `Uplift over ${r.control} with its ${Math.round(level * 100)}% credible interval`),
      forestPlot(items, { zero: 0, format: (x) => `${(100 * x).toFixed(0)}%`, label: "uplift intervals" }),
      el("h3", {}, "Sample ratio"), el("p", { "data-testid": "srm" }, srmCell),
    ),
  );
}

// -- compare ---------------------------------------------------------------------------------

const FIGURE_NAMES = { conversions: "conversions", regret: "regret", cpa: "CPA", roas: "ROAS", mean_conversions: "mean conversions" };

async function compareView(params) {
  let list;
  try {
    list = await api("/v1/experiments");
  } catch (err) {
    fill(view, el("h1", {}, "Compare experiments"), errorBox(err));
    return ready("compare");
  }
  const chosen = new Set(params.getAll("experiment"));
  const baseline = params.get("baseline") || "";
  const boxes = list.map((e) => el("label", { style: "flex-direction:row;gap:6px;align-items:center;color:inherit" },
    el("input", { type: "checkbox", name: "experiment", value: e.name, checked: chosen.has(e.name) }),
    `${e.name} (${e.n_runs} runs)`, e.url ? el("a", { href: e.url, target: "_blank", rel: "noopener" }, " MLflow ↗") : null));
  const base = el("input", { name: "baseline", value: baseline, placeholder: "run name or id", size: 24 });
  const out = el("div");
  const form = el("form", { class: "card", onsubmit: (event) => {
    event.preventDefault();
    const names = [...form.querySelectorAll("input[name=experiment]:checked")].map((b) => b.value);
    location.hash = `#/compare${query({ experiment: names, baseline: base.value.trim() })}`;
  } },
    el("h2", {}, "Experiments in MLflow"),
    list.length ? el("div", { style: "display:flex;flex-direction:column;gap:4px" }, boxes) : el("p", { class: "muted" }, "No experiments tracked yet: run adbandit simulate or tune."),
    el("div", { class: "row", style: "margin-top:8px" }, el("label", {}, "Baseline (optional)", base), el("button", { class: "primary", type: "submit" }, "Compare")),
  );
  fill(view, el("h1", {}, "Compare experiments"), form, out);
  if (chosen.size) {
    try {
      const result = await api(`/v1/experiments/compare${query({ experiment: [...chosen], baseline })}`);
      fill(out, comparison(result.runs, baseline));
    } catch (err) {
      fill(out, errorBox(err));
    }
  }
  ready("compare");
}

function comparison(runs, baseline) {
  if (!runs.length) return el("p", { class: "muted" }, "These experiments have no runs.");
  const figures = Object.keys(FIGURE_NAMES).filter((f) => runs.some((r) => r[f] !== null && r[f] !== undefined));
  const picked = new Set(runs.slice(0, 40).map((r) => r.run_id));
  const figurePick = el("select", { name: "figure" }, figures.map((f) => el("option", { value: f }, FIGURE_NAMES[f])));
  const plot = el("div");
  const draw = () => {
    const f = figurePick.value;
    const items = runs.filter((r) => picked.has(r.run_id) && r[f] !== null && r[f] !== undefined).map((r) => ({
      label: `${r.experiment} / ${r.name || r.run_id.slice(0, 8)}`, mean: r[f], low: r[`${f}_low`] ?? r[f], high: r[`${f}_high`] ?? r[f],
      color: r.name === baseline || r.run_id === baseline ? "#D55E00" : undefined }));
    fill(plot, items.length ? forestPlot(items, { label: FIGURE_NAMES[f] }) : el("p", { class: "muted" }, "Pick runs in the table."));
  };
  figurePick.addEventListener("change", draw);
  const cell = (r, f) => {
    if (r[f] === null || r[f] === undefined) return "—";
    const lowHigh = r[`${f}_low`] !== undefined && r[`${f}_low`] !== null ? ` (${fmt.ratio(r[`${f}_low`])} – ${fmt.ratio(r[`${f}_high`])})` : "";
    const vs = r[`${f}_vs_baseline`];
    return [fmt.ratio(r[f]), el("span", { class: "muted" }, lowHigh), vs !== undefined && vs !== null ? el("span", { class: vs > 0 ? "up" : vs < 0 ? "down" : "flat" }, ` ${vs > 0 ? "+" : ""}${fmt.pct(vs)}`) : null];
  };
  const table = el("table", { "data-testid": "comparison" },
    el("thead", {}, el("tr", {}, el("th", {}, "Plot"), el("th", {}, "Experiment"), el("th", {}, "Run"), figures.map((f) => el("th", { class: "num" }, FIGURE_NAMES[f])), el("th", {}, "MLflow"))),
    el("tbody", {}, runs.map((r) => el("tr", {},
      el("td", {}, el("input", { type: "checkbox", checked: picked.has(r.run_id), onchange: (e) => { e.target.checked ? picked.add(r.run_id) : picked.delete(r.run_id); draw(); } })),
      el("td", {}, r.experiment),
      el("td", {}, r.name || r.run_id),
      figures.map((f) => el("td", { class: "num" }, cell(r, f))),
      el("td", {}, r.url ? el("a", { href: r.url, target: "_blank", rel: "noopener" }, "open run ↗") : el("span", { class: "muted", title: "set ADBANDIT_MLFLOW_UI_URL to link runs" }, r.run_id.slice(0, 8))),
    ))),
  );
  draw();
  return el("div", {},
    el("div", { class: "card" }, el("h2", {}, `${runs.length} runs`), el("div", { class: "scroll" }, table)),
    el("div", { class: "card" }, el("div", { class: "row" }, el("h2", {}, "Plot"), el("label", {}, "Figure", figurePick)),
      el("p", { class: "muted" }, "Each run's value with its interval where the run logged one; the baseline in orange."), plot),
  );
}

window.addEventListener("hashchange", render);
window.addEventListener("adbandit:signed-out", () => {
  session.clear();
  header();
  signIn("Your key was not accepted any more (revoked?). Sign in again.");
});
render();
