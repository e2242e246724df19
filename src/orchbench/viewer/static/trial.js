/* The trial page: header, tokens-per-turn chart, and the transcript with delegations nested. */
"use strict";

const SEG_ORDER = ["reread", "cache_read", "input", "cache_write", "output"];
const SEG_LABEL = {reread: "cache read of earlier hand-backs (est.)", cache_read: "cache read (other)",
  input: "input", cache_write: "cache write", output: "output"};

function tokenBar(tokens, reread, scale) {
  const parts = {...tokens, cache_read: tokens.cache_read - reread, reread};
  const total = SEG_ORDER.reduce((s, k) => s + parts[k], 0);
  const width = scale ? Math.max(2, 100 * total / scale) : 0;
  const title = SEG_ORDER.map(k => `${SEG_LABEL[k]}: ${Fmt.int(parts[k])}`).join("\n");
  return h("div", {class: "bar", title, "data-total": total},
    h("div", {style: `display:flex;width:${width}%;height:100%`},
      SEG_ORDER.filter(k => parts[k] > 0).map(k => h("span", {
        class: "seg-" + k, "data-seg": k, "data-tokens": parts[k], style: `width:${100 * parts[k] / total}%`}))));
}

function resultText(content) {
  if (content == null) return "";
  if (typeof content === "string") return content;
  if (Array.isArray(content)) return content.map(b => b?.text ?? JSON.stringify(b)).join("\n");
  return JSON.stringify(content, null, 2);
}

function folded(text, key, label) {
  const lines = text.split("\n").length;
  if (text.length <= FOLD_CHARS && lines <= FOLD_LINES) return h("pre", {}, text);
  const first = text.split("\n", 1)[0].slice(0, 100);
  return h("details", {"data-key": key, class: "fold"},
    h("summary", {}, `${label}: ${lines} lines, ${Fmt.int(text.length)} chars — ${first}…`),
    h("pre", {}, text));
}

function callBody(call, key, delegationsNode) {
  const out = [];
  const corrupt = call.corrupt || [];
  corrupt.forEach(f => out.push(h("div", {class: "block"}, corruptEl(f, call.raw?.[f]))));
  const results = Array.isArray(call.tool_results) ? call.tool_results : [];
  const used = new Set();
  let placed = false;
  (Array.isArray(call.content) ? call.content : []).forEach((b, i) => {
    if (b?.type === "text") out.push(h("div", {class: "block text"}, b.text));
    else if (b?.type === "thinking" || b?.type === "redacted_thinking")
      out.push(h("div", {class: "block muted"}, folded(b.thinking ?? "(redacted)", `${key}-th${i}`, "thinking")));
    else if (b?.type === "tool_use") {
      out.push(h("div", {class: "tool-use", "data-tool": b.name},
        h("div", {}, h("b", {}, b.name), h("span", {class: "muted mono"}, " " + (b.id || ""))),
        folded(JSON.stringify(b.input, null, 2), `${key}-in${i}`, "input")));
      const delegate = /^delegate/.test(b.name || "");
      if (delegate && delegationsNode && !placed) { out.push(delegationsNode); placed = true; }
      const r = results.find(r => r.tool_use_id === b.id);
      if (r) { used.add(r); out.push(resultEl(r, `${key}-r${i}`, delegate ? "hand-back from the executor" : "result")); }
    } else if (b) out.push(h("pre", {class: "block"}, JSON.stringify(b, null, 2)));
  });
  if (delegationsNode && !placed) out.push(delegationsNode);
  results.filter(r => !used.has(r)).forEach((r, i) => out.push(resultEl(r, `${key}-u${i}`)));
  if (call.error) out.push(h("div", {class: "block status-failure"}, "error: " + call.error));
  return out;
}

function resultEl(r, key, label = "result") {
  return h("div", {class: "tool-result" + (r.is_error ? " error" : ""), "data-result": label},
    h("div", {class: "muted"}, r.is_error ? `${label} (error)` : label),
    folded(resultText(r.content), key, "output"));
}

function sidePanel(call, tokens, reread, scale, extra) {
  return h("div", {class: "side"},
    tokenBar(tokens, reread, scale),
    h("div", {}, "cost ", num("cost_usd", call.cost_usd, Fmt.cost(call.cost_usd)), extra),
    h("div", {class: "muted"}, `in ${Fmt.int(tokens.input)} · cr ${Fmt.int(tokens.cache_read)} · ` +
      `cw ${Fmt.int(tokens.cache_write)} · out ${Fmt.int(tokens.output)}`),
    reread ? h("div", {class: "muted"}, "≈ ", num("reread_tokens", reread, Fmt.int(reread)),
      " tokens re-reading earlier hand-backs") : null,
    call.handback_chars != null ? h("div", {class: "muted"}, `hand-back: ${Fmt.int(call.handback_chars)} chars`) : null);
}

function turnEl(t, scale) {
  const c = t.call;
  const key = `o${c.turn}`;
  const deleg = t.delegations.length ? h("div", {class: "delegation", "data-delegation-of": c.turn},
    h("div", {class: "muted"}, `delegation: ${t.delegations.length} executor calls, ${Fmt.cost(t.delegation_cost)}`),
    t.delegations.map(d => h("div", {class: "turn", "data-role": "executor", "data-turn": d.call.turn},
      h("div", {}, h("div", {class: "turn-head"}, `executor turn ${d.call.turn}`,
        h("span", {class: "muted"}, ` · ${d.call.model || ""} · ${d.call.stop_reason || ""}`)),
        callBody(d.call, `e${d.call.turn}`)),
      sidePanel(d.call, d.tokens, 0, scale)))) : null;
  return h("div", {class: "turn", "data-role": c.role || "orchestrator", "data-turn": c.turn},
    h("div", {}, h("div", {class: "turn-head"}, `turn ${c.turn}`,
      h("span", {class: "muted"}, ` · ${c.model || ""} · ${c.stop_reason || ""} · ${Fmt.secs(c.latency_s)}`)),
      callBody(c, key, deleg)),
    sidePanel(c, t.tokens, t.reread_tokens, scale,
      [" · running ", num("running_cost", t.running_cost, Fmt.cost(t.running_cost))]));
}

function usageTable(trial) {
  const roles = Object.keys(trial.usage || {});
  if (!roles.length) return null;
  return h("table", {class: "usage"},
    h("thead", {}, h("tr", {}, ["role", "model", "input", "cache read", "cache write", "output", "cost"].map(
      x => h("th", {}, x)))),
    h("tbody", {}, roles.map(r => {
      const u = trial.usage[r] || {};
      return h("tr", {"data-role": r}, h("td", {}, r), h("td", {}, (trial.models || {})[r] || ""),
        ["input", "cache_read", "cache_write", "output"].map(k => h("td", {class: "num"}, Fmt.int(u[k]))),
        h("td", {class: "num"}, num("role_cost", (trial.cost || {})[r] ?? null, Fmt.cost((trial.cost || {})[r]))));
    })));
}

function verdictTable(v) {
  if (!v || !(v.commands || []).length) return null;
  return [h("h2", {}, `Judge: ${v.passed ? "passed" : "failed"}`),
    (v.failure_reasons || []).length ? h("p", {class: "status-failure"}, v.failure_reasons.join("; ")) : null,
    h("table", {class: "verdict"},
      h("thead", {}, h("tr", {}, ["command", "exit", "required", "time", "counts", "output (tail)"].map(
        x => h("th", {}, x)))),
      h("tbody", {}, v.commands.map((c, i) => h("tr", {"data-command": c.name},
        h("td", {class: "mono"}, c.name), h("td", {class: "num " + (c.exit_code ? "status-failure" : "status-success")},
          c.timed_out ? "timeout" : c.exit_code),
        h("td", {}, c.required ? "yes" : "no"), h("td", {class: "num"}, Fmt.secs(c.duration_s)),
        h("td", {}, Object.entries(c.counts || {}).map(([k, n]) => `${k}=${n}`).join(" ")),
        h("td", {}, c.output_tail ? folded(c.output_tail, `v${i}`, "output") : "")))))];
}

async function trialPage(route) {
  const {trial: t, transcript: tr} = await api(routeData(route));
  document.title = `${t.id} · orchbench`;
  crumbs([{text: "experiments", href: "/"}, {text: t.experiment, href: href.grid(t.experiment)},
    {text: `${t.arm} × ${t.task}`, href: href.cell(t.experiment, t.arm, t.task)}, {text: t.id}]);
  const all = tr.turns.flatMap(x => [x.tokens, ...x.delegations.map(d => d.tokens)])
    .concat(tr.orphan_executor_calls.map(d => d.tokens));
  const scale = Math.max(1, ...all.map(u => u.input + u.output + u.cache_write + u.cache_read));
  const kv = (k, v) => [h("dt", {}, k), h("dd", {}, v)];
  const unfinished = t.status === "running" || t.status === "interrupted";
  const canvas = tr.series.length ? h("canvas", {"data-chart": "turns"}) : null;
  const node = h("section", {},
    h("h1", {}, `Trial ${t.id}`),
    h("dl", {class: "kv"},
      kv("status", [statusEl(t.status), t.status !== "blocked" ? blockedEl(t.blocked) : null]), kv("arm × task", `${t.arm} × ${t.task} (attempt ${t.attempt})`),
      // A trial's totals are derived from its calls when it finishes: until then, sum the calls.
      unfinished ? kv("cost so far", [num("total_cost", tr.total_cost, Fmt.cost(tr.total_cost)),
        h("span", {class: "muted"}, ` (from ${tr.n_calls} calls; the trial has not finished)`)])
        : kv("total cost", num("total_cost", t.total_cost, Fmt.cost(t.total_cost))),
      kv("wall", num("wall_s", t.wall_s, Fmt.secs(t.wall_s))),
      kv("turns", num("iterations", t.iterations, t.iterations)),
      kv("models", Object.entries(t.models || {}).map(([r, m]) => `${r}: ${m}`).join(", ") || "—"),
      t.verdict_summary ? kv("verdict", t.verdict_summary) : null,
      t.failure_reason ? kv("failure reason", t.failure_reason) : null,
      t.error ? kv("error", h("span", {class: "status-failure"}, t.error)) : null,
      (t.notes || []).length ? kv("notes", t.notes.join("; ")) : null,
      (t.corrupt || []).length ? kv("corrupt", t.corrupt.map(f => corruptEl(f, t.raw?.[f]))) : null,
      kv("source", t.source || "")),
    usageTable(t),
    verdictTable(t.verdict),
    tr.n_calls ? [
      h("h2", {}, `Transcript: ${tr.turns.length} turns, ${tr.n_calls} calls`),
      h("p", {class: "muted"}, "Hand-back re-read (est.): ",
        num("reread_tokens_total", tr.reread_tokens_total, Fmt.int(tr.reread_tokens_total)),
        ` tokens of cache reads re-read executor hand-backs from earlier turns (hand-back chars / ${tr.chars_per_token}).`),
      h("div", {class: "chart-wide"}, canvas),
      h("div", {class: "turns"}, tr.turns.map(x => turnEl(x, scale))),
      tr.orphan_executor_calls.length ? [h("h2", {}, "Executor calls with no matching orchestrator turn"),
        tr.orphan_executor_calls.map(d => h("div", {class: "turn", "data-role": "executor"},
          h("div", {}, callBody(d.call, `x${d.call.turn}`)), sidePanel(d.call, d.tokens, 0, scale)))] : null,
    ] : h("p", {class: "muted", "data-empty": "calls"},
      "No calls recorded for this trial (imported totals only, or it has not made a call yet)."));
  return {node, after: () => canvas && Charts.turns(canvas, tr.series)};
}
