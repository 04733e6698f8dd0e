// Custos console: small progressive enhancements. Every page works without this script.
"use strict";
document.documentElement.classList.remove("no-js");
document.addEventListener("DOMContentLoaded", () => {
  decisionParts();
  menu();
  foldFilters();
  countdowns();
  localTimes();
  inlineError();
  drafts();
  idleWarning();
});

// In the decision form, show only the parts that belong to the chosen decision (a part's
// data-for lists the decisions it belongs to, separated by spaces).
function decisionParts() {
  const form = document.getElementById("decide");
  if (!form) return;
  const parts = form.querySelectorAll("fieldset[data-for]");
  const sync = () => {
    const chosen = form.querySelector('input[name="decision"]:checked');
    const value = chosen ? chosen.value : "";
    for (const part of parts) {
      const show = part.dataset.for.split(" ").includes(value);
      part.hidden = !show;
      for (const input of part.querySelectorAll("input, textarea")) input.disabled = !show;
    }
  };
  form.addEventListener("change", sync);
  sync();
}

// On narrow screens the main navigation folds behind a Menu button.
function menu() {
  const button = document.querySelector(".menu-toggle");
  const nav = document.getElementById("main-nav");
  if (!button || !nav) return;
  button.addEventListener("click", () => {
    const open = nav.classList.toggle("open");
    button.setAttribute("aria-expanded", String(open));
  });
}

// On a phone the queue's filters fold away unless some are in use, so the list comes first.
function foldFilters() {
  const box = document.querySelector("details.filter-box");
  if (box && !box.hasAttribute("data-filtered") && window.matchMedia("(max-width: 700px)").matches) box.open = false;
}

// A refusal that concerns one field: its words beside the field, aria-invalid, and the focus.
function inlineError() {
  const refusal = document.getElementById("refusal");
  const id = refusal && refusal.dataset.field;
  const field = id && document.getElementById(id);
  if (!field) return;
  const detail = document.getElementById("refusal-detail");
  const note = document.createElement("p");
  note.className = "field-error";
  note.id = `${id}-error`;
  note.textContent = detail ? detail.textContent : "Check this field.";
  const label = document.querySelector(`label[for="${id}"]`);
  const anchor = field.type === "checkbox" || field.type === "radio" ? field.closest("fieldset") || field : field;
  (label && label.parentNode === anchor.parentNode ? label : anchor).before(note);
  field.setAttribute("aria-invalid", "true");
  field.setAttribute("aria-describedby", [field.getAttribute("aria-describedby"), note.id].filter(Boolean).join(" "));
  const fieldset = field.closest("fieldset[hidden]");
  if (fieldset) fieldset.hidden = false;
  field.focus();
}

// A local draft of every text box of a case's forms (this browser only), restored when the box
// comes back empty, dropped when the form is sent.
function drafts() {
  const m = location.pathname.match(/^\/console\/requests\/(\d+)/);
  if (!m || !window.localStorage) return;
  for (const box of document.querySelectorAll("form[method=post] textarea[id]")) {
    const key = `custos-draft:${m[1]}:${box.id}`;
    let saved = null;
    try { saved = localStorage.getItem(key); } catch (_) { return; }
    if (saved && !box.value) {
      box.value = saved;
      const note = document.createElement("p");
      note.className = "small muted";
      note.textContent = "Restored from a draft kept in this browser.";
      box.after(note);
    }
    box.addEventListener("input", () => {
      try { box.value ? localStorage.setItem(key, box.value) : localStorage.removeItem(key); } catch (_) { /* full or denied */ }
    });
    box.form.addEventListener("submit", () => {
      try { localStorage.removeItem(key); } catch (_) { /* denied */ }
    });
  }
}

// Sessions end after 30 idle minutes: warn five minutes before, and offer to stay signed in
// (a request to the page keeps the session alive).
function idleWarning() {
  const main = document.querySelector("main[data-idle-minutes]");
  if (!main) return;
  const idle = Number(main.dataset.idleMinutes) * 60 * 1000;
  let timer;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(warn, idle - 5 * 60 * 1000);
  };
  const warn = () => {
    if (document.querySelector(".session-warning")) return;
    const bar = document.createElement("div");
    bar.className = "session-warning";
    bar.setAttribute("role", "alert");
    const text = document.createElement("span");
    text.textContent = "Your session ends in 5 minutes without activity. Text you typed is kept as a draft in this browser.";
    const stay = document.createElement("button");
    stay.type = "button";
    stay.textContent = "Stay signed in";
    stay.addEventListener("click", async () => {
      try { await fetch(location.href, { credentials: "same-origin" }); } catch (_) { /* offline */ }
      bar.remove();
      arm();
    });
    bar.append(text, stay);
    document.body.append(bar);
  };
  arm();
}

// An emergency's clock counts down live, to the minute, as the server words it.
function countdowns() {
  const clocks = document.querySelectorAll("[data-deadline]");
  if (!clocks.length) return;
  const tick = () => {
    for (const c of clocks) {
      const secs = Math.trunc((Date.parse(c.dataset.deadline) - Date.now()) / 1000);
      const mins = Math.trunc(Math.abs(secs) / 60);
      const amount = mins >= 60 ? `${Math.trunc(mins / 60)} h ${mins % 60} min` : `${mins} min`;
      c.textContent = `Emergency: ${secs >= 0 ? `${amount} left` : `overdue by ${amount}`}`;
    }
  };
  tick();
  setInterval(tick, 30 * 1000);
}

// Times are written in UTC; where the browser's zone is another, the local time goes beside.
function localTimes() {
  if (new Date().getTimezoneOffset() === 0) return;
  const main = document.getElementById("main");
  if (!main) return;
  const pattern = /(\d{4}-\d\d-\d\d) (\d\d:\d\d) UTC/g;
  const fmt = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
  const walker = document.createTreeWalker(main, NodeFilter.SHOW_TEXT);
  const nodes = [];
  const has = /\d{4}-\d\d-\d\d \d\d:\d\d UTC/;
  while (walker.nextNode()) if (has.test(walker.currentNode.nodeValue)) nodes.push(walker.currentNode);
  for (const node of nodes) {
    if (node.parentElement.closest("textarea, script, input, option")) continue;
    node.nodeValue = node.nodeValue.replace(pattern, (all, day, time) =>
      `${all} (${fmt.format(new Date(`${day}T${time}:00Z`))} local)`);
  }
}

// Reply templates (issue 16): "Use this text" adds the ground's template to the reason (to the
// message when asking for information) here, without sending the form; without this script the
// button asks the server, which sends the page back with the text added.
document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("decide");
  if (!form) return;
  for (const button of form.querySelectorAll("button[data-template]")) {
    button.addEventListener("click", (event) => {
      const source = document.getElementById(button.dataset.template);
      const chosen = form.querySelector('input[name="decision"]:checked');
      const box = document.getElementById(chosen && chosen.value === "request_information" ? "message" : "reason");
      if (!source || !box) return;
      event.preventDefault();
      const text = source.textContent.trim();
      box.value = box.value.trim() ? `${box.value.trimEnd()}\n\n${text}` : text;
      const ground = form.querySelector(`input[name="grounds"][value="${CSS.escape(button.dataset.ground)}"]`);
      if (ground) ground.checked = true;
      box.dispatchEvent(new Event("input", { bubbles: true }));
      box.focus();
    });
  }
});
