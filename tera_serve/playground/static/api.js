// Calls to this server's own API, with the key the user typed (kept in this tab's
// sessionStorage only: it goes away with the tab and is never written anywhere else).

const KEY_STORAGE = "tera-serve.api-key";

export function apiKey() {
  return sessionStorage.getItem(KEY_STORAGE) || "";
}

export function setApiKey(key) {
  if (key) sessionStorage.setItem(KEY_STORAGE, key);
  else sessionStorage.removeItem(KEY_STORAGE);
}

export class ApiError extends Error {
  constructor(status, message, code) {
    super(message);
    this.status = status;
    this.code = code || null;
  }
}

function headers(json) {
  const result = {};
  if (json) result["Content-Type"] = "application/json";
  const key = apiKey();
  if (key) result["Authorization"] = "Bearer " + key;
  return result;
}

async function errorOf(response) {
  let message = `${response.status} ${response.statusText}`;
  let code = null;
  try {
    const body = await response.json();
    if (body && body.error) {
      message = `${response.status}: ${body.error.message || message}`;
      code = body.error.code || null;
    }
  } catch {
    // Not JSON: keep the status line.
  }
  return new ApiError(response.status, message, code);
}

export async function listModels() {
  const response = await fetch("/v1/models", { headers: headers(false), cache: "no-store" });
  if (!response.ok) throw await errorOf(response);
  const body = await response.json();
  return Array.isArray(body.data) ? body.data : [];
}

// Yields each chunk of a streamed chat completion. Aborting `signal` stops the fetch, which
// closes the connection; the server then aborts the engine request.
export async function* streamChat(body, signal) {
  const response = await fetch("/v1/chat/completions", {
    method: "POST",
    headers: headers(true),
    body: JSON.stringify(body),
    signal,
  });
  if (!response.ok) throw await errorOf(response);
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, "\n");
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const frame = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const data = frame
          .split("\n")
          .filter((line) => line.startsWith("data:"))
          .map((line) => line.slice(5).replace(/^ /, ""))
          .join("\n");
        if (!data) continue;
        if (data === "[DONE]") return;
        const chunk = JSON.parse(data);
        if (chunk.error) throw new ApiError(0, chunk.error.message || "stream error", chunk.error.code);
        yield chunk;
      }
    }
  } finally {
    reader.releaseLock();
  }
  throw new ApiError(0, "The stream ended without [DONE].", "incomplete_stream");
}

// OpenAI's embeddings API shape: {model, input, encoding_format} → {data: [{embedding}], usage}.
export async function embed(body) {
  const response = await fetch("/v1/embeddings", {
    method: "POST",
    headers: headers(true),
    body: JSON.stringify(body),
  });
  if (!response.ok) throw await errorOf(response);
  return await response.json();
}

// OpenAI's speech API shape: {model, input, voice, response_format} → audio bytes.
export async function speak(body, signal) {
  const response = await fetch("/v1/audio/speech", {
    method: "POST",
    headers: headers(true),
    body: JSON.stringify(body),
    signal,
  });
  if (!response.ok) throw await errorOf(response);
  return await response.blob();
}
