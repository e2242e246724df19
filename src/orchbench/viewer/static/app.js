/* orchbench view: a single-page app over the read-only JSON API. Path routes carry the ids. */
"use strict";

const POLL_MS = 1500;
const FOLD_CHARS = 800;
const FOLD_LINES = 15;
const App = {version: null, route: null, data: null, busy: false};
const enc = encodeURIComponent;

/* ---------- DOM helpers: every text goes through textContent, never innerHTML ---------- */
function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const kid of kids.flat(Infinity)) {
    if (kid == null || kid === false) continue;
    el.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
  return el;
}
const num = (field, value, text) => h("span", {"data-field": field, "data-value": JSON.stringify(value)}, text);
const statusEl = s => h("span", {class: "status-" + s, "data-field": "status"}, s);
// The agent answered BLOCKED: a flag beside the judged status (legacy stores: the status itself).
const blockedEl = b => b ? h("span", {class: "status-blocked", "data-field": "blocked"}, " · BLOCKED") : null;
const corruptEl = (field, raw) => h("span", {class: "corrupt", "data-corrupt": field},
  `corrupt column ${field}: `, h("code", {}, String(raw ?? "").slice(0, 200)));

async function api(path) {
  const early = EARLY[path];  // started by route.js on first load
  delete EARLY[path];
  const r = await (early || fetch("/api/" + path, {cache: "no-store"}));
  let body;
  try { body = await r.json(); } catch { body = {error: r.statusText}; }
  if (!r.ok) throw Object.assign(new Error(body.error || r.statusText), {status: r.status});
  return body;
}

/* ---------- routing (parseRoute, routeData: route.js) ---------- */
const href = {
  grid: exp => `/e/${enc(exp)}`,
  cell: (exp, arm, task) => `/e/${enc(exp)}/cell/${enc(arm)}/${enc(task)}`,
  trial: id => `/t/${enc(id)}`,
};

function crumbs(items) {
  const nav = document.getElementById("crumbs");
  nav.replaceChildren(...items.flatMap((it, i) => [
    ...(i ? [h("span", {class: "sep"}, "›")] : []),
    it.href ? h("a", {href: it.href}, it.text) : h("span", {}, it.text),
  ]));
}

const PAGES = {experiments: experimentsPage, grid: gridPage, cell: cellPage, trial: trialPage};

async function render({refresh = false} = {}) {
  const route = parseRoute(location.pathname);
  const main = document.getElementById("app");
  const scroll = window.scrollY;
  const open = new Set([...main.querySelectorAll("details[open][data-key]")].map(d => d.dataset.key));
  document.body.dataset.ready = "0";
  try {
    if (route.page === "notfound") throw Object.assign(new Error("no such page"), {status: 404});
    const view = await PAGES[route.page](route);
    Charts.destroyAll();
    main.replaceChildren(view.node);
    view.after?.();
    document.body.dataset.status = "200";
  } catch (err) {
    Charts.destroyAll();
    main.replaceChildren(errorPage(err));
    document.body.dataset.status = String(err.status || 500);
  }
  main.querySelectorAll("details[data-key]").forEach(d => { if (open.has(d.dataset.key)) d.open = true; });
  if (refresh) window.scrollTo(0, scroll);
  document.body.dataset.page = route.page;
  // ms since navigation started: what a page load costs, read by the benchmark
  document.body.dataset.renderedAt = performance.now().toFixed(1);
  document.body.dataset.ready = "1";
  document.body.dataset.renders = String(Number(document.body.dataset.renders || 0) + 1);
}

function errorPage(err) {
  const nf = err.status === 404;
  document.title = nf ? "not found · orchbench" : "error · orchbench";
  crumbs([{text: "experiments", href: "/"}]);
  return h("div", {class: "notfound", "data-error": err.status || 500},
    h("h1", {}, nf ? "404: not found" : `error ${err.status || ""}`),
    h("p", {}, err.message), h("p", {}, h("a", {href: "/"}, "← all experiments")));
}

/* ---------- experiments ---------- */
async function experimentsPage() {
  const {experiments} = await api(routeData({page: "experiments"}));
  document.title = "experiments · orchbench";
  crumbs([{text: "experiments"}]);
  const rows = experiments.map(e => h("tr", {"data-experiment": e.id},
    h("td", {}, h("a", {href: href.grid(e.id)}, e.id)),
    h("td", {}, e.name || ""),
    h("td", {class: "muted"}, e.created_at ? String(e.created_at).slice(0, 19).replace("T", " ") : ""),
    h("td", {class: "num"}, num("n_trials", e.n_trials, e.n_trials)),
    ...["success", "failure", "blocked", "infra_error", "running"].map(
      s => h("td", {class: "num"}, num(s, e.counts[s] || 0, e.counts[s] || 0))),
    h("td", {class: "num"}, num("total_cost", e.total_cost, Fmt.cost(e.total_cost))),
    h("td", {}, (e.arms || []).join(", ")), h("td", {}, (e.tasks || []).join(", "))));
  return {node: h("section", {},
    h("h1", {}, "Experiments"),
    experiments.length ? h("table", {class: "experiments"},
      h("thead", {}, h("tr", {}, ["experiment", "name", "created", "trials", "success", "failure", "blocked",
        "infra", "running", "total cost", "arms", "tasks"].map(t => h("th", {}, t)))),
      h("tbody", {}, rows)) : h("p", {class: "muted"}, "No trials in this store yet."))};
}

/* ---------- grid ---------- */
async function gridPage(route) {
  const g = await api(routeData(route));
  const a = g.analysis;
  document.title = `${route.exp} · orchbench`;
  crumbs([{text: "experiments", href: "/"}, {text: route.exp}]);
  const cellOf = (arm, task) => a.cells.find(c => c.arm === arm && c.task === task);
  const arms = [...new Set([...a.arms, ...Object.keys(g.status_counts)])].sort();
  const tasks = [...new Set([...a.tasks, ...Object.values(g.status_counts).flatMap(Object.keys)])].sort();
  const gridCell = (arm, task) => {
    const c = cellOf(arm, task);
    const sc = (g.status_counts[arm] || {})[task] || {};
    if (!c && !Object.keys(sc).length) return h("td", {class: "cell muted"}, "—");
    const extra = ["infra_error", "running", "interrupted"].filter(s => sc[s]).map(s => `${sc[s]} ${s}`);
    if (c?.n_blocked) extra.unshift(`${c.n_blocked} answered BLOCKED`);
    return h("td", {class: "cell" + (c?.pareto_dominated ? " dominated" : ""), "data-arm": arm, "data-task": task},
      h("a", {href: href.cell(route.exp, arm, task)},
        h("div", {class: "rate"}, num("n_success", c?.n_success ?? 0, c?.n_success ?? 0), " / ",
          num("n_total", c?.n_total ?? 0, c?.n_total ?? 0)),
        h("div", {}, "median ", num("cost_median", c?.cost_median ?? null, Fmt.cost(c?.cost_median))),
        h("div", {}, "expected ", num("expected_cost", c?.expected_cost ?? null, Fmt.cost(c?.expected_cost))),
        h("div", {class: "muted"}, "wall ", num("wall_median", c?.wall_median ?? null, Fmt.secs(c?.wall_median))),
        c?.cache_read_ratio_to_baseline != null && c.arm !== a.baseline ? h("div", {class: "muted"},
          "orch. cache read ", num("cache_read_ratio_to_baseline", c.cache_read_ratio_to_baseline,
            "×" + c.cache_read_ratio_to_baseline.toFixed(2)), ` vs ${a.baseline}`) : null,
        c?.pareto_dominated ? h("div", {class: "muted"}, "dominated by " + c.dominated_by.join(", ")) : null,
        extra.length ? h("div", {class: "muted"}, extra.join(" · ")) : null));
  };
  const table = h("table", {class: "grid"},
    h("thead", {}, h("tr", {}, h("th", {}, "arm \\ task"), tasks.map(t => h("th", {}, t)))),
    h("tbody", {}, arms.map(arm => h("tr", {}, h("th", {}, arm), tasks.map(t => gridCell(arm, t))))));
  const canvases = a.tasks.map(t => [t, h("canvas", {"data-task": t})]);
  const pairs = a.pairwise.map(p => h("tr", {},
    h("td", {}, p.task), h("td", {}, `${p.a} vs ${p.b}`), h("td", {class: "num"}, `${p.n_a} / ${p.n_b}`),
    h("td", {class: "num"}, num("p", p.p, Fmt.p(p.p))), h("td", {}, p.p_method || "—"),
    h("td", {class: "num"}, num("cliffs_delta", p.cliffs_delta, Fmt.p(p.cliffs_delta))),
    h("td", {}, p.magnitude || "—"), h("td", {class: "num"}, Fmt.cost(p.median_diff))));
  const node = h("section", {},
    h("h1", {}, `Experiment ${route.exp}`),
    h("p", {class: "muted"}, `${a.n_trials} counted trials, ${a.n_infra_error} infra errors (not counted). `,
      "Cells: successes / counted attempts; median cost of successes; expected cost = median / success rate. ",
      `Costs: ${a.rate_card}.`),
    g.corrupt_trials.length ? h("p", {class: "corrupt", "data-corrupt-trials": g.corrupt_trials.length},
      `${g.corrupt_trials.length} corrupt trial rows left out of these numbers: `,
      g.corrupt_trials.slice(0, 20).flatMap((id, i) => [i ? ", " : "", h("a", {href: href.trial(id)}, id)]),
      g.corrupt_trials.length > 20 ? " …" : "") : null,
    table,
    h("h2", {}, "Pareto charts"),
    h("div", {class: "charts"}, canvases.map(([, c]) => h("div", {class: "chart-box"}, c))),
    a.pairwise.length ? [h("h2", {}, "Pairwise (success-only costs, Mann-Whitney U)"),
      h("table", {}, h("thead", {}, h("tr", {}, ["task", "arms", "n", "p", "method", "Cliff's δ", "magnitude",
        "median diff"].map(t => h("th", {}, t)))), h("tbody", {}, pairs))] : null);
  return {node, after: () => canvases.forEach(([t, c]) => Charts.pareto(c, t, a.cells, a.pareto_front[t] || []))};
}

/* ---------- a cell's trials ---------- */
const TRIAL_COLS = [
  ["id", "trial", "str"], ["attempt", "attempt", "num"], ["status", "status", "str"],
  ["total_cost", "cost", "num"], ["wall_s", "wall", "num"], ["iterations", "turns", "num"],
  ["n_calls", "calls", "num"], ["failure_reason", "failure reason", "str"],
];

async function cellPage(route) {
  const d = await api(routeData(route));
  document.title = `${route.arm} × ${route.task} · orchbench`;
  crumbs([{text: "experiments", href: "/"}, {text: route.exp, href: href.grid(route.exp)},
          {text: `${route.arm} × ${route.task}`}]);
  const q = new URLSearchParams(location.search);
  const st = {status: q.get("status") || "", text: q.get("q") || "", sort: q.get("sort") || "attempt",
              dir: q.get("dir") || "asc"};
  const tbody = h("tbody");
  const heads = TRIAL_COLS.map(([key, label, kind]) => h("th", {
    class: "sortable" + (kind === "num" ? " num" : ""), "data-sort": key,
    onclick: () => { st.dir = st.sort === key && st.dir === "asc" ? "desc" : "asc"; st.sort = key; draw(); }}, label));
  const statuses = [...new Set(d.trials.map(t => t.status))].sort();
  const sel = h("select", {"data-filter": "status", onchange: e => { st.status = e.target.value; draw(); }},
    h("option", {value: ""}, "all statuses"), statuses.map(s => h("option", {value: s}, s)));
  sel.value = st.status;
  const search = h("input", {type: "search", placeholder: "filter id / reason / error", value: st.text,
    "data-filter": "text", oninput: e => { st.text = e.target.value; draw(); }});
  const count = h("span", {class: "muted"});
  function draw() {
    const needle = st.text.toLowerCase();
    const rows = d.trials.filter(t => (!st.status || t.status === st.status) && (!needle ||
      [t.id, t.failure_reason, t.error, t.verdict_summary].some(v => v && String(v).toLowerCase().includes(needle))));
    const kind = TRIAL_COLS.find(c => c[0] === st.sort)?.[2] || "str";
    const sign = st.dir === "asc" ? 1 : -1;
    rows.sort((x, y) => {
      const a = x[st.sort], b = y[st.sort];
      if (a == null || b == null) return (a == null) - (b == null);
      return sign * (kind === "num" ? a - b : String(a).localeCompare(String(b)));
    });
    heads.forEach(th => th.setAttribute("aria-sort", th.dataset.sort === st.sort ?
      (st.dir === "asc" ? "ascending" : "descending") : "none"));
    tbody.replaceChildren(...rows.map(t => h("tr", {"data-trial": t.id},
      h("td", {class: "mono"}, h("a", {href: href.trial(t.id)}, t.id)),
      h("td", {class: "num"}, t.attempt), h("td", {}, statusEl(t.status), t.status !== "blocked" ? blockedEl(t.blocked) : null),
      h("td", {class: "num"}, num("total_cost", t.total_cost, Fmt.cost(t.total_cost))),
      h("td", {class: "num"}, num("wall_s", t.wall_s, Fmt.secs(t.wall_s))),
      h("td", {class: "num"}, num("iterations", t.iterations, t.iterations)),
      h("td", {class: "num"}, t.n_calls),
      h("td", {}, t.corrupt?.length ? t.corrupt.map(f => corruptEl(f, t.raw?.[f])) : null,
        t.failure_reason || t.error || (t.status === "failure" ? t.verdict_summary : "") || ""))));
    count.textContent = `${rows.length} of ${d.trials.length} trials`;
    const qs = new URLSearchParams();
    if (st.status) qs.set("status", st.status);
    if (st.text) qs.set("q", st.text);
    if (st.sort !== "attempt" || st.dir !== "asc") { qs.set("sort", st.sort); qs.set("dir", st.dir); }
    const s = qs.toString();
    history.replaceState(null, "", location.pathname + (s ? "?" + s : ""));
  }
  draw();
  const c = d.cell;
  const summary = c ? h("dl", {class: "kv"},
    h("dt", {}, "successes / attempts"), h("dd", {}, num("n_success", c.n_success, c.n_success), " / ",
      num("n_total", c.n_total, c.n_total), ` (${Fmt.pct(c.success_rate)})`),
    h("dt", {}, "median cost (successes)"), h("dd", {}, num("cost_median", c.cost_median, Fmt.cost(c.cost_median)),
      c.cost_ci95 ? ` (95% CI ${Fmt.cost(c.cost_ci95[0])} – ${Fmt.cost(c.cost_ci95[1])})` : ""),
    h("dt", {}, "expected cost per success"), h("dd", {}, num("expected_cost", c.expected_cost, Fmt.cost(c.expected_cost))),
    h("dt", {}, "mean cost, all attempts"), h("dd", {}, num("cost_mean_all", c.cost_mean_all, Fmt.cost(c.cost_mean_all))),
    h("dt", {}, "median wall / turns"), h("dd", {}, num("wall_median", c.wall_median, Fmt.secs(c.wall_median)),
      " / ", num("iterations_median", c.iterations_median, Fmt.num(c.iterations_median))),
    h("dt", {}, "infra errors (not counted)"), h("dd", {}, num("n_infra_error", c.n_infra_error, c.n_infra_error)),
  ) : h("p", {class: "muted"}, "No finished trials in this cell yet.");
  return {node: h("section", {},
    h("h1", {}, `${route.arm} × ${route.task}`, h("span", {class: "muted"}, ` in ${route.exp}`)),
    summary, h("div", {class: "filters"}, sel, search, count),
    h("table", {class: "trials"}, h("thead", {}, h("tr", {}, heads)), tbody))};
}

/* ---------- boot ---------- */
document.addEventListener("click", e => {
  const a = e.target.closest("a");
  if (!a || e.defaultPrevented || e.button || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || url.pathname.startsWith("/static/") || url.pathname.startsWith("/api/")) return;
  e.preventDefault();
  history.pushState(null, "", url.pathname + url.search);
  window.scrollTo(0, 0);
  render();
});
window.addEventListener("popstate", () => render());
// Charts take their colours when drawn: redraw when the system theme flips.
matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => render({refresh: true}));

async function poll() {
  const live = document.getElementById("live");
  if (document.hidden) { setTimeout(poll, POLL_MS); return; }  // a background tab costs nothing
  try {
    const {version} = await api("version");
    live.className = "on";
    if (App.version !== null && version !== App.version && !App.busy) {
      App.busy = true;
      try { await render({refresh: true}); } finally { App.busy = false; }
    }
    App.version = version;
  } catch {
    live.className = "off";
  }
  setTimeout(poll, POLL_MS);
}

render().then(poll);
