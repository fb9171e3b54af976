// Progressive enhancement only: every page works without this file.
"use strict";

document.addEventListener("DOMContentLoaded", function () {
  // Move focus to the error summary, so screen-reader and keyboard users meet it first.
  var summary = document.querySelector("[data-module='error-summary']");
  if (summary) {
    summary.focus();
  }

  // Preselect the reporter's own time zone on a new form.
  var zoneSelect = document.getElementById("timezone");
  // A form shown again after an error keeps the zone the person sent.
  if (zoneSelect && !document.querySelector(".error-summary")) {
    try {
      var detected = Intl.DateTimeFormat().resolvedOptions().timeZone;
      if (detected && zoneSelect.querySelector("option[value='" + detected.replace(/'/g, "") + "']")) {
        zoneSelect.value = detected;
      }
    } catch (ignored) {
      // Very old browsers: the deployment's default zone stays selected.
    }
  }

  // A file over the size limit is refused as soon as it is chosen: sent, it would make the
  // whole request too large for the server, and the answers typed so far would be lost.
  document.querySelectorAll("input[type='file'][data-max-bytes]").forEach(function (input) {
    input.addEventListener("change", function () {
      var limit = Number(input.dataset.maxBytes);
      var previous = document.getElementById(input.id + "-size-error");
      if (previous) {
        previous.remove();
      }
      var tooLarge = Array.prototype.filter.call(input.files, function (file) {
        return file.size > limit;
      });
      if (tooLarge.length === 0) {
        return;
      }
      input.value = "";
      var message = document.createElement("p");
      message.id = input.id + "-size-error";
      message.className = "error-message";
      message.setAttribute("role", "alert");
      message.textContent = tooLarge.map(function (file) {
        return input.dataset.tooLargeMessage.replace("{name}", file.name);
      }).join(" ");
      input.insertAdjacentElement("beforebegin", message);
    });
  });

  // A second click on "Send" while the first is on its way does nothing (the server also
  // returns the same report for a repeated submission).
  document.querySelectorAll("form").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (form.dataset.submitting) {
        event.preventDefault();
        return;
      }
      if (form.querySelector("[data-prevent-double-click]")) {
        form.dataset.submitting = "true";
      }
    });
  });
});
