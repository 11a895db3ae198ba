// Org chart niceties. The chart works without this file (<details> expand and collapse on
// their own); with it: "Expand all" / "Collapse all", and links to a position open the
// branches above it before jumping there. Event delegation, so it survives htmx swaps.
(function () {
  "use strict";
  document.documentElement.classList.add("org-js");

  function openTo(id) {
    var target = document.getElementById(id);
    if (!target) return false;
    for (var el = target.parentElement; el; el = el.parentElement) {
      if (el.tagName === "DETAILS") el.open = true;
    }
    target.scrollIntoView({ block: "center", behavior: "smooth" });
    return true;
  }

  document.addEventListener("click", function (event) {
    var toggle = event.target.closest("[data-org-toggle]");
    if (toggle) {
      var open = toggle.getAttribute("data-org-toggle") === "open";
      var scope = toggle.closest(".org-chart") || document;
      scope.querySelectorAll(".org-tree details").forEach(function (d) {
        d.open = open;
      });
      return;
    }
    var jump = event.target.closest("a[data-org-jump]");
    if (jump) {
      var id = jump.getAttribute("href").slice(1);
      if (openTo(id)) {
        event.preventDefault();
        history.replaceState(null, "", "#" + id);
      }
    }
  });

  window.addEventListener("DOMContentLoaded", function () {
    if (location.hash.indexOf("#pos-") === 0) openTo(location.hash.slice(1));
  });
})();
