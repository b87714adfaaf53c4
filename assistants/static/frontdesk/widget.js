/* Frontdesk chat widget. Plain JavaScript, no build step, no dependencies.
 *
 *   <script src="https://HOST/widget.js" data-key="pk_…" data-assistant="ASSISTANT_ID" async></script>
 *
 * Optional, each overriding the assistant's own setting: data-color="#9f1d20" (accent),
 * data-position="left" (or "right"), data-launcher-text="Ask us" (a pill instead of the round
 * bubble; "" for the bubble). Changing them on the tag restyles a widget that is on screen.
 * data-api="https://HOST" (API base; default: where this script came from).
 * docs/widget.md describes it; docs/chat.md the API it uses.
 * Everything lives in a shadow root so the host page's CSS and ours never meet.
 */
(function () {
  "use strict";
  var script = document.currentScript ||
    document.querySelector("script[data-assistant][src*='widget.js']");
  if (!script) return;
  var KEY = script.getAttribute("data-key") || "";
  var ASSISTANT = script.getAttribute("data-assistant") || "";
  var API = (script.getAttribute("data-api") || new URL(script.src, location.href).origin).replace(/\/+$/, "");
  var HEX = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i;
  var STORE = "frontdesk:" + ASSISTANT;
  var POLL_MS = 3000;         // while a person is on the conversation
  var SLOW_POLL_MS = 15000;   // otherwise (staff may take over from their inbox), while the panel is open
  if (!KEY || !ASSISTANT) {
    console.warn("Frontdesk widget: set data-key (pk_…) and data-assistant on the script tag.");
    return;
  }

  var CSS = [
    ":host{all:initial}",
    "*{box-sizing:border-box}",
    ".fd{font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1f2328}",
    ".bubble{position:fixed;right:20px;bottom:20px;z-index:2147483000;width:60px;height:60px;border-radius:50%;",
    "border:0;background:var(--c);color:var(--f);cursor:pointer;box-shadow:0 4px 14px rgba(0,0,0,.3);",
    "display:flex;align-items:center;justify-content:center}",
    ".bubble svg{width:28px;height:28px;fill:currentColor;flex:none}",
    ".bubble.pill{width:auto;max-width:calc(100vw - 40px);height:52px;border-radius:999px;padding:0 20px 0 16px;",
    "gap:8px;font:inherit;font-weight:600}",
    ".bubble.pill svg{width:22px;height:22px}",
    ".bubble.pill span{overflow:hidden;text-overflow:ellipsis;white-space:nowrap}",
    ".left .bubble,.left .panel{right:auto;left:20px}",
    ".bubble:focus-visible,button:focus-visible,textarea:focus-visible{outline:3px solid #f59e0b;outline-offset:2px}",
    ".panel{position:fixed;right:20px;bottom:92px;z-index:2147483001;width:370px;height:min(600px,calc(100vh - 112px));",
    "background:#fff;border-radius:14px;box-shadow:0 10px 40px rgba(0,0,0,.28);display:flex;flex-direction:column;",
    "overflow:hidden}",
    ".panel[hidden]{display:none}",
    "header{background:var(--c);color:var(--f);padding:12px 12px 12px 16px;display:flex;align-items:center;gap:8px}",
    "header h2{font-size:16px;margin:0;flex:1;font-weight:600;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}",
    "header .sub{display:block;font-size:12px;font-weight:400;opacity:.95}",
    ".close{background:transparent;border:0;color:inherit;font-size:24px;line-height:1;width:40px;height:40px;",
    "border-radius:8px;cursor:pointer}",
    ".close:hover,.more:hover{background:rgba(127,127,127,.25)}",
    ".more{background:transparent;border:0;color:inherit;font-size:20px;line-height:1;width:40px;height:40px;",
    "border-radius:8px;cursor:pointer}",
    ".menu{position:absolute;top:60px;right:12px;z-index:1;background:#fff;border:1px solid #d8dce1;border-radius:10px;",
    "box-shadow:0 6px 20px rgba(0,0,0,.18);padding:4px;display:flex;flex-direction:column}",
    ".menu[hidden]{display:none}",
    ".menu button,.confirm button{font:inherit;font-size:14px;background:#fff;color:#1f2328;border:0;border-radius:6px;",
    "padding:8px 12px;text-align:left;cursor:pointer}",
    ".menu button:hover{background:#eef1f5}",
    ".confirm{align-self:stretch;background:#fff;border:1px solid #d8dce1;border-radius:10px;padding:10px 12px}",
    ".confirm p{margin:0 0 8px}.confirm div{display:flex;gap:8px;justify-content:flex-end}",
    ".confirm button{border:1px solid #9ca3af}.confirm .danger{background:#b91c1c;color:#fff;border-color:#b91c1c}",
    ".log{flex:1;overflow-y:auto;padding:14px;display:flex;flex-direction:column;gap:10px;background:#f6f7f9}",
    ".msg{max-width:85%;padding:9px 12px;border-radius:12px;white-space:pre-wrap;overflow-wrap:anywhere}",
    ".msg.customer{align-self:flex-end;background:var(--c);color:var(--f);border-bottom-right-radius:4px}",
    ".msg.assistant,.msg.staff{align-self:flex-start;background:#fff;border:1px solid #d8dce1;",
    "border-bottom-left-radius:4px}",
    ".msg.staff{border-color:#0f766e;background:#f0fdfa}",
    ".msg.note{align-self:center;background:transparent;color:#4b5563;font-size:13px;text-align:center}",
    ".msg.error{align-self:center;background:#fef2f2;color:#991b1b;border:1px solid #fecaca;font-size:13px}",
    ".who{display:block;font-size:12px;font-weight:600;color:#4b5563;margin-bottom:2px}",
    ".msg.staff .who{color:#0f5f58}",
    ".cites{display:flex;flex-wrap:wrap;gap:4px;margin-top:6px;white-space:normal}",
    ".cite{font-size:12px;background:#eef1f5;color:#374151;border:1px solid #d8dce1;border-radius:999px;",
    "padding:1px 8px}",
    ".rate{display:flex;align-items:center;gap:6px;margin-top:6px;white-space:normal}",
    ".rate button{width:36px;height:28px;padding:0;background:#fff;color:#4b5563;border:1px solid #9ca3af;",
    "border-radius:999px;cursor:pointer;display:flex;align-items:center;justify-content:center}",
    ".rate svg{width:16px;height:16px;fill:currentColor}.rate .down svg{transform:rotate(180deg)}",
    ".rate button[aria-pressed=true]{background:var(--c);color:var(--f);border-color:var(--c)}",
    ".thanks{font-size:12px;color:#4b5563}",
    ".typing::after{content:'…';animation:b 1s steps(3) infinite}",
    "@keyframes b{50%{opacity:.3}}",
    ".retry{margin-left:6px;font:inherit;font-size:13px;color:#991b1b;background:#fff;border:1px solid #991b1b;",
    "border-radius:6px;cursor:pointer}",
    ".bar{padding:8px 12px 0;background:#fff;border-top:1px solid #e5e7eb}",
    ".human{font:inherit;font-size:13px;background:#fff;color:#1f2328;border:1px solid #9ca3af;border-radius:999px;",
    "padding:4px 12px;cursor:pointer}",
    ".human:disabled{color:#4b5563;cursor:default;border-style:dashed}",
    "form{display:flex;gap:8px;padding:8px 12px 12px;background:#fff}",
    "textarea{flex:1;resize:none;font:inherit;font-size:16px;padding:9px 10px;border:1px solid #9ca3af;",
    "border-radius:10px;height:42px;max-height:120px;color:#1f2328}",
    ".send{font:inherit;font-weight:600;background:var(--c);color:var(--f);border:0;border-radius:10px;padding:0 16px;",
    "cursor:pointer}",
    ".send:disabled{opacity:.6;cursor:default}",
    ".sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}",
    "@media (max-width:480px){.fd .panel{inset:0;width:100%;height:100%;border-radius:0}",
    ".bubble{right:14px;bottom:14px}.left .bubble{left:14px}}",
    "@media (prefers-reduced-motion:reduce){.typing::after{animation:none}}"
  ].join("");

  // A thumb up; rotated, a thumb down (no emoji: not every system has a font for them).
  var THUMB = '<svg viewBox="0 0 24 24" aria-hidden="true"><rect x="2" y="10" width="4" height="11" rx="1"/>' +
    '<path d="M8 10l4.5-6.5c.8-1.1 2.5-.5 2.5.9V9h5c1.2 0 2.1 1.1 1.9 2.3l-1.3 8c-.2 1-1 1.7-2 1.7H8z"/></svg>';
  var ICON = '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 ' +
    '2H8l-4 4V6a2 2 0 0 1 2-2z"/></svg>';

  // The English texts; the config brings them in the assistant's language (assistants/channels/
  // widget.py WIDGET_TEXTS, which a test keeps equal to this object). Keep this a JSON object.
  var TEXTS = {
    "open": "Chat with %(name)s",
    "close_named": "Close chat with %(name)s",
    "close": "Close chat",
    "conversation": "Conversation",
    "talk_to_person": "Talk to a person",
    "person_will_reply": "A person will reply here",
    "your_message": "Your message",
    "placeholder": "Type your question…",
    "send": "Send",
    "try_again": "Try again",
    "source": "Source",
    "source_named": "Source: %(title)s",
    "sources": "Sources:",
    "team": "%(name)s team",
    "staff": "Staff",
    "busy": "We are getting a lot of questions right now. Please try again in a minute.",
    "not_sent": "Sorry, that did not go through: %(reason)s",
    "no_answer": "Sorry, the assistant could not answer just now.",
    "queued": "Many people are asking right now; your answer is on its way",
    "handoff_default": "A person from our team will reply here as soon as possible.",
    "team_unreachable": "Sorry, we could not reach the team just now.",
    "helpful": "Helpful",
    "not_helpful": "Not helpful",
    "thanks_feedback": "Thanks for your feedback",
    "more": "More options",
    "delete_data": "Delete my data",
    "delete_confirm": "Delete this conversation and everything you wrote in it? This cannot be undone.",
    "delete": "Delete",
    "cancel": "Cancel",
    "data_deleted": "Your conversation and everything you wrote in it have been deleted.",
    "delete_failed": "Sorry, we could not delete your data just now."
  };
  function t(key, vars) {
    var own = config && config.texts && config.texts[key];
    return (typeof own === "string" && own ? own : TEXTS[key]).replace(/%\((\w+)\)s/g, function (m, name) {
      return vars && vars[name] != null ? String(vars[name]) : m;
    });
  }

  // ------------------------------------------------------------------ state
  // {name, greeting, language, handoff_message, business_name, color, position, launcher_text, texts}
  var config = null;
  var saved = load();          // {id, token, handoff} of this browser's conversation
  var shown = {};              // message ids already on screen
  var loaded = false, busy = false, pollTimer = null;
  var root, wrap, bubble, panel, log, input, sendBtn, humanBtn, title, moreBtn, menu;

  function load() {
    try { return JSON.parse(localStorage.getItem(STORE)) || null; } catch (e) { return null; }
  }
  function save() {
    try {
      if (saved) localStorage.setItem(STORE, JSON.stringify(saved)); else localStorage.removeItem(STORE);
    } catch (e) { /* private mode: the conversation lasts as long as the page */ }
  }
  function uid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return Date.now().toString(36) + Math.random().toString(36).slice(2) + Math.random().toString(36).slice(2);
  }

  // ------------------------------------------------------------------ API
  function headers(extra) {
    var h = {"Authorization": "Bearer " + KEY, "Accept": "application/json"};
    if (saved && saved.token) h["X-Customer-Token"] = saved.token;
    for (var k in extra) h[k] = extra[k];
    return h;
  }
  function api(method, path, body, extra) {
    var init = {method: method, headers: headers(extra || {}), credentials: "omit", mode: "cors"};
    if (body !== undefined) { init.body = JSON.stringify(body); init.headers["Content-Type"] = "application/json"; }
    return fetch(API + path, init);
  }
  function failure(res) {
    return res.json().then(function (b) { return (b && b.error) || {}; }, function () { return {}; })
      .then(function (e) { var err = new Error(e.message || ("HTTP " + res.status)); err.status = res.status; throw err; });
  }
  function ensureConversation() {
    if (saved && saved.id) return Promise.resolve(saved);
    return api("POST", "/api/v1/assistants/" + ASSISTANT + "/conversations", {channel: "widget"}).then(function (res) {
      if (!res.ok) return failure(res);
      return res.json().then(function (c) {
        saved = {id: c.id, token: c.customer_token, handoff: false};
        save();
        startPolling();
        return saved;
      });
    });
  }
  function forget() { saved = null; save(); stopPolling(); }

  // ------------------------------------------------------------------ UI
  function el(tag, cls, text) {
    var n = document.createElement(tag);
    if (cls) n.className = cls;
    if (text != null) n.textContent = text;
    return n;
  }
  function build() {
    var host = el("div");
    host.id = "frontdesk-widget";
    root = host.attachShadow({mode: "open"});
    var style = el("style"); style.textContent = CSS; root.appendChild(style);
    wrap = el("div", "fd");
    if (config.language) wrap.lang = config.language;

    bubble = el("button", "bubble");
    bubble.type = "button";
    bubble.setAttribute("aria-expanded", "false");
    bubble.setAttribute("aria-controls", "fd-panel");
    bubble.addEventListener("click", function () { panel.hidden ? open() : close(); });

    panel = el("div", "panel");
    panel.id = "fd-panel";
    panel.hidden = true;
    panel.setAttribute("role", "dialog");
    panel.setAttribute("aria-labelledby", "fd-title");
    var head = el("header");
    title = el("h2", null, config.name);
    title.id = "fd-title";
    if (config.business_name) title.appendChild(el("span", "sub", config.business_name));
    var x = el("button", "close", "×");
    x.type = "button";
    x.setAttribute("aria-label", t("close"));
    x.addEventListener("click", close);
    // The menu: the customer's own "delete my data" (confirmed in the conversation first).
    moreBtn = el("button", "more", "⋯");
    moreBtn.type = "button";
    moreBtn.setAttribute("aria-label", t("more"));
    moreBtn.setAttribute("aria-haspopup", "true");
    moreBtn.setAttribute("aria-expanded", "false");
    moreBtn.setAttribute("aria-controls", "fd-menu");
    moreBtn.addEventListener("click", function () { menu.hidden ? openMenu() : closeMenu(); });
    menu = el("div", "menu");
    menu.id = "fd-menu";
    menu.hidden = true;
    var erase = el("button", "erase", t("delete_data"));
    erase.type = "button";
    erase.addEventListener("click", function () { closeMenu(); confirmErase(); });
    menu.appendChild(erase);
    head.appendChild(title); head.appendChild(moreBtn); head.appendChild(x);

    log = el("div", "log");
    log.setAttribute("role", "log");
    log.setAttribute("aria-live", "polite");
    log.setAttribute("aria-relevant", "additions");
    log.setAttribute("aria-label", t("conversation"));
    log.tabIndex = 0;

    var bar = el("div", "bar");
    humanBtn = el("button", "human", t("talk_to_person"));
    humanBtn.type = "button";
    humanBtn.addEventListener("click", handoff);
    bar.appendChild(humanBtn);

    var form = el("form");
    var label = el("label", "sr", t("your_message"));
    label.htmlFor = "fd-input";
    input = el("textarea");
    input.id = "fd-input";
    input.rows = 1;
    input.maxLength = 8000;
    input.placeholder = t("placeholder");
    input.addEventListener("keydown", function (e) {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); submit(); }
    });
    sendBtn = el("button", "send", t("send"));
    sendBtn.type = "submit";
    form.addEventListener("submit", function (e) { e.preventDefault(); submit(); });
    form.appendChild(label); form.appendChild(input); form.appendChild(sendBtn);

    panel.appendChild(head); panel.appendChild(menu); panel.appendChild(log); panel.appendChild(bar); panel.appendChild(form);
    panel.addEventListener("keydown", function (e) {
      if (e.key !== "Escape") return;
      e.stopPropagation();
      if (!menu.hidden) { closeMenu(); moreBtn.focus(); } else close();
    });
    wrap.appendChild(panel); wrap.appendChild(bubble);
    root.appendChild(wrap);
    document.body.appendChild(host);
    appearance();
    setHandoff(saved && saved.handoff);
    new MutationObserver(appearance).observe(script, {attributes: true,
      attributeFilter: ["data-color", "data-position", "data-launcher-text"]});
  }

  // The tag's data-* attributes win over the assistant's settings (a site's own colours, the
  // dashboard's live preview).
  function setting(attr, own) {
    return script.hasAttribute(attr) ? script.getAttribute(attr) : own;
  }
  function appearance() {
    var color = [setting("data-color", ""), config.color].filter(function (c) { return HEX.test(c || ""); })[0] ||
      "#1d4ed8";
    wrap.style.setProperty("--c", color);
    wrap.style.setProperty("--f", ink(color));
    wrap.classList.toggle("left", setting("data-position", config.position) === "left");
    var text = (setting("data-launcher-text", config.launcher_text) || "").trim().slice(0, 40);
    bubble.className = text ? "bubble pill" : "bubble";
    bubble.innerHTML = ICON;
    if (text) bubble.appendChild(el("span", null, text));
    labelBubble();
  }
  // Text on the accent: white or near-black (#111827, luminance 0.0092), whichever contrasts more
  // (WCAG relative luminance).
  function ink(hex) {
    var h = hex.slice(1);
    if (h.length === 3) h = h.replace(/./g, "$&$&");
    var l = [0, 2, 4].map(function (i) {
      var c = parseInt(h.substr(i, 2), 16) / 255;
      return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
    });
    var y = 0.2126 * l[0] + 0.7152 * l[1] + 0.0722 * l[2];
    return 1.05 / (y + 0.05) >= (y + 0.05) / 0.0592 ? "#fff" : "#111827";
  }
  // A pill is named by its visible text (WCAG "label in name") and aria-expanded tells open or
  // closed; the round bubble has no text, so it gets a label that says both.
  function labelBubble() {
    if (bubble.classList.contains("pill")) { bubble.removeAttribute("aria-label"); return; }
    bubble.setAttribute("aria-label", t(panel.hidden ? "open" : "close_named", {name: config.name}));
  }

  function open() {
    panel.hidden = false;
    bubble.setAttribute("aria-expanded", "true");
    labelBubble();
    input.focus();
    if (!loaded) history(); else scrollDown();
    startPolling();
  }
  function close() {
    panel.hidden = true;
    bubble.setAttribute("aria-expanded", "false");
    labelBubble();
    stopPolling();
    bubble.focus();
  }
  function scrollDown() { log.scrollTop = log.scrollHeight; }

  function add(role, text, opts) {
    opts = opts || {};
    var m = el("div", "msg " + role);
    if (role === "staff") {
      m.appendChild(el("span", "who", config.business_name ? t("team", {name: config.business_name}) : t("staff")));
    }
    var body = el("span", "text", text);
    m.appendChild(body);
    if (opts.id) { m.setAttribute("data-id", opts.id); shown[opts.id] = true; }
    log.appendChild(m);
    if (opts.citations) cite(m, opts.citations);
    scrollDown();
    return m;
  }
  function cite(m, citations) {
    var seen = {}, box = el("div", "cites");
    (citations || []).forEach(function (c) {
      var name = c.source_title || t("source");
      if (seen[c.source_id || name]) return;
      seen[c.source_id || name] = true;
      var chip = el("span", "cite", name);
      chip.title = t("source_named", {title: name});
      box.appendChild(chip);
    });
    if (box.childNodes.length) {
      box.insertBefore(el("span", "sr", t("sources") + " "), box.firstChild);
      m.appendChild(box);
    }
  }
  function render(msg) {
    if (!msg || shown[msg.id]) return;
    if (msg.role === "assistant" && msg.status !== "complete") return;
    var role = {customer: "customer", assistant: "assistant", staff: "staff"}[msg.role] || "note";
    var m = add(role, msg.content, {id: msg.id, citations: msg.role === "assistant" ? msg.citations : null});
    if (role === "assistant") rater(m, msg.id, msg.rating);
  }
  // Thumbs up / down under an answer (POST /api/v1/messages/{id}/feedback). Pressing the other
  // one changes the rating; pressing the pressed one again removes it.
  function rater(m, id, rating) {
    var box = el("div", "rate"), thanks = el("span", "thanks"), buttons = {}, queue = Promise.resolve();
    [["up", "helpful"], ["down", "not_helpful"]].forEach(function (r) {
      var b = el("button", r[0]);
      b.type = "button";
      b.innerHTML = THUMB;
      b.setAttribute("aria-label", t(r[1]));
      b.title = t(r[1]);
      b.addEventListener("click", function () { rate(r[0]); });
      buttons[r[0]] = b;
      box.appendChild(b);
    });
    function mark(value) {
      rating = value;
      for (var k in buttons) buttons[k].setAttribute("aria-pressed", String(k === value));
    }
    function rate(value) {
      var before = rating, next = value === rating ? null : value;
      mark(next);
      // One request at a time, in the order pressed, so the last press is the one kept.
      queue = queue.then(function () {
        return api("POST", "/api/v1/messages/" + id + "/feedback", {rating: next});
      }).then(function (res) {
        if (!res.ok) return failure(res);
        thanks.textContent = next ? t("thanks_feedback") : "";
      }).catch(function () { mark(before); });
    }
    mark(rating || null);
    thanks.setAttribute("role", "status");  // the log announces additions only, not this text changing
    box.appendChild(thanks);
    m.appendChild(box);
  }
  function greet() {
    if (config.greeting && !log.querySelector(".greeting")) {
      var g = add("assistant", config.greeting);
      g.classList.add("greeting");
    }
  }
  function setHandoff(on) {
    humanBtn.disabled = !!on;
    humanBtn.textContent = t(on ? "person_will_reply" : "talk_to_person");
  }
  function error(text, retry) {
    var m = add("error", text);
    m.setAttribute("role", "alert");
    if (retry) {
      var b = el("button", "retry", t("try_again"));
      b.type = "button";
      b.addEventListener("click", function () { m.remove(); retry(); });
      m.appendChild(b);
    }
  }

  function openMenu() { menu.hidden = false; moreBtn.setAttribute("aria-expanded", "true"); menu.firstChild.focus(); }
  function closeMenu() { menu.hidden = true; moreBtn.setAttribute("aria-expanded", "false"); }

  // ------------------------------------------------------------------ flows
  function confirmErase() {
    var old = log.querySelector(".confirm");
    if (old) old.remove();
    var box = el("div", "confirm");
    box.setAttribute("role", "alertdialog");
    box.setAttribute("aria-label", t("delete_data"));
    box.appendChild(el("p", null, t("delete_confirm")));
    var row = el("div"), yes = el("button", "danger", t("delete")), no = el("button", null, t("cancel"));
    yes.type = no.type = "button";
    no.addEventListener("click", function () { box.remove(); input.focus(); });
    yes.addEventListener("click", function () { yes.disabled = no.disabled = true; eraseData(box); });
    row.appendChild(no); row.appendChild(yes); box.appendChild(row);
    log.appendChild(box); scrollDown(); yes.focus();
  }
  function eraseData(box) {
    // Nothing was sent yet: there is nothing on the server to delete.
    var gone = saved && saved.id ? api("DELETE", "/api/v1/conversations/" + saved.id).then(function (res) {
      if (!res.ok && res.status !== 404) return failure(res);
    }) : Promise.resolve();
    gone.then(function () {
      forget();
      shown = {};
      log.textContent = "";
      setHandoff(false);
      add("note", t("data_deleted")).setAttribute("role", "status");
    }).catch(function () {
      box.remove();
      error(t("delete_failed"), confirmErase);
    });
  }
  function history() {
    loaded = true;
    greet();
    if (!saved || !saved.id) return Promise.resolve();
    return fetchMessages().catch(function () { /* shown on the next send */ });
  }
  function fetchMessages() {
    return api("GET", "/api/v1/conversations/" + saved.id + "/messages").then(function (res) {
      if (res.status === 404) { forget(); return; }
      if (!res.ok) return failure(res);
      return res.json().then(function (b) {
        var staff = false;
        b.results.forEach(function (msg) { render(msg); staff = staff || msg.role === "staff"; });
        if (staff && saved && !saved.handoff) { saved.handoff = true; save(); setHandoff(true); repoll(); }
      });
    });
  }
  // One timer at a time; the next poll is scheduled when the previous one has finished.
  function startPolling() {
    if (pollTimer || panel.hidden) return;
    pollTimer = setTimeout(function () {
      pollTimer = null;
      var due = !document.hidden && saved && saved.id && !busy;
      (due ? fetchMessages().catch(function () {}) : Promise.resolve()).then(startPolling);
    }, saved && saved.handoff ? POLL_MS : SLOW_POLL_MS);
  }
  function stopPolling() { clearTimeout(pollTimer); pollTimer = null; }
  function repoll() { stopPolling(); startPolling(); }

  function submit() {
    var text = input.value.trim();
    if (!text || busy) return;
    input.value = "";
    send(text, uid(), add("customer", text), false);
  }

  // One customer message: `mine` is its bubble; `again` once a new conversation replaced a lost one.
  function send(text, idem, mine, again) {
    busy = true; sendBtn.disabled = true;
    var answer = null, body = null, seen = "";
    function settle() { busy = false; sendBtn.disabled = false; }
    return ensureConversation().then(function () {
      return api("POST", "/api/v1/conversations/" + saved.id + "/messages", {content: text},
        {"Accept": "text/event-stream", "Idempotency-Key": idem});
    }).then(function (res) {
      if ((res.status === 404 || res.status === 409) && !again) {
        return res.clone().json().catch(function () { return {}; }).then(function (b) {
          var code = b && b.error && b.error.code;
          if (code !== "not_found" && code !== "conversation_closed") return failure(res);
          forget();  // the conversation is gone or closed: start a new one and send there, once
          return send(text, uid(), mine, true);
        });
      }
      return stream(res);
    }).catch(function (err) {
      if (answer) answer.remove();
      var text2 = err.status === 429 || err.status === 402 ? t("busy") :
        err.status && err.status < 500 ? t("not_sent", {reason: err.message}) : t("no_answer");
      error(text2, function () { send(text, idem, mine, again); });
    }).then(settle);

    function stream(res) {
      if (!res.ok) return failure(res);
      answer = add("assistant", "");
      answer.setAttribute("aria-busy", "true");
      var out = answer.querySelector(".text");
      out.classList.add("typing");
      return readEvents(res, function (event, data) {
        if (event === "queued") {
          // Waiting for a turn at the model server: say so until the first text arrives.
          if (!seen) out.textContent = t("queued");
          scrollDown();
        } else if (event === "delta") {
          seen += data.text;
          out.textContent = seen;
          scrollDown();
        } else if (event === "done") {
          body = data;
        } else if (event === "error") {
          var err = new Error((data.error && data.error.message) || "The assistant could not answer.");
          err.retryable = true;
          throw err;
        }
      }).then(function () {
        if (!body) throw Object.assign(new Error("The answer was cut off."), {retryable: true});
        if (body.message) { mine.setAttribute("data-id", body.message.id); shown[body.message.id] = true; }
        answer.removeAttribute("aria-busy");
        out.classList.remove("typing");
        if (body.answer) {
          answer.setAttribute("data-id", body.answer.id);
          shown[body.answer.id] = true;
          out.textContent = body.answer.content;
          cite(answer, body.answer.citations);
          rater(answer, body.answer.id, body.answer.rating);
          if (saved.handoff) { saved.handoff = false; save(); setHandoff(false); repoll(); }
        } else {
          // Handoff: the assistant is silent and a person answers; their replies arrive by polling.
          answer.remove();
          if (!saved.handoff) { saved.handoff = true; save(); setHandoff(true); repoll(); }
        }
        scrollDown();
      });
    }
  }

  // Server-sent events over fetch(): EventSource cannot POST or send headers.
  function readEvents(res, onEvent) {
    var reader = res.body.getReader(), decoder = new TextDecoder(), buffer = "";
    function dispatch(block) {
      var event = "message", data = [];
      block.split("\n").forEach(function (line) {
        if (line.indexOf("event:") === 0) event = line.slice(6).trim();
        else if (line.indexOf("data:") === 0) data.push(line.slice(5).replace(/^ /, ""));
      });
      if (data.length) onEvent(event, JSON.parse(data.join("\n")));
    }
    function pump() {
      return reader.read().then(function (r) {
        if (r.value) buffer += decoder.decode(r.value, {stream: !r.done});
        buffer = buffer.replace(/\r\n?/g, "\n");
        var i;
        while ((i = buffer.indexOf("\n\n")) >= 0) { dispatch(buffer.slice(0, i)); buffer = buffer.slice(i + 2); }
        if (r.done) { if (buffer.trim()) dispatch(buffer); return; }
        return pump();
      });
    }
    return pump();
  }

  function handoff() {
    if (busy) return;
    busy = true; humanBtn.disabled = true;
    ensureConversation().then(function () {
      return api("POST", "/api/v1/conversations/" + saved.id + "/handoff");
    }).then(function (res) {
      if (!res.ok) return failure(res);
      saved.handoff = true; save(); setHandoff(true);
      add("note", config.handoff_message || t("handoff_default"));
      repoll();
    }).catch(function (err) {
      if (err.status === 404 || err.status === 409) forget();  // gone or closed: "Try again" starts anew
      setHandoff(false);
      error(t("team_unreachable"), handoff);
    }).then(function () { busy = false; });
  }

  // ------------------------------------------------------------------ start
  function start() {
    api("GET", "/api/v1/assistants/" + ASSISTANT + "/widget").then(function (res) {
      if (!res.ok) return failure(res);
      return res.json().then(function (c) {
        config = c;
        build();
        window.FrontdeskWidget = {open: open, close: close};
      });
    }).catch(function (err) {
      console.warn("Frontdesk widget: could not load the assistant (" + err.message + "). Check data-key, " +
        "data-assistant and the assistant's allowed_origins.");
    });
  }
  if (document.body) start(); else document.addEventListener("DOMContentLoaded", start);
})();
