/* chatcenter inbox: the few things the pages do in the browser. No framework, no inline
   code (the Content-Security-Policy forbids it). Everything works without it, too. */
(function () {
  "use strict";

  /* Report the browser's time zone, so the server shows times in it (cookie "tz"). */
  function rememberTimeZone() {
    var zone;
    try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone; } catch (e) { return; }
    if (!zone) return;
    if (!/^[A-Za-z0-9_+\/-]+$/.test(zone)) return;  // IANA names need no escaping
    var current = (document.cookie.match(/(?:^|; )tz=([^;]*)/) || [])[1];
    if (current !== zone) {
      document.cookie = "tz=" + zone + "; path=/; max-age=31536000; SameSite=Lax";
      var stored = /(?:^|; )tz=/.test(document.cookie);  // cookies may be off: never reload in a loop
      if (current === undefined && stored && document.querySelector("time")) location.reload();
    }
  }

  /* Live parts: an element with data-live-url fetches its content again every
     data-live-every seconds (the fragment may change the pace with data-live-next).
     Unchanged content answers 304; new content replaces the old in place, keeping the
     scroll position and the keyboard focus. */
  function startLive(region) {
    var etag = null;
    var every = Number(region.getAttribute("data-live-every")) || 15;
    var status = document.querySelector("[data-live-status]");
    var timer = null;

    function schedule() {
      clearTimeout(timer);
      timer = setTimeout(refresh, every * 1000);
    }

    function keysIn(root) {
      var keys = {};
      root.querySelectorAll("[data-key]").forEach(function (el) { keys[el.getAttribute("data-key")] = true; });
      return keys;
    }

    function replace(html) {
      var focused = document.activeElement;
      var focusKey = focused && region.contains(focused) ? focused.getAttribute("data-focus-key") : null;
      var before = keysIn(region);
      var hadKeys = Object.keys(before).length > 0;
      var arrived = 0;
      region.innerHTML = html;
      region.querySelectorAll("[data-key]").forEach(function (el) {
        if (hadKeys && !before[el.getAttribute("data-key")]) { el.classList.add("is-new"); arrived += 1; }
      });
      if (arrived && status) status.textContent = status.getAttribute("data-new-text") || "";
      if (focusKey) {
        var again = region.querySelector('[data-focus-key="' + focusKey + '"]');
        if (again) again.focus({ preventScroll: true });
      }
      var meta = region.querySelector("[data-live-next]");
      if (meta) {
        every = Number(meta.getAttribute("data-live-next")) || every;
        if (meta.getAttribute("data-title")) document.title = meta.getAttribute("data-title");
      }
      wire(region);
      document.dispatchEvent(new CustomEvent("live:updated", { detail: region }));
    }

    function refresh() {
      var headers = { "X-Requested-With": "fetch" };
      if (etag) headers["If-None-Match"] = etag;
      fetch(region.getAttribute("data-live-url"), { headers: headers, cache: "no-store", credentials: "same-origin" })
        .then(function (response) {
          if (response.status === 401) {
            location.assign("/login?next=" + encodeURIComponent(location.pathname + location.search));
            return null;
          }
          if (response.status === 304) return null;
          if (!response.ok) throw new Error(String(response.status));
          etag = response.headers.get("ETag");
          return response.text();
        })
        .then(function (html) {
          if (html !== null && html !== undefined) replace(html);
        })
        .catch(function () { /* offline or restarting: try again at the next tick */ })
        .then(schedule);
    }

    region.addEventListener("live:refresh", refresh);
    schedule();
  }

  /* One submit per form: a second click while the first is on its way does nothing
     (the server's idempotency key is the real guard). */
  function submitOnce(form) {
    form.addEventListener("submit", function (event) {
      if (form.getAttribute("data-sending")) { event.preventDefault(); return; }
      form.setAttribute("data-sending", "1");
      form.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = true; });
    });
  }

  /* Filters apply as soon as one changes (without the script, the form's Apply button). */
  function applyOnChange(form) {
    form.addEventListener("change", function (event) {
      if (event.target.tagName !== "SELECT") return;
      if (form.requestSubmit) form.requestSubmit(); else form.submit();
    });
  }

  /* "n / 1000" under the reply box. */
  function counter(el) {
    var box = document.getElementById(el.getAttribute("data-counter-for"));
    var max = Number(el.getAttribute("data-max"));
    if (!box) return;
    function update() {
      el.textContent = box.value.length + " / " + max;
      el.classList.toggle("over", box.value.length > max);
    }
    box.addEventListener("input", update);
    update();
  }

  /* "Put it in the reply box": the AI's suggestion into the textarea, focused. */
  function wire(root) {
    root.querySelectorAll("[data-copy-to]").forEach(function (button) {
      button.addEventListener("click", function () {
        var box = document.getElementById(button.getAttribute("data-copy-to"));
        if (!box) return;
        box.value = button.getAttribute("data-text") || "";
        box.dispatchEvent(new Event("input"));
        box.focus();
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    rememberTimeZone();
    document.querySelectorAll("[data-live-url]").forEach(startLive);
    document.querySelectorAll("form[data-once]").forEach(submitOnce);
    document.querySelectorAll("form[data-autosubmit]").forEach(applyOnChange);
    document.querySelectorAll("[data-counter-for]").forEach(counter);
    wire(document);
  });
})();
