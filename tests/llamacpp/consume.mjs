// llama.cpp as a consumer of a GGUF file, through node-llama-cpp's prebuilt CPU binaries (never built here).
// Usage: node consume.mjs MODEL.gguf SPEC.json
// SPEC: {"text": "...",            tokenized by llama.cpp (special tokens parsed)  -> "tokens"
//        "prompt": [ids], "max_new": N,  greedy continuation of the ids, stopping after an
//                                       end-of-generation token (included) or N tokens -> "greedy"
//        "score": [ids]}                log p(ids[i+1] | ids[..i]) from llama.cpp's full softmax -> "logprobs"
// Prints one JSON object with those fields plus "info" (what llama.cpp read from the file).
import {getLlama, LlamaLogLevel} from "node-llama-cpp";
import {readFileSync} from "node:fs";

const [modelPath, specPath] = process.argv.slice(2);
const spec = JSON.parse(readFileSync(specPath, "utf8"));
const llama = await getLlama({gpu: false, build: "never", progressLogs: false, logLevel: LlamaLogLevel.error});
const model = await llama.loadModel({modelPath});
const out = {info: {eos: model.tokens.eos, trainContextSize: model.trainContextSize}};

if (spec.text !== undefined) out.tokens = model.tokenize(spec.text, true);

async function context() {
    return model.createContext({contextSize: 512, threads: 2, sequences: 1, flashAttention: false,
        experimentalKvCacheKeyType: "F32", experimentalKvCacheValueType: "F32"});
}

if (spec.prompt) {
    const ctx = await context();
    const seq = ctx.getSequence();
    const greedy = [];
    for await (const t of seq.evaluate(spec.prompt, {temperature: 0, yieldEogToken: true})) {
        greedy.push(t);
        if (model.isEogToken(t) || greedy.length >= spec.max_new) break;
    }
    out.greedy = greedy;
    await ctx.dispose();
}

if (spec.score) {
    const ctx = await context();
    const seq = ctx.getSequence();
    // The full distribution after each position: no top-k / top-p / min-p cut, temperature 1.
    const opts = {temperature: 1, topK: 1 << 24, topP: 1, minP: 0};
    const input = spec.score.map((t, i) => i + 1 < spec.score.length ? [t, {generateNext: {probabilities: true, options: opts}}] : t);
    const res = await seq.controlledEvaluate(input);
    out.logprobs = [];
    for (let i = 0; i + 1 < spec.score.length; i++) {
        const p = res[i]?.next?.probabilities?.get(spec.score[i + 1]);
        out.logprobs.push(p > 0 ? Math.log(p) : null);
    }
    await ctx.dispose();
}
console.log(JSON.stringify(out));
await model.dispose();
await llama.dispose();
