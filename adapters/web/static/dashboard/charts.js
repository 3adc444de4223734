// The revenue chart's tooltip: on hover, on tap and on keyboard focus. Tab reaches the chart once (today's
// bar); the arrow keys, Home and End move between days. The server draws everything else; without this
// script each day still has its native tooltip (<title>) and its figures for screen readers (aria-label).
(function () {
  "use strict";

  function setup(figure) {
    var tip = figure.querySelector(".chart-tip");
    var bars = Array.prototype.slice.call(figure.querySelectorAll("svg .bar"));
    if (!tip || !bars.length) { return; }

    function show(bar) {
      tip.textContent = bar.getAttribute("data-tip");
      tip.hidden = false;
      var box = figure.getBoundingClientRect();
      var fill = bar.querySelector(".fill").getBoundingClientRect();
      var left = fill.left + fill.width / 2 - box.left - tip.offsetWidth / 2;
      tip.style.left = Math.max(4, Math.min(left, box.width - tip.offsetWidth - 4)) + "px";
      tip.style.top = Math.max(0, Math.min(fill.top, box.bottom - 40) - box.top - tip.offsetHeight - 6) + "px";
      bars.forEach(function (other) { other.classList.toggle("active", other === bar); });
    }
    function hide() {
      tip.hidden = true;
      bars.forEach(function (other) { other.classList.remove("active"); });
    }

    bars.forEach(function (bar, index) {
      var title = bar.querySelector("title");
      if (title) { title.remove(); } // one tooltip, not the browser's as well
      bar.setAttribute("tabindex", index === bars.length - 1 ? "0" : "-1");
      bar.addEventListener("mouseenter", function () { show(bar); });
      bar.addEventListener("mouseleave", function () { if (document.activeElement !== bar) { hide(); } });
      bar.addEventListener("focus", function () { show(bar); });
      bar.addEventListener("blur", hide);
      bar.addEventListener("click", function () { bar.focus(); show(bar); });
      bar.addEventListener("keydown", function (event) {
        var moves = { ArrowRight: index + 1, ArrowLeft: index - 1, Home: 0, End: bars.length - 1 };
        if (!(event.key in moves)) { return; }
        event.preventDefault();
        var next = bars[Math.max(0, Math.min(bars.length - 1, moves[event.key]))];
        bar.setAttribute("tabindex", "-1");
        next.setAttribute("tabindex", "0");
        next.focus();
      });
    });
  }

  function setupAll() { document.querySelectorAll(".chart-daily").forEach(setup); }
  setupAll();
  document.addEventListener("coursesignal:report-updated", setupAll);
})();
