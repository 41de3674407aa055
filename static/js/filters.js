// The filter bar applies on a deliberate action only: Apply / Enter (the form's submit), a
// mouse choice in a select, or a pause after a complete date or a keyboard step. Never on
// the first digit of a date or at every arrow-key step (the form listens for "cw:apply").
(function () {
  var DATE_PAUSE = 1200;  // ms after the last keystroke of a complete date
  var KEY_PAUSE = 800;    // ms after the last arrow-key step in a select
  var lastKey = 0;

  function sync(form) {
    var range = form.querySelector("[data-range]");
    var dates = form.querySelector("[data-dates]");
    if (!range || !dates) return;
    var custom = range.value === "custom";
    dates.hidden = !custom;
    dates.querySelectorAll("input").forEach(function (input) { input.disabled = !custom; });
  }

  function later(form, delay) {
    clearTimeout(form._cwTimer);
    form._cwTimer = setTimeout(function () { window.htmx.trigger(form, "cw:apply"); }, delay);
  }

  function cancel(form) { clearTimeout(form._cwTimer); }

  // "2026-11-05" with a four-digit year a person means (the browser reports 0002-… while
  // the year is being typed).
  function complete(input) {
    var m = /^(\d{4})-\d{2}-\d{2}$/.exec(input.value);
    return !!m && +m[1] >= 2000 && +m[1] <= 2100 && input.checkValidity();
  }

  function formOf(target) { return target.closest && target.closest("form.filters"); }

  document.addEventListener("keydown", function (event) {
    if (formOf(event.target)) lastKey = Date.now();
  }, true);

  function onEdit(event) {
    var target = event.target, form = formOf(target);
    if (!form) return;
    if (target.type === "date") {
      if (complete(target)) later(form, DATE_PAUSE); else cancel(form);
      return;
    }
    if (event.type !== "change") return;
    if (target.matches("[data-range]")) {
      sync(form);
      if (target.value === "custom") {  // the user is about to type dates: wait for them
        cancel(form);
        return;
      }
    }
    later(form, Date.now() - lastKey < 500 ? KEY_PAUSE : 0);
  }
  document.addEventListener("input", onEdit, true);
  document.addEventListener("change", onEdit, true);
  document.addEventListener("submit", function (event) {
    var form = formOf(event.target);
    if (form) cancel(form);
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

// On a phone the less used filters fold away; "More filters" opens them (and they stay
// open across the swaps of this visit).
(function () {
  var KEY = "cw-more-filters";
  function apply(root) {
    var form = (root.querySelector && root.querySelector("form.filters")) || document.querySelector("form.filters");
    var button = form && form.querySelector("[data-more-filters]");
    if (!button) return;
    var open = sessionStorage.getItem(KEY) === "1";
    form.classList.toggle("open", open);
    button.setAttribute("aria-expanded", open ? "true" : "false");
    button.textContent = open ? "Fewer filters" : "More filters";
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-more-filters]");
    if (!button) return;
    sessionStorage.setItem(KEY, sessionStorage.getItem(KEY) === "1" ? "0" : "1");
    apply(document);
  });
  if (window.htmx) window.htmx.onLoad(apply); else document.addEventListener("DOMContentLoaded", function () { apply(document); });
})();
