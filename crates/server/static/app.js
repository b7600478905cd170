// Armstrace: small helpers on top of pages that work without them. Suggestions from the
// reference table for make and calibre fields, and the inbox updated live.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  for (const input of document.querySelectorAll("input[data-suggest]")) {
    const list = document.getElementById(input.getAttribute("list"));
    let timer = null;
    input.addEventListener("input", () => {
      clearTimeout(timer);
      const typed = input.value.trim();
      if (typed.length < 2 || !list) return;
      timer = setTimeout(async () => {
        try {
          const response = await fetch(input.dataset.suggest + encodeURIComponent(typed) + "&limit=8",
            { credentials: "same-origin", headers: { accept: "application/json" } });
          if (!response.ok) return;
          const entries = await response.json();
          list.replaceChildren(...entries.map((entry) => {
            const option = document.createElement("option");
            option.value = entry.canonical;
            return option;
          }));
        } catch (_) { /* suggestions are a help, not a need */ }
      }, 150);
    });
  }

  const inbox = document.getElementById("inbox");
  if (inbox && window.EventSource) {
    const labels = document.getElementById("notification-labels");
    const label = (event) => {
      const found = labels && labels.content.querySelector(`[data-event="${event}"]`);
      return found ? found.textContent : event;
    };
    const newLabel = labels && labels.content.querySelector("[data-new]");
    const stream = new EventSource(inbox.dataset.live, { withCredentials: true });
    const show = (message) => {
      const notification = JSON.parse(message.data);
      if (inbox.querySelector(`[data-id="${notification.id}"]`)) return;
      inbox.querySelector(".empty")?.remove();
      const item = document.createElement("li");
      item.className = "unread fresh";
      item.dataset.id = notification.id;
      const link = document.createElement("a");
      link.href = `/hits/${notification.hit_id}`;
      const strong = document.createElement("strong");
      strong.textContent = label(notification.event);
      const serial = notification.data && notification.data.hit ? notification.data.hit.serial_typed : "";
      link.append(strong, ` · #${notification.hit_id} · ${serial}`);
      item.append(link);
      if (newLabel) {
        const badge = document.createElement("span");
        badge.className = "badge unread-badge";
        badge.textContent = newLabel.textContent;
        item.append(" ", badge);
      }
      inbox.prepend(item);
    };
    for (const event of ["hit.created", "hit.confirmed", "hit.rejected", "hit.message", "hit.closed"]) {
      stream.addEventListener(event, show);
    }
  }
});
