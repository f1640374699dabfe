// Times arrive as <time datetime="…Z" title="… UTC"> in UTC; show them in the viewer's zone.
(function () {
  const fmt = new Intl.DateTimeFormat(undefined, {
    year: "numeric", month: "short", day: "numeric",
    hour: "2-digit", minute: "2-digit", second: "2-digit", timeZoneName: "short",
  });
  function localize(root) {
    root.querySelectorAll("time[datetime]:not([data-local])").forEach(function (el) {
      const d = new Date(el.getAttribute("datetime"));
      if (!isNaN(d)) { el.textContent = fmt.format(d); el.dataset.local = "1"; }
    });
  }
  document.addEventListener("DOMContentLoaded", function () { localize(document); });
  document.addEventListener("htmx:load", function (e) { localize(e.target); });
})();

// The schedule form shows only the fields of the chosen type (CSS keys off data-type).
document.addEventListener("change", function (e) {
  if (e.target.name === "schedule_type") {
    const form = e.target.closest("form");
    if (form) form.dataset.type = e.target.value;
  }
});

// The agent form shows only the fields of the chosen kind (CSS keys off data-kind).
document.addEventListener("change", function (e) {
  if (e.target.name === "kind") {
    const form = e.target.closest("form.agent-form");
    if (form) form.dataset.kind = e.target.value;
  }
});
