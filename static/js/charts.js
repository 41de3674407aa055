// Draws every .chart[data-figure] from its json_script figure; runs on load and after HTMX swaps.
(function () {
  function draw(root) {
    if (!window.Plotly) return;
    root.querySelectorAll(".chart[data-figure]").forEach(function (div) {
      var source = document.getElementById(div.dataset.figure);
      if (!source) return;
      var fig = JSON.parse(source.textContent);
      window.Plotly.react(div, fig.data, fig.layout, { responsive: true, displaylogo: false });
    });
  }
  function start() {
    if (window.htmx) {
      window.htmx.onLoad(draw);
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
