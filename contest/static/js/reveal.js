/* The award ceremony's slides (templates/admin/reveal.html).
 *
 * Space or → shows the next slide, ← the previous one. Pictures wait in data-src until they are
 * needed; the current slide's and the next one's are loaded, so nothing stalls on stage.
 */
(function () {
  "use strict";

  var slides = Array.prototype.slice.call(document.querySelectorAll(".reveal-slide"));
  var current = 0;

  function load(index) {
    var slide = slides[index];
    if (!slide) return;
    var media = slide.querySelector("[data-src]");
    if (!media) return;
    media.src = media.dataset.src;
    media.removeAttribute("data-src");
    if (media.tagName === "VIDEO") media.preload = "auto";
  }

  function show(index) {
    if (index < 0 || index >= slides.length) return;
    var old = slides[current].querySelector("video");
    if (old) old.pause();
    slides[current].classList.remove("is-current");
    current = index;
    slides[current].classList.add("is-current");
    load(current);
    load(current + 1); // ahead of time
    var video = slides[current].querySelector("video");
    if (video) video.play().catch(function () { /* the poster stays */ });
  }

  document.addEventListener("keydown", function (event) {
    if (event.key === " " || event.key === "ArrowRight" || event.key === "PageDown") {
      show(current + 1);
      event.preventDefault();
    } else if (event.key === "ArrowLeft" || event.key === "PageUp") {
      show(current - 1);
      event.preventDefault();
    }
  });

  load(1);
})();
