// Follows a job (or an import batch) while it runs: polls the element's data-status-url, shows
// the progress, and reloads the page once the work has finished, so the page shows the result.
(function () {
  var box = document.querySelector("[data-status-url]");
  var open = ["queued", "pending", "running"];
  if (!box || open.indexOf(box.dataset.status) < 0) return;
  var bar = box.querySelector("progress");
  var done = box.querySelector("[data-progress-done]");
  var total = box.querySelector("[data-progress-total]");
  function poll() {
    fetch(box.dataset.statusUrl, { credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(function (data) {
        if (data.finished) { window.location.reload(); return; }
        if (bar && data.total) { bar.max = data.total; bar.value = Math.min(data.done, data.total); }
        if (done) { done.textContent = data.done; }
        if (total && data.total) { total.textContent = data.total; }
        window.setTimeout(poll, 1000);
      })
      .catch(function () { window.setTimeout(poll, 3000); });
  }
  poll();
})();
