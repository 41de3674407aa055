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

// Empty form fields mean "no filter": leave them out of the URL so shared links stay short.
document.addEventListener("htmx:configRequest", function (event) {
  var data = event.detail.formData;
  if (!data || event.detail.verb !== "get") return;
  var empty = [];
  data.forEach(function (value, key) { if (value === "") empty.push(key); });
  empty.forEach(function (key) { data.delete(key); });
});

// A click anywhere on a table row follows the row's main link (its first cell).
document.addEventListener("click", function (event) {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey) return;
  if (event.target.closest("a, button, input, select")) return;
  var row = event.target.closest && event.target.closest("tr.clickable");
  var link = row && row.querySelector("td.name a");
  if (link) link.click();
});
