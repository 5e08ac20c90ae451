#!/usr/bin/env node
// Encode throughput of Hugging Face tokenizers (Rust, via @anush008/tokenizers) on a list of files,
// for bench/tokenizer.c: node bench_hf.js TOKENIZER.json FILELIST -> one JSON line on stdout.
'use strict';
const fs = require('fs');
const { Tokenizer } = require('@anush008/tokenizers');
const [tokPath, listPath] = process.argv.slice(2);
const files = fs.readFileSync(listPath, 'utf8').split('\n').filter(Boolean);
const texts = files.map((f) => fs.readFileSync(f, 'utf8'));
(async () => {
  let t0 = process.hrtime.bigint();
  const tok = Tokenizer.fromFile(tokPath);
  const loadS = Number(process.hrtime.bigint() - t0) / 1e9;
  let bytes = 0, tokens = 0;
  t0 = process.hrtime.bigint();
  for (const t of texts) {
    const enc = await tok.encode(t, null, { addSpecialTokens: false });
    tokens += enc.getLength();
    bytes += Buffer.byteLength(t);
  }
  const encS = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(JSON.stringify({ load_s: loadS, encode_s: encS, bytes, tokens }));
})();
