// An export's page while the export waits or runs: the progress is updated in place from
// the page's JSON twin, rather than by reloading the page (which without this file the page
// does itself). Every text shown comes from the server, in the viewer's language.
"use strict";

document.addEventListener("DOMContentLoaded", function () {
  var region = document.getElementById("export-progress");
  if (!region || !window.fetch) {
    return;
  }
  var bar = document.getElementById("export-progress-bar");
  var text = document.getElementById("export-progress-text");
  var status = document.getElementById("export-status");
  var ready = document.getElementById("export-ready");
  var interval = Number(region.dataset.interval) || 5000;

  function show(progress) {
    if (progress.total) {
      bar.max = progress.total;
      bar.value = progress.done;
    } else if (progress.finished) {
      bar.max = 1;
      bar.value = 1;
    }
    bar.textContent = progress.text;
    text.textContent = progress.text;
    // The status is a live region: only a change of status is announced.
    if (status.textContent !== progress.label) {
      status.textContent = progress.label;
    }
    if (progress.finished) {
      ready.hidden = false;
    }
  }

  function poll() {
    fetch(region.dataset.progressUrl, {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    })
      .then(function (response) {
        if (!response.ok) {
          throw new Error(response.status);
        }
        return response.json();
      })
      .then(function (progress) {
        show(progress);
        if (!progress.finished) {
          window.setTimeout(poll, interval);
        }
      })
      .catch(function () {
        // Signed out, or the server is away: try again later, more slowly.
        window.setTimeout(poll, interval * 4);
      });
  }

  window.setTimeout(poll, interval);
});
