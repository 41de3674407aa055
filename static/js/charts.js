// Draws every .chart[data-figure] from its json_script figure; runs on load and after HTMX swaps.
// A chart with data-drill opens the records behind a clicked bar.
(function () {
  var FILTERS = ["range", "start", "end", "ledger", "provider", "model", "feature", "user", "api_key"];

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
    if (/^\d{4}-\d{2}-\d{2}$/.test(day)) url.searchParams.set("day", day);
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
