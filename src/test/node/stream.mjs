// Streams one chat completion from an OpenAI-compatible server with the official `openai` package and
// prints a JSON summary on stdout for io.dmsserve.clients.NodeOpenAiClientIT to check.
//
//   node stream.mjs http://localhost:8080/v1 '{"model":"...","messages":[...],"max_tokens":24,"temperature":0}'
//
// The request is sent as given, plus stream: true and stream_options.include_usage: true.
// The API key comes from OPENAI_API_KEY (any value when the server has no keys configured).
import OpenAI from 'openai';

const [baseURL, requestJson] = process.argv.slice(2);
if (!baseURL || !requestJson) {
  console.error('usage: node stream.mjs BASE_URL REQUEST_JSON');
  process.exit(2);
}

const client = new OpenAI({
  baseURL,
  apiKey: process.env.OPENAI_API_KEY || 'no-key',
  maxRetries: 0,
  timeout: 60_000,
});

const request = { ...JSON.parse(requestJson), stream: true, stream_options: { include_usage: true } };

const summary = {
  text: '',
  role: null,
  finish_reason: null,
  usage: null,
  chunks: 0,            // every chunk the SDK yielded (the [DONE] sentinel is not a chunk)
  content_chunks: 0,    // chunks whose delta carried non-empty content
  ids: [],              // distinct chunk ids (OpenAI: one id per completion)
  objects: [],          // distinct `object` values (OpenAI: "chat.completion.chunk")
  models: [],
  usage_chunk_choices: null, // choices.length of the chunk that carried usage (OpenAI: 0)
  chunks_after_usage: 0,     // chunks after the usage chunk (OpenAI: none)
  chunks_after_finish: [],   // kinds of chunks after the one with finish_reason: "usage" or "choice"
};

const addDistinct = (list, value) => {
  if (!list.includes(value)) list.push(value);
};

const stream = await client.chat.completions.create(request);
let sawUsage = false;
for await (const chunk of stream) {
  summary.chunks++;
  addDistinct(summary.ids, chunk.id);
  addDistinct(summary.objects, chunk.object);
  addDistinct(summary.models, chunk.model);
  if (sawUsage) summary.chunks_after_usage++;
  const choices = chunk.choices ?? [];
  if (summary.finish_reason !== null) {
    summary.chunks_after_finish.push(chunk.usage ? 'usage' : 'choice');
  }
  for (const choice of choices) {
    const delta = choice.delta ?? {};
    if (delta.role && summary.role === null) summary.role = delta.role;
    if (delta.content) {
      summary.text += delta.content;
      summary.content_chunks++;
    }
    if (choice.finish_reason) summary.finish_reason = choice.finish_reason;
  }
  if (chunk.usage) {
    summary.usage = chunk.usage;
    summary.usage_chunk_choices = choices.length;
    sawUsage = true;
  }
}

process.stdout.write(JSON.stringify(summary) + '\n');
