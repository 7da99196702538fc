/* The key "/" focuses the search box (an element with data-shortcut="/"), unless the
   operator is typing somewhere. Its own file: the page's other keys live elsewhere. */
(function () {
  "use strict";

  function typing(target) {
    if (!target || !target.tagName) return false;
    var tag = target.tagName.toLowerCase();
    return tag === "input" || tag === "textarea" || tag === "select" || target.isContentEditable;
  }

  document.addEventListener("keydown", function (event) {
    if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    var box = document.querySelector('[data-shortcut="/"]');
    if (!box) return;
    event.preventDefault();  // no "/" typed into the box
    box.focus();
    box.select();
  });
})();
