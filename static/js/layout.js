// Page furniture: the tab bar says when it scrolls (a fade on the side with more tabs) and
// shows the current tab; forms with data-confirm ask before they submit.
(function () {
  function hint(nav) {
    var max = nav.scrollWidth - nav.clientWidth;
    nav.classList.toggle("more-right", max > 1 && nav.scrollLeft < max - 1);
    nav.classList.toggle("more-left", max > 1 && nav.scrollLeft > 1);
  }
  function start() {
    document.querySelectorAll("nav.tabs").forEach(function (nav) {
      var current = nav.querySelector("[aria-current=page]");
      if (current && nav.scrollWidth > nav.clientWidth) {
        nav.scrollLeft = current.offsetLeft - nav.clientWidth / 2 + current.offsetWidth / 2;
      }
      hint(nav);
      nav.addEventListener("scroll", function () { hint(nav); }, { passive: true });
      window.addEventListener("resize", function () { hint(nav); });
    });
  }
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.dataset && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);
  // A table that scrolls sideways can be scrolled from the keyboard: focusable, named.
  function scrollables(root) {
    var scope = root.querySelectorAll ? root : document;
    scope.querySelectorAll(".table-wrap").forEach(function (wrap) {
      if (wrap.scrollWidth <= wrap.clientWidth || wrap.hasAttribute("tabindex")) return;
      var card = wrap.closest("section, .card");
      var heading = card && card.querySelector("h2");
      wrap.setAttribute("tabindex", "0");
      wrap.setAttribute("role", "region");
      wrap.setAttribute("aria-label", (heading ? heading.textContent.trim() + " — " : "") + "table, scrolls sideways");
    });
  }
  function boot() {
    start();
    scrollables(document);
    if (window.htmx) window.htmx.onLoad(scrollables);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", boot); else boot();
})();

// A button with data-print prints the page (the report page's print style hides the furniture).
document.addEventListener("click", function (event) {
  if (event.target.closest && event.target.closest("[data-print]")) window.print();
});
