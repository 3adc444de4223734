// Live sync progress on a connection page: polls the connection's JSON until the sync is over.
(function () {
  "use strict";
  var root = document.getElementById("connection");
  if (!root) { return; }
  var url = root.getAttribute("data-status-url");
  var bar = document.getElementById("sync-progress");
  var text = document.getElementById("sync-text");
  var sync = document.getElementById("sync");
  var status = document.getElementById("connection-status");
  var reason = document.getElementById("connection-reason");
  var synced = document.getElementById("connection-synced");
  // Optional: the onboarding wizard's "continue" step, offered once the connection is connected.
  var next = document.getElementById("connection-continue");
  var INTERVAL_MS = 1000;

  function counted(n, one, many) { return n + " " + (n === 1 ? one : many); }
  // The same format the page is served with, so the time reads the same before and after an update.
  function utc(iso) { return new Date(iso).toISOString().slice(0, 16).replace("T", " ") + " UTC"; }

  function render(data) {
    var progress = data.progress;
    root.setAttribute("data-status", data.status);
    status.textContent = data.status_label;
    status.className = "status status-" + data.status;
    reason.textContent = data.reason || "";
    reason.hidden = !data.reason;
    if (data.status === "syncing") {
      sync.hidden = false;
      if (progress.total) {
        bar.max = progress.total;
        bar.value = Math.min(progress.purchases_found, progress.total);
      } else {
        bar.removeAttribute("value");
      }
      text.textContent = counted(progress.purchases_found, "purchase", "purchases") + " found, " +
        counted(progress.pages_done, "page", "pages") + " read";
    } else {
      sync.hidden = true;
      if (data.last_synced_at) {
        synced.textContent = "Last synced " + utc(data.last_synced_at) + "; " +
          counted(progress.purchases_found, "purchase", "purchases") + " in the last full sync.";
      }
    }
    if (next) { next.hidden = data.status !== "connected"; }
    return data.status === "syncing" || data.status === "choosing";
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (data && render(data)) { window.setTimeout(poll, INTERVAL_MS); }
      })
      .catch(function () { window.setTimeout(poll, INTERVAL_MS * 5); });
  }

  if (root.getAttribute("data-status") === "syncing") { poll(); }
}());
