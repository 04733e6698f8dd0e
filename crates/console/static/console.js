// Custos console: small progressive enhancements. Every page works without this script.
// In the decision form, show only the parts that belong to the chosen decision (a part's
// data-for lists the decisions it belongs to, separated by spaces).
"use strict";
document.addEventListener("DOMContentLoaded", () => {
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
});
