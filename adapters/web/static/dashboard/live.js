// Refreshes the recent purchases list every few seconds from the JSON API. No inline code, no libraries:
// it runs under a strict Content-Security-Policy, and the page works without it.
(function () {
  "use strict";
  var list = document.getElementById("recent-purchases");
  if (!list || !window.fetch) { return; }
  var feed = list.getAttribute("data-feed");
  var detail = list.getAttribute("data-detail");
  // The way the page itself shows money (Money.display): "1,234.00 USD", with the currency's own decimals.
  function money(major, currency) {
    var parts = major.split(".");
    parts[0] = parts[0].replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    return parts.join(".") + " " + currency;
  }
  function item(p) {
    var li = document.createElement("li");
    var a = document.createElement("a");
    a.href = detail.replace(/0$/, String(p.id));
    a.textContent = money(p.net_amount_major, p.currency);
    li.appendChild(a);
    var source = p.last_touch ? p.last_touch.source : "Unmatched";
    li.appendChild(document.createTextNode(" " + (p.course_name || "") + " · " + source + " · "));
    var time = document.createElement("time");
    time.setAttribute("datetime", p.purchased_at);
    time.textContent = new Date(p.purchased_at).toLocaleString();
    li.appendChild(time);
    return li;
  }
  function refresh() {
    fetch(feed, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (body) {
        if (!body || !body.purchases.length) { return; }
        list.replaceChildren.apply(list, body.purchases.map(item));
      })
      .catch(function () { /* offline for a moment: the next poll tries again */ });
  }
  setInterval(function () { if (!document.hidden) { refresh(); } }, 3000);
})();
