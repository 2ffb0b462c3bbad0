// Web chat: text only through textContent, so resident text can never become markup.
(function () {
  "use strict";
  const log = document.getElementById("log");
  const form = document.getElementById("composer");
  const input = document.getElementById("text");

  function newId() {
    const bytes = new Uint8Array(12);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function disableOldChoices() {
    log.querySelectorAll(".choices button").forEach((b) => { b.disabled = true; });
  }

  function add(direction, text, choices) {
    const item = document.createElement("li");
    item.className = "msg " + direction;
    item.dataset.direction = direction;
    const body = document.createElement("div");
    body.className = "text";
    body.textContent = text;
    item.appendChild(body);
    if (choices && choices.length) {
      const row = document.createElement("div");
      row.className = "choices";
      choices.forEach((choice) => {
        const button = document.createElement("button");
        button.type = "button";
        button.dataset.choiceId = choice.id;
        button.textContent = (choice.number ? choice.number + ". " : "") + choice.label;
        button.addEventListener("click", () => send({ choice_id: choice.id }, choice.label));
        row.appendChild(button);
      });
      item.appendChild(row);
    }
    log.appendChild(item);
    item.scrollIntoView({ block: "end" });
  }

  async function send(payload, shown) {
    add("in", shown, []);
    disableOldChoices();
    payload.client_id = newId();
    try {
      const response = await fetch("/chat/messages", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        credentials: "same-origin",
        body: JSON.stringify(payload),
      });
      if (!response.ok) { throw new Error(String(response.status)); }
      const data = await response.json();
      data.messages.forEach((m) => add("out", m.text, m.choices));
    } catch (error) {
      add("out error", "Maaf, pesan belum terkirim. Periksa koneksi lalu coba lagi.", []);
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value;
    input.value = "";
    send({ text: text }, text);
  });

  // Officers' replies and status changes arrive through the outbox: ask for them now and then.
  async function poll() {
    try {
      const response = await fetch("/chat/updates", { credentials: "same-origin" });
      if (response.ok) {
        const data = await response.json();
        data.messages.forEach((m) => add("out", m.text, m.choices));
      }
    } catch (error) {
      // offline for a moment: the next poll catches up
    }
  }
  setInterval(poll, 20000);

  fetch("/chat/history", { credentials: "same-origin" })
    .then((r) => (r.ok ? r.json() : { messages: [] }))
    .then((data) => {
      data.messages.forEach((m) => add(m.direction, m.text, m.choices));
      disableOldChoices();
      const last = log.lastElementChild;
      if (last) { last.querySelectorAll("button").forEach((b) => { b.disabled = false; }); }
      poll();  // what arrived while the page was closed
    });
})();
