// Forgeline: live previews on the pack's nodes — the sigma schedule of a scheduler/steps/denoise choice, and the
// per-step weight curve of a loractl LoRA schedule. Values come from the pack's routes (/forgeline/sigmas,
// /forgeline/lora_curve), i.e. from the same Python code that samples. DOM widgets only (Vue-node safe).
import { app } from "../../../scripts/app.js";
import {
  addPanelWidget, debounce, findWidget, isForgelineNode, isUnknown, postJson, upstreamCheckpoint, watchWidgets,
} from "./forgeline_common.js";

/** Draw a polyline of values (one per step) with a caption; returns nothing. */
export function drawCurve(container, values, caption, color) {
  let canvas = container.querySelector("canvas");
  if (!canvas) {
    canvas = document.createElement("canvas");
    container.appendChild(canvas);
  }
  const w = Math.max(120, container.clientWidth || 280);
  const h = Math.max(60, container.clientHeight || 110);
  const dpr = window.devicePixelRatio || 1;
  canvas.width = w * dpr;
  canvas.height = h * dpr;
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, h);
  ctx.font = "11px monospace";
  ctx.fillStyle = "#bbb";
  ctx.fillText(caption, 6, 13);
  if (!values?.length) return;
  const pad = { l: 8, r: 8, t: 20, b: 8 };
  const lo = Math.min(0, ...values);
  const hi = Math.max(...values, lo + 1e-6);
  const x = (i) => pad.l + (values.length === 1 ? 0 : (i / (values.length - 1)) * (w - pad.l - pad.r));
  const y = (v) => h - pad.b - ((v - lo) / (hi - lo)) * (h - pad.t - pad.b);
  ctx.strokeStyle = "#444";
  ctx.beginPath();
  ctx.moveTo(pad.l, y(0));
  ctx.lineTo(w - pad.r, y(0));
  ctx.stroke();
  ctx.strokeStyle = color;
  ctx.lineWidth = 2;
  ctx.beginPath();
  values.forEach((v, i) => (i ? ctx.lineTo(x(i), y(v)) : ctx.moveTo(x(i), y(v))));
  ctx.stroke();
  ctx.fillStyle = color;
  values.forEach((v, i) => ctx.fillRect(x(i) - 1.5, y(v) - 1.5, 3, 3));
}

function attachPreview(node, kind, watched, request, describe, color) {
  const box = document.createElement("div");
  box.className = "forgeline-curve";
  box.dataset.forgelinePreview = kind;
  addPanelWidget(node, `${kind}_preview`, box, 110);
  let last = null;
  let requestId = 0;
  const redraw = () => last && drawCurve(box, last.values, last.caption, color);
  const update = debounce(async (values) => {
    const unknown = Object.keys(values).filter((k) => isUnknown(values[k]));
    if (unknown.length) {
      // linked to a node whose output is only known when the workflow runs
      last = { values: [], caption: `${unknown.join(", ")} linked: known when the workflow runs` };
      box.dataset.points = "0";
      box.dataset.values = "[]";
      redraw();
      return;
    }
    const body = request(values);
    if (!body) return;
    const id = ++requestId;
    const res = await postJson(kind === "sigmas" ? "/forgeline/sigmas" : "/forgeline/lora_curve", body);
    if (id !== requestId) return;
    last = res?.error ? { values: [], caption: `✖ ${res.error}` } : describe(res);
    box.dataset.points = String(last.values.length);
    box.dataset.values = JSON.stringify(last.values.map((v) => +Number(v).toFixed(6)));
    redraw();
  }, 250);
  watchWidgets(node, watched, update);
  if (typeof ResizeObserver !== "undefined") new ResizeObserver(redraw).observe(box);
}

function fmt(v) {
  return Number(v).toFixed(Math.abs(v) >= 10 ? 2 : 3);
}

app.registerExtension({
  name: "forgeline.curvePreview",
  async beforeRegisterNodeDef(nodeType, nodeData) {
    if (!isForgelineNode(nodeData)) return;
    const created = nodeType.prototype.onNodeCreated;
    nodeType.prototype.onNodeCreated = function () {
      const r = created?.apply(this, arguments);
      const node = this;
      if (findWidget(node, "scheduler") && findWidget(node, "steps")) {
        const watched = ["scheduler", "steps", ...(findWidget(node, "denoise") ? ["denoise"] : [])];
        attachPreview(node, "sigmas", watched,
          (v) => {
            const body = { scheduler: v.scheduler, steps: v.steps, denoise: v.denoise ?? 1.0 };
            const ckpt = String(v.scheduler).startsWith("forgeline_ays") ? upstreamCheckpoint(node) : null;
            return ckpt ? { ...body, ckpt_name: ckpt } : body;
          },
          (res) => ({
            values: res.sigmas,
            caption: `σ ${res.scheduler}, ${res.steps} steps: ${fmt(res.sigmas[0])} → ${fmt(res.sigmas.at(-1))}`,
          }), "#4fd1c5");
      }
      for (const w of [...(node.widgets ?? [])]) {
        if (!/(^|_)schedule(_\d+)?$/.test(w.name) || typeof w.value !== "string") continue;
        const watched = [w.name, ...["steps", "mode"].filter((n) => findWidget(node, n))];
        attachPreview(node, "lora_curve", watched,
          (v) => (String(v[w.name] ?? "").trim()
            ? { schedule: v[w.name], steps: Number.isInteger(v.steps) ? v.steps : 20, mode: v.mode ?? "loractl" }
            : { schedule: "1", steps: Number.isInteger(v.steps) ? v.steps : 20, mode: v.mode ?? "loractl" }),
          (res) => ({
            values: res.unet,
            caption: `LoRA unet weight per step (${res.mode}): ${res.unet.map((x) => +x.toFixed(2)).slice(0, 6).join(", ")}${res.unet.length > 6 ? " …" : ""}`,
          }), "#e5a6ff");
      }
      return r;
    };
  },
});
