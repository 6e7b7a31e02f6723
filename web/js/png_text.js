// Forgeline: PNG text chunks read in the browser, and which loader a dropped PNG should go to.
// No imports and no side effects (a plain module, also loaded by the unit tests under node).
//
// Chunks as Pillow writes them (PIL/PngImagePlugin.py): tEXt = keyword NUL Latin-1 text; iTXt = keyword NUL
// flag method lang NUL translated NUL UTF-8 text (compressed iTXt / zTXt are skipped here). The frontend's own reader
// decodes tEXt as UTF-8, which garbles A1111 prompts with é, ×, °; this one decodes Latin-1 as the format says.

const SIGNATURE = [137, 80, 78, 71, 13, 10, 26, 10];
const MAX_CHUNKS = 100000;

/** {keyword: text} of the tEXt and uncompressed iTXt chunks of a PNG (ArrayBuffer or Uint8Array); null if not PNG. */
export function readPngText(buffer) {
  const bytes = buffer instanceof Uint8Array ? buffer : new Uint8Array(buffer);
  if (bytes.length < 8 || SIGNATURE.some((b, i) => bytes[i] !== b)) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const latin1 = new TextDecoder("latin1");
  const utf8 = new TextDecoder("utf-8");
  const out = {};
  let pos = 8;
  for (let count = 0; pos + 8 <= bytes.length && count < MAX_CHUNKS; count++) {
    const length = view.getUint32(pos);
    const type = String.fromCharCode(...bytes.subarray(pos + 4, pos + 8));
    const body = bytes.subarray(pos + 8, Math.min(bytes.length, pos + 8 + length));
    pos += 12 + length;
    if (type === "IEND") break;
    if (type !== "tEXt" && type !== "iTXt") continue;
    const nul = body.indexOf(0);
    if (nul < 0) continue;
    const key = latin1.decode(body.subarray(0, nul));
    if (type === "tEXt") {
      out[key] = latin1.decode(body.subarray(nul + 1));
      continue;
    }
    const compressed = body[nul + 1];
    if (compressed) continue;
    const lang = body.indexOf(0, nul + 3);
    const translated = lang < 0 ? -1 : body.indexOf(0, lang + 1);
    if (translated < 0) continue;
    out[key] = utf8.decode(body.subarray(translated + 1));
  }
  return out;
}

/**
 * What to open for a PNG's text chunks: "workflow" (a ComfyUI workflow, always first), "prompt" (an API prompt),
 * "a1111" (only A1111 parameters: build the Forgeline graph), or null (nothing to open).
 */
export function fileAction(chunks) {
  if (!chunks) return null;
  if (chunks.workflow) return "workflow";
  if (chunks.prompt) return "prompt";
  if (typeof chunks.parameters === "string" && /(^|\n)Steps: /.test(chunks.parameters)) return "a1111";
  return null;
}
