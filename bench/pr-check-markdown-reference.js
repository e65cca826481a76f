// Reference for bench/pr-check.mjs (not a benchmark of its own): parses one body, read from stdin,
// with micromark + mdast (GFM) — the Markdown library pr-check used before its line scanner — and
// prints the milliseconds it took, or the error it died of.
import { fileURLToPath, pathToFileURL } from 'node:url';

const lib = fileURLToPath(new URL('../packages/premerge/node_modules/', import.meta.url));
const load = (name, file) => import(pathToFileURL(`${lib}${name}/${file}`).href);
const { fromMarkdown } = await load('mdast-util-from-markdown', 'index.js');
const { gfmFromMarkdown } = await load('mdast-util-gfm', 'index.js');
const { gfm } = await load('micromark-extension-gfm', 'index.js');

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const body = Buffer.concat(chunks).toString('utf8');
const started = performance.now();
try {
  fromMarkdown(body, { extensions: [gfm()], mdastExtensions: [gfmFromMarkdown()] });
  console.log(JSON.stringify({ ms: performance.now() - started }));
} catch (error) {
  console.log(JSON.stringify({ error: String(error.message).slice(0, 60) }));
}
