// Keeps an open dashboard current. Every few seconds it asks for the newest purchase; when one has landed
// since the page was drawn, it fetches this same page again and swaps in its report (tiles, charts, table
// and recent purchases), so everything is drawn by the server, in the account's money and time formats,
// exactly as on a reload. No inline code, no libraries: it runs under a strict Content-Security-Policy,
// and the page works without it.
(function () {
  "use strict";
  var report = document.getElementById("live-report");
  if (!report || !window.fetch || !window.DOMParser) { return; }
  var status = document.getElementById("live-status");
  var poll = report.getAttribute("data-poll");
  var busy = false;

  function redraw() {
    return fetch(window.location.href, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (!html) { return; }
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("live-report");
        if (!fresh) { return; }
        report.replaceChildren.apply(report, Array.prototype.map.call(fresh.childNodes, function (node) {
          return document.importNode(node, true);
        }));
        report.setAttribute("data-latest", fresh.getAttribute("data-latest") || "");
        if (status) { status.textContent = "New purchase received: the figures below include it."; }
        document.dispatchEvent(new CustomEvent("coursesignal:report-updated"));
      });
  }

  function check() {
    if (busy || document.hidden) { return; }
    busy = true;
    fetch(poll, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (body) {
        if (!body || !body.purchases.length) { return null; }
        if (String(body.purchases[0].id) === report.getAttribute("data-latest")) { return null; }
        return redraw();
      })
      .catch(function () { /* offline for a moment: the next poll tries again */ })
      .then(function () { busy = false; });
  }

  setInterval(check, 3000);
})();
