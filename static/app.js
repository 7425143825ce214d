// Termtable's only script: toasts from HX-Trigger events, copy-to-clipboard buttons, and
// keyboard care for fragments swapped in place (focus, Escape to close an editor).
// Loaded from a file so the Content-Security-Policy can forbid inline scripts.
(function () {
  "use strict";

  // The CSRF token htmx sends, for the forms built here.
  function csrfToken() {
    try {
      var headers = JSON.parse(document.body.getAttribute("hx-headers:inherited") || "{}");
      return headers["X-CSRFToken"] || "";
    } catch (error) {
      return "";
    }
  }

  // A toast with a `link` (a new notification) is a button POSTing to it (following a
  // notification marks it read, and a GET must not), and stays while the pointer or the
  // focus is on it, so it can be followed.
  function showToast(message, link) {
    var box = document.getElementById("toasts");
    if (!box || !message) return;
    // The same notification told twice at once (a live event and a poll crossing) shows once.
    var shown = Array.prototype.some.call(box.querySelectorAll(".toast"), function (toast) {
      var form = toast.querySelector("form");
      return toast.textContent === message && (form ? form.getAttribute("action") : null) === (link || null);
    });
    if (shown) return;
    var toast = document.createElement("div");
    toast.className = "toast";
    toast.setAttribute("role", "status");
    if (link) {
      var form = document.createElement("form");
      form.method = "post";
      form.action = link;
      var token = document.createElement("input");
      token.type = "hidden";
      token.name = "csrf_token";
      token.value = csrfToken();
      var button = document.createElement("button");
      button.type = "submit";
      button.className = "link-button";
      button.textContent = message;
      form.appendChild(token);
      form.appendChild(button);
      toast.appendChild(form);
    } else {
      toast.textContent = message;
    }
    box.appendChild(toast);
    function dismiss() {
      if (toast.matches(":hover, :focus-within")) {
        setTimeout(dismiss, 1000);
      } else {
        toast.remove();
      }
    }
    setTimeout(dismiss, link ? 10000 : 5000);
  }

  document.addEventListener("toast", function (event) {
    var detail = event.detail || {};
    showToast(detail.message || detail.value, detail.link);
  });

  // A pending-request card being edited (a date ticked or unticked, a reason typed) sends
  // its marker with the list's next redraw, which then keeps the card as it is.
  function markEditing(event) {
    var form = event.target.closest && event.target.closest("form");
    var marker = form && form.querySelector("[data-editing-marker]");
    if (marker) marker.disabled = false;
  }
  document.addEventListener("change", markEditing);
  document.addEventListener("input", markEditing);

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) return;
    navigator.clipboard.writeText(button.getAttribute("data-copy")).then(function () {
      showToast("Copied " + button.getAttribute("data-copy"));
    });
  });

  // A swapped-in fragment marked data-autofocus takes the focus (the first field of a form),
  // so keyboard users land in the editor they opened and back on the card they left.
  document.addEventListener("htmx:after:swap", function () {
    var marked = document.querySelector("[data-autofocus]");
    if (!marked) return;
    marked.removeAttribute("data-autofocus");
    var field = marked.matches("form")
      ? marked.querySelector("input:not([type=hidden]), select, textarea, button")
      : marked;
    if (field) field.focus();
  });

  // The schedule opened from the navigation on a narrow screen shows the day, not a week
  // seven columns wide (the page marks that case; its Week link stays to go back).
  var narrow = document.querySelector("[data-narrow-url]");
  if (narrow && window.matchMedia("(max-width: 767.98px)").matches) {
    window.location.replace(narrow.getAttribute("data-narrow-url"));
  }

  // The navigation's Menu (a <details>, which opens and closes by itself without this
  // script) also closes on a click elsewhere and on Escape, as a menu does.
  document.addEventListener("click", function (event) {
    document.querySelectorAll("details.nav-menu[open]").forEach(function (menu) {
      if (!menu.contains(event.target)) menu.removeAttribute("open");
    });
  });
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape" || !event.target.closest) return;
    var menu = event.target.closest("details.nav-menu[open]");
    if (!menu) return;
    menu.removeAttribute("open");
    menu.querySelector("summary").focus();
  });

  // Fields that suggest as you type ([data-typeahead], templates/_typeahead.html: the ARIA
  // combobox pattern). htmx fetches the listbox for what is typed; here the arrow keys move
  // through it, Enter or a click picks (the name in the field, the id in the hidden input
  // beside it, and in the filter bar the form is sent), Escape or leaving the field closes it.
  function typeahead(element) {
    var box = element && element.closest && element.closest("[data-typeahead]");
    if (!box) return null;
    return {
      box: box,
      input: box.querySelector("[role=combobox]"),
      chosen: box.querySelector("input[type=hidden]"),
      list: box.querySelector("[role=listbox]"),
    };
  }
  function typeaheadOptions(parts) {
    return parts.list ? Array.prototype.slice.call(parts.list.querySelectorAll("[role=option]")) : [];
  }
  function typeaheadActive(parts) {
    return parts.list && parts.list.querySelector("[role=option][aria-selected=true]");
  }
  function typeaheadSetActive(parts, option) {
    typeaheadOptions(parts).forEach(function (each) {
      each.setAttribute("aria-selected", each === option ? "true" : "false");
    });
    if (option) {
      parts.input.setAttribute("aria-activedescendant", option.id);
      option.scrollIntoView({ block: "nearest" });
    } else {
      parts.input.removeAttribute("aria-activedescendant");
    }
  }
  function typeaheadOpen(parts, open) {
    if (!parts.list) return;
    open = open && parts.list.children.length > 0;
    parts.list.hidden = !open;
    parts.input.setAttribute("aria-expanded", open ? "true" : "false");
    if (!open) typeaheadSetActive(parts, null);
  }
  function typeaheadPick(parts, option) {
    parts.input.value = option.getAttribute("data-name");
    if (parts.chosen) parts.chosen.value = option.getAttribute("data-id");
    typeaheadOpen(parts, false);
    if (parts.box.hasAttribute("data-submit-on-pick") && parts.input.form) {
      parts.input.form.requestSubmit();
    }
  }
  document.addEventListener("keydown", function (event) {
    if (!event.target.matches || !event.target.matches("[data-typeahead] [role=combobox]")) return;
    var parts = typeahead(event.target);
    var options = typeaheadOptions(parts);
    var open = parts.list && !parts.list.hidden;
    var active = typeaheadActive(parts);
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      if (!open) {
        if (options.length) {
          typeaheadOpen(parts, true);
        } else {
          parts.input.dispatchEvent(new CustomEvent("typeahead-open", { bubbles: true }));
        }
        return;
      }
      var index = options.indexOf(active);
      if (event.key === "ArrowDown") index = index + 1 >= options.length ? 0 : index + 1;
      else index = index <= 0 ? options.length - 1 : index - 1;
      typeaheadSetActive(parts, options[index]);
    } else if (event.key === "Enter" && open && active) {
      event.preventDefault();
      typeaheadPick(parts, active);
    } else if (event.key === "Escape" && open) {
      event.preventDefault();
      typeaheadOpen(parts, false);
    }
  });
  // A press on a suggestion keeps the focus in the field (the list would close on blur).
  document.addEventListener("mousedown", function (event) {
    if (event.target.closest && event.target.closest("[data-typeahead] [role=listbox]")) {
      event.preventDefault();
    }
  });
  document.addEventListener("click", function (event) {
    var option = event.target.closest && event.target.closest("[data-typeahead] [role=option]");
    if (option) typeaheadPick(typeahead(option), option);
  });
  document.addEventListener("focusout", function (event) {
    var parts = typeahead(event.target);
    if (parts && !parts.box.contains(event.relatedTarget)) typeaheadOpen(parts, false);
  });
  // New suggestions arrived: shown while their field has the focus.
  document.addEventListener("htmx:after:swap", function () {
    var focused = document.activeElement;
    if (!focused || !focused.matches || !focused.matches("[data-typeahead] [role=combobox]")) return;
    typeaheadOpen(typeahead(focused), true);
  });

  // Escape inside an inline editor presses its Close button.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape" || event.defaultPrevented || !event.target.closest) return;
    var editor = event.target.closest(".session-editor");
    var close = editor && editor.querySelector("[data-close-editor]");
    if (!close) return;
    event.preventDefault();
    close.click();
  });

  // Generate: the number of weeks is off while "Until a date" is chosen, and the end date
  // while "Number of weeks" is (a disabled field is not sent). Without JavaScript both are
  // sent, and the summary says which one was used.
  function syncGenerateSpan() {
    var form = document.getElementById("generate-form");
    var chosen = form && form.querySelector("input[name=span]:checked");
    if (!chosen) return;
    var weeks = form.querySelector("input[name=weeks]");
    var end = form.querySelector("input[name=end]");
    if (weeks) weeks.disabled = chosen.value !== "weeks";
    if (end) end.disabled = chosen.value !== "range";
  }
  document.addEventListener("change", function (event) {
    if (event.target.name === "span") syncGenerateSpan();
  });
  document.addEventListener("htmx:after:swap", syncGenerateSpan);
  syncGenerateSpan();

  // A list that refreshes itself (its own request, e.g. every minute) waits while one of its
  // forms named by data-poll-waits-for is open, so a redraw never takes a form being filled.
  document.addEventListener("htmx:before:request", function (event) {
    var source = event.target;
    var waitsFor = source.getAttribute && source.getAttribute("data-poll-waits-for");
    if (waitsFor && source.querySelector(waitsFor)) event.preventDefault();
  });

  // Live updates (templates/base.html: #live-events, htmx's hx-sse extension). While the
  // stream is up, elements marked data-live-poll skip their timed polls (the events bring
  // the news); when it is down (blocked by a proxy, unsupported, the server away) they poll
  // as before.
  function setLive(on) {
    document.body.setAttribute("data-live", on ? "on" : "off");
  }
  document.addEventListener("htmx:sse:after:connection", function () { setLive(true); });
  document.addEventListener("htmx:sse:error", function () { setLive(false); });
  document.addEventListener("htmx:sse:close", function () { setLive(false); });
  document.addEventListener("htmx:before:request", function (event) {
    var source = event.target;
    var ctx = event.detail && event.detail.ctx;
    if (!source.hasAttribute || !source.hasAttribute("data-live-poll")) return;
    var timed = ctx && ctx.sourceEvent && ctx.sourceEvent.type === "every";
    if (timed && document.body.getAttribute("data-live") === "on") event.preventDefault();
  });

  // A staff week or day grid (data-live-cells): sessions changed elsewhere redraw the cells
  // they were in on this page and the cells they are in now, nothing else. A change the
  // grid cannot place (a new row, a generation) redraws the whole grid. A cell with an open
  // editor is left as it is. A month, or someone's own timetable (data-live-redraw), is
  // redrawn whole, once for changes that arrive together.
  function liveCellsGrid() {
    return document.querySelector("#schedule[data-live-cells]");
  }
  var redrawPending = false;
  function redrawWholeGrid() {
    if (!window.htmx || redrawPending) return;
    redrawPending = true;
    setTimeout(function () {
      redrawPending = false;
      var grid = document.getElementById("schedule");
      if (!grid || grid.querySelector("form")) return;
      htmx.ajax("GET", window.location.href, { target: "#schedule", swap: "outerHTML" });
    }, 300);
  }
  function redrawsOn(eventName) {
    var grid = document.querySelector("#schedule[data-live-redraw]");
    return !!grid && grid.getAttribute("data-live-redraw").split(" ").indexOf(eventName) >= 0;
  }
  document.addEventListener("notification-arrived", function () {
    if (redrawsOn("notification-arrived")) redrawWholeGrid();
  });
  function livePayload(event) {
    try {
      return JSON.parse((event.detail && event.detail.data) || "{}");
    } catch (error) {
      return {};
    }
  }
  document.addEventListener("resync", function () {
    if (liveCellsGrid() || document.querySelector("#schedule[data-live-redraw]")) redrawWholeGrid();
  });
  document.addEventListener("sessions-changed", function (event) {
    var grid = liveCellsGrid();
    if (!grid) {
      if (redrawsOn("sessions-changed")) redrawWholeGrid();
      return;
    }
    var payload = livePayload(event);
    if (!payload.sessions) {
      redrawWholeGrid();
      return;
    }
    var params = new URLSearchParams();
    payload.sessions.forEach(function (id) {
      params.append("session", id);
      var card = document.getElementById("session-card-" + id);
      var cell = card && card.closest(".cell");
      if (cell && cell.id) params.append("cell", cell.id);
    });
    var url = grid.getAttribute("data-live-cells");
    url += (url.indexOf("?") < 0 ? "?" : "&") + params.toString();
    fetch(url, { headers: { "HX-Request": "true" }, credentials: "same-origin" })
      .then(function (response) {
        if (response.status !== 200) return null;
        return response.text();
      })
      .then(function (html) {
        if (!html) return;
        var template = document.createElement("template");
        template.innerHTML = html;
        var missing = false;
        Array.prototype.forEach.call(template.content.querySelectorAll(".cell[id]"), function (fresh) {
          var old = document.getElementById(fresh.id);
          if (!old) {
            missing = true;
          } else if (!old.querySelector("form")) {
            old.replaceWith(fresh);
            if (window.htmx) htmx.process(fresh);
          }
        });
        if (missing) redrawWholeGrid();
      })
      .catch(function () {});
  });
})();
