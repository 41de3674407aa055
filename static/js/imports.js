// The import page: show the upload's own progress (a large export takes a while to send)
// before the server-side import progress takes over.
(function () {
  function bar() { return document.getElementById("upload-progress"); }
  htmx.on("htmx:xhr:progress", function (evt) {
    var el = bar();
    if (!el || !evt.target.closest(".import-form") || !evt.detail.lengthComputable) return;
    el.hidden = false;
    el.value = Math.round((evt.detail.loaded / evt.detail.total) * 100);
  });
  htmx.on("htmx:afterRequest", function (evt) {
    var el = bar();
    if (el && evt.target.closest(".import-form")) { el.hidden = true; el.value = 0; }
  });
})();
