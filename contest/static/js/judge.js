/* Judge's keyboard: digits score the focused criterion, Enter saves, arrows move between
 * scored entries, Y/N in screening rounds, Z zooms a photo. Without JS the plain forms work. */
(function () {
  "use strict";

  var page = document.getElementById("judge-entry");
  var form = document.getElementById("score-form");
  var zoom = document.getElementById("zoom-toggle");
  var recuseForm = document.getElementById("recuse-form");

  if (zoom) {
    zoom.addEventListener("click", toggleZoom);
  }

  if (recuseForm) {
    recuseForm.addEventListener("submit", function (event) {
      if (!window.confirm(recuseForm.getAttribute("data-confirm"))) event.preventDefault();
    });
  }

  if (!page || !form) return;

  var screening = page.getAttribute("data-method") === "screening";
  var submitting = false;

  form.addEventListener("submit", function (event) {
    // A second Enter while the first save is on its way must not post twice.
    if (submitting) event.preventDefault();
    submitting = true;
  });

  // Start on the first criterion without a value (or the first), so typing a digit just works.
  if (!screening && !document.querySelector(".form-error, .field-error:not(:empty)")) {
    focusCriterion(firstOpenCriterion());
  } else {
    var invalid = form.querySelector('[aria-invalid="true"]');
    if (invalid) focusCriterion(invalid);
  }

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.altKey || event.metaKey || event.isComposing) return;
    var target = event.target;
    var typing = isTyping(target);
    var key = event.key;

    if (key === "Enter") {
      if (typing && !event.ctrlKey) return; // a new line in the comment
      if (!typing && isControl(target)) return; // buttons and links do their own thing
      if (screening) return; // a verdict is a choice: Y or N, never a default
      event.preventDefault();
      save();
      return;
    }
    if (typing || event.ctrlKey) return;

    if (key === "ArrowLeft" || key === "ArrowRight") {
      // Also on a radio button, whose native arrows would change the score sideways.
      var url = page.getAttribute(key === "ArrowLeft" ? "data-prev-url" : "data-next-url");
      if (url) {
        event.preventDefault();
        window.location.assign(url);
      }
      return;
    }
    if (screening && (key === "y" || key === "Y" || key === "n" || key === "N")) {
      event.preventDefault();
      var button = document.getElementById(key.toLowerCase() === "y" ? "verdict-y" : "verdict-n");
      if (button && !submitting) button.click();
      return;
    }
    if ((key === "z" || key === "Z") && zoom) {
      event.preventDefault();
      toggleZoom();
      return;
    }
    if (!screening && /^[0-9]$/.test(key)) {
      // The focused criterion; with the focus elsewhere (after a click on the photo), the
      // first one still without a score.
      var fieldset = (target.closest && target.closest(".judge-criterion")) || firstOpenCriterion();
      if (!fieldset) return;
      event.preventDefault();
      var value = key === "0" ? "10" : key;
      var radio = fieldset.querySelector('input[type="radio"][value="' + value + '"]');
      if (radio) {
        radio.checked = true;
        radio.focus();
        fieldset.removeAttribute("aria-invalid");
      }
    }
  });

  function save() {
    if (submitting) return;
    if (typeof form.requestSubmit === "function") {
      form.requestSubmit();
    } else {
      submitting = true;
      form.submit();
    }
  }

  function toggleZoom() {
    var actual = zoom.getAttribute("aria-pressed") !== "true";
    var photo = document.getElementById("entry-photo");
    // The full-resolution copy is fetched on the first zoom only: most entries are judged
    // from the 1600 px preview, and the server makes the full copy on demand.
    if (actual && photo && photo.getAttribute("data-full-src")) {
      photo.removeAttribute("width");
      photo.removeAttribute("height");
      photo.src = photo.getAttribute("data-full-src");
      photo.removeAttribute("data-full-src");
    }
    zoom.setAttribute("aria-pressed", actual ? "true" : "false");
    zoom.classList.toggle("is-actual-size", actual);
  }

  function firstOpenCriterion() {
    var sets = form.querySelectorAll(".judge-criterion");
    for (var i = 0; i < sets.length; i++) {
      if (!sets[i].querySelector("input:checked")) return sets[i];
    }
    return sets[0] || null;
  }

  function focusCriterion(element) {
    if (!element) return;
    var fieldset = element.closest ? element.closest(".judge-criterion") : null;
    if (!fieldset) {
      if (element.focus) element.focus();
      return;
    }
    var radio = fieldset.querySelector("input:checked") || fieldset.querySelector("input[type=radio]");
    if (radio) radio.focus({ preventScroll: true });
  }

  function isTyping(element) {
    if (!element || !element.tagName) return false;
    var tag = element.tagName.toLowerCase();
    if (tag === "textarea" || tag === "select" || element.isContentEditable) return true;
    if (tag !== "input") return false;
    var type = (element.getAttribute("type") || "text").toLowerCase();
    return ["radio", "checkbox", "button", "submit", "hidden"].indexOf(type) === -1;
  }

  function isControl(element) {
    if (!element || !element.tagName) return false;
    var tag = element.tagName.toLowerCase();
    return tag === "button" || tag === "a" || tag === "video" || tag === "summary";
  }
})();
