// Termtable's only script: toasts from HX-Trigger events and copy-to-clipboard buttons.
// Loaded from a file so the Content-Security-Policy can forbid inline scripts.
(function () {
  "use strict";

  function showToast(message) {
    var box = document.getElementById("toasts");
    if (!box || !message) return;
    var toast = document.createElement("div");
    toast.className = "toast";
    toast.setAttribute("role", "status");
    toast.textContent = message;
    box.appendChild(toast);
    setTimeout(function () { toast.remove(); }, 5000);
  }

  document.addEventListener("toast", function (event) {
    var detail = event.detail || {};
    showToast(detail.message || detail.value);
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) return;
    navigator.clipboard.writeText(button.getAttribute("data-copy")).then(function () {
      showToast("Copied " + button.getAttribute("data-copy"));
    });
  });
})();
