// The menu on a phone: the Menu button opens and closes it; Escape, or a click elsewhere, closes it and
// Escape gives the focus back to the button. From 60rem up the CSS shows the menu and hides the button.
(function () {
  "use strict";
  var button = document.querySelector(".menu-button");
  var menu = button && document.getElementById(button.getAttribute("aria-controls"));
  if (!menu) { return; }

  function isOpen() { return button.getAttribute("aria-expanded") === "true"; }
  function setOpen(open) { button.setAttribute("aria-expanded", open ? "true" : "false"); }

  button.addEventListener("click", function () { setOpen(!isOpen()); });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && isOpen()) {
      setOpen(false);
      button.focus();
    }
  });
  document.addEventListener("click", function (event) {
    if (isOpen() && !button.contains(event.target) && !menu.contains(event.target)) { setOpen(false); }
  });
}());
