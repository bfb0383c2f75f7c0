// The playground page: model picker, streaming chat, speech. All model text is rendered as
// text (render.js); the only network peer is this server's own API (api.js).

import { ApiError, apiKey, listModels, setApiKey, speak, streamChat } from "./api.js";
import "./embeddings.js";
import { el } from "./render.js";
import { FormError, buildRequest, parseTools } from "./request.js";
import { curlSnippet, pythonSnippet } from "./snippets.js";
import { assistantView, statsLine, toolResultTurn, userTurn } from "./turns.js";

const $ = (id) => document.getElementById(id);

const state = {
  models: new Map(), // id -> model card
  history: [], // the messages sent so far (without the system prompt)
  images: [], // attached images: {name, url}
  controller: null, // the AbortController of the running request
  lastBody: null,
  audioUrl: null,
};

function showStatus(text, kind) {
  const status = $("status");
  status.textContent = text || "";
  status.className = "status " + (kind || "");
  status.hidden = !text;
}

function has(list, item) {
  return Array.isArray(list) && list.includes(item);
}

// ---- models and key --------------------------------------------------------------------

async function loadModels() {
  const select = $("model");
  const previous = select.value;
  select.replaceChildren();
  state.models.clear();
  try {
    const cards = await listModels();
    for (const card of cards) {
      state.models.set(card.id, card);
      select.append(new Option(card.id, card.id));
    }
    if (state.models.has(previous)) select.value = previous;
    showStatus(cards.length ? "" : "The server lists no model yet (still loading?).", "warn");
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      const why = apiKey() ? "that key was refused" : "this server needs an API key";
      showStatus(`Cannot list models: ${why}. Type the key above and press Use key.`, "error");
    } else {
      showStatus(`Cannot list models: ${error.message}`, "error");
    }
  }
  onModelChange();
}

function onModelChange() {
  const card = state.models.get($("model").value);
  const features = (card && card.supported_features) || [];
  const info = card
    ? [`context ${card.context_length}`, `max output ${card.max_output_length}`, features.join(", ")]
    : [];
  if (card && card.dimensions) info.splice(1, 1, `${card.dimensions} dimensions`);
  $("model-info").textContent = info.filter(Boolean).join(" · ");
  $("reasoning-row").hidden = !has(features, "reasoning");
  $("tools-note").textContent =
    card && !has(features, "tools") ? "This model's card does not list tool calling." : "";
  $("image-row").hidden = !(card && has(card.input_modalities, "image"));
  if ($("image-row").hidden) clearImages();
  const speech = card && has(card.output_modalities, "audio");
  $("speech").hidden = !speech;
  $("embeddings").hidden = !(card && has(card.output_modalities, "embedding"));
  // A speech-only model has no chat; a card without the field is taken as a text model.
  $("composer").hidden = Boolean(card && card.output_modalities) && !has(card.output_modalities, "text");
  const voices = $("voices");
  voices.replaceChildren(...((card && card.voices) || []).map((v) => new Option(String(v))));
}

$("model").addEventListener("change", onModelChange);
$("api-key").value = apiKey();
$("key-form").addEventListener("submit", (event) => {
  event.preventDefault();
  setApiKey($("api-key").value.trim());
  loadModels();
});

// ---- settings ---------------------------------------------------------------------------

$("response_format").addEventListener("change", () => {
  $("schema-row").hidden = $("response_format").value !== "json_schema";
});

function onToolsEdited() {
  const select = $("tool_choice");
  const chosen = select.value;
  const fixed = ["auto", "none", "required"];
  let names = [];
  $("tools").classList.remove("invalid");
  try {
    names = (parseTools() || []).map((tool) => tool.function.name);
  } catch (error) {
    if (!(error instanceof FormError)) throw error;
    $("tools").classList.add("invalid");
  }
  select.replaceChildren(...fixed.map((v) => new Option(v, v)), ...names.map((n) => new Option(`function: ${n}`, n)));
  select.value = [...fixed, ...names].includes(chosen) ? chosen : "auto";
}
$("tools").addEventListener("input", onToolsEdited);

// ---- conversation -------------------------------------------------------------------------

function baseMessages() {
  const system = $("system").value.trim();
  return system ? [{ role: "system", content: system }, ...state.history] : [...state.history];
}

function draftMessage() {
  const text = $("prompt").value;
  if (!text.trim() && !state.images.length) return null;
  if (!state.images.length) return { role: "user", content: text };
  const parts = text.trim() ? [{ type: "text", text }] : [];
  for (const image of state.images) parts.push({ type: "image_url", image_url: { url: image.url } });
  return { role: "user", content: parts };
}

function setBusy(busy) {
  $("send").disabled = busy;
  $("stop").disabled = !busy;
}

// `sent`: the user message this request carries (taken back out of the history if the
// request fails before anything arrived, so the next try does not send it twice).
async function generate(body, sent) {
  state.lastBody = body;
  const controller = new AbortController();
  state.controller = controller;
  setBusy(true);
  const view = assistantView();
  $("conversation").append(view.turn);
  view.turn.scrollIntoView({ block: "end" });
  const out = { reasoning: "", content: "", calls: [], usage: null, finish: null };
  const started = performance.now();
  let first = null;
  let deltas = 0;
  let outcome = "done";
  try {
    for await (const chunk of streamChat(body, controller.signal)) {
      if (chunk.usage) out.usage = chunk.usage;
      for (const choice of chunk.choices || []) {
        if (choice.index) continue; // the playground asks for one choice
        const delta = choice.delta || {};
        const reasoning = delta.reasoning ?? delta.reasoning_content;
        let got = Boolean(reasoning || delta.content);
        out.reasoning += reasoning || "";
        out.content += delta.content || "";
        for (const call of delta.tool_calls || []) {
          const entry = (out.calls[call.index] ??= { id: null, name: "", arguments: "" });
          if (call.id) entry.id = call.id;
          if (call.function?.name) entry.name += call.function.name;
          if (call.function?.arguments) entry.arguments += call.function.arguments;
          got = true;
        }
        if (choice.finish_reason) out.finish = choice.finish_reason;
        if (got) {
          deltas += 1;
          first ??= performance.now();
        }
      }
      view.schedule(out, deltas);
    }
  } catch (error) {
    outcome = error.name === "AbortError" ? "stopped" : "error";
    if (outcome === "error") {
      view.error.hidden = false;
      view.error.textContent = error.message;
    }
  } finally {
    view.cancel();
    view.render(out, deltas);
    view.stats.textContent = statsLine(out, started, first, performance.now(), outcome === "stopped");
    view.turn.dataset.state = outcome;
    state.controller = null;
    setBusy(false);
  }
  if (outcome === "error" && !out.content && !out.calls.length) {
    if (sent && state.history.at(-1) === sent.message) {
      state.history.pop();
      sent.turn.classList.add("failed");
    }
    return;
  }
  const calls = out.calls.filter(Boolean).map((c) => ({
    id: c.id, type: "function", function: { name: c.name, arguments: c.arguments },
  }));
  const message = { role: "assistant", content: out.content || (calls.length ? null : "") };
  if (calls.length) message.tool_calls = calls;
  state.history.push(message);
  if (calls.length && outcome === "done") view.turn.append(toolReplies(calls));
}

// For each call, a box to type its result; when every call has one, the model continues.
function toolReplies(calls) {
  const box = el("div", "tool-replies");
  let pending = calls.length;
  for (const call of calls) {
    const row = el("div", "tool-reply");
    const input = el("input");
    input.placeholder = `result of ${call.function.name}`;
    const button = el("button", null, "Send result");
    button.type = "button";
    button.addEventListener("click", () => {
      const message = { role: "tool", tool_call_id: call.id, content: input.value };
      state.history.push(message);
      $("conversation").append(toolResultTurn(message));
      input.disabled = button.disabled = true;
      pending -= 1;
      if (pending === 0) send(false);
    });
    row.append(el("span", "tool-name", call.function.name), input, button);
    box.append(row);
  }
  return box;
}

function send(withDraft) {
  if (state.controller) return;
  const message = withDraft ? draftMessage() : null;
  if (withDraft && !message) return;
  let body;
  try {
    body = buildRequest($("model").value, [...baseMessages(), ...(message ? [message] : [])]);
  } catch (error) {
    if (!(error instanceof FormError)) throw error;
    showStatus(error.message, "error");
    return;
  }
  showStatus("");
  let sent = null;
  if (message) {
    sent = { message, turn: userTurn(message) };
    state.history.push(message);
    $("conversation").append(sent.turn);
    $("prompt").value = "";
    clearImages();
  }
  generate(body, sent);
}

$("composer").addEventListener("submit", (event) => {
  event.preventDefault();
  send(true);
});
$("prompt").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    send(true);
  }
});
$("stop").addEventListener("click", () => state.controller && state.controller.abort());
$("clear").addEventListener("click", () => {
  if (state.controller) state.controller.abort();
  state.history = [];
  $("conversation").replaceChildren();
});

// ---- images -------------------------------------------------------------------------------

function clearImages() {
  state.images = [];
  $("attachments").replaceChildren();
  $("attachments").hidden = true;
}

$("image").addEventListener("change", () => {
  for (const file of $("image").files) {
    const reader = new FileReader();
    reader.addEventListener("load", () => {
      state.images.push({ name: file.name, url: String(reader.result) });
      const img = el("img", "thumb");
      img.src = String(reader.result);
      img.alt = file.name;
      img.title = file.name;
      $("attachments").append(img);
      $("attachments").hidden = false;
    });
    reader.readAsDataURL(file);
  }
  $("image").value = "";
});

// ---- copy as curl / Python ------------------------------------------------------------------

function currentBody() {
  const draft = draftMessage();
  if (draft) return buildRequest($("model").value, [...baseMessages(), draft]);
  if (state.lastBody) return state.lastBody;
  return buildRequest($("model").value, [...baseMessages(), { role: "user", content: "Hello!" }]);
}

function showSnippet(kind) {
  let body;
  try {
    body = currentBody();
  } catch (error) {
    if (!(error instanceof FormError)) throw error;
    showStatus(error.message, "error");
    return;
  }
  const origin = window.location.origin;
  $("snippet-title").textContent = kind === "curl" ? "curl" : "Python (openai)";
  $("snippet").textContent = kind === "curl" ? curlSnippet(origin, body, Boolean(apiKey())) : pythonSnippet(origin, body);
  $("snippet-dialog").showModal();
  navigator.clipboard?.writeText($("snippet").textContent).catch(() => {});
}

$("copy-curl").addEventListener("click", () => showSnippet("curl"));
$("copy-python").addEventListener("click", () => showSnippet("python"));
$("snippet-copy").addEventListener("click", () => {
  navigator.clipboard?.writeText($("snippet").textContent).catch(() => {});
});
$("snippet-close").addEventListener("click", () => $("snippet-dialog").close());

// ---- speech -------------------------------------------------------------------------------

$("speak").addEventListener("click", async () => {
  const input = $("speech-input").value;
  if (!input.trim()) return;
  const body = { model: $("model").value, input, response_format: "wav" };
  if ($("voice").value.trim()) body.voice = $("voice").value.trim();
  $("speak").disabled = true;
  try {
    const audio = await speak(body);
    if (state.audioUrl) URL.revokeObjectURL(state.audioUrl);
    state.audioUrl = URL.createObjectURL(audio);
    $("audio").src = state.audioUrl;
    $("audio").hidden = false;
    await $("audio").play().catch(() => {}); // autoplay may be refused; the controls stay
    showStatus("");
  } catch (error) {
    showStatus(`Speech failed: ${error.message}`, "error");
  } finally {
    $("speak").disabled = false;
  }
});

loadModels();
