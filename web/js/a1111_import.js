// Forgeline: dropping a PNG on the editor. A ComfyUI workflow in the file always opens as saved (frontend 1.32.x
// looks at A1111 `parameters` first and opens the stock A1111 importer's approximation instead, Comfy-Org/
// ComfyUI_frontend#6988); a PNG with only A1111 parameters opens the Forgeline graph that reproduces it, built on
// the server from the same code as `forgeline_client.py --from-a1111` (POST /forgeline/a1111_graph): checkpoint and
// LoRAs found by their A1111 hashes, A1111's parser, HiRes Fix and refiner. Everything else goes to the frontend's
// own handler. The hook wraps `app.handleFile` (no document listeners, no DOM).
import { app } from "../../../scripts/app.js";
import { postJson } from "./forgeline_common.js";
import { fileAction, readPngText } from "./png_text.js";

function notify(severity, summary, detail) {
  const toast = app.extensionManager?.toast;
  if (toast?.add) toast.add({ severity, summary, detail, life: severity === "error" ? 12000 : 6000 });
  else if (severity === "error") window.alert(`${summary}\n${detail}`);
  else console.info(`[Forgeline] ${summary}: ${detail}`);
}

async function openPng(file, original, rest) {
  const chunks = readPngText(await file.arrayBuffer());
  const action = fileAction(chunks);
  const name = file.name.replace(/\.\w+$/, "");
  if (action === "workflow") {
    const workflow = JSON.parse(chunks.workflow);
    await app.loadGraphData(workflow, true, true, name, { openSource: rest[0] });
    return true;
  }
  if (action !== "a1111") return false;
  const res = await postJson("/forgeline/a1111_graph", { text: chunks.parameters });
  if (res?.graph) {
    app.loadApiJson(res.graph, name);
    if (res.warnings?.length) notify("warn", "A1111 image opened as a Forgeline graph", res.warnings.join("\n"));
    return true;
  }
  const missing = (res?.missing ?? []).map((m) => `${m.kind} '${m.name}' (hash ${m.hash || "none"})`);
  notify("error", "Cannot rebuild this A1111 image", [res?.error, ...missing].filter(Boolean).join("\n"));
  return true;
}

app.registerExtension({
  name: "Forgeline.A1111Import",
  async setup() {
    if (typeof app.handleFile !== "function" || app.handleFile.__forgeline) return;
    const original = app.handleFile.bind(app);
    const wrapped = async function (file, ...rest) {
      if (file?.type === "image/png") {
        try {
          if (await openPng(file, original, rest)) return;
        } catch (e) {
          console.warn("[Forgeline] PNG import failed, using the frontend's loader:", e);
        }
      }
      return original(file, ...rest);
    };
    wrapped.__forgeline = true;
    app.handleFile = wrapped;
  },
});
