// Safe rendering of model output: every piece of text a model (or a tool definition) wrote
// becomes a Text node or an element's textContent. Nothing here parses a string as HTML.

export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

// A very small Markdown subset: ``` fenced blocks become <pre><code>, `inline code` becomes
// <code>; everything else stays text (the CSS keeps its line breaks).
export function renderMarkdown(target, text) {
  const nodes = [];
  const parts = String(text).split(/^```[^\n]*\n?/m);
  parts.forEach((part, i) => {
    if (i % 2 === 1) {
      const pre = el("pre", "code-block");
      pre.append(el("code", null, part.replace(/\n$/, "")));
      nodes.push(pre);
    } else if (part) {
      nodes.push(inlineCode(part));
    }
  });
  target.replaceChildren(...nodes);
}

function inlineCode(text) {
  const span = el("span", "md-text");
  const pieces = text.split(/`([^`\n]+)`/);
  pieces.forEach((piece, i) => {
    if (i % 2 === 1) span.append(el("code", null, piece));
    else if (piece) span.append(document.createTextNode(piece));
  });
  return span;
}

export function prettyArguments(text) {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text; // still streaming, or not JSON: shown exactly as sent
  }
}

// One tool call: its name, id and arguments, all as text.
export function renderToolCall(call) {
  const box = el("div", "tool-call");
  const head = el("div", "tool-head");
  head.append(el("span", "tool-label", "call"), el("span", "tool-name", call.name || "…"));
  if (call.id) head.append(el("span", "tool-id muted small", call.id));
  box.append(head, el("pre", "tool-args code", prettyArguments(call.arguments || "")));
  return box;
}
