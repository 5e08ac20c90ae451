#!/usr/bin/env node
// Encodes a file with Hugging Face tokenizers (the Rust library, through @anush008/tokenizers) and
// prints the ids as one JSON array, like `halo-forge tokenize --file` does, for end-to-end checks of
// tokenizers halo-forge writes (tests/cli/tokenizer_train.sh).
//
//   node encode.js TOKENIZER.json FILE [--special]     (exit 3 when the npm packages are missing)
'use strict';
const fs = require('fs');
let Tokenizer;
try {
  ({ Tokenizer } = require('@anush008/tokenizers'));
} catch (e) {
  console.error('encode.js: @anush008/tokenizers is not installed: run `npm ci` in tests/tokenizer (scripts/setup.sh does)');
  process.exit(3);
}
const [tokPath, file] = process.argv.slice(2).filter((a) => !a.startsWith('--'));
if (!tokPath || !file) {
  console.error('usage: node encode.js TOKENIZER.json FILE [--special]');
  process.exit(2);
}
const special = process.argv.includes('--special');

async function main() {
  let json = fs.readFileSync(tokPath, 'utf8');
  if (!special) { // special tokens written in the text stay text, as `halo-forge tokenize` without --special
    const j = JSON.parse(json);
    j.added_tokens = j.added_tokens.filter((t) => !t.special);
    json = JSON.stringify(j);
  }
  const tok = Tokenizer.fromString(json);
  const text = fs.readFileSync(file, 'utf8');
  const enc = await tok.encode(text, null, { addSpecialTokens: false });
  process.stdout.write(JSON.stringify(enc.getIds()) + '\n');
}
main().catch((e) => { console.error('encode.js:', e); process.exit(1); });
