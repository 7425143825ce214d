// Upload progress for the files section: htmx 4 sends requests with fetch(), which reports no
// upload progress, so a form marked data-upload-form is sent here through XMLHttpRequest,
// showing upload.onprogress in its <progress> element, and the section the server answers
// with (the list, or the form with its error) replaces the old one in place. Without this
// script the form posts normally and the server redirects back to the session page.
(function () {
  "use strict";

  function megabytes(bytes) {
    return (bytes / (1024 * 1024)).toFixed(1) + " MB";
  }

  function showError(form, message) {
    var box = form.querySelector("[data-upload-error]");
    if (!box) return;
    box.textContent = message;
    box.hidden = false;
  }

  function replaceSection(form, html) {
    var section = document.getElementById(form.getAttribute("data-section"));
    var template = document.createElement("template");
    template.innerHTML = html.trim();
    var fresh = template.content.firstElementChild;
    if (!section || !fresh || fresh.id !== section.id) return false;
    section.replaceWith(fresh);
    // Let htmx wire up the new delete buttons (hx-post on each row's form).
    if (window.htmx && typeof window.htmx.process === "function") window.htmx.process(fresh);
    var focus = fresh.querySelector("[aria-invalid=true]") || fresh.querySelector("[role=status]");
    if (focus) {
      if (!focus.hasAttribute("tabindex") && !focus.matches("input")) focus.setAttribute("tabindex", "-1");
      focus.focus();
    }
    return true;
  }

  function toastFrom(xhr) {
    var trigger = xhr.getResponseHeader("HX-Trigger");
    if (!trigger) return;
    try {
      var events = JSON.parse(trigger);
      Object.keys(events).forEach(function (name) {
        document.dispatchEvent(new CustomEvent(name, { detail: events[name], bubbles: true }));
      });
    } catch (err) {
      // A malformed header only loses the toast; the section is already updated.
    }
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches || !form.matches("form[data-upload-form]")) return;
    if (typeof XMLHttpRequest === "undefined" || typeof FormData === "undefined") return;
    event.preventDefault();

    var input = form.querySelector("input[type=file]");
    var file = input && input.files && input.files[0];
    var limit = parseInt(form.getAttribute("data-max-bytes"), 10);
    var errorBox = form.querySelector("[data-upload-error]");
    if (errorBox) errorBox.hidden = true;
    // Saves sending a file the server would refuse (it checks again: this is only a kindness).
    if (file && limit && file.size > limit) {
      showError(form, form.getAttribute("data-too-large"));
      return;
    }

    var box = form.querySelector("[data-upload-progress]");
    var bar = box && box.querySelector("progress");
    var text = box && box.querySelector("[data-upload-text]");
    var button = form.querySelector("button[type=submit]");
    var token = form.querySelector("input[name=csrf_token]");

    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.setRequestHeader("HX-Request", "true");
    xhr.setRequestHeader("HX-Request-Type", "partial");
    if (token) xhr.setRequestHeader("X-CSRFToken", token.value);

    xhr.upload.onprogress = function (progress) {
      if (!bar || !progress.lengthComputable) return;
      var percent = Math.floor((progress.loaded / progress.total) * 100);
      bar.value = percent;
      text.textContent = "Uploading: " + percent + "% (" + megabytes(progress.loaded) +
        " of " + megabytes(progress.total) + ")";
    };
    xhr.onload = function () {
      if (button) button.disabled = false;
      if ((xhr.status === 200 || xhr.status === 422) && replaceSection(form, xhr.responseText)) {
        if (xhr.status === 200) toastFrom(xhr);
        return;
      }
      if (box) box.hidden = true;
      var parsed = document.createElement("template");
      parsed.innerHTML = xhr.responseText;
      var message = parsed.content.textContent.replace(/\s+/g, " ").trim();
      showError(form, message || "The upload failed (" + xhr.status + "). Please try again.");
    };
    xhr.onerror = function () {
      if (button) button.disabled = false;
      if (box) box.hidden = true;
      // A server refusing an oversized body may close the connection before answering.
      showError(form, "The upload failed: the connection was lost. Files may be up to " +
        megabytes(limit) + ".");
    };

    if (bar) bar.value = 0;
    if (text) text.textContent = "Uploading: 0%";
    if (box) box.hidden = false;
    if (button) button.disabled = true;
    xhr.send(new FormData(form));
  });
})();
