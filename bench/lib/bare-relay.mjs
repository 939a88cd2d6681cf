// The bare relay the HTTP API phase compares Parley with: POST /api/v1/ask → the model's
// stream → SSE, with the same events as Parley (start, delta, done). No store, no guardrails,
// no auth. Plain JavaScript run by node itself, so no loader inflates its memory.
import { createServer } from 'node:http';
import OpenAI from 'openai';

const client = new OpenAI({ baseURL: process.env.OPENAI_BASE_URL, apiKey: process.env.OPENAI_API_KEY ?? 'k' });
const server = createServer(async (req, res) => {
  if (req.method !== 'POST' || req.url !== '/api/v1/ask') return void res.writeHead(404).end();
  let raw = '';
  for await (const c of req) raw += c;
  const { question } = JSON.parse(raw);
  const abort = new AbortController();
  res.on('close', () => abort.abort());
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
  res.write(`event: start\ndata: {}\n\n`);
  let text = '';
  try {
    const stream = await client.chat.completions.create(
      { model: process.env.OPENAI_MODEL ?? 'fake-model', stream: true, messages: [{ role: 'user', content: question }] },
      { signal: abort.signal },
    );
    for await (const chunk of stream) {
      const delta = chunk.choices[0]?.delta?.content;
      if (!delta) continue;
      text += delta;
      res.write(`event: delta\ndata: ${JSON.stringify({ text: delta })}\n\n`);
    }
    res.end(`event: done\ndata: ${JSON.stringify({ text })}\n\n`);
  } catch (err) {
    if (!abort.signal.aborted) res.end(`event: error\ndata: ${JSON.stringify({ error: String(err) })}\n\n`);
  }
});
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});
process.on('SIGTERM', () => process.exit(0));
