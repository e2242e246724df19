/* Chart.js wrappers for the viewer: Pareto scatter per task, tokens-per-turn bars with running cost. */
"use strict";

const Charts = (() => {
  const live = [];

  function css(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  }

  function destroyAll() {
    while (live.length) live.pop().destroy();
  }

  function base() {
    Chart.defaults.color = css("--muted");
    Chart.defaults.borderColor = css("--line");
    Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    Chart.defaults.animation = false;
  }

  // Writes each point's arm name beside it: a Pareto chart is read by name, not by colour.
  const pointLabels = {
    id: "pointLabels",
    afterDatasetsDraw(chart) {
      const ctx = chart.ctx;
      ctx.save();
      ctx.fillStyle = css("--fg");
      ctx.font = "600 12px " + Chart.defaults.font.family;
      chart.data.datasets.forEach((ds, i) => {
        if (!ds.labels) return;
        chart.getDatasetMeta(i).data.forEach((el, j) => ctx.fillText(ds.labels[j], el.x + 7, el.y - 6));
      });
      ctx.restore();
    },
  };

  function pareto(canvas, task, cells, front) {
    base();
    const pts = cells.filter(c => c.task === task && c.cost_median != null && c.wall_median != null);
    const onFront = pts.filter(c => front.includes(c.arm)).sort((a, b) => a.wall_median - b.wall_median);
    const off = pts.filter(c => !front.includes(c.arm));
    const xy = c => ({x: c.wall_median, y: c.cost_median});
    const chart = new Chart(canvas, {
      type: "scatter",
      data: {datasets: [
        {label: "Pareto front", data: onFront.map(xy), labels: onFront.map(c => c.arm), showLine: true,
         borderColor: css("--ok"), backgroundColor: css("--ok"), pointRadius: 6},
        {label: "dominated", data: off.map(xy), labels: off.map(c => c.arm),
         borderColor: css("--bad"), backgroundColor: css("--bad"), pointRadius: 5, pointStyle: "rectRot"},
      ]},
      options: {
        maintainAspectRatio: false,
        plugins: {
          title: {display: true, text: `${task}: median cost vs median wall time (successes)`},
          tooltip: {callbacks: {label: ctx => {
            const ds = ctx.dataset;
            return `${ds.labels[ctx.dataIndex]}: ${Fmt.cost(ctx.parsed.y)}, ${Fmt.secs(ctx.parsed.x)}`;
          }}},
        },
        scales: {
          x: {title: {display: true, text: "median wall time (s)"}, beginAtZero: true},
          y: {title: {display: true, text: "median cost ($)"}, beginAtZero: true},
        },
      },
      plugins: [pointLabels],
    });
    live.push(chart);
    return chart;
  }

  const SEGMENTS = [
    ["reread", "cache read: earlier hand-backs (est.)"],
    ["cache_read", "cache read: other"],
    ["input", "input"],
    ["cache_write", "cache write"],
    ["output", "output"],
  ];

  function turns(canvas, series) {
    base();
    const labels = series.map(s => String(s.turn));
    const value = (s, key) => key === "cache_read" ? s.cache_read - s.reread : s[key];
    const datasets = SEGMENTS.map(([key, label]) => ({
      type: "bar", label, stack: "tokens", yAxisID: "y", order: 1,
      data: series.map(s => value(s, key)), backgroundColor: css("--t-" + key),
    }));
    datasets.push({
      type: "line", label: "running cost ($)", yAxisID: "y1", order: 0,  // drawn over the bars
      data: series.map(s => s.running_cost),
      borderColor: css("--fg"), backgroundColor: css("--fg"), pointRadius: 1.5, borderWidth: 1.5,
    });
    const chart = new Chart(canvas, {
      data: {labels, datasets},
      options: {
        maintainAspectRatio: false,
        interaction: {mode: "index", intersect: false},
        plugins: {title: {display: true, text: "orchestrator tokens per turn, running cost of the trial"}},
        scales: {
          x: {stacked: true, title: {display: true, text: "turn"}},
          y: {stacked: true, beginAtZero: true, title: {display: true, text: "tokens"}},
          y1: {position: "right", beginAtZero: true, grid: {drawOnChartArea: false},
               title: {display: true, text: "running cost ($)"}},
        },
      },
    });
    live.push(chart);
    return chart;
  }

  return {pareto, turns, destroyAll, SEGMENTS};
})();

const INT_FORMAT = new Intl.NumberFormat("en-US");  // one formatter: toLocaleString per call is slow

const Fmt = {
  cost: v => v == null ? "—" : "$" + Number(v).toFixed(4),
  secs: v => v == null ? "—" : Number(v).toFixed(1) + " s",
  num: v => v == null ? "—" : (Number.isInteger(v) ? String(v) : Number(v).toFixed(1)),
  int: v => v == null ? "—" : INT_FORMAT.format(v),
  pct: v => v == null ? "—" : (100 * v).toFixed(0) + "%",
  p: v => v == null ? "—" : Number(v).toPrecision(3),
};
