// The conversation's turns: the user's messages, tool results, and the assistant's answer
// (reasoning apart, collapsible and live; the answer; tool calls; TTFT, tokens/s, usage).

import { el, renderMarkdown, renderToolCall } from "./render.js";

export function userTurn(message) {
  const turn = el("article", "turn user");
  turn.append(el("div", "role", "you"));
  const parts = typeof message.content === "string" ? [{ type: "text", text: message.content }] : message.content;
  for (const part of parts) {
    if (part.type === "text") turn.append(el("div", "user-text", part.text));
    else {
      const img = el("img", "thumb");
      img.src = part.image_url.url; // the user's own file, read as a data: URL
      img.alt = "attached image";
      turn.append(img);
    }
  }
  return turn;
}

export function toolResultTurn(message) {
  const turn = el("article", "turn tool");
  turn.append(el("div", "role", `tool result · ${message.tool_call_id}`), el("pre", "code", message.content));
  return turn;
}

// The view of one answer; render() draws what has arrived so far.
export function assistantView() {
  const turn = el("article", "turn assistant");
  turn.dataset.state = "streaming";
  const reasoning = el("details", "reasoning");
  reasoning.open = true;
  reasoning.hidden = true;
  const summary = el("summary", null, "Reasoning…");
  const reasoningText = el("div", "reasoning-text");
  reasoning.append(summary, reasoningText);
  const answer = el("div", "answer");
  answer.dataset.deltas = "0";
  const calls = el("div", "tool-calls");
  const stats = el("div", "stats small muted");
  const error = el("div", "error");
  error.hidden = true;
  turn.append(el("div", "role", "assistant"), reasoning, answer, calls, stats, error);
  let timer = null;
  let collapsed = false;
  const view = {
    turn, stats, error, calls,
    render(out, deltas) {
      timer = null;
      if (out.reasoning) {
        reasoning.hidden = false;
        reasoningText.textContent = out.reasoning;
      }
      if ((out.content || out.calls.length) && out.reasoning && !collapsed) {
        collapsed = true; // the answer has started: fold the reasoning away (one click opens it)
        reasoning.open = false;
        summary.textContent = "Reasoning";
      }
      renderMarkdown(answer, out.content);
      answer.dataset.deltas = String(deltas);
      calls.replaceChildren(...out.calls.filter(Boolean).map(renderToolCall));
    },
    schedule(out, deltas) {
      if (timer === null) timer = setTimeout(() => view.render(out, deltas), 30);
    },
    cancel() {
      if (timer !== null) clearTimeout(timer);
      timer = null;
    },
  };
  return view;
}

export function statsLine(out, started, first, ended, stopped) {
  const parts = [];
  if (first !== null) parts.push(`TTFT ${Math.round(first - started)} ms`);
  const usage = out.usage;
  if (usage) {
    const decodeS = (ended - (first ?? ended)) / 1000;
    // The first token's time is TTFT; the rate covers the tokens after it.
    if (usage.completion_tokens > 1 && decodeS > 0) {
      parts.push(`${((usage.completion_tokens - 1) / decodeS).toFixed(1)} tokens/s`);
    }
    const reasoningTokens = usage.completion_tokens_details?.reasoning_tokens;
    parts.push(
      `usage: prompt ${usage.prompt_tokens} · completion ${usage.completion_tokens}` +
        (reasoningTokens ? ` (reasoning ${reasoningTokens})` : ""),
    );
  }
  if (out.finish) parts.push(`finish: ${out.finish}`);
  if (stopped) parts.push(`stopped after ${Math.round(ended - started)} ms`);
  return parts.join(" · ");
}
