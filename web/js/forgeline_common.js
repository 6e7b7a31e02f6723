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
 * Values some pack nodes always put on an output, for previews of inputs linked to them. They mirror the Python
 * constants (nodes/lcm_lora.py PRESET; tests/unit/test_web_js.py checks they agree).
 */
export const CONSTANT_OUTPUTS = {
  ForgelineLCMLoraMerge: { steps: 4, cfg: 1.0, sampler_name: "lcm", scheduler: "sgm_uniform" },
};

const UNKNOWN = Symbol("unknown");

function graphLink(graph, id) {
  if (id == null || !graph) return null;
  return graph.getLink?.(id) ?? graph.links?.get?.(id) ?? graph.links?.[id] ?? null;
}

/**
 * The value an input of `node` gets: its widget's value when nothing is linked to it; when it is linked, the value
 * the link carries if the editor can know it before the run (a pack node's constant output, a primitive's widget,
 * a Reroute followed), else UNKNOWN.
 */
export function inputValue(node, name, depth = 0) {
  const slot = node.inputs?.find((i) => i.name === name || i.widget?.name === name);
  const link = graphLink(node.graph, slot?.link);
  if (!link) return findWidget(node, name)?.value;
  const origin = node.graph.getNodeById?.(link.origin_id);
  if (!origin || depth > 8) return UNKNOWN;
  const outName = origin.outputs?.[link.origin_slot]?.name;
  const constants = CONSTANT_OUTPUTS[origin.type];
  if (constants && outName in constants) return constants[outName];
  if (origin.type === "Reroute") {
    const into = origin.inputs?.[0]?.link != null ? inputValue(origin, origin.inputs[0].name, depth + 1) : UNKNOWN;
    return into;
  }
  const widget = findWidget(origin, "value") ?? findWidget(origin, outName);
  return widget ? widget.value : UNKNOWN;
}

/**
 * The checkpoint a node samples from: follows its `model` input upstream (through any node that passes a `model`
 * on) to a node with a `ckpt_name` widget; null when there is none. The sigma preview sends it so the server picks
 * the Align Your Steps table of that checkpoint's family (SD1 or SDXL).
 */
export function upstreamCheckpoint(node, depth = 0) {
  if (!node || depth > 16) return null;
  const ckpt = findWidget(node, "ckpt_name");
  if (ckpt) {
    const slot = node.inputs?.find((i) => i.name === "ckpt_name" || i.widget?.name === "ckpt_name");
    return slot?.link == null && typeof ckpt.value === "string" ? ckpt.value : null;  // linked: known at run time
  }
  const slot = node.inputs?.find((i) => i.name === "model" || i.name === "base_model");
  const link = graphLink(node.graph, slot?.link);
  if (!link) return null;
  return upstreamCheckpoint(node.graph.getNodeById?.(link.origin_id), depth + 1);
}

export function isUnknown(value) {
  return value === UNKNOWN;
}

function chain(object, method, after) {
  const previous = object[method];
  object[method] = function () {
    const r = previous?.apply(this, arguments);
    after.apply(this, arguments);
    return r;
  };
}

const observed = new WeakMap(); // widget -> Set of listeners

/**
 * Call `listener` after every assignment to `widget.value` (the frontend assigns it when the user edits a widget in
 * the classic canvas or a Vue node, when a workflow is loaded, and when other code sets it), and after its
 * callback. The getter/setter the frontend defines stay in charge of the value.
 */
export function onWidgetValue(widget, listener) {
  let listeners = observed.get(widget);
  if (!listeners) {
    listeners = new Set();
    observed.set(widget, listeners);
    const notify = () => listeners.forEach((fn) => fn());
    let desc = null;
    for (let o = widget; o && !desc; o = Object.getPrototypeOf(o)) desc = Object.getOwnPropertyDescriptor(o, "value");
    if (!desc || desc.configurable !== false) {
      let own = desc && "value" in desc ? desc.value : undefined;
      const get = desc?.get ? () => desc.get.call(widget) : () => own;
      const set = desc?.set ? (v) => desc.set.call(widget, v) : (v) => { own = v; };
      Object.defineProperty(widget, "value", {
        configurable: true, enumerable: true, get, set(v) { set(v); notify(); },
      });
    }
    chain(widget, "callback", notify);
  }
  listeners.add(listener);
}

/**
 * Call onChange(values) whenever the named inputs change: a widget edited (onWidgetValue), a link made or removed
 * (node.onConnectionsChange), the workflow loaded (node.onConfigure), or the widget of a linked primitive edited.
 * Values are read with inputValue, so a linked input reports what the link carries. Calls are batched per task.
 * Returns a function that re-reads the values now.
 */
export function watchWidgets(node, names, onChange) {
  let last = null;
  let queued = false;
  const read = () => Object.fromEntries(names.map((n) => [n, inputValue(node, n)]));
  const tick = () => {
    queued = false;
    watchOrigins();
    const now = read();
    const key = JSON.stringify(now, (k, v) => (v === UNKNOWN ? "\u0000unknown" : v));
    if (key !== last) {
      last = key;
      onChange(now);
    }
  };
  const schedule = () => {
    if (!queued) {
      queued = true;
      setTimeout(tick, 0);
    }
  };
  const watchOrigins = () => {
    for (const name of names) {
      const slot = node.inputs?.find((i) => i.name === name || i.widget?.name === name);
      const link = graphLink(node.graph, slot?.link);
      const origin = link && node.graph.getNodeById?.(link.origin_id);
      for (const w of origin?.widgets ?? []) onWidgetValue(w, schedule);
    }
  };
  for (const name of names) {
    const w = findWidget(node, name);
    if (w) onWidgetValue(w, schedule);
  }
  chain(node, "onConnectionsChange", schedule);
  chain(node, "onConfigure", schedule);
  schedule(); // after the node is configured (loadGraphData sets widget values after onNodeCreated)
  return tick;
}

/**
 * The textarea(s) that show a multiline text widget right now: the widget's own element in the classic canvas, the
 * Vue-rendered textarea inside the node's element (`[data-node-id]`) with Nodes 2.0 on.
 */
export function visibleTextAreas(node, widget) {
  const out = [];
  const own = widget.element ?? widget.inputEl;
  if (own instanceof HTMLTextAreaElement && own.isConnected && own.getClientRects().length) out.push(own);
  const root = document.querySelector(`[data-node-id="${node.id}"]`);
  if (root) {
    const texts = (node.widgets ?? []).filter((w) => (w.element ?? w.inputEl) instanceof HTMLTextAreaElement);
    const areas = [...root.querySelectorAll("textarea")].filter((t) => t !== own);
    const area = areas[texts.indexOf(widget)];
    if (area) out.push(area);
  }
  return out;
}

/**
 * Add a non-serialised DOM widget (kept out of widgets_values and of the API prompt, so saved workflows and the
 * queued graph are unchanged by this extension). The element carries the pack's style sheet.
 */
export function addPanelWidget(node, name, element, minHeight) {
  const panel = document.createElement("div");
  panel.className = "forgeline-panel";
  addStyle(panel);
  panel.append(element);
  const widget = node.addDOMWidget(name, "forgeline_panel", panel, {
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

/**
 * Put the pack's style sheet into `container` (an element the pack owns, e.g. a panel widget's element), once per
 * element. Nothing is added to the shared document head.
 */
export function addStyle(container) {
  if (!container || container.querySelector?.(":scope > style.forgeline-style")) return;
  container.insertAdjacentHTML("afterbegin", `<style class="forgeline-style">
.forgeline-panel { width: 100%; height: 100%; }
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
textarea.forgeline-prompt-error { outline: 2px solid #ff4d4f !important; outline-offset: -2px; }
.forgeline-curve { width: 100%; height: 100%; box-sizing: border-box; background: var(--comfy-input-bg, #222);
  border-radius: 6px; position: relative; }
.forgeline-curve canvas { width: 100%; height: 100%; display: block; }
.forgeline-autocomplete { position: fixed; inset: auto; margin: 0; z-index: 10000; background: #1e1e1e; color: #ddd;
  border: 1px solid #555; border-radius: 4px; font: 12px monospace; max-height: 220px; overflow: auto;
  min-width: 180px; padding: 0; white-space: normal; }
.forgeline-autocomplete div { padding: 2px 8px; cursor: pointer; }
.forgeline-autocomplete div.active, .forgeline-autocomplete div:hover { background: #2f5b9a; }
</style>`);
}

// An extension that calls attach(node, inputName) on every new Forgeline node for each of its multiline STRING
// inputs (the prompt boxes): shared by the <lora: autocomplete and the prompt highlighting.
export function promptInputsExtension(name, attach) {
  return {
    name,
    async beforeRegisterNodeDef(nodeType, nodeData) {
      if (!isForgelineNode(nodeData)) return;
      const inputs = multilineStringInputs(nodeData);
      if (!inputs.length) return;
      const created = nodeType.prototype.onNodeCreated;
      nodeType.prototype.onNodeCreated = function () {
        const r = created?.apply(this, arguments);
        for (const input of inputs) attach(this, input);
        return r;
      };
    },
  };
}
