// Forgeline: "<lora:" autocomplete in prompt text boxes, from the server's LoRA list (GET /models/loras).
// Listens on the document, so it works for textareas drawn by the classic canvas and by Vue nodes alike; it only
// acts while the text before the caret is an unfinished <lora:…/<lyco:…/<loractl:… tag.
import { app } from "../../../scripts/app.js";
import { api } from "../../../scripts/api.js";
import { addStyle } from "./forgeline_common.js";

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
let state = null; // { textarea, start, items, active }

function close() {
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
  if (!popup) {
    popup = document.createElement("div");
    popup.className = "forgeline-autocomplete";
    popup.addEventListener("mousedown", (e) => {
      const row = e.target.closest("[data-index]");
      if (row) {
        e.preventDefault();
        accept(Number(row.dataset.index));
      }
    });
    document.body.appendChild(popup);
  }
  popup.innerHTML = state.items.map((n, i) =>
    `<div data-index="${i}" class="${i === state.active ? "active" : ""}"></div>`).join("");
  popup.querySelectorAll("[data-index]").forEach((row, i) => { row.textContent = tagName(state.items[i]); });
  const rect = state.textarea.getBoundingClientRect();
  popup.style.left = `${rect.left}px`;
  popup.style.top = `${Math.min(rect.bottom + 2, window.innerHeight - 60)}px`;
}

let inputSeq = 0;

async function onInput(event) {
  const textarea = event.target;
  if (!(textarea instanceof HTMLTextAreaElement)) return;
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
  addStyle();
  state = { textarea, start: before.length - m[2].length, items, active: 0 };
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

app.registerExtension({
  name: "forgeline.loraAutocomplete",
  setup() {
    document.addEventListener("input", onInput, true);
    document.addEventListener("keydown", onKeyDown, true);
    document.addEventListener("focusout", (e) => { if (state && e.target === state.textarea) setTimeout(close, 150); }, true);
  },
});
