// "Copy as curl / Python" for a request body. The key is never copied: the snippets read
// it from $TERA_API_KEY.

// Arguments the OpenAI Python SDK's chat.completions.create() takes by name; the rest go in
// extra_body.
const SDK_ARGUMENTS = new Set([
  "model", "messages", "stream", "stream_options", "temperature", "top_p", "max_tokens",
  "max_completion_tokens", "seed", "stop", "n", "tools", "tool_choice", "parallel_tool_calls",
  "response_format", "reasoning_effort", "logprobs", "top_logprobs", "logit_bias",
  "frequency_penalty", "presence_penalty", "user", "metadata",
]);

function shellQuote(text) {
  return "'" + text.replace(/'/g, "'\\''") + "'";
}

export function curlSnippet(origin, body, withKey) {
  const lines = [
    `curl ${origin}/v1/chat/completions`,
    "  -H 'Content-Type: application/json'",
  ];
  if (withKey) lines.push('  -H "Authorization: Bearer $TERA_API_KEY"');
  if (body.stream) lines.push("  -N");
  lines.push("  -d " + shellQuote(JSON.stringify(body, null, 2)));
  return lines.join(" \\\n");
}

// A JSON value written as a Python literal (JSON string escapes are valid in Python).
function python(value, indent) {
  const pad = "    ".repeat(indent + 1);
  const end = "    ".repeat(indent);
  if (value === null || value === undefined) return "None";
  if (value === true) return "True";
  if (value === false) return "False";
  if (typeof value === "number") return String(value);
  if (typeof value === "string") return JSON.stringify(value);
  if (Array.isArray(value)) {
    if (!value.length) return "[]";
    return "[\n" + value.map((v) => pad + python(v, indent + 1) + ",\n").join("") + end + "]";
  }
  const entries = Object.entries(value);
  if (!entries.length) return "{}";
  return (
    "{\n" +
    entries.map(([k, v]) => `${pad}${JSON.stringify(k)}: ${python(v, indent + 1)},\n`).join("") +
    end +
    "}"
  );
}

export function pythonSnippet(origin, body) {
  const args = [];
  const extra = {};
  for (const [name, value] of Object.entries(body)) {
    if (SDK_ARGUMENTS.has(name)) args.push(`    ${name}=${python(value, 1)},`);
    else extra[name] = value;
  }
  if (Object.keys(extra).length) args.push(`    extra_body=${python(extra, 1)},`);
  const call = `client.chat.completions.create(\n${args.join("\n")}\n)`;
  const lines = [
    "import os",
    "",
    "from openai import OpenAI",
    "",
    `client = OpenAI(base_url="${origin}/v1", api_key=os.environ.get("TERA_API_KEY", "unused"))`,
  ];
  if (body.stream) {
    lines.push(
      `stream = ${call}`,
      "for chunk in stream:",
      "    if chunk.choices:",
      '        print(chunk.choices[0].delta.content or "", end="", flush=True)',
      "    elif chunk.usage:",
      '        print("\\n", chunk.usage)',
    );
  } else {
    lines.push(`reply = ${call}`, "print(reply.choices[0].message)");
  }
  return lines.join("\n") + "\n";
}
