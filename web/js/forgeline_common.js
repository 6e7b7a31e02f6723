// Forgeline editor extension: shared helpers (no extension registered here).
// Served at /extensions/<pack folder>/js/forgeline_common.js, so the frontend's shims are three levels up.
import { api } from "../../../scripts/api.js";

export const PACK_PREFIX = "Forgeline";

/** True for node definitions that belong to this pack (by id prefix or by the Python module ComfyUI reports). */
export function isForgelineNode(nodeData) {
  const name = nodeData?.name ?? "";
  const module = String(nodeData?.python_module ?? "").toLowerCase();
  return name.startsWith(PACK_PREFIX) || module.includes("forgeline");
}

/** Names of a node definition's multiline STRING inputs (the prompt text widgets). */
export function multilineStringInputs(nodeData) {
  const out = [];
  for (const section of ["required", "optional"]) {
    for (const [name, spec] of Object.entries(nodeData?.input?.[section] ?? {})) {
      if (Array.isArray(spec) && spec[0] === "STRING" && spec[1]?.multiline) out.push(name);
    }
  }
  return out;
}

/** POST JSON to a pack route; resolves to the parsed body, or {error} for an HTTP error. */
export async function postJson(route, body) {
  const res = await api.fetchApi(route, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  let data = null;
  try {
    data = await res.json();
  } catch {
    data = { error: `HTTP ${res.status}` };
  }
  if (!res.ok && !data?.error) data = { error: `HTTP ${res.status}` };
  return data;
}

export function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

export function findWidget(node, name) {
  return node.widgets?.find((w) => w.name === name);
}

/**
 * Call onChange(values) whenever the named widgets change. Widget values are polled (cheap, and it works the same
 * in the classic canvas and in Vue-node rendering, where widget callbacks and DOM events differ); the timer stops
 * when the node is removed.
 */
export function watchWidgets(node, names, onChange, intervalMs = 350) {
  let last = null;
  const read = () => Object.fromEntries(names.map((n) => [n, findWidget(node, n)?.value]));
  const tick = () => {
    const now = read();
    const key = JSON.stringify(now);
    if (key !== last) {
      last = key;
      onChange(now);
    }
  };
  const timer = setInterval(tick, intervalMs);
  const prevRemoved = node.onRemoved;
  node.onRemoved = function () {
    clearInterval(timer);
    return prevRemoved?.apply(this, arguments);
  };
  setTimeout(tick, 0); // after the node is configured (loadGraphData sets widget values after onNodeCreated)
  return tick;
}

/**
 * Add a non-serialised DOM widget (kept out of widgets_values and of the API prompt, so saved workflows and the
 * queued graph are unchanged by this extension).
 */
export function addPanelWidget(node, name, element, minHeight) {
  const widget = node.addDOMWidget(name, "forgeline_panel", element, {
    serialize: false,
    hideOnZoom: false,
    getValue() {
      return undefined;
    },
    setValue() {},
    getMinHeight: () => minHeight,
  });
  widget.serialize = false;
  widget.computeLayoutSize = () => ({ minHeight, minWidth: 200 });
  return widget;
}

let styleAdded = false;
export function addStyle() {
  if (styleAdded) return;
  styleAdded = true;
  const style = document.createElement("style");
  style.id = "forgeline-style";
  style.textContent = `
.forgeline-lint { font: 12px/1.45 monospace; white-space: pre-wrap; word-break: break-word; overflow: auto;
  background: var(--comfy-input-bg, #222); color: var(--input-text, #ddd); border-radius: 6px; padding: 4px 6px;
  box-sizing: border-box; width: 100%; height: 100%; }
.forgeline-lint .fl-lora { color: #e5a6ff; } .forgeline-lint .fl-and { color: #ffcf5c; font-weight: bold; }
.forgeline-lint .fl-break { color: #ff9f43; font-weight: bold; } .forgeline-lint .fl-edit { color: #4fd1c5; font-weight: bold; }
.forgeline-lint .fl-edit-number { color: #4fd1c5; } .forgeline-lint .fl-emphasis { color: #7aa2ff; font-weight: bold; }
.forgeline-lint .fl-weight { color: #7aa2ff; } .forgeline-lint .fl-escape { color: #999; }
.forgeline-lint .forgeline-diag-error { text-decoration: underline wavy #ff4d4f; background: rgba(255,77,79,.18); }
.forgeline-lint .forgeline-diag-warning { text-decoration: underline wavy #f5c542; }
.forgeline-lint .fl-messages { margin-top: 4px; border-top: 1px solid #444; padding-top: 2px; }
.forgeline-lint .fl-msg-error { color: #ff7875; } .forgeline-lint .fl-msg-warning { color: #f5c542; }
.forgeline-lint .fl-ok { color: #7c7; }
textarea.forgeline-prompt-error { outline: 2px solid #ff4d4f !important; }
.forgeline-curve { width: 100%; height: 100%; box-sizing: border-box; background: var(--comfy-input-bg, #222);
  border-radius: 6px; position: relative; }
.forgeline-curve canvas { width: 100%; height: 100%; display: block; }
.forgeline-autocomplete { position: fixed; z-index: 10000; background: #1e1e1e; color: #ddd; border: 1px solid #555;
  border-radius: 4px; font: 12px monospace; max-height: 220px; overflow: auto; min-width: 180px; }
.forgeline-autocomplete div { padding: 2px 8px; cursor: pointer; }
.forgeline-autocomplete div.active, .forgeline-autocomplete div:hover { background: #2f5b9a; }
`;
  document.head.appendChild(style);
}
