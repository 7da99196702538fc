/* The saved-reply picker of the chat page: the "Saved replies" button, or ";" typed at the
   start of the reply or after a space, opens it; typing narrows the list; Enter or a click
   puts the reply (filled for this chat by the server) into the reply box, to edit before
   sending; Escape closes it. Without this script the page still works: the button stays hidden. */
(function () {
  "use strict";

  function setUp() {
    var box = document.getElementById("reply-text");
    var picker = document.getElementById("template-picker");
    var button = document.getElementById("template-button");
    var filter = document.getElementById("template-filter");
    if (!box || !picker || !button || !filter) return;
    var options = Array.prototype.slice.call(picker.querySelectorAll("[role=option]"));
    var none = document.getElementById("template-none");
    var start = 0, end = 0;  // what a picked reply replaces in the box
    var active = null;

    function usable() {
      return options.filter(function (o) { return !o.hidden && o.hasAttribute("data-text"); });
    }

    function highlight(option) {
      options.forEach(function (o) { if (o.hasAttribute("data-text")) o.setAttribute("aria-selected", "false"); });
      active = option || null;
      if (active) {
        active.setAttribute("aria-selected", "true");
        filter.setAttribute("aria-activedescendant", active.id);
        active.scrollIntoView({ block: "nearest" });
      } else {
        filter.removeAttribute("aria-activedescendant");
      }
    }

    function narrow() {
      var words = filter.value.toLowerCase().split(/\s+/).filter(Boolean);
      options.forEach(function (o) {
        var hay = (o.getAttribute("data-name") + " " + (o.getAttribute("data-text") || "")).toLowerCase();
        o.hidden = !words.every(function (w) { return hay.indexOf(w) !== -1; });
      });
      if (none) none.hidden = options.some(function (o) { return !o.hidden; });
      highlight(usable()[0]);
    }

    function open(from, to) {
      start = from; end = to;
      picker.hidden = false;
      button.setAttribute("aria-expanded", "true");
      filter.value = "";
      narrow();
      filter.focus();
    }

    function close() {
      picker.hidden = true;
      button.setAttribute("aria-expanded", "false");
      box.focus();
    }

    function pick(option) {
      if (!option || !option.hasAttribute("data-text")) return;
      var text = option.getAttribute("data-text");
      box.value = box.value.slice(0, start) + text + box.value.slice(end);
      var caret = start + text.length;
      close();
      box.setSelectionRange(caret, caret);
      box.dispatchEvent(new Event("input"));  // the character counter
    }

    button.hidden = false;
    button.addEventListener("click", function () {
      if (!picker.hidden) { close(); return; }
      open(box.selectionStart, box.selectionEnd);
    });

    box.addEventListener("input", function (event) {
      if (event.data !== ";" || !picker.hidden) return;
      var at = box.selectionStart - 1;
      var before = at > 0 ? box.value.charAt(at - 1) : "";
      if (box.value.charAt(at) === ";" && (at === 0 || /\s/.test(before))) open(at, at + 1);  // the ";" goes
    });

    filter.addEventListener("input", narrow);
    filter.addEventListener("keydown", function (event) {
      var shown = usable();
      var index = shown.indexOf(active);
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        if (!shown.length) return;
        var step = event.key === "ArrowDown" ? 1 : -1;
        highlight(shown[(index + step + shown.length) % shown.length]);
      } else if (event.key === "Enter") {
        event.preventDefault();  // not the reply form's submit
        pick(active);
      } else if (event.key === "Escape") {
        event.preventDefault();
        close();
      }
    });

    options.forEach(function (option) {
      option.addEventListener("mousedown", function (event) { event.preventDefault(); });  // keep the focus
      option.addEventListener("click", function () { pick(option); });
    });

    document.addEventListener("click", function (event) {
      if (!picker.hidden && !picker.contains(event.target) && event.target !== button) close();
    });
  }

  document.addEventListener("DOMContentLoaded", setUp);
})();
