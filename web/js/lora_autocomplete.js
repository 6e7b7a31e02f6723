// Forgeline: "<lora:" autocomplete in the pack's prompt text boxes, from the server's LoRA list (GET /models/loras).
// Listens on the prompt textareas themselves (the widget's element in the classic canvas; the Vue-rendered one with
// Nodes 2.0 on, found when its value changes), never on the shared document; the list is a popover kept inside the
// prompt's own syntax panel. It only acts while the text before the caret is an unfinished <lora:/<lyco:/<loractl:
// tag.
import { app } from "../../../scripts/app.js";
import { api } from "../../../scripts/api.js";
import { findWidget, onWidgetValue, promptInputsExtension, visibleTextAreas } from "./forgeline_common.js";

const TAG_BEFORE_CARET = /<(lora|lyco|loractl):([^:>\s]*)$/;
let names = [];
let fetchedAt = 0;
let inFlight = null;

/** The server's LoRA files; refreshed every 15 s, concurrent callers share one request. */
function loraNames() {
  if (Date.now() - fetchedAt > 15000 && !inFlight) {
    inFlight = (async () => {
      try {
        const res = await api.fetchApi("/models/loras");
        if (res.ok) names = await res.json();
      } catch {
        /* keep the previous list */
      }
      fetchedAt = Date.now();
      inFlight = null;
      return names;
    })();
  }
  return inFlight ?? Promise.resolve(names);
}

/** The name the tag wants: the file name without folder-relative extension (A1111 matches on the stem). */
export function tagName(file) {
  return file.replace(/\.(safetensors|pt|ckpt|bin)$/i, "");
}

let popup = null;
let state = null; // { textarea, host, start, items, active }

function close() {
  if (popup?.matches?.(":popover-open")) popup.hidePopover();
  popup?.remove();
  popup = null;
  state = null;
}

function accept(index) {
  if (!state) return;
  const { textarea, start } = state;
  const name = tagName(state.items[index]);
  const caret = textarea.selectionStart;
  const after = textarea.value.slice(caret);
  const insert = after.startsWith(">") || after.startsWith(":") ? name : `${name}:1>`;
  textarea.value = textarea.value.slice(0, start) + insert + after;
  const pos = start + insert.length;
  textarea.setSelectionRange(pos, pos);
  close();
  textarea.dispatchEvent(new Event("input", { bubbles: true }));
  textarea.dispatchEvent(new Event("change", { bubbles: true }));
}

function render() {
  if (!state) return;
  if (popup && popup.parentElement !== state.host) close();
  if (!popup) {
    popup = document.createElement("div");
    popup.className = "forgeline-autocomplete";
    popup.setAttribute("popover", "manual"); // drawn in the top layer, above the canvas transform
    popup.addEventListener("mousedown", (e) => {
      const row = e.target.closest("[data-index]");
      if (row) {
        e.preventDefault();
        accept(Number(row.dataset.index));
      }
    });
    state.host.append(popup);
  }
  popup.innerHTML = state.items.map((n, i) =>
    `<div data-index="${i}" class="${i === state.active ? "active" : ""}"></div>`).join("");
  popup.querySelectorAll("[data-index]").forEach((row, i) => { row.textContent = tagName(state.items[i]); });
  const rect = state.textarea.getBoundingClientRect();
  popup.style.left = `${rect.left}px`;
  popup.style.top = `${Math.min(rect.bottom + 2, window.innerHeight - 60)}px`;
  if (popup.showPopover && !popup.matches(":popover-open")) popup.showPopover();
}

let inputSeq = 0;

async function onInput(textarea, host) {
  if (!(textarea instanceof HTMLTextAreaElement) || !host) return;
  const seq = ++inputSeq;
  if (!TAG_BEFORE_CARET.test(textarea.value.slice(0, textarea.selectionStart))) {
    if (state?.textarea === textarea) close();
    return;
  }
  const all = await loraNames();
  if (seq !== inputSeq) return; // a later keystroke is being handled
  // Read the text again: it may have changed while the list was loading.
  const before = textarea.value.slice(0, textarea.selectionStart);
  const m = TAG_BEFORE_CARET.exec(before);
  if (!m) return close();
  const typed = m[2].toLowerCase();
  const items = all.filter((n) => tagName(n).toLowerCase().includes(typed)).slice(0, 50);
  if (!items.length) {
    close();
    return;
  }
  state = { textarea, host, start: before.length - m[2].length, items, active: 0 };
  render();
}

function onKeyDown(event) {
  if (!state || event.target !== state.textarea) return;
  if (event.key === "ArrowDown" || event.key === "ArrowUp") {
    const n = state.items.length;
    state.active = (state.active + (event.key === "ArrowDown" ? 1 : n - 1)) % n;
    render();
  } else if (event.key === "Enter" || event.key === "Tab") {
    accept(state.active);
  } else if (event.key === "Escape") {
    close();
  } else {
    return;
  }
  event.preventDefault();
  event.stopPropagation();
}

const bound = new WeakSet();

/** Listen on `textarea` (a prompt box of `node`'s `inputName`); the popup lives in that prompt's syntax panel. */
function bind(node, inputName, textarea) {
  if (!(textarea instanceof HTMLTextAreaElement) || bound.has(textarea)) return;
  bound.add(textarea);
  const host = () => findWidget(node, `${inputName}_syntax`)?.element ?? textarea.parentElement;
  textarea.addEventListener("input", () => onInput(textarea, host()));
  textarea.addEventListener("keydown", onKeyDown);
  textarea.addEventListener("focusout", () => { if (state?.textarea === textarea) setTimeout(close, 150); });
}

function attach(node, inputName) {
  const widget = findWidget(node, inputName);
  if (!widget) return;
  bind(node, inputName, widget.element ?? widget.inputEl);
  // With Nodes 2.0 the box is a Vue textarea created later: take it when the user types in it (its edits set the
  // widget's value), and handle that first keystroke here.
  onWidgetValue(widget, () => {
    const active = document.activeElement;
    if (!(active instanceof HTMLTextAreaElement) || bound.has(active)) return;
    if (!visibleTextAreas(node, widget).includes(active)) return;
    bind(node, inputName, active);
    onInput(active, findWidget(node, `${inputName}_syntax`)?.element ?? active.parentElement);
  });
}

app.registerExtension(promptInputsExtension("forgeline.loraAutocomplete", attach));
