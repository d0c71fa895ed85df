// p2ppay operator page login: sends the API token once as JSON; the kiosk answers with an
// HttpOnly, SameSite=Strict cookie that opens this page (never the API).
"use strict";
(function () {
  const form = document.getElementById("login");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const token = document.getElementById("token").value;
    const answer = await fetch("/login", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ token }),
      credentials: "same-origin",
    });
    if (answer.status === 204) {
      location.reload();
    } else {
      document.getElementById("login-error").textContent = "Wrong token.";
    }
  });
})();
