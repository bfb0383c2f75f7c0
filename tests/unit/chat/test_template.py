"""Golden test: a multi-turn tool conversation renders to what Qwen3's own template expects.

OpenAI-shaped messages (arguments as a JSON string, reasoning in `reasoning_content`, the
tool result by `tool_call_id`) must reach the template in the shape it iterates over.
"""

from __future__ import annotations

from tera_serve.adapters.chat import chat_conversation
from tera_serve.chat.template import (
    ChatTemplateRenderer,
    message_to_template_dict,
    tools_to_template_list,
)
from tera_serve.protocol.chat import ChatCompletionRequest

EXPECTED = """<|im_start|>system
You are terse.

# Tools

You may call one or more functions to assist with the user query.

You are provided with function signatures within <tools></tools> XML tags:
<tools>
{"type": "function", "function": {"name": "get_weather", "description": "Weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
</tools>

For each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:
<tool_call>
{"name": <function-name>, "arguments": <args-json-object>}
</tool_call><|im_end|>
<|im_start|>user
Weather in Paris?<|im_end|>
<|im_start|>assistant
<think>
Need the tool.
</think>

<tool_call>
{"name": "get_weather", "arguments": {"city": "Paris"}}
</tool_call><|im_end|>
<|im_start|>user
<tool_response>
{"temp": 21}
</tool_response><|im_end|>
<|im_start|>assistant
"""

CONVERSATION = {
    "model": "m",
    "messages": [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Weather in Paris?"},
        {
            "role": "assistant",
            "content": None,
            "reasoning_content": "Need the tool.",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": '{"temp": 21}'},
    ],
    "tools": [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Weather",
                "parameters": {
                    "type": "object",
                    "properties": {"city": {"type": "string"}},
                    "required": ["city"],
                },
            },
        }
    ],
}


def test_multi_turn_tool_conversation_renders_as_qwen3_expects() -> None:
    from tests.fixtures.qwen3 import qwen3_tokenizer

    request = chat_conversation(ChatCompletionRequest.model_validate(CONVERSATION))
    renderer = ChatTemplateRenderer(qwen3_tokenizer())
    text = renderer.render_text(
        [message_to_template_dict(m) for m in request.messages],
        tools=tools_to_template_list(request.tools),
    )
    assert text == EXPECTED
