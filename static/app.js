// Times arrive as <time datetime="…Z" title="… UTC"> in UTC; show them in the viewer's zone
// (UTC stays on hover). In tables they are compact: the year and seconds only when they add
// something; elsewhere they carry the zone's name.
(function () {
  const full = new Intl.DateTimeFormat(undefined, {
    year: "numeric", month: "short", day: "numeric",
    hour: "2-digit", minute: "2-digit", second: "2-digit", timeZoneName: "short",
  });
  const compact = {};
  function short(d) {
    const key = (d.getFullYear() !== new Date().getFullYear() ? "y" : "") +
      (d.getSeconds() || d.getMilliseconds() ? "s" : "");
    if (!compact[key]) {
      const opts = { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" };
      if (key.includes("y")) opts.year = "numeric";
      if (key.includes("s")) opts.second = "2-digit";
      compact[key] = new Intl.DateTimeFormat(undefined, opts);
    }
    return compact[key].format(d);
  }
  function localize(root) {
    root.querySelectorAll("time[datetime]:not([data-local])").forEach(function (el) {
      const d = new Date(el.getAttribute("datetime"));
      if (isNaN(d)) return;
      el.textContent = el.closest("td:not(.zone-full)") ? short(d) : full.format(d);
      el.dataset.local = "1";
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    localize(document);
    const zone = document.getElementById("viewer-zone");
    if (zone) zone.textContent = Intl.DateTimeFormat().resolvedOptions().timeZone;
  });
  document.addEventListener("htmx:load", function (e) { localize(e.target); });
})();

// The schedule form shows only the fields of the chosen type (CSS keys off data-type).
document.addEventListener("change", function (e) {
  if (e.target.name === "schedule_type") {
    const form = e.target.closest("form");
    if (form) form.dataset.type = e.target.value;
  }
});

// hx-confirm questions (Run Now) are asked in a <dialog>, not the browser's bare confirm().
document.addEventListener("htmx:confirm", function (e) {
  const question = e.detail.question;
  const dialog = document.getElementById("confirm-dialog");
  if (!question || !dialog) return;  // no question: htmx goes on; no dialog: its confirm()
  e.preventDefault();
  dialog.querySelector(".confirm-question").textContent = question;
  dialog.returnValue = "";
  dialog.addEventListener("close", function () {
    if (dialog.returnValue === "ok") e.detail.issueRequest(true);
  }, { once: true });
  dialog.showModal();
});

// The delete dialog: its Delete button works only once the exact name is typed (the server
// checks the name again).
(function () {
  function dialog() { return document.getElementById("delete-dialog"); }
  function sync(d) {
    const input = d.querySelector("input[name=confirm_name]");
    d.querySelector("button[type=submit]").disabled = input.value !== input.dataset.expected;
  }
  function open(name, action) {
    const d = dialog();
    if (!d) return;
    const input = d.querySelector("input[name=confirm_name]");
    if (action) d.querySelector("form").action = action;
    if (name !== undefined) {
      d.querySelector(".delete-name").textContent = name;
      input.dataset.expected = name;
      input.value = "";
    }
    sync(d);
    d.showModal();
    input.focus();
  }
  document.addEventListener("click", function (e) {
    const button = e.target.closest("[data-delete-name]");
    if (button) open(button.dataset.deleteName, button.dataset.deleteAction);
    if (e.target.closest("[data-close]")) e.target.closest("dialog").close();
  });
  document.addEventListener("input", function (e) {
    if (e.target.name === "confirm_name") sync(e.target.closest("dialog"));
  });
  document.addEventListener("DOMContentLoaded", function () {
    const d = dialog();
    if (d && d.dataset.open) open();  // the server refused the name: show why, keep it open
  });
})();

// A request that failed (403, 500, network) says so instead of doing nothing.
(function () {
  function say(text) {
    const area = document.getElementById("notice");
    if (!area) return;
    const p = document.createElement("p");
    p.className = "notice notice-error";
    p.setAttribute("role", "alert");
    p.textContent = text;
    area.replaceChildren(p);
  }
  document.addEventListener("htmx:responseError", function (e) {
    const status = e.detail.xhr.status;
    say(status === 403 ? "You are not allowed to do that." :
        "The server answered " + status + ". Reload the page and try again.");
  });
  document.addEventListener("htmx:sendError", function () {
    say("The server cannot be reached. Check your connection and try again.");
  });
})();

// Selects that apply themselves (the organization switcher, the audit log's filters): a
// listener here rather than inline handlers, which the Content-Security-Policy forbids.
document.addEventListener("change", (event) => {
  const field = event.target;
  if (field.matches && field.matches("[data-autosubmit]") && field.form) {
    field.form.requestSubmit();
  }
});

// The agent form shows only the fields of the chosen kind (CSS keys off data-kind).
document.addEventListener("change", function (e) {
  if (e.target.name === "kind") {
    const form = e.target.closest("form.agent-form");
    if (form) form.dataset.kind = e.target.value;
  }
});
