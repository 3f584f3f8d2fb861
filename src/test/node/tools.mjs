// Streams one chat completion with a forced tool call from an OpenAI-compatible server with the official
// `openai` package; prints every chunk's tool-call deltas (one JSON line each) and then a JSON summary
// assembled the way OpenAI's docs accumulate deltas, for io.dmsserve.clients.NodeOpenAiClientIT to check.
//
//   node tools.mjs http://localhost:8080/v1 '{"model":"...","messages":[...],"tools":[...],"tool_choice":"required"}'
import OpenAI from 'openai';

const [baseURL, requestJson] = process.argv.slice(2);
if (!baseURL || !requestJson) {
  console.error('usage: node tools.mjs BASE_URL REQUEST_JSON');
  process.exit(2);
}

const client = new OpenAI({ baseURL, apiKey: process.env.OPENAI_API_KEY || 'no-key', maxRetries: 0, timeout: 120_000 });
const stream = await client.chat.completions.create({ ...JSON.parse(requestJson), stream: true });

const calls = [];
let finishReason = null;
let content = '';
let reasoning = '';
for await (const chunk of stream) {
  for (const choice of chunk.choices ?? []) {
    const delta = choice.delta ?? {};
    content += delta.content ?? '';
    reasoning += delta.reasoning_content ?? '';
    for (const call of delta.tool_calls ?? []) {
      process.stdout.write('chunk ' + JSON.stringify({ tool_calls: [call], finish_reason: choice.finish_reason }) + '\n');
      const slot = (calls[call.index] ??= { id: null, type: null, name: '', arguments: '' });
      if (call.id) slot.id = call.id;
      if (call.type) slot.type = call.type;
      if (call.function?.name) slot.name += call.function.name;
      if (call.function?.arguments) slot.arguments += call.function.arguments;
    }
    if (choice.finish_reason) {
      finishReason = choice.finish_reason;
      process.stdout.write('chunk ' + JSON.stringify({ delta, finish_reason: choice.finish_reason }) + '\n');
    }
  }
}
process.stdout.write(JSON.stringify({ calls, finish_reason: finishReason, content, reasoning_chars: reasoning.length }) + '\n');
