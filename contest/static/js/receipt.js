/* A video's receipt page while its playable copy is being made: ask the server now and then
 * (2 s, then a little longer each time, at most 30 s apart) and show the page again once the
 * copy is ready or has failed. Without JS the page keeps its "processing" note. */
(function () {
  "use strict";

  var card = document.querySelector("[data-status-url]");
  if (!card || !window.fetch) return;

  var url = card.getAttribute("data-status-url");
  var delay = 2000;
  var MAX_DELAY = 30000;

  function ask() {
    fetch(url, { headers: { Accept: "application/json" }, cache: "no-store" })
      .then(function (response) {
        if (response.status === 404 || response.status === 410) return null; // withdrawn: stop
        if (!response.ok) throw new Error("status " + response.status);
        return response.json();
      })
      .then(function (answer) {
        if (answer === null) return;
        if (answer.playback === "ready" || answer.playback === "failed") {
          window.location.reload(); // the server draws the player, or the failure note
          return;
        }
        later();
      })
      .catch(later); // a dropped connection on the venue's Wi-Fi: try again, more slowly
  }

  function later() {
    window.setTimeout(ask, delay);
    delay = Math.min(Math.round(delay * 1.5), MAX_DELAY);
  }

  later();
})();
