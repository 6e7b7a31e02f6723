// Forgeline: A1111 prompt syntax highlighting and inline error markers on the pack's prompt text widgets.
// The rules are the pack's Python parsers (POST /forgeline/parse), so the editor shows exactly what sampling will do.
import { app } from "../../../scripts/app.js";
import {
  addPanelWidget, debounce, findWidget, isUnknown, postJson, promptInputsExtension, visibleTextAreas,
  watchWidgets,
} from "./forgeline_common.js";

function escapeHtml(text) {
  return text.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
}

/** HTML of the prompt with token classes and diagnostic marks (pieces cut at every span boundary). */
export function renderLint(text, result) {
  const tokens = result?.tokens ?? [];
  const diags = result?.diagnostics ?? [];
  const cuts = new Set([0, text.length]);
  for (const s of [...tokens, ...diags]) {
    cuts.add(Math.max(0, Math.min(text.length, s.start)));
    cuts.add(Math.max(0, Math.min(text.length, s.end)));
  }
  const points = [...cuts].sort((a, b) => a - b);
  let html = "";
  for (let i = 0; i + 1 < points.length; i++) {
    const [a, b] = [points[i], points[i + 1]];
    const classes = [];
    const titles = [];
    for (const t of tokens) if (t.start <= a && b <= t.end) { classes.push(`fl-${t.kind}`); if (t.title) titles.push(t.title); }
    for (const d of diags) {
      if (d.start <= a && b <= d.end) { classes.push(`forgeline-diag-${d.severity}`); titles.push(d.message); }
    }
    const piece = escapeHtml(text.slice(a, b));
    html += classes.length
      ? `<span class="${classes.join(" ")}" title="${escapeHtml(titles.join("\n"))}">${piece}</span>`
      : piece;
  }
  if (diags.length) {
    html += `<div class="fl-messages">` + diags.map((d) =>
      `<div class="fl-msg-${d.severity}">${d.severity === "error" ? "✖" : "⚠"} ${escapeHtml(d.message)}</div>`).join("") +
      `</div>`;
  } else if (text.trim()) {
    html += `<div class="fl-messages fl-ok">✓ A1111 syntax OK</div>`;
  }
  return html;
}

function attachLint(node, inputName) {
  const textWidget = findWidget(node, inputName);
  if (!textWidget) return;
  const panel = document.createElement("div");
  panel.className = "forgeline-lint";
  panel.dataset.forgelineInput = inputName;
  addPanelWidget(node, `${inputName}_syntax`, panel, 60);
  let requestId = 0;
  const update = debounce(async (text, steps, negative) => {
    const id = ++requestId;
    if (isUnknown(text)) {
      // linked to an output known only when the graph runs (e.g. A1111 Parameters' prompt): nothing to check here,
      // and nothing to send (the route refuses a missing text with HTTP 400)
      panel.innerHTML = `<div class="fl-messages fl-ok">prompt comes by link: checked when the graph runs</div>`;
      panel.dataset.errors = "0";
      markTextAreas("");
      return;
    }
    const result = await postJson("/forgeline/parse", {
      text: text ?? "", steps: Number.isInteger(steps) ? steps : 20, and_split: negative !== true,
    });
    if (id !== requestId) return; // a newer edit is on its way
    if (result?.error) {
      panel.innerHTML = `<div class="fl-msg-error">✖ ${escapeHtml(result.error)}</div>`;
      return;
    }
    panel.innerHTML = renderLint(text ?? "", result);
    const errors = result.diagnostics.filter((d) => d.severity === "error");
    panel.dataset.errors = String(errors.length);
    markTextAreas(errors.length ? errors[0].message : "");
  }, 200);
  // The red outline and tooltip go on the textarea the user sees: the widget's element in the classic canvas, the
  // Vue-rendered one with Nodes 2.0 on (the widget's element is hidden there).
  const marked = new Set();
  const markTextAreas = (message) => {
    const now = new Set(visibleTextAreas(node, textWidget));
    for (const el of new Set([...marked, ...now])) {
      const on = Boolean(message) && now.has(el);
      el.classList.toggle("forgeline-prompt-error", on);
      if (on) el.title = message;
      else if (marked.has(el)) el.removeAttribute("title");
      if (on) marked.add(el);
      else marked.delete(el);
    }
  };
  // steps: prompt-editing numbers; negative: A1111 encodes the negative prompt as one text (no AND split).
  const names = [inputName, ...["steps", "negative"].filter((n) => findWidget(node, n))];
  const check = watchWidgets(node, names, (v) => update(v[inputName], v.steps, v.negative));
  // Typing in the classic canvas edits the element (the widget's value is read from it): check at once.
  (textWidget.element ?? textWidget.inputEl)?.addEventListener?.("input", () => setTimeout(check, 0));
}

app.registerExtension(promptInputsExtension("forgeline.promptSyntax", attachLint));
