// The "leave quickly" button: go to the neutral site in place of this page, so that Back does not bring the page
// back (the link alone works without scripts, but leaves the page in the history). Escape pressed twice leaves too.
(function () {
  "use strict";
  var escapes = 0;
  function leave(event) {
    var link = document.getElementById("leave");
    if (!link) { return; }
    if (event) { event.preventDefault(); }
    document.body.style.display = "none";
    window.location.replace(link.href);
  }
  document.addEventListener("click", function (event) {
    if (event.target && event.target.closest && event.target.closest("#leave")) { leave(event); }
  });
  document.addEventListener("keydown", function (event) {
    escapes = event.key === "Escape" ? escapes + 1 : 0;
    if (escapes >= 2) { leave(event); }
  });
}());
