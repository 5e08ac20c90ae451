// The dashboard in headless Chromium (Debian's chromium, driven by playwright-core): opens the runs list,
// a finished run's view and checks that each chart holds the run's real number of points (compared with
// the API's own figures), opens a sample and checks its code, uses the comparison and the verifier
// playground, launches a benchmark full on the tiny model from the form and stops it with the Stop
// button. Screenshots go to OUTDIR.
//
//   node browser.js URL OUTDIR RUN_ID
'use strict';
const { chromium } = require('playwright-core');
const fs = require('fs');
const path = require('path');

const [url, outdir, runId] = process.argv.slice(2);
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
let failures = 0, passes = 0;
function check(ok, what, detail) {
  if (ok) passes++;
  else { failures++; console.log('FAIL: ' + what + (detail !== undefined ? ': ' + JSON.stringify(detail) : '')); }
}

(async () => {
  fs.mkdirSync(outdir, { recursive: true });
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') pageErrors.push(m.text()); });
  page.setDefaultTimeout(120000);
  const shot = (name) => page.screenshot({ path: path.join(outdir, name), fullPage: true });
  const apiGet = (p) => page.evaluate(async (p) => (await fetch(p)).json(), p);
  try {
    // runs list
    await page.goto(url + '#/runs');
    const row = page.locator(`tr[data-run="${runId}"]`);
    await row.waitFor();
    check((await row.locator('[data-status]').getAttribute('data-status')) === 'finished', 'the finished run shows as finished');
    await shot('runs.png');

    // a run's view: the charts hold the run's real points
    await row.click();
    await page.waitForFunction(() => window.Chart && Chart.getChart(document.getElementById('cv-rates')) &&
      Chart.getChart(document.getElementById('cv-rates')).data.labels.length > 0);
    const d = await apiGet('/api/run?id=' + encodeURIComponent(runId));
    const counts = await page.evaluate(() => {
      const c = (id) => Chart.getChart(document.getElementById('cv-' + id));
      return { loss: c('loss').data.datasets[0].data.length, lr: c('lr').data.datasets[0].data.length,
               grad: c('grad').data.datasets[0].data.length, tps: c('tps').data.datasets[0].data.length,
               rates: c('rates').data.datasets.map((s) => s.data.length), labels: c('rates').data.labels,
               reward: c('reward').data.datasets[0].data.length, kept: c('kept').data.datasets[0].data.length,
               hist: c('hist').data.datasets.length, histPoints: c('hist').data.datasets[0].data.length,
               util: c('util').data.datasets[0].data.length, mem: c('mem').data.datasets.map((s) => s.data.length),
               keptValues: c('kept').data.datasets[0].data, rateValues: c('rates').data.datasets[0].data };
    });
    const steps = d.training.steps.length, phases = d.phases.length, hw = d.hardware.t.length;
    check(steps > 0 && counts.loss === steps && counts.lr === steps && counts.grad === steps && counts.tps === steps,
          'training charts have one point per optimizer step', { steps, counts });
    check(phases === 3 && counts.rates.every((n) => n === phases) && counts.reward === phases && counts.kept === phases,
          'phase charts have one point per phase', { phases, counts });
    check(JSON.stringify(counts.labels) === JSON.stringify(d.phases.map((p) => p.name)), 'phase labels', counts.labels);
    check(counts.hist === 5 && counts.histPoints === phases, 'reward histogram: 5 levels per phase', counts);
    check(hw > 0 && counts.util === hw && counts.mem.every((n) => n === hw), 'hardware charts have one point per monitor sample', { hw, counts });
    check(counts.keptValues[1] === d.phases[1].kept && counts.rateValues[0] === d.phases[0].compile_rate,
          'the charts show the API figures', counts);
    await shot('run.png');

    // a sample
    const firstSample = page.locator('#sample-list tr[data-line]').first();
    await firstSample.waitFor();
    const set = await firstSample.getAttribute('data-set'), line = await firstSample.getAttribute('data-line');
    await firstSample.click();
    await page.locator('#sample-code').waitFor();
    const s = await apiGet('/api/sample?' + new URLSearchParams({ id: runId, set, line }));
    check((await page.locator('#sample-code').textContent()) === s.code, 'the sample view shows its code');
    check((await page.locator('#sample-prompt').textContent()) === s.prompt, 'the sample view shows its prompt');
    // filter by status
    await page.selectOption('#f-status', 'compile_error');
    await page.waitForFunction(() => [...document.querySelectorAll('#sample-list tr[data-line] td:nth-child(4)')].every((t) => t.textContent === 'compile_error') &&
      document.querySelectorAll('#sample-list tr[data-line]').length > 0);
    const shown = await page.locator('#sample-list tr[data-line]').count();
    const want = (await apiGet('/api/samples?' + new URLSearchParams({ id: runId, status: 'compile_error' }))).matched;
    check(shown === want, 'the status filter shows the matching samples', { shown, want });
    await page.locator('#sample-detail').scrollIntoViewIfNeeded();
    await shot('sample.png');

    // comparison
    await page.goto(url + '#/compare/' + encodeURIComponent(runId));
    await page.locator('#compare-table tr:nth-child(2)').waitFor();
    check((await page.locator('#compare-table tr').count()) === 2, 'one comparison row per chosen run');
    await shot('compare.png');

    // verifier playground
    await page.goto(url + '#/playground');
    await page.locator('#pg-go').click();
    await page.locator('#pg-status').waitFor();
    check((await page.locator('#pg-status').textContent()) === 'correct', 'the playground grades hello world correct');
    await shot('playground.png');

    // launch a benchmark full on the tiny model, then stop it
    await page.goto(url + '#/launch');
    await page.selectOption('#l-command', 'benchmark full');
    await page.selectOption('#l-root', { label: 'runs' });
    await page.fill('#l-output', 'browser-launch');
    await page.fill('[data-flag="model"]', 'model');
    await page.fill('[data-flag="cycles"]', '20');
    await page.fill('[data-flag="samples-per-prompt"]', '8');
    await shot('launch.png');
    await page.locator('#l-go').click();
    await page.waitForURL(/#\/run\//);
    const stop = page.locator('#stop');
    await stop.waitFor();
    await page.waitForFunction(() => (document.getElementById('log') || {}).textContent &&
      document.getElementById('log').textContent.includes('generate:'));
    check((await page.locator('#run-head [data-status]').getAttribute('data-status')) === 'running', 'the launched run shows as running');
    await shot('running.png');
    await stop.click();
    await page.waitForFunction(() => { const b = document.querySelector('#run-head [data-status]'); return b && b.dataset.status === 'interrupted'; });
    await page.waitForFunction(() => document.getElementById('log').textContent.includes('interrupted'));
    check(true, 'stopped: shown as interrupted, the log says so');
    await shot('stopped.png');
  } catch (e) {
    failures++;
    console.log('FAIL: ' + e.message);
    await shot('failure.png').catch(() => {});
  }
  check(pageErrors.length === 0, 'no JavaScript errors on the page', pageErrors);
  await browser.close();
  console.log(passes + ' passed, ' + failures + ' failed (screenshots in ' + outdir + ')');
  process.exit(failures ? 1 : 0);
})();
