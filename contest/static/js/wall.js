/* The booth's live wall (templates/wall.html).
 *
 * Loads the entries on display, fills a grid of slots and keeps changing one slot every few
 * seconds: an entry just approved goes up at once (marked NEW), otherwise the slots take turns
 * between the newest entries and a slow cycle through the older ones. Changes arrive as
 * Server-Sent Events from /wall/events; when the server has no stream to spare (503) or the
 * browser cannot keep one, the wall polls /wall/events.json instead and tries the stream
 * again later. Every event carries its log id, so after a drop the wall resumes from the last
 * one it saw; a "resync" answer makes it reload the whole list.
 */
(function () {
  "use strict";

  var body = document.body;
  var grid = document.getElementById("wall-grid");
  var empty = document.getElementById("wall-empty");
  var entriesUrl = body.dataset.entriesUrl;
  var eventsUrl = body.dataset.eventsUrl;
  var pollUrl = body.dataset.pollUrl;
  var pollMs = Math.max(500, parseFloat(body.dataset.pollSeconds || "1.5") * 1000);

  var SLOTS = 6;
  var TURN_MS = 5000; // one slot changes this often
  var NEWEST = 12; // the newest entries, shown more often than the older ones
  var STREAM_AGAIN_MS = 60000; // after falling back to polling, try the stream again

  var entries = []; // cards on display, newest first
  var slots = []; // what each slot shows: a public id or null
  var lastEvent = 0;
  var turn = 0; // which slot changes next
  var pick = 0; // alternates between the newest and the older cycle
  var newestCursor = 0;
  var olderCursor = 0;
  var source = null;
  var pollTimer = null;

  for (var i = 0; i < SLOTS; i++) slots.push(null);

  function indexOf(publicId) {
    for (var i = 0; i < entries.length; i++) if (entries[i].public_id === publicId) return i;
    return -1;
  }

  function showing(publicId) { return slots.indexOf(publicId) !== -1; }

  function nextPick() {
    if (!entries.length) return null;
    var older = entries.length > NEWEST ? entries.slice(NEWEST) : [];
    var newest = entries.slice(0, NEWEST);
    for (var tries = 0; tries < entries.length * 2; tries++) {
      var list, card;
      pick++;
      if (pick % 3 === 0 && older.length) { // every third turn: the slow cycle of older ones
        list = older; card = list[olderCursor++ % list.length];
      } else {
        list = newest; card = list[newestCursor++ % list.length];
      }
      if (!showing(card.public_id)) return card.public_id;
    }
    return null;
  }

  function makeCard(card, isNew) {
    var figure = document.createElement("figure");
    figure.className = "wall-card" + (isNew ? " is-new" : "");
    figure.dataset.publicId = card.public_id;
    if (card.video) {
      var video = document.createElement("video");
      video.muted = true; video.loop = true; video.autoplay = true; video.playsInline = true;
      video.setAttribute("muted", ""); video.setAttribute("playsinline", "");
      if (card.image) video.poster = card.image;
      video.src = card.video;
      figure.appendChild(video);
    } else if (card.image) {
      var img = document.createElement("img");
      img.src = card.image; img.alt = card.title; img.decoding = "async";
      figure.appendChild(img);
    }
    var caption = document.createElement("figcaption");
    var title = document.createElement("span");
    title.className = "wall-card-title"; title.textContent = card.title;
    var name = document.createElement("span");
    name.className = "wall-card-name"; name.textContent = card.name;
    caption.appendChild(title); caption.appendChild(name);
    figure.appendChild(caption);
    return figure;
  }

  function put(slot, publicId, isNew) {
    var old = grid.children[slot];
    slots[slot] = publicId;
    var index = publicId === null ? -1 : indexOf(publicId);
    var element;
    if (index === -1) {
      slots[slot] = null;
      element = document.createElement("div");
      element.className = "wall-card";
    } else {
      element = makeCard(entries[index], isNew);
    }
    element.hidden = old.hidden;
    grid.replaceChild(element, old);
    requestAnimationFrame(function () { element.classList.add("is-in"); });
  }

  // As many slots as there are entries, up to SLOTS: one entry fills the screen, two share
  // it, and so on (wall.css lays the grid out by data-cards), never empty boxes.
  function inUse() { return Math.min(entries.length, SLOTS); }

  function layout() {
    var count = inUse();
    grid.dataset.cards = String(count);
    for (var slot = 0; slot < SLOTS; slot++) {
      grid.children[slot].hidden = slot >= count;
      if (slot >= count && slots[slot] !== null) put(slot, null, false);
    }
    if (turn >= Math.max(count, 1)) turn = 0;
    empty.hidden = count > 0;
  }

  function advance() {
    if (!inUse()) return;
    var next = nextPick();
    if (next !== null) put(turn, next, false); // null: every entry is up already
    turn = (turn + 1) % inUse();
  }

  function fill() {
    layout();
    for (var i = 0; i < inUse(); i++) put(i, nextPick(), false);
  }

  function shown(card) {
    var index = indexOf(card.public_id);
    if (index !== -1) { // already here: a new version of it (its playable copy is ready)
      entries[index] = card;
      var slot = slots.indexOf(card.public_id);
      if (slot !== -1) put(slot, card.public_id, false);
      return;
    }
    entries.unshift(card);
    layout();
    var free = slots.slice(0, inUse()).indexOf(null);
    var target = free !== -1 ? free : turn;
    put(target, card.public_id, true); // up at once, not at the next turn
    if (free === -1) turn = (turn + 1) % inUse();
  }

  function removed(publicId) {
    var index = indexOf(publicId);
    if (index !== -1) entries.splice(index, 1);
    for (var slot = 0; slot < SLOTS; slot++) {
      if (slots[slot] === publicId) put(slot, null, false);
    }
    layout();
    for (var again = 0; again < inUse(); again++) {
      if (slots[again] === null) put(again, nextPick(), false);
    }
  }

  function handle(data) {
    if (data.action === "shown" && data.entry) shown(data.entry);
    else if (data.action === "removed") removed(data.public_id);
  }

  function load() {
    return fetch(entriesUrl, { headers: { Accept: "application/json" }, cache: "no-store" })
      .then(function (response) {
        if (!response.ok) throw new Error("list " + response.status);
        return response.json();
      })
      .then(function (list) {
        entries = list.entries;
        lastEvent = list.last_event;
        newestCursor = 0; olderCursor = 0;
        fill();
      });
  }

  function stream() {
    stopPolling();
    if (!window.EventSource) { poll(); return; }
    source = new EventSource(eventsUrl + "?after=" + encodeURIComponent(lastEvent));
    source.onmessage = function (event) {
      if (event.lastEventId) lastEvent = parseInt(event.lastEventId, 10) || lastEvent;
      handle(JSON.parse(event.data));
    };
    source.addEventListener("resync", function (event) {
      if (event.lastEventId) lastEvent = parseInt(event.lastEventId, 10) || lastEvent;
      load();
    });
    source.onerror = function () {
      // CONNECTING: the browser reconnects by itself, sending Last-Event-ID. CLOSED: the
      // server refused the stream (503: no slot free in this worker), so poll for a while.
      if (source.readyState === EventSource.CLOSED) {
        source = null;
        poll();
        setTimeout(stream, STREAM_AGAIN_MS);
      }
    };
  }

  function stopPolling() {
    if (pollTimer !== null) { clearTimeout(pollTimer); pollTimer = null; }
  }

  function poll() {
    stopPolling();
    fetch(pollUrl + "?after=" + encodeURIComponent(lastEvent), {
      headers: { Accept: "application/json" }, cache: "no-store"
    })
      .then(function (response) {
        if (!response.ok) throw new Error("poll " + response.status);
        return response.json();
      })
      .then(function (answer) {
        if (answer.resync) return load();
        answer.events.forEach(handle);
        lastEvent = answer.last_event;
      })
      .catch(function () { /* the network dropped: the next poll tries again */ })
      .then(function () { if (source === null) pollTimer = setTimeout(poll, pollMs); });
  }

  for (var s = 0; s < SLOTS; s++) grid.appendChild(document.createElement("div"));
  load()
    .catch(function () { /* no list yet: the events and the resync will bring it */ })
    .then(function () {
      stream();
      setInterval(advance, TURN_MS);
    });
})();
