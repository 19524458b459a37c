/* The wall's approval queue (templates/admin/wall.html): decide without leaving the page.
 *
 * J / K move to the next / previous entry, A approves it, H hides it; a click on the buttons
 * does the same. Each decision is one fetch POST (CSRF token in the X-CSRFToken header) and the
 * page moves on at once without waiting for it, so a hundred entries take minutes, not page
 * loads. Without this script the same forms post normally and come back to the page.
 */
(function () {
  "use strict";

  var queue = document.getElementById("wall-queue");
  var status = document.getElementById("wall-queue-status");
  if (!queue) return;
  var items = Array.prototype.slice.call(queue.querySelectorAll(".wall-queue-item"));
  var current = -1;

  function select(index) {
    if (index < 0 || index >= items.length) return;
    if (current !== -1) items[current].classList.remove("is-current");
    current = index;
    items[current].classList.add("is-current");
    items[current].focus({ preventScroll: true });
    items[current].scrollIntoView({ block: "nearest" });
  }

  function nextUndecided(from) {
    for (var i = from + 1; i < items.length; i++) {
      if (!items[i].classList.contains("is-done")) return i;
    }
    return Math.min(from + 1, items.length - 1);
  }

  function say(text) { status.textContent = text; }

  function decide(form) {
    var item = form.closest(".wall-queue-item");
    var index = items.indexOf(item);
    var token = form.querySelector('input[name="csrf_token"]');
    item.classList.add("is-done");
    if (index === current) select(nextUndecided(index));
    fetch(form.action, {
      method: "POST",
      body: new FormData(form),
      credentials: "same-origin",
      headers: { Accept: "application/json", "X-CSRFToken": token ? token.value : "" }
    })
      .then(function (response) {
        return response.json().then(function (answer) {
          if (!response.ok) throw new Error(answer.error || response.status);
          item.dataset.display = answer.display;
          form.remove();
        });
      })
      .catch(function (error) {
        item.classList.remove("is-done");
        say("#" + item.dataset.entry + ": " + error.message);
      });
  }

  queue.addEventListener("submit", function (event) {
    var form = event.target.closest("form[data-decision]");
    if (!form) return;
    event.preventDefault();
    decide(form);
  });

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (/^(INPUT|TEXTAREA|SELECT)$/.test(event.target.tagName)) return;
    var key = event.key.toLowerCase();
    if (key === "j") { select(current + 1); event.preventDefault(); }
    else if (key === "k") { select(current - 1); event.preventDefault(); }
    else if ((key === "a" || key === "h") && current !== -1) {
      var form = items[current].querySelector(
        'form[data-decision="' + (key === "a" ? "approve" : "hide") + '"]'
      );
      if (form) decide(form);
      event.preventDefault();
    }
  });

  items.forEach(function (item, index) {
    item.addEventListener("click", function () { select(index); });
  });
  select(0);
})();
