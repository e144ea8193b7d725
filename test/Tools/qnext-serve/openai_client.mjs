// The official `openai` client against qnext-serve: a streamed chat, a
// whole completion, stop strings, usage, thinking off, thinking on with a
// budget (reasoning_content), a second turn from the prefix cache, tools,
// and an error the client raises as an APIError with its status. Prints "ok: ..." per check;
// exits 1 on the first failure.
//
// usage: node openai_client.mjs PORT MODEL
import OpenAI from "openai";

const [port, model] = process.argv.slice(2);
const client = new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: "none" });

function check(ok, what, detail = "") {
  if (!ok) {
    console.log(`FAIL: ${what}: ${detail}`);
    process.exit(1);
  }
  console.log(`ok: ${what}`);
}

const models = await client.models.list();
check(models.data.length === 1 && models.data[0].id === model, "models.list", JSON.stringify(models.data));

const messages = [{ role: "user", content: "Hello" }];
const whole = await client.chat.completions.create({
  model, messages, max_tokens: 8, temperature: 0,
  chat_template_kwargs: { enable_thinking: false },
});
check(whole.choices[0].message.role === "assistant" && whole.usage.completion_tokens > 0,
      "chat.completions.create", JSON.stringify(whole));

const stream = await client.chat.completions.create({
  model, messages, max_tokens: 8, temperature: 0, stream: true,
  stream_options: { include_usage: true },
  chat_template_kwargs: { enable_thinking: false },
});
let text = "", usage = null, finish = null;
for await (const chunk of stream) {
  if (chunk.usage) usage = chunk.usage;
  for (const choice of chunk.choices) {
    text += choice.delta?.content ?? "";
    finish = choice.finish_reason ?? finish;
  }
}
check(text === whole.choices[0].message.content && usage.completion_tokens === whole.usage.completion_tokens &&
      finish === whole.choices[0].finish_reason,
      "a streamed chat equals the whole one, with usage", JSON.stringify({ text, usage, finish }));

// Thinking on, with a budget: the reasoning streams as reasoning_content,
// apart from the content, and usage counts its tokens; a second turn that
// repeats the first is served from the prefix cache.
const thinking = {
  model, messages: [{ role: "user", content: "Think" }], max_tokens: 90, temperature: 0,
  chat_template_kwargs: { enable_thinking: true }, thinking_budget: 4,
  logit_bias: { 385: -100, 387: -100, 389: -100 },
};
const thought = await client.chat.completions.create(thinking);
const reasoning = thought.choices[0].message.reasoning_content;
check(reasoning.endsWith("based on the thinking directly now.\n") &&
      thought.usage.completion_tokens_details.reasoning_tokens > 4,
      "thinking with a budget: reasoning_content and reasoning_tokens", JSON.stringify(thought));
let streamedReasoning = "";
for await (const chunk of await client.chat.completions.create({ ...thinking, stream: true }))
  for (const choice of chunk.choices) streamedReasoning += choice.delta?.reasoning_content ?? "";
check(streamedReasoning === reasoning, "streamed reasoning_content adds up", streamedReasoning);
const turn2 = await client.chat.completions.create({
  ...thinking, max_tokens: 2,
  messages: [...thinking.messages, { role: "assistant", content: thought.choices[0].message.content },
             { role: "user", content: "More" }],
});
check(turn2.usage.prompt_tokens_details.cached_tokens > 0, "a second turn: cached_tokens",
      JSON.stringify(turn2.usage));

// Tools: a request with functions and a history with a tool call and its
// result is taken (this random-weight model calls no tool itself).
const tools = [{ type: "function", function: { name: "get_weather", parameters: {
  type: "object", properties: { city: { type: "string" } } } } }];
const withTools = await client.chat.completions.create({
  model, tools, max_tokens: 2, messages: [
    { role: "user", content: "Weather?" },
    { role: "assistant", content: null, tool_calls: [{ id: "c1", type: "function",
      function: { name: "get_weather", arguments: "{\"city\": \"Paris\"}" } }] },
    { role: "tool", tool_call_id: "c1", content: "sunny" }],
});
check(withTools.choices.length === 1 && withTools.usage.prompt_tokens > 100,
      "tools and a tool-call history", JSON.stringify(withTools.usage));

const completion = await client.completions.create({ model, prompt: "Once upon a time", max_tokens: 10, temperature: 0 });
const full = completion.choices[0].text;
check(completion.choices[0].finish_reason === "length" && completion.usage.completion_tokens === 10,
      "completions.create", JSON.stringify(completion));
const stop = full.slice(3, 5);
const stopped = await client.completions.create({ model, prompt: "Once upon a time", max_tokens: 10, temperature: 0, stop: [stop] });
check(stopped.choices[0].text === full.slice(0, full.indexOf(stop)) && stopped.choices[0].finish_reason === "stop",
      "a stop string", JSON.stringify(stopped));

try {
  await client.completions.create({ model: "no-such-model", prompt: "x", max_tokens: 1 });
  check(false, "an unknown model is refused");
} catch (e) {
  check(e instanceof OpenAI.APIError && e.status === 404 && /does not exist/.test(e.message),
        "an unknown model: APIError 404", String(e));
}
console.log("openai client: all checks passed");
