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
      // A model is suggested among the models of the make given in another field.
      const makeField = input.dataset.makeFrom && document.getElementById(input.dataset.makeFrom);
      const make = makeField ? makeField.value.trim() : "";
      if (!list || (makeField ? make.length < 2 : typed.length < 2)) return;
      const query = encodeURIComponent(typed) + (makeField ? "&make=" + encodeURIComponent(make) : "");
      timer = setTimeout(async () => {
        try {
          const response = await fetch(input.dataset.suggest + query + "&limit=8",
            { credentials: "same-origin", headers: { accept: "application/json" } });
          if (!response.ok) return;
          const entries = await response.json();
          list.replaceChildren(...entries.map((entry) => {
            const option = document.createElement("option");
            option.value = entry.canonical || entry.name;
            return option;
          }));
        } catch (_) { /* suggestions are a help, not a need */ }
      }, 150);
    });
  }

  // Uploads (import, batch check) show how far they are; without the script the form simply
  // posts and the answer comes as a page.
  for (const form of document.querySelectorAll("form[data-progress]")) {
    form.addEventListener("submit", (event) => {
      const file = form.querySelector("input[type=file]");
      if (!file || !file.files.length || !window.FormData) return;
      event.preventDefault();
      const target = (event.submitter && event.submitter.formAction) || form.action;
      const box = form.querySelector(".progress");
      const bar = box && box.querySelector("progress");
      if (box) box.hidden = false;
      for (const button of form.querySelectorAll("button")) button.disabled = true;
      const request = new XMLHttpRequest();
      request.open("POST", target);
      request.responseType = "blob";
      request.upload.addEventListener("progress", (progress) => {
        if (bar && progress.lengthComputable) bar.value = Math.round(100 * progress.loaded / progress.total);
      });
      request.upload.addEventListener("load", () => { if (bar) bar.removeAttribute("value"); });
      request.addEventListener("load", async () => {
        const type = request.getResponseHeader("content-type") || "";
        if (type.startsWith("text/csv")) {
          const link = document.createElement("a");
          link.href = URL.createObjectURL(request.response);
          const named = /filename="([^"]+)"/.exec(request.getResponseHeader("content-disposition") || "");
          link.download = named ? named[1] : "armstrace.csv";
          document.body.append(link);
          link.click();
          link.remove();
          if (box) box.hidden = true;
          for (const button of form.querySelectorAll("button")) button.disabled = false;
          return;
        }
        const html = await request.response.text();
        document.open();
        document.write(html);
        document.close();
      });
      request.addEventListener("error", () => form.submit());
      request.send(new FormData(form));
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
      const trace = notification.trace_id;
      link.href = trace ? `/traces/${trace}` : `/hits/${notification.hit_id}`;
      const strong = document.createElement("strong");
      strong.textContent = label(notification.event);
      const data = notification.data || {};
      const serial = data.hit ? data.hit.serial_typed
        : (data.trace && data.trace.serial_numbers ? data.trace.serial_numbers[0] || "" : "");
      link.append(strong, ` · #${trace || notification.hit_id} · ${serial}`);
      item.append(link);
      if (newLabel) {
        const badge = document.createElement("span");
        badge.className = "badge unread-badge";
        badge.textContent = newLabel.textContent;
        item.append(" ", badge);
      }
      inbox.prepend(item);
    };
    // Every event the page has a label for (hits and trace requests).
    const events = labels
      ? [...labels.content.querySelectorAll("[data-event]")].map((l) => l.dataset.event)
      : ["hit.created"];
    for (const event of events) {
      stream.addEventListener(event, show);
    }
  }
});
