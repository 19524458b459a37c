/* Judge's keyboard: digits score the focused criterion, Enter saves, arrows move between
 * scored entries, Y/N in screening rounds, P skips for now, ? lists every key. A photo's zoom
 * view (Z) opens fitted to the screen, Z again shows it at 100%, arrows or WASD pan, Esc
 * leaves. A video plays and pauses with Space (or K), J/L seek 5 s. No key fires while the
 * judge types (the comment box, any text input). Without JS the plain forms work. */
(function () {
  "use strict";

  var SEEK_SECONDS = 5;
  var PAN_SHARE = 0.2; // of the visible frame per key press
  var PAN = {
    ArrowUp: [0, -1], ArrowDown: [0, 1], ArrowLeft: [-1, 0], ArrowRight: [1, 0],
    w: [0, -1], s: [0, 1], a: [-1, 0], d: [1, 0],
  };

  var page = document.getElementById("judge-entry");
  var form = document.getElementById("score-form");
  var zoomOpener = document.getElementById("zoom-toggle");
  var zoomDialog = document.getElementById("zoom-dialog");
  var zoomFrame = document.getElementById("zoom-frame");
  var zoomPhoto = document.getElementById("zoom-photo");
  var zoomScale = document.getElementById("zoom-scale");
  var helpDialog = document.getElementById("help-dialog");
  var helpOpener = document.getElementById("help-open");
  var video = document.getElementById("entry-video");
  var skipForm = document.getElementById("skip-form");
  var recuseForm = document.getElementById("recuse-form");
  var focusPoint = [0.5, 0.5]; // where the 100% view centres: the clicked point, or the middle

  if (zoomOpener && zoomDialog) zoomOpener.addEventListener("click", openZoom);
  if (zoomScale) {
    zoomScale.addEventListener("click", function () {
      setActualSize(zoomScale.getAttribute("aria-pressed") !== "true", [0.5, 0.5]);
    });
  }
  if (zoomPhoto) {
    zoomPhoto.addEventListener("click", function (event) {
      var actual = !zoomFrame.classList.contains("is-actual-size");
      setActualSize(actual, actual ? pointIn(event) : [0.5, 0.5]);
    });
  }
  if (helpOpener && helpDialog) helpOpener.addEventListener("click", toggleHelp);

  if (recuseForm) {
    recuseForm.addEventListener("submit", function (event) {
      if (!window.confirm(recuseForm.getAttribute("data-confirm"))) event.preventDefault();
    });
  }

  if (!page || !form) return;

  var screening = page.getAttribute("data-method") === "screening";
  var submitting = false;
  var untouched = formState();

  form.addEventListener("submit", function (event) {
    // A second Enter while the first save is on its way must not post twice.
    if (submitting) event.preventDefault();
    submitting = true;
  });

  if (skipForm) {
    skipForm.addEventListener("submit", function (event) {
      // Skipping leaves the page: a score chosen but not saved would be lost without a word.
      var unsaved = formState() !== untouched;
      if (submitting || (unsaved && !window.confirm(skipForm.getAttribute("data-confirm")))) {
        event.preventDefault();
        return;
      }
      submitting = true;
    });
  }

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

    if (key === "Enter" && !isOpen(helpDialog) && !isOpen(zoomDialog)) {
      if (typing && !event.ctrlKey) return; // a new line in the comment
      // Ctrl+Enter in the private note or the flag form is theirs, never a score.
      if (typing && !form.contains(target)) return;
      if (!typing && isControl(target)) return; // buttons and links do their own thing
      if (screening) return; // a verdict is a choice: Y or N, never a default
      event.preventDefault();
      save();
      return;
    }
    if (typing || event.ctrlKey) return;

    if (key === "?") {
      event.preventDefault();
      toggleHelp();
      return;
    }
    if (isOpen(helpDialog)) return; // Esc and Tab work natively; nothing else behind it
    if (isOpen(zoomDialog)) {
      zoomKey(event);
      return;
    }

    if (key === "ArrowLeft" || key === "ArrowRight") {
      // Also on a radio button, whose native arrows would change the score sideways.
      var url = page.getAttribute(key === "ArrowLeft" ? "data-prev-url" : "data-next-url");
      if (url) {
        event.preventDefault();
        window.location.assign(url);
      }
      return;
    }
    var letter = key.length === 1 ? key.toLowerCase() : key;
    if (screening && (letter === "y" || letter === "n")) {
      event.preventDefault();
      var button = document.getElementById(letter === "y" ? "verdict-y" : "verdict-n");
      if (button && !submitting) button.click();
      return;
    }
    if (letter === "z" && zoomDialog) {
      event.preventDefault();
      openZoom();
      return;
    }
    if (letter === "p" && skipForm) {
      event.preventDefault();
      skip();
      return;
    }
    if (video && videoKey(event, letter, target)) return;
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

  function skip() {
    if (submitting) return;
    if (typeof skipForm.requestSubmit === "function") {
      skipForm.requestSubmit(); // through the submit listener: the unsaved-score question
    } else if (formState() === untouched) {
      submitting = true;
      skipForm.submit();
    }
  }

  function formState() {
    var parts = [];
    var fields = form.querySelectorAll("input[type=radio]:checked, textarea");
    for (var i = 0; i < fields.length; i++) parts.push(fields[i].name + "=" + fields[i].value);
    return parts.join("&");
  }

  /* Video ------------------------------------------------------------------------------- */
  function videoKey(event, letter, target) {
    if (letter === " " || letter === "k") {
      // A focused button, link or the player itself already answers Space natively.
      if (letter === " " && isControl(target)) return false;
      event.preventDefault();
      if (video.paused || video.ended) {
        var playing = video.play();
        if (playing && playing.catch) playing.catch(function () {});
      } else {
        video.pause();
      }
      return true;
    }
    if (letter === "j" || letter === "l") {
      event.preventDefault();
      var to = video.currentTime + (letter === "j" ? -SEEK_SECONDS : SEEK_SECONDS);
      var end = isFinite(video.duration) ? video.duration : to;
      video.currentTime = Math.max(0, Math.min(end, to));
      return true;
    }
    return false;
  }

  /* Zoom -------------------------------------------------------------------------------- */
  function zoomKey(event) {
    var key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
    var step = PAN[key];
    if (step) {
      event.preventDefault();
      zoomFrame.scrollBy({
        left: step[0] * zoomFrame.clientWidth * PAN_SHARE,
        top: step[1] * zoomFrame.clientHeight * PAN_SHARE,
      });
    } else if (key === "z") {
      event.preventDefault();
      setActualSize(!zoomFrame.classList.contains("is-actual-size"), [0.5, 0.5]);
    }
    // Esc is the dialog's own: it closes it, and the focus goes back to the photo.
  }

  function openZoom() {
    if (!zoomDialog || isOpen(zoomDialog)) return;
    loadFullSize();
    setActualSize(false);
    zoomDialog.showModal();
    zoomFrame.focus({ preventScroll: true });
  }

  function loadFullSize() {
    // The full-resolution copy is fetched on the first zoom only: most entries are judged
    // from the 1600 px preview, and the server makes the full copy on demand. The preview
    // stays on screen until the full copy has arrived.
    var src = zoomPhoto.getAttribute("data-full-src");
    if (!src) return;
    zoomPhoto.removeAttribute("data-full-src");
    var full = new Image();
    full.addEventListener("load", function () {
      zoomPhoto.src = src;
      zoomPhoto.setAttribute("data-loaded", "full");
      if (zoomFrame.classList.contains("is-actual-size")) centreOn(focusPoint);
    });
    full.src = src;
  }

  function setActualSize(actual, point) {
    zoomFrame.classList.toggle("is-actual-size", actual);
    zoomScale.setAttribute("aria-pressed", actual ? "true" : "false");
    if (actual) {
      focusPoint = point || [0.5, 0.5];
      centreOn(focusPoint);
    }
  }

  function centreOn(point) {
    zoomFrame.scrollLeft = point[0] * zoomFrame.scrollWidth - zoomFrame.clientWidth / 2;
    zoomFrame.scrollTop = point[1] * zoomFrame.scrollHeight - zoomFrame.clientHeight / 2;
  }

  function pointIn(event) {
    // Where the click fell on the picture itself (object-fit: contain letterboxes it).
    var box = zoomPhoto.getBoundingClientRect();
    var scale = Math.min(box.width / zoomPhoto.naturalWidth, box.height / zoomPhoto.naturalHeight);
    var width = zoomPhoto.naturalWidth * scale;
    var height = zoomPhoto.naturalHeight * scale;
    var x = (event.clientX - box.left - (box.width - width) / 2) / width;
    var y = (event.clientY - box.top - (box.height - height) / 2) / height;
    return [clamp(x), clamp(y)];
  }

  function clamp(share) {
    return isFinite(share) ? Math.max(0, Math.min(1, share)) : 0.5;
  }

  /* Help -------------------------------------------------------------------------------- */
  function toggleHelp() {
    if (!helpDialog) return;
    if (isOpen(helpDialog)) {
      helpDialog.close();
    } else {
      helpDialog.showModal();
    }
  }

  function isOpen(dialog) {
    return Boolean(dialog && dialog.open);
  }

  /* Focus ------------------------------------------------------------------------------- */
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
