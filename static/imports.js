// Polls an import batch's status while it runs, then reloads the page to show the result.
(function () {
  var box = document.getElementById("import-batch");
  if (!box || (box.dataset.status !== "pending" && box.dataset.status !== "running")) return;
  var bar = document.getElementById("import-progress");
  var rows = document.getElementById("import-rows");
  function poll() {
    fetch(box.dataset.statusUrl, { credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(function (data) {
        if (data.finished) { window.location.reload(); return; }
        if (data.rows_expected) { bar.value = Math.min(100, 100 * data.rows_done / data.rows_expected); }
        rows.textContent = data.rows_done;
        window.setTimeout(poll, 1000);
      })
      .catch(function () { window.setTimeout(poll, 3000); });
  }
  poll();
})();
