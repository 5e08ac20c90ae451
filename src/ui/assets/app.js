// halo-forge ui: the dashboard page. Plain JavaScript over the JSON API of src/ui/ui_server.c; charts
// by Chart.js (served by the program). Everything from the run files is put in the page as text
// (textContent), never as HTML.
'use strict';

const POLL_MS = 2000;
const main = document.getElementById('main');
let timer = null;       // the current view's refresh
let charts = {};        // id -> Chart, for the current view
let viewGen = 0;        // bumped when the view changes: answers that arrive later are for a page that is gone

// ---- helpers ----

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const k of kids.flat()) {
    if (k === null || k === undefined || k === false) continue;
    e.appendChild(typeof k === 'string' || typeof k === 'number' ? document.createTextNode(String(k)) : k);
  }
  return e;
}

async function api(path, body) {
  const opt = body === undefined ? {} : { method: 'POST', headers: { 'Content-Type': 'application/json' },
                                          body: JSON.stringify(body) };
  const r = await fetch(path, opt);
  let j = null;
  try { j = await r.json(); } catch (e) { j = { error: 'not JSON (' + r.status + ')' }; }
  if (!r.ok) throw new Error(j && j.error ? j.error : 'HTTP ' + r.status);
  return j;
}

const pct = (x) => (x === null || x === undefined || Number.isNaN(x)) ? 'n/a' : (100 * x).toFixed(1) + '%';
const num = (x, d = 3) => (x === null || x === undefined) ? 'n/a' : Number(x).toFixed(d);
function dur(s) {
  if (s === null || s === undefined) return '';
  s = Math.round(s);
  if (s < 60) return s + ' s';
  if (s < 3600) return Math.floor(s / 60) + ' min ' + (s % 60) + ' s';
  return Math.floor(s / 3600) + ' h ' + Math.floor((s % 3600) / 60) + ' min';
}
const badge = (st) => el('span', { class: 'badge ' + (st || 'unknown'), 'data-status': st }, st || 'unknown');
const runLink = (id) => '#/run/' + encodeURIComponent(id);
const q = (o) => Object.entries(o).filter(([, v]) => v !== undefined && v !== null && v !== '')
  .map(([k, v]) => encodeURIComponent(k) + '=' + encodeURIComponent(v)).join('&');

function setConn(ok, text) {
  const c = document.getElementById('conn');
  c.textContent = text || (ok ? 'updated ' + new Date().toLocaleTimeString() : 'server unreachable');
  c.style.color = ok ? '' : '#ff8a80';
}

function clearView() {
  viewGen++;
  if (timer) clearInterval(timer);
  timer = null;
  for (const c of Object.values(charts)) c.destroy();
  charts = {};
  main.textContent = '';
}

function every(ms, fn) {
  fn();
  timer = setInterval(fn, ms);
}

// ---- charts ----

const COLORS = ['#2f6fde', '#e8590c', '#2b8a3e', '#9c36b5', '#c92a2a', '#0b7285', '#5c940d', '#862e9c'];

function chartBox(id, title) {
  return el('div', { class: 'chart', id: 'chart-' + id },
    el('h3', {}, title), el('div', { class: 'box' }, el('canvas', { id: 'cv-' + id, 'data-chart': id }),
                            el('div', { class: 'empty', id: 'empty-' + id })));
}

// Creates or updates a chart: series = [{label, data: [{x, y}] or numbers}], labels for category axes.
function plot(id, type, series, opts = {}) {
  const cv = document.getElementById('cv-' + id);
  if (!cv) return;
  // a chart without a single value says so instead of showing bare axes
  const none = series.every((s) => s.data.every((v) => v === null || v === undefined || (typeof v === 'object' && (v.y === null || v.y === undefined))));
  document.getElementById('empty-' + id).textContent = none ? (opts.empty || 'no data yet') : '';
  const datasets = series.map((s, i) => ({
    label: s.label, data: s.data, borderColor: s.color || COLORS[i % COLORS.length],
    backgroundColor: (s.color || COLORS[i % COLORS.length]) + (type === 'bar' ? 'cc' : '33'),
    borderWidth: type === 'bar' ? 0 : 1.6, pointRadius: s.data.length > 60 ? 0 : 2.5, tension: 0.15,
    spanGaps: true, stack: s.stack, yAxisID: s.yAxisID || 'y',
  }));
  const c = charts[id];
  if (c) {
    c.data.labels = opts.labels;
    c.data.datasets = datasets;
    c.update('none');
    return;
  }
  const linear = !opts.labels;
  const scales = {
    x: linear ? { type: 'linear', title: { display: !!opts.xTitle, text: opts.xTitle } }
              : { stacked: !!opts.stacked, title: { display: !!opts.xTitle, text: opts.xTitle } },
    y: { beginAtZero: opts.zero !== false, stacked: !!opts.stacked, title: { display: !!opts.yTitle, text: opts.yTitle },
         max: opts.yMax },
  };
  charts[id] = new Chart(cv, {
    type, data: { labels: opts.labels, datasets },
    options: { animation: false, responsive: true, maintainAspectRatio: false, parsing: linear ? undefined : true,
               interaction: { mode: 'nearest', intersect: false },
               plugins: { legend: { display: series.length > 1, labels: { boxWidth: 12 } } }, scales },
  });
}

// ---- runs list ----

async function viewRuns() {
  const selected = new Set();
  const table = el('table', { id: 'runs' });
  const cmpBtn = el('button', { id: 'compare-selected', disabled: true,
    onclick: () => { location.hash = '#/compare/' + [...selected].map(encodeURIComponent).join(','); } }, 'Compare selected');
  main.append(el('div', { class: 'row' }, el('h1', {}, 'Runs'), cmpBtn,
                 el('span', { class: 'muted small', id: 'roots' })), table);
  const gen = viewGen;
  async function refresh() {
    let d;
    try { d = await api('/api/runs'); setConn(true); } catch (e) { setConn(false, e.message); return; }
    if (gen !== viewGen) return;
    document.getElementById('roots').textContent = 'run folders: ' +
      d.roots.map((r) => r.path + (r.exists ? '' : ' (missing)')).join(', ');
    table.textContent = '';
    table.append(el('tr', {}, ['', 'status', 'run', 'kind', 'model', 'started', 'duration', 'figures', ''].map((h) => el('th', {}, h))));
    if (!d.runs.length) table.append(el('tr', {}, el('td', { colspan: 9, class: 'muted' }, 'No runs yet in these folders. Start one from Launch.')));
    for (const r of d.runs) {
      const cb = el('input', { type: 'checkbox', onclick: (ev) => ev.stopPropagation(),
        onchange: (ev) => { ev.target.checked ? selected.add(r.id) : selected.delete(r.id); cmpBtn.disabled = selected.size < 1; } });
      cb.checked = selected.has(r.id);
      table.append(el('tr', { class: 'click', 'data-run': r.id, onclick: () => { location.hash = runLink(r.id); } },
        el('td', {}, cb),
        el('td', {}, badge(r.status), r.status_note ? el('div', { class: 'muted small' }, r.status_note) : null),
        el('td', {}, el('a', { href: runLink(r.id) }, r.path), el('div', { class: 'muted small mono' }, r.command || '')),
        el('td', {}, r.kind), el('td', {}, r.model || ''),
        el('td', { class: 'small' }, r.started ? new Date(r.started).toLocaleString() : ''),
        el('td', {}, dur(r.duration_s)), el('td', { class: 'small' }, r.headline || ''),
        el('td', {}, r.problems ? el('span', { class: 'badge interrupted', title: 'files that are malformed or cut short' },
                                     r.problems + ' file problem' + (r.problems > 1 ? 's' : '')) : '')));
    }
  }
  every(POLL_MS * 2, refresh);
}

// ---- one run ----

async function viewRun(id) {
  const head = el('div', { class: 'card', id: 'run-head' });
  const training = el('div', { class: 'grid', id: 'training' },
    chartBox('loss', 'Training loss'), chartBox('lr', 'Learning rate'), chartBox('grad', 'Gradient norm'),
    chartBox('tps', 'Training tokens/s'));
  const cycles = el('div', { class: 'grid', id: 'cycles' },
    chartBox('rates', 'Compile rate, pass@1, pass@k'), chartBox('reward', 'Mean reward'),
    chartBox('kept', 'Kept samples'), chartBox('hist', 'Reward histogram (samples per reward level)'));
  const hardware = el('div', { class: 'grid', id: 'hardware' },
    chartBox('util', 'CPU / GPU utilisation (%)'), chartBox('mem', 'Memory (GB)'), chartBox('power', 'Power (W)'));
  const logBox = el('div', { id: 'log-card' });
  const samples = el('div', { id: 'samples-card' });
  main.append(head, logBox,
    el('h2', { id: 'h-training' }, 'Training'), training,
    el('h2', { id: 'h-cycles' }, 'Per phase (baseline, RAFT cycles, final)'), cycles,
    el('h2', { id: 'h-hardware' }, 'Hardware'), hardware,
    el('h2', {}, 'Samples'), samples);
  let sampleInit = false, logOffset = 0, logJob = null, logPre = null;
  const gen = viewGen;

  async function refresh() {
    let d, jobs;
    try { [d, jobs] = await Promise.all([api('/api/run?' + q({ id })), api('/api/jobs')]); setConn(true); }
    catch (e) { setConn(false, e.message); head.textContent = ''; head.append(el('div', { class: 'error' }, e.message)); return; }
    if (gen !== viewGen) return;
    renderHead(d, jobs);
    renderCharts(d);
    if (!sampleInit && d.phases && d.phases.length) { sampleInit = sampleBrowser(samples, id); }
    else if (sampleInit && d.status === 'running') sampleInit.load(); // new samples come in
    if (!d.phases || !d.phases.length) {
      samples.textContent = '';
      samples.append(el('div', { class: 'muted' }, d.kind === 'sft train' ? 'sft train runs have no samples.' : 'No samples yet.'));
    }
    await renderLog(jobs.filter((j) => j.run_id === id)[0], d.launch_log);
  }

  function renderHead(d, jobs) {
    head.textContent = '';
    const job = jobs.filter((j) => j.run_id === id && j.running)[0];
    const stop = job ? el('button', { class: 'danger', id: 'stop', onclick: async (ev) => {
      ev.target.disabled = true;
      try { await api('/api/stop', { job: job.job }); } catch (e) { alert(e.message); }
    } }, 'Stop (SIGINT)') : null;
    head.append(el('div', { class: 'row' }, el('h1', {}, d.id), badge(d.status), el('span', { class: 'muted' }, d.kind || ''), stop));
    if (d.status_note) head.append(el('div', { class: 'muted small' }, d.status_note));
    const kv = el('div', { class: 'kv' });
    const add = (k, v) => { if (v !== null && v !== undefined && v !== '') kv.append(el('div', {}, k), el('div', { class: k === 'command' ? 'mono small' : '' }, String(v))); };
    add('model', d.model); add('command', d.command);
    add('started', d.started ? new Date(d.started).toLocaleString() : '');
    add('duration', dur(d.duration_s));
    if (d.info && d.info.exit_code !== undefined) add('exit code', d.info.exit_code);
    const s = d.summary;
    if (s && s.baseline && s.final)
      add('result', 'compile ' + pct(s.baseline.compile_rate) + ' → ' + pct(s.final.compile_rate) + ', pass@1 ' +
          pct(s.baseline.pass_at_1) + ' → ' + pct(s.final.pass_at_1));
    head.append(kv);
    if (d.problems && d.problems.length) {
      head.append(el('div', { class: 'problems', id: 'problems' }, el('b', {}, d.problems.length + ' file problem(s): '),
        el('ul', {}, d.problems.slice(0, 12).map((p) => el('li', {}, p.file + (p.line ? ':' + p.line : '') + ': ' + p.message)))));
    }
  }

  function renderCharts(d) {
    const steps = (d.training && d.training.steps) || [];
    document.getElementById('h-training').style.display = training.style.display = steps.length || d.kind !== 'benchmark full' ? '' : 'none';
    const xy = (k) => steps.map((s) => ({ x: s.x, y: s[k] }));
    const xt = 'optimizer step' + (steps.some((s) => s.cycle) ? ' (all cycles)' : '');
    plot('loss', 'line', [{ label: 'loss', data: xy('loss') }].concat(
      d.training && d.training.eval.length ? [{ label: 'eval loss', data: d.training.eval.map((e) => ({ x: e.x, y: e.eval_loss })) }] : []),
      { xTitle: xt, zero: false });
    plot('lr', 'line', [{ label: 'learning rate', data: xy('lr') }], { xTitle: xt });
    plot('grad', 'line', [{ label: 'grad norm', data: xy('grad_norm') }], { xTitle: xt });
    plot('tps', 'line', [{ label: 'tokens/s', data: xy('tokens_per_sec') }], { xTitle: xt });

    const ph = d.phases || [];
    document.getElementById('h-cycles').style.display = cycles.style.display = ph.length ? '' : 'none';
    const labels = ph.map((p) => p.name);
    const kLabel = ph.length && ph[ph.length - 1].k ? 'pass@' + ph[ph.length - 1].k : 'pass@k';
    plot('rates', 'line', [
      { label: 'compile rate', data: ph.map((p) => p.compile_rate) },
      { label: 'pass@1', data: ph.map((p) => p.pass_at_1) },
      { label: kLabel, data: ph.map((p) => p.pass_at_k) }], { labels, yMax: 1 });
    plot('reward', 'line', [{ label: 'mean reward', data: ph.map((p) => p.avg_reward) }], { labels, yMax: 1 });
    plot('kept', 'bar', [{ label: 'kept', data: ph.map((p) => p.kept) }, { label: 'samples', data: ph.map((p) => p.samples) }], { labels });
    const buckets = ['0.0', '0.3', '0.5', '0.7', '1.0'];
    plot('hist', 'bar', buckets.map((b, i) => ({ label: 'reward ' + b, data: ph.map((p) => p.reward_hist ? p.reward_hist[b] : null),
      color: ['#c92a2a', '#e8590c', '#f59f00', '#74b816', '#2b8a3e'][i], stack: 'r' })), { labels, stacked: true });

    const hw = d.hardware || { t: [] };
    document.getElementById('h-hardware').style.display = hardware.style.display = hw.t.length ? '' : 'none';
    const t0 = hw.t.length ? hw.t[0] : 0;
    const col = (k) => (hw[k] || []).map((v, i) => ({ x: hw.t[i] - t0, y: v }));
    const has = (k) => (hw[k] || []).some((v) => v !== null);
    const pick = (list) => list.filter(([k]) => has(k)).map(([k, label]) => ({ label, data: col(k) }));
    const xs = 'seconds since the run began';
    plot('util', 'line', pick([['cpu_util_pct', 'CPU %'], ['gpu_util_pct', 'GPU %']]), { xTitle: xs, yMax: 100, zero: true });
    plot('mem', 'line', pick([['sys_mem_used_gb', 'system'], ['rss_gb', 'halo-forge RSS'], ['gpu_mem_used_gb', 'GPU']]), { xTitle: xs });
    const pw = pick([['cpu_power_w', 'CPU package'], ['gpu_power_w', 'GPU']]);
    plot('power', 'line', pw.length ? pw : [{ label: 'power', data: [] }],
         { xTitle: xs, empty: 'no power sensor readable here (no GPU; the CPU energy counter is root-only or absent)' });
  }

  async function renderLog(job, hasLog) {
    // the live log of a run started from this page, or the launch.log a run folder has
    if (!logPre) {
      logPre = el('pre', { id: 'log' });
      logBox.append(el('h2', {}, 'Log'), logPre);
      logBox.style.display = 'none';
    }
    try {
      if (job) {
        if (logJob !== job.job) { logJob = job.job; logOffset = 0; logPre.textContent = ''; }
        const l = await api('/api/log?' + q({ job: job.job, offset: logOffset }));
        if (gen !== viewGen) return;
        if (l.text) { logPre.textContent += l.text; logPre.scrollTop = logPre.scrollHeight; }
        logOffset = l.next;
        logBox.style.display = '';
      } else if (logJob === null && hasLog) {
        const r = await fetch('/api/file?' + q({ id, path: 'launch.log' }));
        if (r.ok) { logPre.textContent = await r.text(); logBox.style.display = ''; logJob = -1; }
      }
    } catch (e) { /* the log is optional */ }
  }

  every(POLL_MS, refresh);
}

// The sample browser: filters on the left, the chosen sample on the right.
function sampleBrowser(box, id) {
  box.textContent = '';
  const set = el('select', { id: 'f-set' }, el('option', { value: '' }, 'all phases'));
  const status = el('select', { id: 'f-status' }, el('option', { value: '' }, 'any status'));
  const prompt = el('input', { id: 'f-prompt', placeholder: 'prompt id or text', size: 24 });
  const info = el('span', { class: 'muted small', id: 'f-count' });
  const list = el('table', { id: 'sample-list' });
  const detail = el('div', { class: 'card', id: 'sample-detail' }, el('div', { class: 'muted' }, 'Pick a sample.'));
  box.append(el('div', { class: 'row' }, set, status, prompt, el('button', { class: 'secondary', onclick: load }, 'Filter'), info),
             el('div', { class: 'split' }, el('div', { class: 'samples' }, list), detail));
  [set, status].forEach((s) => s.addEventListener('change', load));
  prompt.addEventListener('keydown', (e) => { if (e.key === 'Enter') load(); });
  let chosen = null;
  const gen = viewGen;
  async function load() {
    let d;
    try { d = await api('/api/samples?' + q({ id, set: set.value, status: status.value, prompt: prompt.value, limit: 500 })); }
    catch (e) { info.textContent = e.message; return; }
    if (gen !== viewGen) return;
    // the phases and statuses seen so far (a running run adds some)
    const have = (sel) => new Set([...sel.options].map((o) => o.value));
    const hs = have(set), hst = have(status);
    d.sets.forEach((s) => { if (!hs.has(s)) set.append(el('option', { value: s }, s)); });
    d.statuses.forEach((s) => { if (!hst.has(s)) status.append(el('option', { value: s }, s)); });
    info.textContent = d.matched + ' of ' + d.total + ' samples' + (d.matched > d.samples.length ? ' (first ' + d.samples.length + ' shown)' : '');
    list.textContent = '';
    list.append(el('tr', {}, ['phase', 'prompt', '#', 'status', 'reward'].map((h) => el('th', {}, h))));
    for (const s of d.samples) {
      const key = s.set + ':' + s.line;
      const tr = el('tr', { class: 'click' + (key === chosen ? ' sel' : ''), 'data-set': s.set, 'data-line': s.line, onclick: () => {
        list.querySelectorAll('tr.sel').forEach((x) => x.classList.remove('sel'));
        tr.classList.add('sel');
        chosen = key;
        openSample(s.set, s.line);
      } }, el('td', {}, s.set), el('td', { title: s.prompt }, s.prompt_id), el('td', {}, s.sample_idx === null ? '' : s.sample_idx),
        el('td', { class: 'status-' + s.status }, s.status), el('td', {}, num(s.reward, 2)));
      list.append(tr);
    }
  }
  async function openSample(setName, line) {
    let s;
    try { s = await api('/api/sample?' + q({ id, set: setName, line })); } catch (e) { detail.textContent = e.message; return; }
    detail.textContent = '';
    const code = s.code !== undefined ? s.code : s.completion;
    detail.append(...el('div', {}, el('div', { class: 'row' }, el('b', {}, s.prompt_id || ''), el('span', { class: 'status-' + s.status }, s.status || 'unverified'),
                     el('span', {}, 'reward ' + num(s.reward, 2)), el('span', { class: 'muted small' }, s.file + ':' + s.line)),
      el('div', { class: 'small', id: 'sample-prompt' }, s.prompt || ''),
      el('h3', {}, 'Generated code'), el('pre', { id: 'sample-code' }, code || ''),
      s.expected_output !== undefined && s.expected_output !== null ? [el('h3', {}, 'Expected output'), el('pre', {}, s.expected_output)] : null,
      el('h3', {}, 'Program output'), el('pre', { id: 'sample-output' }, s.actual_output || '(none)'),
      s.error ? [el('h3', {}, 'Verifier'), el('pre', {}, s.error)] : null,
      s.compile_log ? [el('h3', {}, 'Compiler'), el('pre', {}, s.compile_log)] : null).childNodes);
  }
  load();
  return { load };
}

// ---- comparison ----

async function viewCompare(ids) {
  const pickBox = el('div', { class: 'card' });
  const out = el('div', {});
  main.append(el('h1', {}, 'Compare runs'), pickBox, out, el('div', { class: 'grid' }, chartBox('cmp', 'Compile rate: baseline vs final'),
              chartBox('cmp1', 'pass@1: baseline vs final')));
  let runs;
  const gen = viewGen;
  try { runs = (await api('/api/runs')).runs; } catch (e) { out.append(el('div', { class: 'error' }, e.message)); return; }
  if (gen !== viewGen) return;
  const chosen = new Set(ids.length ? ids : runs.filter((r) => r.kind === 'benchmark full').map((r) => r.id));
  for (const r of runs) {
    const cb = el('input', { type: 'checkbox', onchange: (ev) => { ev.target.checked ? chosen.add(r.id) : chosen.delete(r.id); show(); } });
    cb.checked = chosen.has(r.id);
    pickBox.append(el('label', { class: 'check', style: 'margin-right:14px' }, cb, ' ' + r.path + ' ', el('span', { class: 'muted small' }, r.kind)));
  }
  async function show() {
    out.textContent = '';
    if (!chosen.size) { out.append(el('div', { class: 'muted' }, 'Pick runs above.')); return; }
    let d;
    try { d = await api('/api/compare?' + [...chosen].map((i) => 'id=' + encodeURIComponent(i)).join('&')); }
    catch (e) { out.append(el('div', { class: 'error' }, e.message)); return; }
    if (gen !== viewGen) return;
    out.textContent = '';
    const t = el('table', { id: 'compare-table' }, el('tr', {}, ['Model', 'Run', 'Baseline Compile', 'Final Compile', 'Improvement', 'pass@1', 'Time', 'Energy', 'status']
      .map((h) => el('th', {}, h))));
    for (const r of d.rows) {
      const imp = r.improvement === null ? 'n/a' : (r.improvement >= 0 ? '+' : '') + (100 * r.improvement).toFixed(1) + '%';
      t.append(el('tr', {}, el('td', {}, r.model || ''), el('td', {}, el('a', { href: runLink(r.id) }, r.id)),
        el('td', {}, pct(r.baseline_compile), el('div', { class: 'muted small' }, r.baseline_phase)),
        el('td', {}, pct(r.final_compile), el('div', { class: 'muted small' }, r.final_phase)), el('td', {}, imp),
        el('td', {}, pct(r.baseline_pass_at_1) + ' → ' + pct(r.final_pass_at_1)), el('td', {}, dur(r.time_s)),
        el('td', {}, r.energy_wh === null ? 'n/a' : r.energy_wh.toFixed(1) + ' Wh'), el('td', {}, badge(r.status))));
    }
    out.append(t);
    const labels = d.rows.map((r) => (r.model || r.id).split('/').pop() + ' (' + r.id + ')');
    plot('cmp', 'bar', [{ label: 'baseline', data: d.rows.map((r) => r.baseline_compile) }, { label: 'final', data: d.rows.map((r) => r.final_compile) }], { labels, yMax: 1 });
    plot('cmp1', 'bar', [{ label: 'baseline', data: d.rows.map((r) => r.baseline_pass_at_1) }, { label: 'final', data: d.rows.map((r) => r.final_pass_at_1) }], { labels, yMax: 1 });
  }
  show();
}

// ---- verifier playground ----

async function viewPlayground() {
  let schema;
  const gen = viewGen;
  try { schema = await api('/api/schema'); } catch (e) { main.append(el('div', { class: 'error' }, e.message)); return; }
  if (gen !== viewGen) return;
  const ver = el('select', { id: 'pg-verifier' }, schema.verifiers.map((v) => el('option', { value: v }, v)));
  const run = el('input', { type: 'checkbox', id: 'pg-run' });
  run.checked = true;
  const expected = el('input', { id: 'pg-expected', placeholder: 'expected output (optional)', size: 30 });
  const stdin = el('input', { id: 'pg-stdin', placeholder: 'stdin (optional)', size: 20 });
  const code = el('textarea', { id: 'pg-code', rows: 16, spellcheck: 'false' });
  code.value = '#include <cstdio>\n\nint main() {\n    puts("Hello, World!");\n    return 0;\n}\n';
  expected.value = 'Hello, World!';
  const res = el('div', { id: 'pg-result' });
  const go = el('button', { id: 'pg-go', onclick: async () => {
    go.disabled = true; res.textContent = 'verifying...';
    try {
      const r = await api('/api/verify', { verifier: ver.value, run: run.checked, code: code.value, expected_output: expected.value, stdin: stdin.value });
      res.textContent = '';
      res.append(...el('div', {}, el('div', { class: 'row' }, el('b', { class: 'status-' + r.status, id: 'pg-status' }, r.status), el('span', { id: 'pg-reward' }, 'reward ' + num(r.reward, 2)),
        el('span', { class: 'muted small' }, 'compile ' + num(r.compile_time, 2) + ' s, run ' + num(r.run_time, 2) + ' s')),
        r.error ? el('pre', {}, r.error) : null, el('h3', {}, 'Program output'), el('pre', {}, r.actual_output || '(none)'),
        r.compile_log ? [el('h3', {}, 'Compiler'), el('pre', {}, r.compile_log)] : null).childNodes);
    } catch (e) { res.textContent = ''; res.append(el('div', { class: 'error' }, e.message)); }
    go.disabled = false;
  } }, 'Verify');
  main.append(el('h1', {}, 'Verifier playground'), el('div', { class: 'card' },
    el('div', { class: 'row' }, el('label', {}, 'verifier ', ver), el('label', { class: 'check' }, run, ' run the program'), expected, stdin, go),
    el('p', { class: 'muted small' }, 'Paste a completion or code: it is extracted, compiled and run in the same sandbox as training samples, and graded on the reward ladder (0 / 0.3 / 0.5 / 0.7 / 1.0).'),
    code), el('div', { class: 'card' }, res));
}

// ---- launch ----

async function viewLaunch() {
  let schema;
  const gen = viewGen;
  try { schema = await api('/api/schema'); } catch (e) { main.append(el('div', { class: 'error' }, e.message)); return; }
  if (gen !== viewGen) return;
  const cmd = el('select', { id: 'l-command' }, Object.keys(schema.launch).map((c) => el('option', { value: c }, c)));
  const root = el('select', { id: 'l-root' }, schema.roots.map((r, i) => el('option', { value: i }, r)));
  const output = el('input', { id: 'l-output', size: 28 });
  const form = el('div', { class: 'form', id: 'l-form' });
  const msg = el('div', { id: 'l-msg' });
  const jobs = el('table', { id: 'jobs' });
  function build() {
    form.textContent = '';
    output.value = cmd.value.replace(' ', '-') + '-' + new Date().toISOString().slice(0, 19).replace(/[-:T]/g, '');
    for (const f of schema.launch[cmd.value]) {
      let input;
      if (f.type === 'bool') input = el('input', { type: 'checkbox', 'data-flag': f.name, 'data-type': f.type });
      else if (f.type === 'choice') input = el('select', { 'data-flag': f.name, 'data-type': f.type },
        el('option', { value: '' }, '(default)'), f.choices.split('|').map((c) => el('option', { value: c }, c)));
      else input = el('input', { 'data-flag': f.name, 'data-type': f.type, placeholder: f.type === 'int' || f.type === 'float' ? f.min + ' .. ' + f.max : (f.required ? 'required' : '(default)') });
      form.append(f.type === 'bool' ? el('label', { class: 'check', title: f.help }, input, '--' + f.name)
                                    : el('label', { title: f.help }, el('span', {}, '--' + f.name + (f.required ? ' *' : ''), el('span', { class: 'muted small' }, '  ' + f.help)), input));
    }
  }
  cmd.addEventListener('change', build);
  build();
  const go = el('button', { id: 'l-go', onclick: async () => {
    const flags = {};
    form.querySelectorAll('[data-flag]').forEach((i) => {
      if (i.dataset.type === 'bool') { if (i.checked) flags[i.dataset.flag] = true; }
      else if (i.value !== '') flags[i.dataset.flag] = (i.dataset.type === 'int' || i.dataset.type === 'float') ? Number(i.value) : i.value;
    });
    msg.textContent = '';
    try {
      const r = await api('/api/launch', { command: cmd.value, root: Number(root.value), output: output.value, flags });
      location.hash = runLink(r.run_id);
    } catch (e) { msg.append(el('div', { class: 'error', id: 'l-error' }, e.message)); }
  } }, 'Launch');
  main.append(el('h1', {}, 'Launch a run'), el('div', { class: 'card' },
    el('div', { class: 'row' }, el('label', {}, 'command ', cmd), el('label', {}, 'in ', root), el('label', {}, 'output folder ', output), go),
    el('p', { class: 'muted small' }, 'The server runs the halo-forge program itself with these flags (no shell). Paths are relative to the folder the server was started in.'),
    form, msg), el('h2', {}, 'Runs started from this page'), jobs);
  async function refresh() {
    let js;
    try { js = await api('/api/jobs'); setConn(true); } catch (e) { setConn(false, e.message); return; }
    if (gen !== viewGen) return;
    jobs.textContent = '';
    jobs.append(el('tr', {}, ['job', 'run', 'command', 'state', ''].map((h) => el('th', {}, h))));
    for (const j of js) {
      jobs.append(el('tr', {}, el('td', {}, j.job), el('td', {}, el('a', { href: runLink(j.run_id) }, j.run_id)),
        el('td', { class: 'mono small' }, j.argv.join(' ')),
        el('td', {}, j.running ? badge('running') : 'exit ' + j.exit_code),
        el('td', {}, j.running ? el('button', { class: 'danger', onclick: () => api('/api/stop', { job: j.job }).catch((e) => alert(e.message)) }, 'Stop') : '')));
    }
  }
  every(POLL_MS, refresh);
}

// ---- routing ----

function route() {
  clearView();
  const h = location.hash || '#/runs';
  const parts = h.slice(2).split('/');
  const tab = parts[0] || 'runs';
  document.querySelectorAll('header nav a').forEach((a) => a.classList.toggle('active', a.dataset.tab === tab || (tab === 'run' && a.dataset.tab === 'runs')));
  if (tab === 'run') return viewRun(decodeURIComponent(parts.slice(1).join('/')));
  if (tab === 'compare') return viewCompare(parts[1] ? parts[1].split(',').map(decodeURIComponent) : []);
  if (tab === 'playground') return viewPlayground();
  if (tab === 'launch') return viewLaunch();
  return viewRuns();
}

window.addEventListener('hashchange', route);
// the token (when the server needs one) now sits in a cookie: take it out of the address bar
if (location.search.includes('token=')) history.replaceState(null, '', location.pathname + location.hash);
route();
