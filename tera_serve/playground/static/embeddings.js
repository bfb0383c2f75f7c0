// The embeddings panel: a few lines in, each line embedded by the selected model
// (POST /v1/embeddings), and their cosine similarity matrix out. Lines are shown as text.

import { embed } from "./api.js";
import { el } from "./render.js";

const $ = (id) => document.getElementById(id);

export function cosine(a, b) {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return na && nb ? dot / Math.sqrt(na * nb) : 0;
}

// Shade a cell by its similarity (0 white → 1 the accent colour), keeping the text legible.
function shade(value) {
  const strength = Math.max(0, Math.min(1, value));
  return `rgba(47, 93, 138, ${(strength * 0.55).toFixed(3)})`;
}

function matrixTable(lines, vectors) {
  const table = el("table", "matrix");
  const head = el("tr");
  head.append(el("th"));
  lines.forEach((_, j) => head.append(el("th", null, String(j + 1))));
  table.append(head);
  lines.forEach((line, i) => {
    const row = el("tr");
    const label = el("th", "line", `${i + 1}. ${line}`);
    label.title = line;
    row.append(label);
    vectors.forEach((_, j) => {
      const value = cosine(vectors[i], vectors[j]);
      const cell = el("td", null, value.toFixed(3));
      cell.style.background = shade(value);
      row.append(cell);
    });
    table.append(row);
  });
  return table;
}

async function compare() {
  const lines = $("embed-input").value.split("\n").map((s) => s.trim()).filter(Boolean);
  const out = $("embed-matrix");
  const note = $("embed-note");
  if (lines.length < 2) {
    note.textContent = "Type at least two lines.";
    return;
  }
  $("embed-run").disabled = true;
  note.textContent = "Embedding…";
  try {
    const body = await embed({ model: $("model").value, input: lines, encoding_format: "float" });
    const vectors = body.data.map((item) => item.embedding);
    out.replaceChildren(matrixTable(lines, vectors));
    note.textContent = `${vectors.length} vectors of ${vectors[0].length} dimensions · ${body.usage.prompt_tokens} tokens`;
  } catch (error) {
    out.replaceChildren();
    note.textContent = error.message;
  } finally {
    $("embed-run").disabled = false;
  }
}

$("embed-run").addEventListener("click", compare);
