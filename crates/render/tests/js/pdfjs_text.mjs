// Prints the text of every page of a PDF as pdf.js (the engine of Firefox's viewer and many
// web viewers) extracts it with getTextContent: one line per text item, pages in order.
//
// Usage: node pdfjs_text.mjs MODULES_DIR FILE.pdf
// MODULES_DIR is the node_modules folder holding pdfjs-dist (ops/.node/node_modules).
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

const [modules, file] = process.argv.slice(2);
const pdfjs = await import(pathToFileURL(`${modules}/pdfjs-dist/legacy/build/pdf.mjs`).href);
const data = new Uint8Array(readFileSync(file));
const doc = await pdfjs.getDocument({ data, useSystemFonts: false, isEvalSupported: false, verbosity: 0 }).promise;
const out = [];
for (let n = 1; n <= doc.numPages; n++) {
  const page = await doc.getPage(n);
  const content = await page.getTextContent();
  for (const item of content.items) {
    out.push(item.str);
    if (item.hasEOL) out.push("\n");
  }
  out.push("\n\f\n");
}
process.stdout.write(out.join(""));
