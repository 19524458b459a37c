/* Entry form enhancement: file checks, local preview, XHR upload with progress,
 * JSON error display. Without JS (or without FormData/XHR) the plain POST works.
 * With tus-js-client (static/vendor/tus.min.js) the file starts uploading the moment it is
 * picked, resumably (/uploads): it pauses offline, retries with backoff, resumes after a
 * reload from the offset, and the form then names the finished upload instead of the file. */
(function () {
  "use strict";

  var form = document.getElementById("entry-form");
  if (!form) return;

  var MB = 1024 * 1024;
  var STALL_MS = 60000;   // abort if the upload makes no progress for this long
  var SERVER_MS = 120000; // max wait for the server after the upload has finished

  var fileInput = document.getElementById("media");
  var preview = document.getElementById("media-preview");
  var info = document.getElementById("media-info");
  var mediaError = document.getElementById("media-error");
  var under14 = document.getElementById("under14");
  var guardian = document.getElementById("guardian-fields");
  var formError = document.getElementById("form-error");
  var status = document.getElementById("upload-status");
  var progress = document.getElementById("upload-progress");
  var progressText = document.getElementById("upload-progress-text");
  var button = document.getElementById("submit-button");

  var maxBytes = parseInt(form.getAttribute("data-max-bytes"), 10) || 0;
  var maxVideoBytes = parseInt(form.getAttribute("data-max-video-bytes"), 10) || maxBytes;
  var VIDEO_EXT = [".mp4", ".mov", ".webm", ".mkv", ".m4v"];
  var acceptExt = splitList(form.getAttribute("data-accept-ext"));
  var acceptTypes = splitList(form.getAttribute("data-accept-types"));

  var previewUrl = null;
  var submitting = false;

  /* Messages in the visitor's language come from the form's data-msg-* attributes (the
   * template translates them); the Korean here is the fallback. {name} marks a value to fill. */
  function message(name, fallback) {
    return form.getAttribute("data-msg-" + name) || fallback;
  }
  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (whole, key) {
      return Object.prototype.hasOwnProperty.call(values, key) ? String(values[key]) : whole;
    });
  }

  var MSG = {
    noFile: message("no-file", "사진이나 영상 파일을 선택해 주세요."),
    badType: message("bad-type", "지원하지 않는 파일 형식입니다. 사진(JPG, PNG, WebP, HEIC)이나 영상(MP4, MOV, WebM)만 올릴 수 있습니다."),
    network: message("network", "네트워크 연결이 불안정합니다. 입력한 내용은 그대로 있으니 다시 제출해 주세요."),
    processing: message("processing", "처리 중…"),
    done: message("done", "제출되었습니다. 접수증으로 이동합니다…"),
    tooBig: message("too-big", "파일이 너무 큽니다: 사진은 최대 {limit}까지 올릴 수 있습니다."),
    tooBigPhoto: message("too-big-photo", "파일이 너무 큽니다: 사진은 최대 {limit}까지 올릴 수 있습니다 (선택한 파일 {size})."),
    tooBigVideo: message("too-big-video", "파일이 너무 큽니다: 영상은 최대 {limit}까지 올릴 수 있습니다 (선택한 파일 {size})."),
    selected: message("selected", "선택한 파일: {name} ({size})"),
    uploading: message("uploading", "업로드 중… {progress}"),
    failed: message("failed", "제출하지 못했습니다 (오류 {code}). 잠시 후 다시 시도해 주세요."),
    speed: message("speed", "{speed}/초 · 남은 시간 {eta}"),
    offline: message("offline", "인터넷 연결이 끊겼습니다. 다시 연결되면 이어서 올립니다."),
    uploaded: message("uploaded", "파일을 다 올렸습니다. 나머지를 채우고 응모하기를 눌러 주세요."),
    retrying: message("retrying", "연결이 불안정해 다시 시도하는 중입니다…")
  };

  function splitList(s) {
    return (s || "").split(",").map(function (x) {
      return x.trim().toLowerCase();
    }).filter(Boolean);
  }

  /* "40 MB", "4.2 MB", "850 KB" */
  function formatSize(bytes) {
    if (bytes > 0 && bytes < MB / 10) return Math.max(1, Math.round(bytes / 1024)) + " KB";
    return formatMB(bytes) + " MB";
  }
  function formatMB(bytes) {
    return String(Math.round(bytes / MB * 10) / 10); // 40 -> "40", 52.34 -> "52.3"
  }

  function extensionOf(file) {
    var name = (file.name || "").toLowerCase();
    var dot = name.lastIndexOf(".");
    return dot >= 0 ? name.slice(dot) : "";
  }

  function isVideo(file) {
    return (file.type || "").indexOf("video/") === 0 || VIDEO_EXT.indexOf(extensionOf(file)) >= 0;
  }

  /* Videos may be much larger than photos: each kind has its own limit. */
  function limitFor(file) {
    return file && isVideo(file) ? maxVideoBytes : maxBytes;
  }

  function tooBigMessage(file) {
    var limit = formatSize(limitFor(file));
    if (!file) return fill(MSG.tooBig, { limit: limit });
    var template = isVideo(file) ? MSG.tooBigVideo : MSG.tooBigPhoto;
    return fill(template, { limit: limit, size: formatSize(file.size) });
  }

  function typeOk(file) {
    var type = (file.type || "").toLowerCase();
    var ext = extensionOf(file);
    if (ext && acceptExt.indexOf(ext) >= 0) return true;
    if (!type) return false;
    return acceptTypes.some(function (t) {
      return t === type || (t.slice(-2) === "/*" && type.indexOf(t.slice(0, -1)) === 0);
    });
  }

  /* Returns an error message for the chosen file, or "" if it is fine. */
  function fileProblem(file) {
    if (!file) return MSG.noFile;
    if (!typeOk(file)) return MSG.badType;
    if (limitFor(file) && file.size > limitFor(file)) return tooBigMessage(file);
    return "";
  }

  function chosenFile() {
    return fileInput && fileInput.files && fileInput.files.length ? fileInput.files[0] : null;
  }

  /* ---- field errors ---- */

  function setFieldError(name, text) {
    var p = document.getElementById(name + "-error");
    var input = document.getElementById(name);
    if (p) p.textContent = text || "";
    if (input) {
      if (text) input.setAttribute("aria-invalid", "true");
      else input.removeAttribute("aria-invalid");
    }
  }

  function setFormError(text) {
    if (!formError) return;
    formError.textContent = text || "";
    formError.hidden = !text;
  }

  function clearErrors() {
    var ps = form.querySelectorAll(".field-error");
    for (var i = 0; i < ps.length; i++) ps[i].textContent = "";
    var inv = form.querySelectorAll('[aria-invalid="true"]');
    for (var j = 0; j < inv.length; j++) inv[j].removeAttribute("aria-invalid");
    setFormError("");
  }

  function focusAndReveal(el) {
    if (!el) return;
    try {
      el.focus({ preventScroll: true });
    } catch (e) {
      el.focus();
    }
    if (el.scrollIntoView) {
      try {
        var calm = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
        el.scrollIntoView({ block: "center", behavior: calm ? "auto" : "smooth" });
      } catch (e) {
        el.scrollIntoView();
      }
    }
  }

  function focusFormError() {
    if (!formError) return;
    if (!formError.hasAttribute("tabindex")) formError.setAttribute("tabindex", "-1");
    focusAndReveal(formError);
  }

  /* ---- guardian fieldset ---- */

  function guardianHasError() {
    if (!guardian) return false;
    var ps = guardian.querySelectorAll(".field-error");
    for (var i = 0; i < ps.length; i++) {
      if (ps[i].textContent.trim()) return true;
    }
    return false;
  }

  function updateGuardian() {
    if (!guardian || !under14) return;
    guardian.hidden = !under14.checked && !guardianHasError();
  }

  /* ---- file choice: info, preview, immediate checks ---- */

  function revokePreview() {
    if (previewUrl) {
      URL.revokeObjectURL(previewUrl);
      previewUrl = null;
    }
  }

  function showPreview(file) {
    if (!preview) return;
    preview.hidden = true;
    preview.removeAttribute("src");
    revokePreview();
    if (!file || !window.URL || !URL.createObjectURL) return;
    previewUrl = URL.createObjectURL(file);
    preview.src = previewUrl; // shown on "load", stays hidden on "error" (e.g. HEIC)
  }

  function onFileChange() {
    if (severalPossible() && fileInput.files.length > 1) {
      pickWorks(fileInput.files);
      return;
    }
    if (works && works.length || worksBox && !worksBox.hidden) {
      dropWorks();
      showSingle(true);
    }
    var file = chosenFile();
    if (info) info.textContent = file ? fill(MSG.selected, { name: file.name, size: formatSize(file.size) }) : "";
    if (!file) {
      showPreview(null);
      setFieldError("media", "");
      return;
    }
    var problem = fileProblem(file);
    setFieldError("media", problem);
    showPreview(problem === MSG.badType ? null : file);
    if (!problem && resumable) startResumable(file);
  }

  /* ---- resumable upload (tus) ---- */

  var endpoint = form.getAttribute("data-tus-endpoint");
  var resumable = !!(endpoint && window.tus && window.tus.isSupported && window.Promise &&
    window.FormData && window.XMLHttpRequest);
  var tusUpload = null;   // the tus.Upload of the chosen file
  var tusFile = null;     // the file it sends
  var uploadedId = "";    // set once every byte is on the server
  var tusFailed = false;  // gave up after its retries: submitting starts it again
  var tusPaused = false;  // stopped because the browser went offline
  var tusWaiting = false; // waiting out a retry's backoff (up to a minute)
  var tusFailedCode = 0;  // the HTTP status it gave up on (0: no answer)
  var submitWhenDone = false;
  var tusMeter = newMeter();  // its speed and time left
  var uploadField = document.getElementById("upload");

  function formatDuration(seconds) {
    seconds = Math.max(1, Math.round(seconds));
    var m = Math.floor(seconds / 60), s = seconds % 60;
    return m ? m + ":" + (s < 10 ? "0" : "") + s : s + "s";
  }

  function showTus(text) {
    if (status) status.hidden = false;
    if (progressText) progressText.textContent = text;
  }

  function percent(sent, total) {
    return total ? Math.min(100, Math.floor(sent / total * 100)) : 0;
  }

  /* One upload's progress as words: "업로드 중… 40% (2 / 5 MB) · 300 KB/초 · 남은 시간 0:10".
   * A meter keeps the last ten seconds of [time, bytes] for the speed and the time left, and
   * when it last spoke: it answers null within a second of that (aria-live: not every chunk).
   * The one file and each of several works have their own meter and share these words. */
  function newMeter() {
    return { samples: [], shownAt: 0 };
  }

  function progressWords(meter, sent, total) {
    var now = Date.now();
    var samples = meter.samples;
    samples.push([now, sent]);
    while (samples.length > 2 && now - samples[0][0] > 10000) samples.shift();
    if (now - meter.shownAt < 1000 && sent < total) return null;
    meter.shownAt = now;
    var text = fill(MSG.uploading, {
      progress: percent(sent, total) + "% (" + formatMB(sent) + " / " + formatMB(total) + " MB)"
    });
    var first = samples[0];
    var seconds = (now - first[0]) / 1000;
    if (seconds > 0.5 && sent > first[1]) {
      var rate = (sent - first[1]) / seconds;
      text += " · " + fill(MSG.speed, { speed: formatSize(rate), eta: formatDuration((total - sent) / rate) });
    }
    return text;
  }

  function tusProgress(sent, total) {
    if (progress) progress.value = percent(sent, total);
    var text = progressWords(tusMeter, sent, total);
    if (text !== null) showTus(text);
  }

  function forgetStoredUploads() {
    try {
      for (var i = localStorage.length - 1; i >= 0; i--) {
        var key = localStorage.key(i);
        if (key && key.indexOf("tus::") === 0) localStorage.removeItem(key);
      }
    } catch (e) { /* storage off: nothing kept */ }
  }

  function dropResumable() {
    var old = tusUpload;
    tusUpload = null;
    tusFile = null;
    uploadedId = "";
    tusFailed = false;
    tusPaused = false;
    tusWaiting = false;
    tusFailedCode = 0;
    if (uploadField) uploadField.value = "";
    if (old) old.abort(false);
  }

  function startResumable(file) {
    dropResumable();
    tusFile = file;
    tusMeter = newMeter();
    var csrf = form.querySelector('input[name="csrf_token"]');
    var up = new window.tus.Upload(file, {
      endpoint: endpoint,
      chunkSize: 1024 * 1024,  // a dropped connection costs at most one MiB
      retryDelays: [0, 1000, 3000, 5000, 10000, 20000, 30000, 60000, 60000, 60000],
      headers: { "X-CSRFToken": csrf ? csrf.value : "" },
      metadata: {
        filename: file.name || "",
        filetype: file.type || (isVideo(file) ? "video/unknown" : "image/unknown")
      },
      removeFingerprintOnSuccess: false,  // a reload before submitting finds it finished
      onProgress: function (sent, total) {
        if (tusUpload !== up) return;
        tusWaiting = false;
        tusProgress(sent, total);
      },
      onShouldRetry: function () {
        if (tusUpload !== up) return true;
        tusWaiting = true;
        showTus(MSG.retrying);
        return true;
      },
      onSuccess: function () {
        if (tusUpload !== up) return;
        uploadedId = up.url.split("/").pop();
        checkSingleUpload(up);
        if (progress) progress.value = 100;
        if (submitWhenDone) sendForm();
        else showTus(MSG.uploaded);
      },
      onError: function (err) {
        if (tusUpload !== up) return;
        tusFailed = true;
        var res = err && err.originalResponse;
        var code = res ? res.getStatus() : 0;
        tusFailedCode = code;
        var text = code === 413 ? tooBigMessage(file) : MSG.network;
        if (submitWhenDone) {
          submitWhenDone = false;
          finish(false);
        }
        setFieldError("media", text);
        if (status) status.hidden = true;
      }
    });
    tusUpload = up;
    up.findPreviousUploads().then(function (previous) {
      if (tusUpload !== up) return;
      if (previous.length) up.resumeFromPreviousUpload(previous[0]);
      if (navigator.onLine === false) {
        tusPaused = true;
        showTus(MSG.offline);
      } else {
        up.start();
      }
    });
  }

  window.addEventListener("offline", function () {
    if (!tusUpload || uploadedId || tusFailed) return;
    tusPaused = true;
    tusUpload.abort(false);
    showTus(MSG.offline);
  });
  window.addEventListener("online", function () {
    if (!tusUpload || !tusPaused) return;
    tusPaused = false;
    tusMeter = newMeter();  // the time offline is no speed
    tusUpload.start();
  });

  /* ---- the server's checks of a finished upload ----
   * The server checks a file's content the moment its upload completes; the page asks
   * (/uploads/<id>/check) with a short backoff and shows a refusal next to that file's field
   * at once, in the page's language (the server answers in it). It stops asking once there is
   * a verdict, when the file is replaced or removed, after a few minutes, or when the page is
   * left, or the form is sent. Submitting does not wait for it: the server checks again if it
   * has to. */

  var CHECK_DELAYS = [300, 700, 1500, 3000, 5000];  // then every 5 s
  var CHECK_GIVE_UP_MS = 5 * 60 * 1000;
  var checkTimers = [];
  var pageLeft = false;

  function watchCheck(uploadUrl, stillCurrent, onRefused) {
    var startedAt = Date.now();
    var attempt = 0;
    function wanted() {
      // Once the form is being sent its answer tells (and the upload is gone after it).
      return !pageLeft && !submitting && stillCurrent() && Date.now() - startedAt < CHECK_GIVE_UP_MS;
    }
    function later() {
      if (!wanted()) return;
      var delay = CHECK_DELAYS[Math.min(attempt++, CHECK_DELAYS.length - 1)];
      checkTimers.push(setTimeout(ask, delay));
    }
    function ask() {
      if (!wanted()) return;
      var req = new XMLHttpRequest();
      req.open("GET", uploadUrl + "/check");
      req.setRequestHeader("Accept", "application/json");
      req.onload = function () {
        if (req.status !== 200) return;  // gone or expired: submitting says what to do
        var answer = null;
        try { answer = JSON.parse(req.responseText); } catch (e) { return; }
        if (answer.state === "checking") later();
        else if (answer.state === "refused" && stillCurrent()) onRefused(answer.message || MSG.network);
      };
      req.onerror = later;
      req.send();
    }
    later();
  }

  function stopChecks() {
    pageLeft = true;
    checkTimers.forEach(clearTimeout);
    checkTimers = [];
  }
  window.addEventListener("pagehide", stopChecks);

  function checkSingleUpload(up) {
    watchCheck(up.url, function () { return tusUpload === up; }, function (text) {
      setFieldError("media", text);  // announced (aria-live), focus stays where the visitor types
    });
  }

  function checkWorkUpload(work, up) {
    watchCheck(up.url, function () { return work.up === up; }, function (text) {
      work.problem = text;  // as a refusal at submit: to be left out or replaced
      setFieldError("works-" + work.n + "-upload", text);
    });
  }

  /* Back from a phone's locked screen (or another tab), online: an upload that is neither
   * finished nor sending (waiting out a retry's backoff of up to a minute, paused by an
   * 'offline' whose 'online' never came, or out of retries) starts again at once. A new
   * tus.Upload, as if the file were picked again: it finds its stored address, asks the
   * server's offset (HEAD) and goes on from there with its retries afresh. */
  document.addEventListener("visibilitychange", function () {
    if (!backInView() || !tusUpload || uploadedId) return;
    if (!(tusPaused || tusWaiting || tusFailed && worthRestarting(tusFailedCode))) return;
    if (tusFailed) setFieldError("media", "");
    showTus(fill(MSG.uploading, { progress: (progress ? progress.value : 0) + "%" }));
    startResumable(tusFile);
  });

  function backInView() {
    return document.visibilityState === "visible" && navigator.onLine !== false;
  }

  /* Given up without an answer, on a server error, or on an upload that is gone (a new one is
   * made): worth another go. A refusal (413 too big, 403...) would only be refused again. */
  function worthRestarting(code) {
    return !code || code >= 500 || [404, 409, 410, 423, 429].indexOf(code) >= 0;
  }

  if (preview) {
    preview.addEventListener("load", function () {
      if (previewUrl && preview.src === previewUrl) preview.hidden = false;
    });
    preview.addEventListener("error", function () {
      preview.hidden = true;
      preview.removeAttribute("src");
      revokePreview();
    });
  }

  if (fileInput) {
    if (mediaError && !mediaError.hasAttribute("aria-live")) mediaError.setAttribute("aria-live", "polite");
    fileInput.addEventListener("change", onFileChange);
    if (chosenFile()) onFileChange(); // file kept by the browser on back/reload
  }

  if (under14 && guardian) {
    under14.addEventListener("change", updateGuardian);
    updateGuardian();
  }

  /* ---- several works at once (with resumable uploads only) ----
   * Picking several files gives each its own upload, progress, title and description
   * (`works-N-upload`, `works-N-title`, `works-N-description`); the entrant's fields are
   * entered once and one post sends them all (all or none: see docs/OPERATIONS.md).
   * Each upload pauses offline and goes on online; after a reload (or a phone that dropped
   * the tab) each file picked again resumes its own upload from the server's offset (its
   * fingerprint is in localStorage, as for one file), and its title comes back. */

  var maxFiles = parseInt(form.getAttribute("data-max-files"), 10) || 1;
  var worksBox = document.getElementById("works");
  // {n, file, box, bar, text, meter, up, id, failed, failedCode, problem, ready, paused, waiting}
  var works = [];
  var workCounter = 0;
  var worksWhenDone = false;
  MSG.tooMany = message("too-many", "한 번에 {limit}개까지 고를 수 있습니다.");
  MSG.remove = message("remove", "이 작품 빼기");
  MSG.waiting = message("waiting", "파일을 다 올리면 바로 응모합니다 (남은 파일 {count}개).");

  function severalPossible() {
    return !!(resumable && worksBox && maxFiles > 1 && fileInput && fileInput.files);
  }
  if (fileInput && resumable && worksBox && maxFiles > 1) fileInput.multiple = true;

  function labelText(id) {
    var label = form.querySelector('label[for="' + id + '"]');
    return label ? label.textContent : "";
  }

  function showSingle(on) {
    ["title", "description"].forEach(function (name) {
      var box = document.getElementById("field-" + name);
      var input = document.getElementById(name);
      if (box) box.hidden = !on;
      if (input) input.disabled = !on;  // not sent, not checked
    });
    if (worksBox) worksBox.hidden = on;
  }

  function terminate(up) {
    if (!up) return;
    var done = up.abort(true);
    if (done && done["catch"]) done["catch"](function () {});
  }

  function dropWorks() {
    works.forEach(function (w) {
      var up = w.up;
      w.up = null;
      if (!w.id) terminate(up);  // a finished one may be named again by a retry: keep it
    });
    works = [];
    worksWhenDone = false;
    if (worksBox) worksBox.textContent = "";
  }

  function field(work, key, tag, maxlength) {
    var name = "works-" + work.n + "-" + key;
    var box = document.createElement("div");
    box.className = "field";
    var label = document.createElement("label");
    label.setAttribute("for", name);
    label.textContent = labelText(key);
    var input = document.createElement(tag);
    input.id = input.name = name;
    input.maxLength = maxlength;
    if (tag === "textarea") input.rows = 3;
    input.setAttribute("aria-describedby", name + "-error");
    var error = document.createElement("p");
    error.className = "field-error";
    error.id = name + "-error";
    box.appendChild(label);
    box.appendChild(input);
    box.appendChild(error);
    return box;
  }

  function addWork(file) {
    var work = { n: workCounter++, file: file, up: null, id: "", failed: false, problem: "" };
    var name = "works-" + work.n;
    var box = document.createElement("fieldset");
    box.className = "work";
    box.id = name;
    var legend = document.createElement("legend");
    legend.textContent = fill(MSG.selected, { name: file.name, size: formatSize(file.size) });
    box.appendChild(legend);
    work.bar = document.createElement("progress");
    work.bar.max = 100;
    work.bar.value = 0;
    box.appendChild(work.bar);
    work.text = document.createElement("span");
    work.text.className = "hint";
    work.text.id = name + "-status";
    work.text.setAttribute("aria-live", "polite");
    box.appendChild(work.text);
    var error = document.createElement("p");
    error.className = "field-error";
    error.id = name + "-upload-error";
    error.setAttribute("aria-live", "polite");
    box.appendChild(error);
    box.appendChild(field(work, "title", "input", 80));
    box.appendChild(field(work, "description", "textarea", 1000));
    var remove = document.createElement("button");
    remove.type = "button";
    remove.className = "button button-secondary work-remove";
    remove.textContent = MSG.remove;
    remove.addEventListener("click", function () { removeWork(work); });
    box.appendChild(remove);
    work.box = box;
    restoreTyped(work);
    box.addEventListener("input", function () { rememberTyped(work); });
    worksBox.appendChild(box);
    works.push(work);
    work.problem = fileProblem(file);
    if (work.problem) setFieldError(name + "-upload", work.problem);
    else startWork(work);
  }

  function removeWork(work) {
    var up = work.up;
    work.up = null;
    terminate(up);
    forgetTyped(work.file);
    if (work.box.parentNode) work.box.parentNode.removeChild(work.box);
    works = works.filter(function (w) { return w !== work; });
    if (!works.length) {
      fileInput.value = "";
      showSingle(true);
      focusAndReveal(fileInput);
    }
  }

  function pickWorks(files) {
    dropResumable();
    dropWorks();
    showPreview(null);
    if (info) info.textContent = "";
    setFieldError("media", "");
    if (files.length > maxFiles) {
      showSingle(true);
      setFieldError("media", fill(MSG.tooMany, { limit: maxFiles }));
      return;
    }
    showSingle(false);
    for (var i = 0; i < files.length; i++) addWork(files[i]);
  }

  function startWork(work) {
    var csrf = form.querySelector('input[name="csrf_token"]');
    var file = work.file;
    work.meter = newMeter();
    work.failed = false;
    work.id = "";
    var up = new window.tus.Upload(file, {
      endpoint: endpoint,
      chunkSize: 1024 * 1024,
      retryDelays: [0, 1000, 3000, 5000, 10000, 20000, 30000, 60000, 60000, 60000],
      headers: { "X-CSRFToken": csrf ? csrf.value : "" },
      metadata: {
        filename: file.name || "",
        filetype: file.type || (isVideo(file) ? "video/unknown" : "image/unknown")
      },
      removeFingerprintOnSuccess: false,  // a reload before submitting finds it finished
      onProgress: function (sent, total) {
        if (work.up !== up) return;
        work.waiting = false;
        work.bar.value = percent(sent, total);
        var text = progressWords(work.meter, sent, total);
        if (text !== null) work.text.textContent = text;
      },
      onShouldRetry: function () {
        if (work.up !== up) return true;
        work.waiting = true;
        work.text.textContent = MSG.retrying;
        return true;
      },
      onSuccess: function () {
        if (work.up !== up) return;
        work.id = up.url.split("/").pop();
        checkWorkUpload(work, up);
        work.bar.value = 100;
        work.text.textContent = MSG.uploaded;
        sendWorksWhenDone();
      },
      onError: function (err) {
        if (work.up !== up) return;
        work.failed = true;
        var res = err && err.originalResponse;
        var code = res ? res.getStatus() : 0;
        work.failedCode = code;
        setFieldError("works-" + work.n + "-upload", code === 413 ? tooBigMessage(file) : MSG.network);
        if (worksWhenDone) {
          worksWhenDone = false;
          finish(false);
        }
      }
    });
    work.up = up;
    work.ready = false;   // until its previous upload, if any, is found
    work.paused = false;
    work.waiting = false;
    up.findPreviousUploads()["catch"](function () { return []; }).then(function (previous) {
      if (work.up !== up) return;
      var before = unclaimedUpload(previous);
      if (before) up.resumeFromPreviousUpload(before);  // HEAD, then on from the server's offset
      work.ready = true;
      if (navigator.onLine === false) pauseWork(work);
      else up.start();
    });
  }

  /* The newest upload stored for this file that no other work is sending: the same file
   * picked twice must not feed one upload from two places. */
  function unclaimedUpload(previous) {
    var taken = works.map(function (w) { return w.up && w.up.url; });
    var free = previous.filter(function (p) {
      return p.uploadUrl && taken.indexOf(p.uploadUrl) < 0;
    });
    free.sort(function (a, b) {
      return (Date.parse(b.creationTime) || 0) - (Date.parse(a.creationTime) || 0);
    });
    return free[0] || null;
  }

  /* Offline: every work still sending stops (its chunk in flight is lost, at most one each)
   * and says so; online: each goes on from the offset the server reports. */
  function pauseWork(work) {
    work.paused = true;
    work.up.abort(false);
    work.text.textContent = MSG.offline;
  }

  window.addEventListener("offline", function () {
    works.forEach(function (w) {
      if (w.up && w.ready && !w.id && !w.failed && !w.paused) pauseWork(w);
    });
    if (worksWhenDone) showTus(MSG.offline);
  });
  window.addEventListener("online", function () {
    works.forEach(function (w) {
      if (!w.up || !w.paused) return;
      w.paused = false;
      w.meter = newMeter();  // the time offline is no speed
      w.text.textContent = fill(MSG.uploading, { progress: w.bar.value + "%" });
      w.up.start();
    });
    if (worksWhenDone) showWaiting();
  });

  /* Back from a locked screen, online: each work neither finished nor sending (in a retry's
   * backoff, paused, or out of retries) starts again at once from the server's offset, as the
   * one file does (a new tus.Upload that finds its stored address; the old one is stopped so
   * that its retry timer cannot send the same bytes beside it). */
  document.addEventListener("visibilitychange", function () {
    if (!backInView()) return;
    works.forEach(function (w) {
      if (!w.up || w.id || !w.ready) return;  // no file to send, finished, or still starting
      if (w.paused || w.waiting || w.failed && worthRestarting(w.failedCode)) restartWork(w);
    });
    if (worksWhenDone) showWaiting();
  });

  function restartWork(work) {
    var old = work.up;
    work.up = null;  // its late callbacks are ignored
    old.abort(false);
    setFieldError("works-" + work.n + "-upload", "");
    work.text.textContent = fill(MSG.uploading, { progress: work.bar.value + "%" });
    startWork(work);
  }

  /* ---- what was typed for each work survives a reload (sessionStorage, this tab only) ----
   * Only titles and descriptions, keyed by the file (name, size, date): the browser keeps the
   * entrant's own fields, and personal data is not copied into storage. */
  var TYPED = "contest-work::";

  function typedKey(file) {
    return TYPED + [file.name, file.size, file.lastModified].join("::");
  }

  function typedInputs(work) {
    return ["title", "description"].map(function (key) {
      return work.box.querySelector("#works-" + work.n + "-" + key);  // before it is in the page too
    });
  }

  function rememberTyped(work) {
    var inputs = typedInputs(work);
    try {
      sessionStorage.setItem(typedKey(work.file), JSON.stringify({
        title: inputs[0] ? inputs[0].value : "",
        description: inputs[1] ? inputs[1].value : ""
      }));
    } catch (e) { /* storage off or full: the text stays on the page only */ }
  }

  function restoreTyped(work) {
    var kept = null;
    try {
      kept = JSON.parse(sessionStorage.getItem(typedKey(work.file)) || "null");
    } catch (e) { return; }
    if (!kept) return;
    var inputs = typedInputs(work);
    if (inputs[0] && !inputs[0].value) inputs[0].value = kept.title || "";
    if (inputs[1] && !inputs[1].value) inputs[1].value = kept.description || "";
  }

  function forgetTyped(file) {
    try {
      sessionStorage.removeItem(typedKey(file));
    } catch (e) { /* storage off: nothing kept */ }
  }

  function forgetAllTyped() {
    try {
      for (var i = sessionStorage.length - 1; i >= 0; i--) {
        var key = sessionStorage.key(i);
        if (key && key.indexOf(TYPED) === 0) sessionStorage.removeItem(key);
      }
    } catch (e) { /* storage off: nothing kept */ }
  }

  function showWaiting() {
    var left = works.filter(function (w) { return !w.id; }).length;
    if (left) showTus(fill(MSG.waiting, { count: left }));
  }

  function submitWorks() {
    var blocked = null;
    works.forEach(function (w) {
      if (!w.problem) return;
      setFieldError("works-" + w.n + "-upload", w.problem);
      blocked = blocked || w;
    });
    if (blocked) {
      focusAndReveal(blocked.box.querySelector(".work-remove"));
      return;
    }
    start(true);
    worksWhenDone = true;
    works.forEach(function (w) { if (w.failed) startWork(w); });
    if (navigator.onLine === false) showTus(MSG.offline);
    else showWaiting();
    sendWorksWhenDone();
  }

  function sendWorksWhenDone() {
    if (!worksWhenDone) return;
    for (var i = 0; i < works.length; i++) {
      if (!works[i].id) return;  // its onSuccess comes back here
    }
    worksWhenDone = false;
    sendForm();
  }

  /* A refused work (its file, or past the entrant's limit) must be left out or replaced. */
  function markRefusedWorks(errors) {
    works.forEach(function (w) {
      var list = errors["works-" + w.n + "-upload"];
      if (!list) return;
      w.problem = (Array.isArray(list) ? list : [list]).join(" ");
    });
  }

  /* ---- submission ---- */

  if (!window.FormData || !window.XMLHttpRequest) return; // plain POST

  var xhr = null;
  var watchdog = null;
  var lastTextAt = 0;

  function setProgress(loaded, total) {
    var pct = percent(loaded, total);
    if (progress) progress.value = pct;
    var now = Date.now();
    // throttle the (aria-live) text so screen readers are not flooded
    if (progressText && (now - lastTextAt > 1000 || pct >= 100)) {
      lastTextAt = now;
      progressText.textContent = fill(MSG.uploading, {
        progress: pct + "% (" + formatMB(loaded) + " / " + formatMB(total) + " MB)"
      });
    }
  }

  function setProcessing() {
    if (progress) progress.value = 100;
    if (progressText) progressText.textContent = MSG.processing;
  }

  function arm(ms) {
    clearTimeout(watchdog);
    watchdog = setTimeout(function () {
      if (xhr) xhr.abort();
    }, ms);
  }

  function onBeforeUnload(e) {
    e.preventDefault();
    e.returnValue = "";
    return "";
  }

  function start(keepProgress) {
    submitting = true;
    lastTextAt = 0;
    tusMeter.shownAt = 0;  // the upload's next words show at once
    if (button) button.disabled = true;
    form.setAttribute("aria-busy", "true");
    if (status) status.hidden = false;
    if (keepProgress) {
      window.addEventListener("beforeunload", onBeforeUnload);
      return;  // the resumable upload already shows how far it is
    }
    if (progress) progress.value = 0;
    if (progressText) progressText.textContent = fill(MSG.uploading, { progress: "0%" });
    window.addEventListener("beforeunload", onBeforeUnload);
  }

  function finish(success) {
    clearTimeout(watchdog);
    xhr = null;
    window.removeEventListener("beforeunload", onBeforeUnload);
    form.removeAttribute("aria-busy");
    if (success) return; // keep the button disabled while navigating away
    submitting = false;
    if (button) button.disabled = false;
    if (status) status.hidden = true;
  }

  function parseJson(req) {
    var ct = (req.getResponseHeader("Content-Type") || "").toLowerCase();
    if (ct.indexOf("json") < 0) return null;
    try {
      return JSON.parse(req.responseText);
    } catch (e) {
      return null;
    }
  }

  function safeLocalUrl(url) {
    return typeof url === "string" && url.charAt(0) === "/" && url.charAt(1) !== "/" && url.charAt(1) !== "\\";
  }

  function showServerErrors(errors) {
    clearErrors();
    var formMsgs = [];
    Object.keys(errors).forEach(function (key) {
      var list = errors[key];
      var text = (Array.isArray(list) ? list : [list]).filter(Boolean).join(" ");
      if (!text) return;
      var p = document.getElementById(key + "-error");
      if (p && form.contains(p) && p.classList.contains("field-error")) setFieldError(key, text);
      else formMsgs.push(text);
    });
    if (formMsgs.length) setFormError(formMsgs.join(" "));
    updateGuardian();

    // first invalid field in document order, else the form-level message
    var ps = form.querySelectorAll(".field-error");
    for (var i = 0; i < ps.length; i++) {
      if (ps[i].textContent.trim()) {
        var name = ps[i].id.replace(/-error$/, "");
        focusAndReveal(document.getElementById(name) || ps[i]);
        return;
      }
    }
    if (formMsgs.length) focusFormError();
  }

  function failWith(text) {
    finish(false);
    setFormError(text);
    focusFormError();
  }

  function onLoad() {
    var req = xhr;
    var code = req.status;
    var data = parseJson(req);

    if (code >= 200 && code < 300) {
      var url = data && data.url;
      if (!safeLocalUrl(url) && !data && req.responseURL) {
        // server answered with HTML after a redirect: follow it if it went elsewhere
        var target = new URL(req.responseURL, location.href);
        var action = new URL(form.getAttribute("action") || location.href, location.href);
        if (target.origin === location.origin && target.pathname !== action.pathname) {
          url = target.pathname + target.search + target.hash;
        }
      }
      if (safeLocalUrl(url)) {
        forgetStoredUploads();
        forgetAllTyped();
        if (progressText) progressText.textContent = MSG.done;
        finish(true);
        window.location.assign(url);
        return;
      }
      failWith(fill(MSG.failed, { code: code }));
      return;
    }

    if (code === 413) {
      finish(false);
      setFormError(tooBigMessage(null)); // server limit: the file size alone may look fine
      focusFormError();
      return;
    }
    if (code === 0) {
      failWith(MSG.network);
      return;
    }
    if (data && data.errors && typeof data.errors === "object") {
      finish(false);
      if (works.length) markRefusedWorks(data.errors);
      if (data.errors.media && uploadedId) {
        // the upload was refused or is gone: the next submit sends the file again
        dropResumable();
        forgetStoredUploads();
      }
      showServerErrors(data.errors);
      return;
    }
    failWith(fill(MSG.failed, { code: code }));
  }

  function onNetworkError() {
    if (!xhr) return;
    failWith(MSG.network);
  }

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    if (submitting) return;

    clearErrors();
    if (works.length) {
      updateGuardian();
      submitWorks();
      return;
    }
    var file = chosenFile();
    var problem = fileInput ? fileProblem(file) : "";
    if (problem) {
      setFieldError("media", problem);
      updateGuardian();
      focusAndReveal(fileInput);
      return;
    }
    updateGuardian();

    if (resumable && file === tusFile && tusUpload) {
      start(true);
      if (uploadedId) {
        sendForm();
        return;
      }
      submitWhenDone = true;  // onSuccess sends the form
      if (tusFailed) startResumable(file);
      else if (tusPaused) showTus(MSG.offline);
      return;
    }
    sendForm();
  });

  /* Post the form: naming the finished resumable upload, or carrying the file itself. */
  function sendForm() {
    submitWhenDone = false;
    var data;
    try {
      data = new FormData(form);
    } catch (err) {
      form.submit(); // very old browser quirk: fall back to the plain post
      return;
    }
    if (works.length) {
      data["delete"]("media");
      data["delete"]("upload");
      works.forEach(function (w) { data.set("works-" + w.n + "-upload", w.id); });
    } else if (uploadedId) {
      data.set("upload", uploadedId);
      data["delete"]("media");
    }

    if (!submitting) start();
    else if (uploadedId || works.length) setProcessing();
    xhr = new XMLHttpRequest();
    xhr.open("POST", form.getAttribute("action") || location.href, true);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.timeout = 0; // slow venue Wi-Fi: rely on the stall watchdog instead

    if (xhr.upload) {
      xhr.upload.addEventListener("progress", function (ev) {
        arm(STALL_MS);
        if (ev.lengthComputable) {
          if (ev.loaded >= ev.total) setProcessing();
          else setProgress(ev.loaded, ev.total);
        }
      });
      xhr.upload.addEventListener("load", function () {
        setProcessing();
        arm(SERVER_MS);
      });
    }
    xhr.addEventListener("load", onLoad);
    xhr.addEventListener("error", onNetworkError);
    xhr.addEventListener("timeout", onNetworkError);
    xhr.addEventListener("abort", onNetworkError);

    arm(STALL_MS);
    xhr.send(data);
  }

  // Coming back via the back button (bfcache): make the form usable again.
  window.addEventListener("pageshow", function (e) {
    if (e.persisted && !xhr) {
      submitting = false;
      if (button) button.disabled = false;
      if (status) status.hidden = true;
      form.removeAttribute("aria-busy");
    }
  });
  window.addEventListener("pagehide", function (e) {
    if (!e.persisted) revokePreview();
  });
})();
