/* chatcenter inbox: working without the mouse. The "?" overlay (templates/inbox/_keys_help.html)
   lists the keys. No inline code (the Content-Security-Policy forbids it).

   j / k        move the focus through the chat list; Enter opens the focused chat (a link)
   /            focus the search box, when the page has one
   ?            show the keys; Esc closes it (the dialog's own behaviour)
   Ctrl/Cmd+Enter   send the form the text box belongs to (the reply)
   Esc          in a text box: leave it, so that the other keys work again
   any key X    clicks the element with data-shortcut="X" (e: resolve, a: assign to me)

   While the focus is in a text box, only Ctrl/Cmd+Enter and Esc do anything. */
(function () {
  "use strict";

  var SEARCH = '[data-search], input[type="search"], input[name="q"]';

  function typingIn(el) {
    return !!el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));
  }

  function visible(el) {
    return !!el && el.getClientRects().length > 0 && !el.disabled;
  }

  function chatLinks() {
    return Array.prototype.slice.call(document.querySelectorAll(".chat-list .chat-link"));
  }

  /* The list's selection is the keyboard focus: the focus ring shows it, Enter follows the
     link, and the live refresh of the list keeps it (data-focus-key). */
  function move(step) {
    var links = chatLinks();
    if (!links.length) return;
    var at = links.indexOf(document.activeElement);
    var next = at < 0 ? (step > 0 ? 0 : links.length - 1) : Math.min(links.length - 1, Math.max(0, at + step));
    links[next].focus({ preventScroll: true });
    links[next].scrollIntoView({ block: "nearest" });
  }

  function help() {
    return document.getElementById("keys-help");
  }

  function showHelp() {
    var dialog = help();
    if (dialog && !dialog.open) dialog.showModal();
  }

  function sendWithCtrlEnter(event) {
    var form = event.target.closest ? event.target.closest("form[data-ctrl-enter]") : null;
    if (!form && !typingIn(event.target)) form = document.querySelector("form[data-ctrl-enter]");
    if (!form) return false;
    event.preventDefault();
    if (form.requestSubmit) form.requestSubmit(); else form.submit();
    return true;
  }

  function onKey(event) {
    var target = event.target;
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      sendWithCtrlEnter(event);
      return;
    }
    if (event.defaultPrevented || event.isComposing) return;
    if (event.key === "Escape") {
      if (typingIn(target) && !(help() && help().open)) target.blur();
      return;
    }
    if (typingIn(target) || event.ctrlKey || event.metaKey || event.altKey) return;
    if (help() && help().open) return;
    var key = event.key;
    if (key === "?") { event.preventDefault(); showHelp(); return; }
    if (key === "j" || key === "k") { event.preventDefault(); move(key === "j" ? 1 : -1); return; }
    if (key === "/") {
      var search = document.querySelector(SEARCH);
      if (visible(search)) { event.preventDefault(); search.focus(); search.select(); }
      return;
    }
    if (key.length !== 1) return;
    var button = document.querySelector('[data-shortcut="' + (window.CSS && CSS.escape ? CSS.escape(key) : key) + '"]');
    if (visible(button)) { event.preventDefault(); button.click(); }
  }

  /* A chat just opened: the newest messages and the reply box in view, the caret in it at the
     end of its text. Not when the address names a place (#replies after sending: the page
     goes there) or older messages (?before=). */
  function focusReply() {
    var box = document.getElementById("reply-text");
    if (!box || location.hash || /[?&]before=/.test(location.search)) return;
    var form = box.form || box;
    box.focus({ preventScroll: true });
    box.setSelectionRange(box.value.length, box.value.length);
    form.scrollIntoView({ block: "end" });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.addEventListener("keydown", onKey);
    document.querySelectorAll("[data-keys-help]").forEach(function (button) {
      button.addEventListener("click", showHelp);
    });
    focusReply();
  });
})();
