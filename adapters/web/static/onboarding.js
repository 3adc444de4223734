// Onboarding step 4: copy the snippet, and watch for the site's first tracked visit.
(function () {
  "use strict";

  var copyButton = document.getElementById("copy-snippet");
  if (copyButton) {
    // Shown only once it works: without this script the button would do nothing.
    copyButton.hidden = false;
    copyButton.addEventListener("click", function () {
      var code = document.getElementById(copyButton.getAttribute("data-copy-target"));
      var status = document.getElementById("copy-status");
      var text = code ? code.textContent : "";
      var done = function () { status.textContent = "Copied. Paste it into your site's <head>."; };
      var fallback = function () {
        var range = document.createRange();
        range.selectNodeContents(code);
        var selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
        status.textContent = "Selected: press Ctrl+C (or Cmd+C) to copy.";
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(done, fallback);
      } else {
        fallback();
      }
    });
  }

  var check = document.getElementById("first-visit");
  if (!check) { return; }
  var url = check.getAttribute("data-poll-url");
  var delay = 2000;
  var poll = function () {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { return response.ok ? response.json() : { seen: false }; })
      .then(function (body) {
        if (body.seen) {
          check.classList.remove("waiting");
          check.classList.add("seen");
          check.querySelector(".visit-text").textContent = "First visit received: tracking works.";
          return;
        }
        delay = Math.min(delay * 1.2, 10000);
        window.setTimeout(poll, delay);
      })
      .catch(function () { window.setTimeout(poll, 10000); });
  };
  poll();
})();
