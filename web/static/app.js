// Site-wide behaviour that htmx attributes cannot express without eval (the CSP forbids it).
// The service badge turns red when the server cannot be reached, and back when it answers again.
(function () {
  "use strict";
  function markOffline(event) {
    var source = event.detail && event.detail.elt;
    if (!source || source.id !== "status-badges") return;
    var badge = document.querySelector("[data-testid='badge-service']");
    if (!badge) return;
    badge.textContent = badge.getAttribute("data-offline-text") || badge.textContent;
    badge.classList.remove("badge-ok");
    badge.classList.add("badge-bad");
  }
  document.addEventListener("htmx:sendError", markOffline);
  document.addEventListener("htmx:responseError", markOffline);
})();
