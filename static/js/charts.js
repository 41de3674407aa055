// Draws every .chart[data-figure] from its json_script figure; runs on load and after HTMX swaps.
// A chart with data-drill opens the records behind a clicked bar.
(function () {
  var FILTERS = ["range", "start", "end", "ledger", "granularity", "provider", "model", "feature", "user", "api_key"];

  function themed(layout) {
    var style = getComputedStyle(document.body);
    layout.font = Object.assign({}, layout.font || {}, { color: style.color });
    layout.hoverlabel = Object.assign({ bgcolor: style.getPropertyValue("--card").trim() || "#fff",
      font: { color: style.color } }, layout.hoverlabel || {});
    return layout;
  }

  function drillUrl(div, point) {
    var url = new URL(div.dataset.drill, window.location.href);
    var day = String(point.x).slice(0, 10);
    var per = div.dataset.granularity || "day";
    if (/^\d{4}-\d{2}-\d{2}$/.test(day)) {
      if (per === "day") {
        url.searchParams.set("day", day);
      } else {  // a week or a month: its records, as a custom range
        var end = new Date(day + "T00:00:00Z");
        if (per === "week") end.setUTCDate(end.getUTCDate() + 6);
        else end = new Date(Date.UTC(end.getUTCFullYear(), end.getUTCMonth() + 1, 0));
        url.searchParams.set("range", "custom");
        url.searchParams.set("start", day);
        url.searchParams.set("end", end.toISOString().slice(0, 10));
      }
    }
    url.searchParams.delete("granularity");
    var param = div.dataset.drillParam;
    var name = point.data && (point.data.meta !== undefined ? point.data.meta : point.data.name);
    if (param && name && name !== "other") {
      url.searchParams.set(param, name === "(none)" ? "" : name);
    }
    return url.pathname + url.search;
  }

  // plotly.js (~1 MB) is fetched only by pages that have a chart, once.
  var PLOTLY_SRC = document.currentScript && document.currentScript.dataset.plotly;
  var waiting = [];
  function withPlotly(then) {
    if (window.Plotly) return then();
    waiting.push(then);
    if (waiting.length > 1 || !PLOTLY_SRC) return;
    var script = document.createElement("script");
    script.src = PLOTLY_SRC;
    script.onload = function () { var queue = waiting; waiting = []; queue.forEach(function (f) { f(); }); };
    document.head.appendChild(script);
  }

  // The numbers behind a chart as a table (its text alternative), and for a drillable
  // chart the keyboard's way in: every cell links to the records behind it.
  function formatter(trace) {
    var hover = String(trace.hovertemplate || "");
    if (/%\{[xy]:\$/.test(hover)) {
      return function (v) { return "$" + Number(v).toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 }); };
    }
    if (/%\{[xy]:\.\d%/.test(hover)) return function (v) { return (Number(v) * 100).toFixed(1) + "%"; };
    return function (v) { return Number(v).toLocaleString("en-US", { maximumFractionDigits: 2 }); };
  }

  function tableFor(div, fig) {
    var traces = fig.data.filter(function (t) { return t.x && t.y; });
    if (!traces.length) return null;
    var horizontal = traces[0].orientation === "h";
    var categories = [], values = {};
    traces.forEach(function (t, i) {
      var cats = horizontal ? t.y : t.x, vals = horizontal ? t.x : t.y, fmt = formatter(t);
      cats.forEach(function (c, j) {
        var key = String(c);
        if (!(key in values)) { values[key] = {}; categories.push(key); }
        values[key][i] = fmt(vals[j]);
      });
    });
    var details = document.createElement("details");
    details.className = "chart-table";
    details.dataset.for = div.dataset.figure;
    var summary = document.createElement("summary");
    summary.textContent = "Show the numbers as a table";
    details.appendChild(summary);
    var wrap = document.createElement("div");
    wrap.className = "table-wrap";
    var table = document.createElement("table");
    table.className = "table";
    var head = table.createTHead().insertRow();
    var first = document.createElement("th");
    first.scope = "col";
    var xLabel = fig.layout.meta && fig.layout.meta.x_label;
    first.textContent = horizontal ? "Name" : (xLabel || (fig.layout.xaxis && fig.layout.xaxis.type === "date" ? "Day (UTC)" : ""));
    if (!first.textContent) first.textContent = "Value";
    head.appendChild(first);
    traces.forEach(function (t) {
      var th = document.createElement("th");
      th.scope = "col";
      th.className = "num";
      th.textContent = t.name || (horizontal ? "Value" : "Amount");
      head.appendChild(th);
    });
    var body = table.createTBody();
    categories.forEach(function (c) {
      var row = body.insertRow();
      var th = document.createElement("th");
      th.scope = "row";
      var hour = /^\d{4}-\d{2}-\d{2}T(\d{2}:\d{2})/.exec(c);
      th.textContent = hour ? hour[1] : (c.slice(0, 10).match(/^\d{4}-\d{2}-\d{2}$/) ? c.slice(0, 10) : c);
      row.appendChild(th);
      traces.forEach(function (t, i) {
        var cell = row.insertCell();
        cell.className = "num";
        var text = values[c][i] === undefined ? "" : values[c][i];
        if (div.dataset.drill && text) {
          var a = document.createElement("a");
          a.href = drillUrl(div, { x: c, data: t });
          a.textContent = text;
          cell.appendChild(a);
        } else {
          cell.textContent = text;
        }
      });
    });
    wrap.appendChild(table);
    details.appendChild(wrap);
    return details;
  }

  function describe(div, fig) {
    var card = div.closest(".card");
    var title = card && card.querySelector("h2");
    div.setAttribute("role", "img");
    div.setAttribute("aria-label", (title ? title.textContent.trim() : "Chart") + ": the numbers are in the table below the chart");
    var next = div.nextElementSibling;
    if (next && next.matches && next.matches("details.chart-table")) next.remove();
    var table = tableFor(div, fig);
    if (table) div.insertAdjacentElement("afterend", table);
  }

  function draw(root) {
    var charts = root.matches && root.matches(".chart[data-figure]") ? [root] : [];
    charts = charts.concat(Array.prototype.slice.call(root.querySelectorAll(".chart[data-figure]")));
    if (!charts.length) return;
    if (!window.Plotly) return withPlotly(function () { draw(root); });
    charts.forEach(function (div) {
      var source = document.getElementById(div.dataset.figure);
      if (!source) return;
      var fig = JSON.parse(source.textContent);
      var layout = themed(fig.layout);
      var legendItems = fig.data.filter(function (t) { return t.name && t.showlegend !== false; }).length;
      if (div.clientWidth < 560 && layout.showlegend !== false && legendItems > 2) {
        // On a phone the legend wraps into rows under the plot: make room instead of squeezing it.
        layout.height = (layout.height || 320) + 22 * Math.ceil(legendItems / 2);
        layout.legend = Object.assign({}, layout.legend, { y: -0.12, yanchor: "top", font: { size: 11 } });
      }
      window.Plotly.react(div, fig.data, layout, {
        responsive: true, displaylogo: false, displayModeBar: false,
      });
      describe(div, fig);
      if (div.dataset.drill && !div.dataset.drillBound) {
        div.dataset.drillBound = "1";
        div.classList.add("drillable");
        div.on("plotly_click", function (event) {
          if (!event.points || !event.points.length) return;
          window.location.assign(drillUrl(div, event.points[0]));
        });
      }
    });
  }

  // Nav links keep the current filters (not page-specific parameters) after HTMX pushes.
  function syncNav() {
    var current = new URLSearchParams(window.location.search);
    document.querySelectorAll("a[data-filters]").forEach(function (a) {
      var url = new URL(a.href, window.location.href);
      var params = new URLSearchParams();
      FILTERS.forEach(function (name) {
        current.getAll(name).slice(-1).forEach(function (v) { if (v !== "") params.set(name, v); });
      });
      var query = params.toString();
      a.href = url.pathname + (query ? "?" + query : "");
    });
  }

  function start() {
    if (window.htmx) {
      window.htmx.onLoad(draw);
      document.body.addEventListener("htmx:pushedIntoHistory", syncNav);
      document.body.addEventListener("htmx:historyRestore", syncNav);
      // Plotly's live SVG must not go into htmx's history snapshot: it is redrawn on restore.
      document.body.addEventListener("htmx:beforeHistorySave", function () {
        if (!window.Plotly) return;
        document.querySelectorAll(".chart.js-plotly-plot").forEach(function (div) {
          window.Plotly.purge(div);
          delete div.dataset.drillBound;
        });
      });
    } else {
      draw(document);
    }
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
