// p2ppay customer display: follows /display/events (server-sent events) and shows each
// view the kiosk computes (p2ppay/kiosk/display.py). No library, no build step.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const OFFLINE = {
    screen: "offline", state: "offline", id: null, memo: "", sas: null, reason: "", status: "",
    title: "Please wait", instruction: "This kiosk is restarting; payments resume shortly.",
  };
  let source = null;
  let retry = null;

  function render(view) {
    const main = $("screen");
    main.dataset.screen = view.screen;
    main.dataset.state = view.state;
    main.dataset.id = view.id || "";
    $("title").textContent = view.title;
    $("status").textContent = view.status || "";
    $("memo").textContent = view.memo || "";
    $("instruction").textContent = view.instruction || "";
    $("reason").textContent = view.reason || "";
    $("sas").textContent = view.sas || "";
    $("sas-box").hidden = !view.sas;
  }

  function connect() {
    retry = null;
    source = new EventSource("/display/events");
    source.addEventListener("open", () => { $("connection").hidden = true; });
    source.addEventListener("display", (message) => {
      $("connection").hidden = true;
      render(JSON.parse(message.data));
    });
    source.addEventListener("error", () => {
      $("connection").hidden = false;
      render(OFFLINE);
      if (source.readyState === EventSource.CLOSED && retry === null) {
        // The browser gave up (e.g. the kiosk answered with an error while restarting).
        retry = setTimeout(connect, 2000);
      }
    });
  }

  render(JSON.parse($("initial").textContent));
  connect();
})();
