// The campaign view: KPIs, the latest recommendation's arms (matrix, grid, edit), charts,
// stats upload with errors beside their rows, a new recommendation, decisions.

import { api, download, query, session } from "./api.js";
import { PALETTE, forestPlot, intervalBar, legend, lineChart, probBar } from "./charts.js";
import { WINDOWS, badge, el, errorBox, fill, fmt, parseCsv, ready } from "./dom.js";

const STATS_COLUMNS = ["date", "creative", "audience", "impressions", "clicks", "spend", "conversions"];
const HIGHLIGHT = 6; // arms drawn in colour in the charts; the rest are grey
const FOREST_MAX = 40;

let flash = null; // a message to show once after the next load (upload result, decision)

const natural = (a, b) => a.localeCompare(b, undefined, { numeric: true });
const armKey = (a) => `${a.creative} / ${a.audience}`;
const dayMs = (iso) => Date.parse(`${String(iso).slice(0, 10)}T00:00:00Z`);

export async function campaignView(root, id, params, current) {
  const days = params.get("days") || "all";
  const recId = params.get("rec");
  const win = query({ days: days === "all" ? null : days }); // the server resolves the days
  const recsP = api(`/v1/campaigns/${id}/recommendations?limit=50`);
  const recP = recsP.then((recs) => (recs.length ? api(`/v1/recommendations/${recId || recs[0].id}`) : null));
  const campaignP = api(`/v1/campaigns/${id}${win}`);
  // Platform vs analytics only when there is analytics to compare with.
  const reconP = campaignP.then((c) => (c.n_analytics_rows ? api(`/v1/campaigns/${id}/reconciliation${win}`) : null));
  const [campaign, stats, recs, history, decisions, rec, recon] = await Promise.all([
    campaignP,
    api(`/v1/campaigns/${id}/stats${win}`),
    recsP,
    api(`/v1/campaigns/${id}/history?limit=90`),
    api(`/v1/campaigns/${id}/decisions?limit=50`),
    recP,
    reconP,
  ]);
  if (!current()) return;
  const page = new CampaignPage(root, { campaign, stats, recs, history, decisions, rec, recon, days });
  page.render();
  ready("campaign");
}

class CampaignPage {
  constructor(root, data) {
    Object.assign(this, data);
    this.root = root;
    this.selected = null;
    this.sort = { key: "budget", dir: -1 };
    this.filter = "";
    this.editing = false;
    this.edits = new Map(); // arm -> typed budget, kept while sorting and filtering
    this.series = byArm(this.stats.rows);
  }

  render() {
    const c = this.campaign;
    this.gridBox = el("div");
    this.chartsBox = el("div", { class: "grid2" });
    const message = flash;
    flash = null;
    fill(this.root, el("div", {},
      el("p", {}, el("a", { href: "#/" }, "← Campaigns")),
      el("h1", { "data-testid": "campaign-name" }, c.name),
      el("div", { class: "toolbar" },
        c.platform ? el("span", { class: "pill" }, `from ${c.platform}`) : null,
        c.currency ? el("span", { class: "pill" }, c.currency) : null,
        el("span", { class: "pill" }, `conversions from ${c.conversion_source === "analytics" ? "web analytics" : "the ad platform"}`),
        el("span", { class: "muted" }, `${c.n_stats_rows.toLocaleString()} arm-days, ${fmt.date(c.first_date)} → ${fmt.date(c.last_date)}`),
      ),
      message ? el("div", { class: message.kind, role: "status", "data-testid": "flash" }, message.text) : null,
      this.kpis(),
      this.recommendationCard(),
      this.chartsBox,
      this.reconciliationCard(),
      el("div", { class: "grid2" }, this.uploadCard(), this.requestCard()),
      this.historyCard(),
    ));
    this.drawGrid();
    this.drawCharts();
  }

  go(params) {
    const p = { days: this.days === "all" ? null : this.days, rec: this.rec && this.rec.id !== this.recs[0]?.id ? this.rec.id : null, ...params };
    const hash = `#/campaigns/${this.campaign.id}${query(p)}`;
    if (location.hash === hash) window.dispatchEvent(new HashChangeEvent("hashchange"));
    else location.hash = hash;
  }

  reload(message) {
    flash = message;
    this.go({});
  }

  kpis() {
    const w = this.campaign.window || {};
    const cur = this.campaign.currency ? ` ${this.campaign.currency}` : "";
    const pick = el("select", { name: "window", onchange: (e) => this.go({ days: e.target.value === "all" ? null : e.target.value }) },
      WINDOWS.map(([v, t]) => el("option", { value: v, selected: v === this.days }, t)));
    return el("div", { class: "card" },
      el("div", { class: "kpis", "data-testid": "kpis" },
        el("div", { class: "kpi" }, el("b", {}, fmt.money(w.spend) + cur), el("span", {}, "spend")),
        el("div", { class: "kpi" }, el("b", {}, fmt.count(w.conversions)), el("span", {}, "conversions")),
        el("div", { class: "kpi" }, el("b", {}, fmt.money(w.cpa) + cur), el("span", {}, "CPA")),
        el("div", { class: "kpi", title: w.revenue ? "" : "no revenue reported" }, el("b", {}, w.revenue ? fmt.ratio(w.roas) : "—"), el("span", {}, "ROAS")),
        el("label", { style: "margin-left:auto" }, "Window", pick),
      ),
    );
  }

  // -- the recommendation ---------------------------------------------------------------------

  recommendationCard() {
    const r = this.rec;
    if (!r) {
      return el("div", { class: "card", "data-testid": "recommendation" }, el("h2", {}, "No recommendation yet"),
        el("p", { class: "muted" }, session.can("automation") ? "Upload stats and ask for one below." : "An automation key can ask for one; yours can read."));
    }
    const cur = this.campaign.currency || "";
    const pick = el("select", { name: "rec", onchange: (e) => this.go({ rec: e.target.value }) },
      this.recs.map((x) => el("option", { value: x.id, selected: x.id === r.id }, `#${x.id} · ${fmt.when(x.created_at)} · ${x.status}`)));
    this.actions = el("div", { class: "toolbar", "data-testid": "actions" });
    this.decisionOut = el("div");
    this.drawActions();
    return el("div", { class: "card", "data-testid": "recommendation" },
      el("div", { class: "toolbar" },
        el("h2", { style: "margin:0" }, `Recommendation #${r.id} for ${fmt.date(r.as_of)}`), badge(r.status),
        el("label", { style: "margin-left:auto" }, "Show", pick)),
      el("p", { class: "muted" },
        `Budget ${fmt.money(r.budget)} ${cur} · objective ${r.objective} · learned from ${r.conversion_source} conversions, `,
        `stats ${fmt.date(r.data_start)} → ${fmt.date(r.data_end)} · asked by ${r.created_by}, ${fmt.when(r.created_at)} · seed ${r.seed ?? "none"}`),
      this.actions, this.decisionOut, this.gridBox);
  }

  drawActions() {
    const r = this.rec;
    const note = el("input", { name: "note", placeholder: "note (a rejection needs one)", size: 40 });
    const canDecide = session.can("specialist") && r.status === "pending";
    const decide = async (action) => {
      if (action === "reject" && !note.value.trim()) {
        note.classList.add("invalid");
        fill(this.decisionOut, el("div", { class: "error", role: "alert" }, "Say why in the note: a rejection needs one."));
        return;
      }
      try {
        await api(`/v1/recommendations/${r.id}/${action}`, { method: "POST", json: { note: note.value } });
        this.reload({ kind: "success", text: `Recommendation #${r.id} ${action === "approve" ? "approved" : "rejected"}.` });
      } catch (err) {
        fill(this.decisionOut, errorBox(err));
      }
    };
    const downloadSplit = (layout) => download(`/v1/recommendations/${r.id}/split.csv?layout=${layout}`, `split-${r.id}.csv`)
      .catch((err) => fill(this.decisionOut, errorBox(err)));
    fill(this.actions,
      canDecide && !this.editing ? [
        el("button", { class: "primary", type: "button", onclick: () => decide("approve") }, "Approve"),
        el("button", { class: "danger", type: "button", onclick: () => decide("reject") }, "Reject"),
        note,
        el("button", { type: "button", onclick: () => { this.editing = true; this.drawActions(); this.drawGrid(); } }, "Edit split…"),
      ] : null,
      r.status === "pending" && !session.can("specialist") ? el("span", { class: "muted" }, `Your key (${session.who.role}) can read; a specialist key approves, rejects or edits.`) : null,
      r.final_split ? [
        el("button", { class: "primary", type: "button", "data-testid": "download", onclick: () => downloadSplit("platform") },
          `Download split CSV${this.campaign.platform ? ` (${this.campaign.platform} layout)` : ""}`),
        this.campaign.platform ? el("button", { type: "button", onclick: () => downloadSplit("adbandit") }, "… in adbandit columns") : null,
      ] : null,
    );
  }

  /** The arms of the shown recommendation: creatives x audiences matrix and the grid. */
  drawGrid() {
    const r = this.rec;
    if (!r) return;
    const arms = r.allocations;
    const finalBudget = new Map((r.final_split || []).map((s) => [armKey(s), s.budget]));
    const m = metricOf(r);
    const lo = Math.min(...arms.map((a) => m.low(a) ?? Infinity));
    const hi = Math.max(...arms.map((a) => m.high(a) ?? -Infinity));
    const bounds = new Map((r.bounds || []).map((b) => [armKey(b), b]));
    const cols = [
      ["creative", "Creative"], ["audience", "Audience"], ["current", "Current", "num"], ["budget", "Recommended", "num"],
      ["change", "Change", "num"], ["p_best", "P(best)", "num"], [m.sortKey, `${m.name} (interval)`],
      ["maturity", "Maturity", "num"], ["reason", "Why"],
    ];
    const sorted = arms.filter((a) => !this.filter || armKey(a).toLowerCase().includes(this.filter)).slice().sort((a, b) => {
      const x = a[this.sort.key], y = b[this.sort.key];
      if (typeof x === "string" || typeof y === "string") return this.sort.dir * natural(String(x), String(y));
      return this.sort.dir * ((x ?? -Infinity) - (y ?? -Infinity));
    });
    const inputs = new Map();
    const total = el("b");
    const send = el("button", { class: "primary", type: "button", disabled: true }, "Send edited split");
    const check = () => {
      let sum = 0;
      let bad = 0;
      for (const [key, input] of inputs) {
        const v = Number(input.value);
        const b = bounds.get(key) || { min_budget: 0, max_budget: null, locked_budget: null };
        let why = "";
        if (input.value.trim() === "" || !Number.isFinite(v) || v < 0) why = "a budget >= 0";
        else if (b.locked_budget !== null && Math.abs(v - b.locked_budget) > 0.005) why = `locked at ${fmt.money(b.locked_budget)}`;
        else if (v < b.min_budget - 0.005) why = `at least ${fmt.money(b.min_budget)}`;
        else if (b.max_budget !== null && v > b.max_budget + 0.005) why = `at most ${fmt.money(b.max_budget)}`;
        input.classList.toggle("invalid", !!why);
        input.title = why ? `must be ${why}` : "";
        if (why) bad++;
        else sum += v;
      }
      const gap = r.budget - sum;
      const ok = !bad && Math.abs(gap) <= 0.01;
      total.textContent = `Total ${fmt.money(sum)} of ${fmt.money(r.budget)}` +
        (bad ? ` · ${bad} arm${bad > 1 ? "s" : ""} out of bounds` : Math.abs(gap) > 0.01 ? ` · ${fmt.money(Math.abs(gap))} ${gap > 0 ? "left to place" : "over the budget"}` : " · adds up");
      total.className = ok ? "up" : "down";
      send.disabled = !ok;
    };
    const head = el("tr", {}, cols.map(([key, title, cls]) => el("th", {
      class: `sortable ${cls || ""}`, title: "sort",
      onclick: () => { this.sort = { key, dir: this.sort.key === key ? -this.sort.dir : -1 }; this.drawGrid(); },
    }, title, this.sort.key === key ? (this.sort.dir > 0 ? " ▲" : " ▼") : "")));
    if (this.editing) head.append(el("th", { class: "num" }, "Your split"));
    const body = el("tbody", {}, sorted.map((a) => {
      const key = armKey(a);
      const change = changeCell(a);
      const row = el("tr", { class: `clickable${this.selected === key ? " selected" : ""}`, dataset: { arm: key },
        onclick: (e) => { if (e.target.tagName === "INPUT") return; this.selected = this.selected === key ? null : key; this.drawGrid(); this.drawCharts(); } },
      el("td", {}, a.creative), el("td", {}, a.audience),
      el("td", { class: "num" }, fmt.money(a.current)),
      el("td", { class: "num" }, el("b", {}, fmt.money(a.budget)), finalBudget.has(key) && Math.abs(finalBudget.get(key) - a.budget) > 0.005 ? el("div", { class: "muted" }, `edited: ${fmt.money(finalBudget.get(key))}`) : null),
      change,
      el("td", { class: "num", title: `chance this arm has the best rate: ${fmt.pct(a.p_best)}` }, probBar(a.p_best), " ", fmt.pct(a.p_best)),
      el("td", { title: `${m.name}: ${fmt.sig(m.mean(a))} (${fmt.sig(m.low(a))} – ${fmt.sig(m.high(a))})` },
        Number.isFinite(lo) && Number.isFinite(hi) ? intervalBar(m.low(a), m.mean(a), m.high(a), lo, hi) : null, " ",
        el("span", { class: "muted" }, `${fmt.sig(m.mean(a))} (${fmt.sig(m.low(a))}–${fmt.sig(m.high(a))})`)),
      el("td", { class: "num", title: "share of this arm's eventual conversions already reported" }, fmt.pct(a.maturity, 0)),
      el("td", { class: "reason" }, a.reason));
      if (this.editing) {
        const input = el("input", { type: "number", step: "0.01", min: 0, class: "budget-input", name: `budget:${key}`,
          value: this.edits.get(key) ?? (finalBudget.get(key) ?? a.budget).toFixed(2),
          oninput: (e) => { this.edits.set(key, e.target.value); check(); } });
        inputs.set(key, input);
        row.append(el("td", { class: "num" }, input));
      }
      return row;
    }));
    // Arms hidden by the filter still count in the total.
    if (this.editing) {
      for (const a of arms) {
        if (!inputs.has(armKey(a))) inputs.set(armKey(a), el("input", { value: this.edits.get(armKey(a)) ?? (finalBudget.get(armKey(a)) ?? a.budget).toFixed(2) }));
      }
    }
    const filter = el("input", { type: "search", placeholder: "filter arms", value: this.filter, oninput: (e) => {
      this.filter = e.target.value.toLowerCase();
      clearTimeout(this.filterTimer);
      this.filterTimer = setTimeout(() => { this.drawGrid(); this.gridBox.querySelector("input[type=search]")?.focus(); }, 150);
    } });
    const editBar = this.editing ? el("div", { class: "warning", "data-testid": "edit-bar" },
      el("div", { class: "toolbar" }, total, send,
        el("input", { name: "edit-note", placeholder: "note (optional)", size: 30 }),
        el("button", { type: "button", onclick: () => { this.editing = false; this.edits.clear(); this.drawActions(); this.drawGrid(); } }, "Cancel")),
      el("div", { class: "muted" }, "The split must add up to the budget to the cent and keep each arm within its bounds; the page checks both before sending.")) : null;
    send.addEventListener("click", async () => {
      const split = arms.map((a) => ({ creative: a.creative, audience: a.audience, budget: Number(inputs.get(armKey(a)).value) }));
      try {
        await api(`/v1/recommendations/${r.id}/edit`, { method: "POST", json: { split, note: this.gridBox.querySelector("input[name=edit-note]").value } });
        this.editing = false;
        this.reload({ kind: "success", text: `Your split for recommendation #${r.id} is stored.` });
      } catch (err) {
        fill(this.decisionOut, errorBox(err));
      }
    });
    fill(this.gridBox,
      matrix(arms, (key) => { this.selected = this.selected === key ? null : key; this.drawGrid(); this.drawCharts(); }, this.selected),
      el("div", { class: "toolbar" }, el("h3", { style: "margin:0" }, `${arms.length} arms`), filter,
        el("span", { class: "muted" }, "click a column to sort, an arm to follow it in the charts")),
      editBar,
      el("div", { class: "scroll" }, el("table", { "data-testid": "arms" }, el("thead", {}, head), body)),
    );
    if (this.editing) check();
  }

  // -- charts ----------------------------------------------------------------------------------

  /** The coloured arms: the selected one, then the largest recommended budgets (or spends). */
  highlighted() {
    const order = this.rec
      ? this.rec.allocations.slice().sort((a, b) => b.budget - a.budget || b.rate_mean - a.rate_mean).map(armKey)
      : [...this.series.entries()].sort((a, b) => b[1].totalSpend - a[1].totalSpend).map(([k]) => k);
    const keys = order.slice(0, HIGHLIGHT);
    if (this.selected && !keys.includes(this.selected)) keys.unshift(this.selected);
    return new Map(keys.map((k, i) => [k, k === this.selected ? "#000000" : PALETTE[i % PALETTE.length]]));
  }

  drawCharts() {
    const colours = this.highlighted();
    const span = Math.max(0, ...[...this.series.values()].map((s) => s.days.length));
    if (this.smooth === undefined) this.smooth = span > 21; // daily noise hides trends over months
    const lines = (field) => [...this.series.entries()].map(([key, s]) => ({
      name: key, points: s.days.map((d, i) => [d, this.smooth ? trailingMean(s[field], i, 7) : s[field][i]]),
      color: colours.get(key), width: key === this.selected ? 3 : 2 }));
    const grey = (n) => (n > colours.size ? `grey: the other ${n - colours.size} arms` : "");
    const spend = lines("spend");
    const conv = lines("conversions");
    const smooth = el("label", { style: "flex-direction:row;gap:6px;align-items:center" },
      el("input", { type: "checkbox", name: "smooth", checked: this.smooth, onchange: (e) => { this.smooth = e.target.checked; this.drawCharts(); } }),
      "7-day average");
    const per = this.smooth ? "per day, 7-day average" : "per day";
    const cards = [
      chartCard(el("span", {}, `Spend per arm ${per}`), lineChart(spend, { yLabel: "spend" }), legend(spend, grey(spend.length)), smooth),
      chartCard(`Conversions per arm ${per}`, lineChart(conv, { yLabel: "conversions" }), legend(conv, grey(conv.length))),
    ];
    if (this.history.length) {
      // One point per day the split was for: that day's latest recommendation.
      const latestPerDay = new Map(this.history.map((point) => [dayMs(point.as_of), point]));
      const byKey = new Map();
      for (const [x, point] of latestPerDay) {
        for (const a of point.arms) {
          const k = armKey(a);
          if (!byKey.has(k)) byKey.set(k, []);
          byKey.get(k).push([x, a.p_best ?? 0]);
        }
      }
      const pb = [...byKey.entries()].map(([k, points]) => ({ name: k, points, color: colours.get(k), width: k === this.selected ? 3 : 2 }));
      cards.push(chartCard(`P(best) by day, over ${latestPerDay.size} day${latestPerDay.size > 1 ? "s" : ""} of recommendations`,
        lineChart(pb, { yLabel: "P(best)", yMax: 1, yFormat: (v) => `${Math.round(v * 100)}%` }), legend(pb, grey(pb.length))));
    }
    if (this.rec) {
      const m = metricOf(this.rec);
      const arms = this.rec.allocations.slice().sort((a, b) => m.mean(b) - m.mean(a));
      const shown = arms.slice(0, FOREST_MAX);
      if (this.selected && !shown.some((a) => armKey(a) === this.selected)) shown.push(arms.find((a) => armKey(a) === this.selected));
      const items = shown.map((a) => ({ label: armKey(a), low: m.low(a), mean: m.mean(a), high: m.high(a), color: colours.get(armKey(a)) || "#8895a7" }));
      cards.push(chartCard(`${m.chart} (credible interval)`, forestPlot(items, { label: "posterior intervals" }),
        el("div", { class: "muted" }, arms.length > shown.length ? `best ${FOREST_MAX} of ${arms.length} arms by posterior mean` : `all ${arms.length} arms, best first`)));
    }
    fill(this.chartsBox, ...cards);
  }

  // -- platform vs analytics -----------------------------------------------------------------

  reconciliationCard() {
    if (!this.recon) return null;
    const rows = this.recon.rows;
    const perDay = new Map();
    const perArm = new Map();
    for (const r of rows) {
      const d = perDay.get(r.date) || { platform: 0, analytics: 0 };
      d.platform += r.platform;
      d.analytics += r.analytics;
      perDay.set(r.date, d);
      const k = armKey(r);
      const a = perArm.get(k) || { key: k, platform: 0, analytics: 0, flagged: 0 };
      a.platform += r.platform;
      a.analytics += r.analytics;
      a.flagged += r.flag ? 1 : 0;
      perArm.set(k, a);
    }
    const days = [...perDay.keys()].sort();
    const lines = [["ad platform", "platform"], ["web analytics", "analytics"]].map(([name, field], i) => ({
      name, color: PALETTE[i], width: 2, points: days.map((d) => [dayMs(d), perDay.get(d)[field]]) }));
    const arms = [...perArm.values()].sort((a, b) => b.flagged - a.flagged || natural(a.key, b.key));
    const flagged = rows.filter((r) => r.flag).sort((a, b) => a.p_value - b.p_value);
    const gap = (a) => (a.platform ? a.analytics / a.platform - 1 : null);
    const SHOWN = 20;
    return el("div", { class: "card", "data-testid": "reconciliation" },
      el("h2", {}, "Ad platform vs web analytics"),
      el("p", { class: "muted" },
        `Conversions each source counted. A flagged day is one where an arm's platform count left its usual share of the two (p < 0.001, or two days in a row p < 0.05): a pixel or tag may have broken. Recommendations use ${this.campaign.conversion_source === "analytics" ? "web analytics" : "the ad platform"}.`),
      el("div", { class: "grid2" },
        el("div", {}, lineChart(lines, { yLabel: "conversions per day" }), legend(lines)),
        el("div", {},
          el("h3", {}, flagged.length ? `${flagged.length} flagged arm-day${flagged.length > 1 ? "s" : ""}` : "No flagged days"),
          flagged.length
            ? el("table", { "data-testid": "flagged-days" },
              el("thead", {}, el("tr", {}, ["Day", "Arm", "Platform", "Analytics", "p"].map((t, i) => el("th", { class: i > 1 ? "num" : null }, t)))),
              el("tbody", {}, flagged.slice(0, SHOWN).map((r) => el("tr", {},
                el("td", {}, fmt.date(r.date)), el("td", {}, armKey(r)), el("td", { class: "num" }, fmt.count(r.platform)),
                el("td", { class: "num" }, fmt.count(r.analytics)), el("td", { class: "num" }, Number(r.p_value).toPrecision(2))))))
            : el("p", { class: "muted" }, "Both sources moved together on every day shown."),
          flagged.length > SHOWN ? el("p", { class: "muted" }, `and ${flagged.length - SHOWN} more`) : null)),
      el("div", { class: "scroll short" },
        el("table", { "data-testid": "reconciliation-arms" },
          el("thead", {}, el("tr", {}, ["Arm", "Platform", "Analytics", "Analytics vs platform", "Flagged days"].map((t, i) => el("th", { class: i > 0 ? "num" : null }, t)))),
          el("tbody", {}, arms.map((a) => el("tr", { class: a.flagged ? "flagged" : "" },
            el("td", {}, a.key), el("td", { class: "num" }, fmt.count(a.platform)), el("td", { class: "num" }, fmt.count(a.analytics)),
            el("td", { class: "num" }, gap(a) === null ? "—" : `${gap(a) > 0 ? "+" : ""}${fmt.pct(gap(a), 0)}`),
            el("td", { class: "num" }, a.flagged ? String(a.flagged) : "—")))))));
  }

  // -- upload and request --------------------------------------------------------------------

  uploadCard() {
    if (!session.can("automation")) {
      return el("div", { class: "card" }, el("h2", {}, "Upload stats"), el("p", { class: "muted" }, `Uploading needs an automation key; yours is ${session.who.role}.`));
    }
    const file = el("input", { type: "file", name: "file", accept: ".csv,.tsv,.txt,.parquet", required: true });
    const platform = el("select", { name: "platform" }, [["auto", "detect"], ["stats", "adbandit stats CSV"], ["meta", "Meta Ads Manager"], ["google", "Google Ads"], ["tiktok", "TikTok Ads Manager"], ["vk", "VK Ads"], ["x", "X Ads"]].map(([v, t]) => el("option", { value: v }, t)));
    const out = el("div", { "data-testid": "upload-result" });
    const button = el("button", { class: "primary", type: "submit" }, "Upload");
    const form = el("form", { class: "card", onsubmit: async (event) => {
      event.preventDefault();
      if (!file.files.length) return;
      button.disabled = true;
      fill(out, el("p", { class: "muted" }, "Uploading…"));
      const body = new FormData();
      body.append("file", file.files[0]);
      body.append("platform", platform.value);
      try {
        const res = await api(`/v1/campaigns/${this.campaign.id}/stats`, { method: "POST", form: body });
        this.reload({ kind: "success", text: uploadSummary(file.files[0].name, res) });
      } catch (err) {
        fill(out, errorBox(err), await rowsWithErrors(file.files[0], err.problems || []));
      } finally {
        button.disabled = false;
      }
    } },
      el("h2", {}, "Upload stats"),
      el("p", { class: "muted" }, "Our stats CSV (", STATS_COLUMNS.join(", "), ", revenue) or a platform's report export. A file with any bad row is refused whole; nothing is written."),
      el("div", { class: "row" }, el("label", {}, "File", file), el("label", {}, "Layout", platform), button),
      out);
    return form;
  }

  requestCard() {
    if (!session.can("automation")) {
      return el("div", { class: "card" }, el("h2", {}, "New recommendation"), el("p", { class: "muted" }, `Asking for one needs an automation key; yours is ${session.who.role}.`));
    }
    const last = this.recs[0];
    const budget = el("input", { type: "number", name: "budget", step: "0.01", min: "0.01", value: last ? last.budget : 1000, required: true });
    const objective = el("select", { name: "objective" }, ["conversions", "revenue"].map((o) => el("option", { value: o, selected: last && last.objective === o }, o)));
    const fromApproved = el("input", { type: "checkbox", name: "from-approved", checked: true });
    const seed = el("input", { type: "number", name: "seed", min: 0, step: 1, value: 7, style: "width:80px" });
    const out = el("div");
    const button = el("button", { class: "primary", type: "submit" }, "Recommend");
    return el("form", { class: "card", onsubmit: async (event) => {
      event.preventDefault();
      button.disabled = true;
      fill(out, el("p", { class: "muted" }, "Fitting the model and sampling…"));
      try {
        const json = { budget: Number(budget.value), objective: objective.value, seed: Number(seed.value) };
        if (fromApproved.checked) {
          const approved = this.recs.find((x) => x.status === "approved" || x.status === "edited");
          if (approved) {
            const full = approved.id === this.rec?.id ? this.rec : await api(`/v1/recommendations/${approved.id}`);
            // Arms that arrived since (new creatives or audiences) join at 0, so they can
            // win budget; only arms of `current` get any.
            const known = new Set(full.final_split.map(armKey));
            const added = [...this.series.keys()].filter((k) => !known.has(k)).map((k) => {
              const [creative, audience] = this.series.get(k).arm;
              return { creative, audience, budget: 0 };
            });
            json.current = [...full.final_split, ...added];
          }
        }
        const rec = await api(`/v1/campaigns/${this.campaign.id}/recommendations`, { method: "POST", json });
        flash = { kind: "success", text: `Recommendation #${rec.id} is ready for review.` };
        this.go({ rec: null });
      } catch (err) {
        fill(out, errorBox(err));
      } finally {
        button.disabled = false;
      }
    } },
      el("h2", {}, "New recommendation"),
      el("div", { class: "row" },
        el("label", {}, `Budget${this.campaign.currency ? ` (${this.campaign.currency})` : ""}`, budget),
        el("label", {}, "Objective", objective), el("label", {}, "Seed", seed), button),
      el("label", { style: "flex-direction:row;gap:6px;margin-top:8px" }, fromApproved, "start from the latest approved split (change is measured from it)"),
      out);
  }

  historyCard() {
    return el("div", { class: "card" },
      el("h2", {}, "Decisions"),
      this.decisions.length
        ? el("table", { "data-testid": "decisions" },
          el("thead", {}, el("tr", {}, ["When", "Who", "Decision", "Recommendation", "Note"].map((t) => el("th", {}, t)))),
          el("tbody", {}, this.decisions.map((d) => el("tr", {},
            el("td", {}, fmt.when(d.created_at)), el("td", {}, d.key_name),
            el("td", {}, badge({ approve: "approved", reject: "rejected", edit: "edited" }[d.action])),
            el("td", {}, el("a", { href: `#/campaigns/${this.campaign.id}?rec=${d.recommendation_id}` }, `#${d.recommendation_id}`)),
            el("td", {}, d.note || el("span", { class: "muted" }, "—"))))))
        : el("p", { class: "muted" }, "No decisions yet."));
  }
}

/** What the grid and the interval chart show: ROAS for a revenue objective, else
 * conversions per 100 of spend (rates are per unit of spend, too small to read). */
function metricOf(rec) {
  if (rec.objective === "revenue" && rec.allocations.some((a) => a.roas_mean !== null && a.roas_mean !== undefined)) {
    return { name: "Revenue per spend (ROAS)", chart: "Posterior ROAS", sortKey: "roas_mean", mean: (a) => a.roas_mean, low: (a) => a.roas_low, high: (a) => a.roas_high };
  }
  const per100 = (x) => (x === null || x === undefined ? x : 100 * x);
  return { name: "Conversions per 100 spend", chart: "Posterior conversions per 100 spend", sortKey: "rate_mean", mean: (a) => per100(a.rate_mean), low: (a) => per100(a.rate_low), high: (a) => per100(a.rate_high) };
}

/** Stats rows -> per arm: sorted days with spend and conversions arrays. */
function byArm(rows) {
  const map = new Map();
  for (const r of rows) {
    const key = armKey(r);
    let s = map.get(key);
    if (!s) { s = { arm: [r.creative, r.audience], days: [], spend: [], conversions: [], totalSpend: 0 }; map.set(key, s); }
    s.days.push(dayMs(r.date));
    s.spend.push(r.spend);
    s.conversions.push(r.conversions);
    s.totalSpend += r.spend;
  }
  return map; // the API sorts rows by date, so each arm's days are in order
}

function changeCell(a) {
  if (a.current === null || a.current === undefined) return el("td", { class: "num muted", title: "no current split was given" }, "new");
  const diff = a.budget - a.current;
  const rel = a.current > 0 ? diff / a.current : null;
  const cls = Math.abs(diff) < 0.005 ? "flat" : diff > 0 ? "up" : "down";
  const arrow = cls === "flat" ? "→" : diff > 0 ? "▲" : "▼";
  return el("td", { class: `num ${cls}`, title: a.binding ? `held by ${a.binding}` : "" },
    `${arrow} ${diff > 0 ? "+" : ""}${fmt.money(diff)}`, rel !== null && cls !== "flat" ? el("span", { class: "muted" }, ` ${rel > 0 ? "+" : ""}${fmt.pct(rel, 0)}`) : null);
}

/** Creatives down, audiences across: each cell the recommended budget, coloured by change. */
function matrix(arms, onPick, selected) {
  const creatives = [...new Set(arms.map((a) => a.creative))].sort(natural);
  const audiences = [...new Set(arms.map((a) => a.audience))].sort(natural);
  if (creatives.length > 40 || audiences.length > 20) return el("p", { class: "muted" }, `${creatives.length} creatives × ${audiences.length} audiences: too many for the matrix; see the grid.`);
  const cell = new Map(arms.map((a) => [armKey(a), a]));
  const colour = (a) => {
    if (a.current === null || a.current === undefined || a.current <= 0) return "#eef1f5";
    const rel = Math.max(-1, Math.min(1, (a.budget - a.current) / a.current));
    const t = Math.abs(rel) ** 0.6;
    return rel >= 0 ? `rgba(30,125,70,${0.08 + 0.5 * t})` : `rgba(179,38,30,${0.08 + 0.5 * t})`;
  };
  return el("table", { class: "matrix", "data-testid": "matrix" },
    el("thead", {}, el("tr", {}, el("th", {}, "creative \\ audience"), audiences.map((x) => el("th", {}, x)))),
    el("tbody", {}, creatives.map((c) => el("tr", {}, el("th", { class: "rowhead" }, c), audiences.map((x) => {
      const a = cell.get(`${c} / ${x}`);
      if (!a) return el("td", { style: "background:#f6f7f9" }, "");
      return el("td", { class: "clickable", style: `background:${colour(a)};cursor:pointer;${selected === armKey(a) ? "outline:2px solid #000" : ""}`,
        title: `${armKey(a)}: ${fmt.money(a.current)} → ${fmt.money(a.budget)}, P(best) ${fmt.pct(a.p_best)}`, onclick: () => onPick(armKey(a)) },
      fmt.money(a.budget), a.current !== null && a.current !== undefined && Math.abs(a.budget - a.current) >= 0.005 ? (a.budget > a.current ? " ▲" : " ▼") : "");
    })))));
}

function chartCard(title, chart, footer, control) {
  return el("div", { class: "card" }, el("div", { class: "toolbar", style: "margin:0" }, el("h2", { style: "margin:0" }, title),
    control ? el("span", { style: "margin-left:auto" }, control) : null), chart, footer);
}

/** Mean of values[i - n + 1 .. i] (fewer at the start). */
function trailingMean(values, i, n) {
  let sum = 0;
  const from = Math.max(0, i - n + 1);
  for (let j = from; j <= i; j++) sum += values[j];
  return sum / (i - from + 1);
}

function uploadSummary(name, res) {
  const parts = [`${name}: ${res.n_rows} rows, ${res.n_inserted} new arm-days, ${res.n_replaced} restated.`];
  if (res.platform) parts.push(`Read as a ${res.platform} export.`);
  for (const note of res.notes || []) parts.push(note);
  for (const w of res.warnings || []) parts.push(w);
  const findings = res.quality?.findings || [];
  if (findings.length) parts.push(`Data quality: ${findings.length} finding${findings.length > 1 ? "s" : ""} — ${findings.slice(0, 3).map((f) => `${f.kind} (${f.creative}, ${f.audience}): ${f.detail}`).join("; ")}`);
  return parts.join(" ");
}

/** The uploaded file's rows that broke a rule, each beside the rule (our CSV layout). */
async function rowsWithErrors(file, problems) {
  const withRow = problems.filter((p) => p.row);
  if (!withRow.length || file.name.endsWith(".parquet")) return el("div");
  const text = await file.text();
  const rows = parseCsv(text.replace(/^\ufeff/, ""), Math.max(...withRow.map((p) => p.row)) + 1);
  const header = rows[0] || [];
  if (!STATS_COLUMNS.every((c) => header.includes(c))) return el("div");
  const byRow = new Map();
  for (const p of withRow) {
    if (!byRow.has(p.row)) byRow.set(p.row, []);
    byRow.get(p.row).push(p);
  }
  const list = [...byRow.entries()].sort((a, b) => a[0] - b[0]).slice(0, 100);
  return el("div", {},
    el("h3", {}, "The rows that were refused"),
    el("div", { class: "scroll" }, el("table", { "data-testid": "bad-rows" },
      el("thead", {}, el("tr", {}, el("th", { class: "num" }, "Row"), el("th", {}, "Problem"), header.map((h) => el("th", {}, h)))),
      el("tbody", {}, list.map(([row, ps]) => {
        const cells = rows[row] || [];
        const fields = new Set(ps.map((p) => p.field));
        return el("tr", { dataset: { row } }, el("td", { class: "num" }, row),
          el("td", { class: "rule" }, ps.map((p) => `${p.field}: ${p.rule}`).join("; ")),
          header.map((h, j) => el("td", { class: fields.has(h) ? "bad" : "" }, cells[j] ?? "")));
      })))),
    byRow.size > 100 ? el("p", { class: "muted" }, `first 100 of ${byRow.size} refused rows`) : null);
}
