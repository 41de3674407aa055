// The filter bar: the date inputs are only sent (and shown) for a custom range.
(function () {
  function sync(form) {
    var range = form.querySelector("[data-range]");
    var dates = form.querySelector("[data-dates]");
    if (!range || !dates) return;
    var custom = range.value === "custom";
    dates.hidden = !custom;
    dates.querySelectorAll("input").forEach(function (input) { input.disabled = !custom; });
  }
  document.addEventListener("change", function (event) {
    var form = event.target.closest && event.target.closest("form.filters");
    if (form && event.target.matches("[data-range]")) sync(form);
  }, true);
})();
