// The request body the form describes. Invalid settings raise FormError naming the field,
// shown beside the form, so nothing malformed is sent.

export class FormError extends Error {}

function value(id) {
  return document.getElementById(id).value.trim();
}

function number(id, integer) {
  const text = value(id);
  if (text === "") return undefined;
  const parsed = Number(text);
  if (!Number.isFinite(parsed) || (integer && !Number.isInteger(parsed))) {
    throw new FormError(`${id} must be ${integer ? "an integer" : "a number"}`);
  }
  return parsed;
}

function json(id, what) {
  const text = value(id);
  if (text === "") return undefined;
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new FormError(`${what} is not valid JSON: ${error.message}`);
  }
}

// Tools as the API takes them; a bare {name, parameters} is wrapped as a function tool.
export function parseTools() {
  const tools = json("tools", "Tools");
  if (tools === undefined) return undefined;
  if (!Array.isArray(tools)) throw new FormError("Tools must be a JSON list");
  return tools.map((tool, i) => {
    if (!tool || typeof tool !== "object") throw new FormError(`Tool ${i} is not an object`);
    const wrapped = tool.function ? tool : { type: "function", function: tool };
    if (typeof wrapped.function.name !== "string" || !wrapped.function.name) {
      throw new FormError(`Tool ${i} has no function name`);
    }
    return { type: "function", ...wrapped };
  });
}

function responseFormat() {
  const kind = value("response_format");
  if (kind === "json_object") return { type: "json_object" };
  if (kind !== "json_schema") return undefined;
  const schema = json("schema", "The JSON schema");
  if (!schema || typeof schema !== "object") throw new FormError("The JSON schema must be an object");
  return { type: "json_schema", json_schema: { name: "response", schema, strict: true } };
}

function toolChoice(tools) {
  const choice = value("tool_choice");
  if (!tools || choice === "auto") return undefined;
  if (choice === "none" || choice === "required") return choice;
  return { type: "function", function: { name: choice } };
}

// messages: the conversation so far (with the system prompt first when one is set).
export function buildRequest(model, messages) {
  if (!model) throw new FormError("Pick a model first");
  const body = { model, messages, stream: true, stream_options: { include_usage: true } };
  const settings = {
    temperature: number("temperature", false),
    top_p: number("top_p", false),
    max_tokens: number("max_tokens", true),
    seed: number("seed", true),
    reasoning_effort: document.getElementById("reasoning-row").hidden
      ? undefined
      : value("reasoning_effort") || undefined,
    response_format: responseFormat(),
  };
  const tools = parseTools();
  if (tools && tools.length) {
    settings.tools = tools;
    settings.tool_choice = toolChoice(tools);
  }
  for (const [name, setting] of Object.entries(settings)) {
    if (setting !== undefined) body[name] = setting;
  }
  const extra = json("extra", "Extra request fields");
  if (extra !== undefined) {
    if (!extra || typeof extra !== "object" || Array.isArray(extra)) {
      throw new FormError("Extra request fields must be a JSON object");
    }
    Object.assign(body, extra);
  }
  return body;
}
