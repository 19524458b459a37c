/* The judge's ranking screen: put the finalists in order with the mouse (drag and drop) or
 * the keyboard alone, open one large, compare two side by side. Every change is saved at
 * once (fetch POST with X-CSRFToken) and mirrored in the plain form's `order` field, which
 * works on its own without this script. Keys, on a focused entry:
 *   arrows move the focus; Space/Enter picks the entry up or puts it down; while picked up,
 *   arrows move it, Home/End send it first/last, Esc puts it back where it was;
 *   digits then Enter send it to that place; O opens it large; C picks it to compare. */
(function () {
  "use strict";

  var SAVE_DELAY_MS = 300; // a burst of key presses is saved once, when it pauses

  var screen = document.getElementById("ranking-screen");
  var list = document.getElementById("ranking-list");
  var field = document.getElementById("order");
  var status = document.getElementById("ranking-status");
  var viewer = document.getElementById("ranking-viewer");
  var frames = document.getElementById("ranking-viewer-frames");
  var viewerTitle = document.getElementById("ranking-viewer-title");
  if (!screen || !list) return;

  var rankTop = parseInt(screen.getAttribute("data-rank-top"), 10) || 0;
  var picked = null; // the entry being moved with the keyboard
  var pickedFrom = null; // the entry that followed it when picked up (Esc puts it back there)
  var typed = ""; // digits typed towards "send to place n"
  var comparing = []; // up to two entries picked to compare
  var dragged = null;
  var saveTimer = null;
  var saving = Promise.resolve();
  var moving = false; // the DOM move of a focused entry blurs it: that is not leaving it
  var returnFocus = null; // the entry the viewer was opened from: focus goes back there

  function items() {
    return Array.prototype.slice.call(list.querySelectorAll(".ranking-item"));
  }

  function order() {
    return items().map(function (item) { return item.getAttribute("data-entry-id"); });
  }

  function text(name, values) {
    var template = screen.getAttribute("data-text-" + name) || "";
    return template.replace(/%\((\w+)\)s/g, function (_, key) { return values && key in values ? values[key] : ""; });
  }

  function say(message) {
    status.textContent = message;
  }

  /* Renumber the places (entries past rank_top tie), and mirror the order in the form. */
  function renumber() {
    items().forEach(function (item, i) {
      var tied = rankTop && i >= rankTop;
      item.classList.toggle("is-tied", Boolean(tied));
      item.querySelector(".ranking-place").textContent = tied ? text("tied") : String(i + 1);
    });
    if (field) field.value = order().join(",");
  }

  function changed() {
    renumber();
    window.clearTimeout(saveTimer);
    saveTimer = window.setTimeout(save, SAVE_DELAY_MS);
  }

  /* One save at a time, in the order the changes were made: the latest order always wins. */
  function save() {
    var body = JSON.stringify({ order: order().map(Number) });
    say(text("saving"));
    saving = saving.then(function () {
      return fetch(screen.getAttribute("data-save-url"), {
        method: "POST",
        credentials: "same-origin",
        headers: {
          "Content-Type": "application/json",
          "Accept": "application/json",
          "X-CSRFToken": screen.getAttribute("data-csrf"),
        },
        body: body,
      }).then(function (response) {
        return response.json().then(function (answer) {
          if (!response.ok) throw new Error(answer.error || response.status);
          screen.setAttribute("data-saved-order", answer.order.join(","));
          say(text("saved"));
        });
      }).catch(function (error) {
        say(text("failed") + " " + (error && error.message ? error.message : ""));
      });
    });
  }

  function moveTo(item, place) {
    var all = items();
    place = Math.max(0, Math.min(all.length - 1, place));
    var others = all.filter(function (other) { return other !== item; });
    moving = true;
    list.insertBefore(item, others[place] || null);
    item.focus();
    moving = false;
    changed();
  }

  function placeOf(item) {
    return items().indexOf(item);
  }

  function pickUp(item) {
    picked = item;
    pickedFrom = item.nextElementSibling;
    item.classList.add("is-picked");
    item.setAttribute("aria-grabbed", "true");
    say(text("picked", { title: item.getAttribute("data-title") }));
  }

  function putDown(item) {
    item.classList.remove("is-picked");
    item.setAttribute("aria-grabbed", "false");
    picked = null;
    say(text("dropped", { title: item.getAttribute("data-title"), place: placeOf(item) + 1 }));
  }

  function focusNeighbour(item, step) {
    var all = items();
    var next = all[placeOf(item) + step];
    if (next) next.focus();
  }

  /* Open one entry large, or two side by side. */
  function show(entries) {
    frames.textContent = "";
    viewerTitle.textContent = entries.map(function (item) {
      return (placeOf(item) + 1) + ". " + item.getAttribute("data-title");
    }).join("  ·  ");
    entries.forEach(function (item) {
      var figure = document.createElement("figure");
      var media;
      if (item.getAttribute("data-playback")) {
        media = document.createElement("video");
        media.controls = true;
        media.src = item.getAttribute("data-playback");
        if (item.getAttribute("data-preview")) media.poster = item.getAttribute("data-preview");
      } else {
        media = document.createElement("img");
        media.src = item.getAttribute("data-preview");
        media.alt = item.getAttribute("data-title");
      }
      var caption = document.createElement("figcaption");
      caption.textContent = (placeOf(item) + 1) + ". " + item.getAttribute("data-title");
      figure.appendChild(media);
      figure.appendChild(caption);
      frames.appendChild(figure);
    });
    frames.classList.toggle("is-pair", entries.length === 2);
    returnFocus = document.activeElement;
    if (!viewer.open) viewer.showModal();
  }

  function compare(item) {
    if (comparing.indexOf(item) !== -1) return;
    comparing.push(item);
    item.classList.add("is-comparing");
    if (comparing.length === 2) {
      var pair = comparing;
      comparing = [];
      pair.forEach(function (one) { one.classList.remove("is-comparing"); });
      show(pair);
    }
  }

  if (viewer) {
    viewer.addEventListener("close", function () {
      frames.querySelectorAll("video").forEach(function (video) { video.pause(); });
      // The browser itself gives the focus back as the dialog closes, and this event comes
      // later: keys pressed in between (Esc, then straight on to the next entry) must keep
      // the focus where they took it. Only a focus that went nowhere is brought back.
      if (returnFocus && list.contains(returnFocus) && !list.contains(document.activeElement)) {
        returnFocus.focus();
      }
    });
  }

  list.addEventListener("keydown", function (event) {
    var item = event.target.closest ? event.target.closest(".ranking-item") : null;
    if (!item || event.target !== item || event.altKey || event.ctrlKey || event.metaKey) return;
    var key = event.key;
    var back = key === "ArrowUp" || key === "ArrowLeft";
    var forward = key === "ArrowDown" || key === "ArrowRight";
    if (/^[0-9]$/.test(key)) {
      typed = (typed + key).slice(-3);
      say("→ " + typed);
    } else if (key === "Enter" && typed) {
      var place = parseInt(typed, 10) - 1;
      typed = "";
      if (picked) putDown(picked);
      moveTo(item, place);
      say(text("dropped", { title: item.getAttribute("data-title"), place: placeOf(item) + 1 }));
    } else if (key === " " || key === "Enter") {
      if (picked === item) putDown(item);
      else {
        if (picked) putDown(picked);
        pickUp(item);
      }
    } else if (key === "Escape" && picked === item) {
      moving = true;
      list.insertBefore(item, pickedFrom);
      item.focus();
      moving = false;
      putDown(item);
      changed();
    } else if ((back || forward) && picked === item) {
      moveTo(item, placeOf(item) + (back ? -1 : 1));
    } else if ((key === "Home" || key === "End") && picked === item) {
      moveTo(item, key === "Home" ? 0 : items().length - 1);
    } else if (back || forward) {
      focusNeighbour(item, back ? -1 : 1);
    } else if (key === "o" || key === "O") {
      show([item]);
    } else if (key === "c" || key === "C") {
      compare(item);
    } else {
      return;
    }
    event.preventDefault();
  });

  list.addEventListener("focusout", function (event) {
    if (moving) return;
    var item = event.target;
    if (item === picked && !list.contains(event.relatedTarget)) putDown(item);
    typed = "";
  });

  list.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-action]");
    if (!button) return;
    var item = button.closest(".ranking-item");
    var action = button.getAttribute("data-action");
    if (action === "up") moveTo(item, placeOf(item) - 1);
    else if (action === "down") moveTo(item, placeOf(item) + 1);
    else if (action === "open") show([item]);
    else if (action === "compare") compare(item);
  });

  /* Mouse: drag an entry onto another; it lands before it, or after it past its middle
   * (the grid fills rows left to right, so the middle is a horizontal one). */
  list.addEventListener("dragstart", function (event) {
    dragged = event.target.closest(".ranking-item");
    if (!dragged) return;
    dragged.classList.add("is-picked");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", dragged.getAttribute("data-entry-id"));
  });
  list.addEventListener("dragover", function (event) {
    var over = event.target.closest(".ranking-item");
    if (!dragged || !over || over === dragged) return;
    event.preventDefault();
    var box = over.getBoundingClientRect();
    var after = event.clientX - box.left > box.width / 2;
    list.insertBefore(dragged, after ? over.nextElementSibling : over);
  });
  list.addEventListener("drop", function (event) { event.preventDefault(); });
  list.addEventListener("dragend", function () {
    if (!dragged) return;
    dragged.classList.remove("is-picked");
    dragged = null;
    changed();
  });

  // Each entry says how to move it; the buttons stay for pointer users.
  items().forEach(function (item) { item.setAttribute("aria-grabbed", "false"); });
  renumber();
}());
