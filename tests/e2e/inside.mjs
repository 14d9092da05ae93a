// Browser end-to-end test of the Inside page (web/inside.html): starts `cxr serve` with
// the bundled model on a temporary store, opens the page in Debian's headless
// Chromium (playwright-core), uploads the synthetic phantom of docs/inspect/ (no
// dataset image), waits for the column of layers and the first layer's montages,
// picks the last layer and the loss for a true class, and checks that its gradient
// maps come back; runs one training step and checks its graph (SVG) and update
// table; then runs axe-core and saves a screenshot.
//
// Environment and skipping as tests/e2e/e2e.mjs (exit 77 when Chromium,
// playwright-core or axe-core is missing). Screenshot: $CXR_E2E_OUT/inside-screenshot.png.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const SKIP = 77;
const here = path.dirname(fileURLToPath(import.meta.url));
const source = process.env.CXR_SOURCE_DIR || path.resolve(here, '../..');
const binary = process.env.CXR_BINARY || path.join(source, 'build/app/cxr');
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
const outDir = process.env.CXR_E2E_OUT || path.join(source, 'build/e2e');

function skip(why) {
  console.log(`e2e SKIPPED: ${why} (scripts/install-e2e installs what is missing)`);
  process.exit(SKIP);
}

function check(condition, message) {
  if (!condition) throw new Error(`check failed: ${message}`);
}

function startServer(store) {
  const model = path.join(source, 'models/pretrained/cxr-small.safetensors');
  const child = spawn(binary, ['serve', '--store', store, '--port', '0', '--model', model, '--web',
    path.join(source, 'web')], { stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`cxr serve did not start:\n${output}`)), 60000);
    child.stdout.on('data', (data) => {
      output += data;
      const port = output.match(/cxr serve: http:\/\/127\.0\.0\.1:(\d+)\//);
      if (port) {
        clearTimeout(timer);
        resolve(Number(port[1]));
      }
    });
    child.on('exit', (code) => reject(new Error(`cxr serve exited (${code}):\n${output}`)));
  });
  return { child, ready };
}

async function main() {
  if (!existsSync(chromiumPath)) skip(`no Chromium at ${chromiumPath}`);
  let chromium;
  try {
    ({ chromium } = await import('playwright-core'));
  } catch {
    skip(`playwright-core is not installed in ${here}/node_modules`);
  }
  const axeScript = path.join(here, 'node_modules/axe-core/axe.min.js');
  if (!existsSync(axeScript)) skip(`axe-core is not installed in ${here}/node_modules`);
  check(existsSync(binary), `no cxr binary at ${binary} (set CXR_BINARY)`);

  const work = mkdtempSync(path.join(tmpdir(), 'cxr-e2e-inside-'));
  const server = startServer(path.join(work, 'store'));
  let browser;
  try {
    const port = await server.ready;
    browser = await chromium.launch({
      executablePath: chromiumPath,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync'],
    });
    const page = await browser.newPage({ viewport: { width: 1200, height: 1400 } });
    const pageErrors = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => { if (m.type() === 'error') pageErrors.push(m.text()); });
    page.on('response', (r) => { if (r.status() >= 400) pageErrors.push(`HTTP ${r.status()} for ${r.url()}`); });
    const byId = (id) => page.locator(`[data-testid="${id}"]`);

    await page.goto(`http://127.0.0.1:${port}/`);
    await byId('inside-link').click();
    await page.waitForURL(/inside\.html$/);
    await page.waitForFunction(() => document.querySelector('#inside-class').options.length > 1);
    await byId('inside-file').setInputFiles(path.join(source, 'docs/inspect/phantom.png'));
    await page.waitForFunction(() => document.querySelectorAll('#inside-layers button').length > 0, null,
      { timeout: 60000 });
    await page.waitForFunction(() => document.querySelector('#inside-activation').src.startsWith('data:image/png'));
    const layers = await page.locator('#inside-layers button').count();
    check(layers === 9, `cxr-small has 9 layers, the page shows ${layers}`);

    await byId('inside-objective').selectOption('label');
    await byId('inside-class').selectOption('normal');
    await page.waitForFunction(() => document.querySelector('#inside-status').textContent.startsWith('loss for normal'),
      null, { timeout: 60000 });
    await page.locator('#inside-layers button[data-layer="blocks.7"]').click();
    await page.waitForFunction(() => document.querySelector('#inside-layer-name').textContent.startsWith('Layer blocks.7'),
      null, { timeout: 60000 });
    const pressed = await page.locator('#inside-layers button[aria-pressed="true"]').getAttribute('data-layer');
    check(pressed === 'blocks.7', `the pressed layer is ${pressed}`);
    const bars = await page.locator('#inside-gradient-histogram rect').count();
    check(bars === 32, `the gradient histogram has ${bars} bars`);

    // One training step: the graph drawn as SVG and one update row per parameter.
    await byId('inside-step-label').selectOption('bacterial');
    await byId('inside-step-run').click();
    await page.waitForFunction(() => document.querySelectorAll('#inside-graph g[data-node]').length > 10, null,
      { timeout: 60000 });
    const ops = await page.locator('#inside-graph g[data-node]').count();
    const lastOp = await page.locator('#inside-graph g[data-node] text').last().textContent();
    check(lastOp.startsWith('cross_entropy'), `the graph ends in ${lastOp}`);
    const firstOp = await page.locator('#inside-graph g[data-node] text').first().textContent();
    check(/roof \d+(\.\d)?% \/ \d+(\.\d)?%$/.test(firstOp), `the first op shows its roofline shares: ${firstOp}`);
    const tensorRows = await page.locator('#inside-node-values tr').count();
    check(tensorRows === 8, `the first op shows ${tensorRows} of its output values`);
    await page.locator('#inside-graph g[data-node]').last().click();
    const lossRows = await page.locator('#inside-node-values tr').count();
    const lossGradient = await page.locator('#inside-node-values tr td').last().textContent();
    check(lossRows === 1 && lossGradient === '1.00', `the loss shows ${lossRows} value(s), gradient ${lossGradient}`);
    const roofline = await byId('inside-step-roofline').textContent();
    check(roofline.includes('GFLOP/s'), `the roofline is named: ${roofline}`);
    const updates = await page.locator('#inside-updates > tr').count();
    check(updates === 53, `cxr-small has 53 parameter tensors, the table shows ${updates}`);
    await page.locator('#inside-updates summary').first().click();
    const values = await page.locator('#inside-updates details[open] table.values tbody tr').count();
    check(values === 8, `the first parameter shows ${values} values before and after`);
    // The whole-tensor view: the first op's output, channel 1 drawn, a value read by pointing.
    await page.waitForFunction(() => document.querySelector('#inside-tensor-caption').textContent.includes('channel'),
      null, { timeout: 60000 });
    await byId('inside-tensor-plane').fill('1');
    await byId('inside-tensor-plane').dispatchEvent('change');
    await page.waitForFunction(() => document.querySelector('#inside-tensor-caption').textContent.startsWith('channel 1 of'),
      null, { timeout: 60000 });
    const canvasWidth = await page.locator('#inside-tensor-canvas').evaluate((c) => c.width);
    check(canvasWidth === 96, `the stem's channel is drawn ${canvasWidth} values wide`);
    const tensorBars = await page.locator('#inside-tensor-histogram rect').count();
    check(tensorBars === 32, `the tensor histogram has ${tensorBars} bars`);
    await page.locator('#inside-tensor-canvas').hover({ position: { x: 2, y: 2 } });
    const pointed = await byId('inside-tensor-value').textContent();
    check(/^flat index 9216 \(row 0, column 0\): -?[0-9.e-]+$/.test(pointed), `pointing reads a value: ${pointed}`);
    console.log(`e2e inside: a training step of ${ops} ops drawn`);

    // Live telemetry charts: a canned stream of two records (the server's stream is
    // tested against a real job's file in test_server_train) drawn as one line per layer.
    const layer = (name, g, r) => ({ name, trainable: true, grad_norm: g, update_ratio: r });
    const record = (step, loss) => ({ step, epoch: 1, lr: 1e-3, loss,
      layers: [layer('stem', 0.5 / step, 1e-3), layer('blocks.0', 0.02 * step, 2e-4), { name: 'pool', trainable: false }] });
    const stream = [record(10, 1.3), record(20, 1.1)].map((r) => `event: telemetry\ndata: ${JSON.stringify(r)}\n\n`)
      .join('') + 'event: end\ndata: {}\n\n';
    await page.route('**/api/v1/jobs/7/telemetry/stream', (route) =>
      route.fulfill({ status: 200, contentType: 'text/event-stream', body: stream }));
    await byId('inside-live-job').fill('7');
    await byId('inside-live-follow').click();
    await page.waitForFunction(() => document.querySelector('#inside-live-status').textContent.endsWith('has ended'));
    for (const chart of ['inside-live-grad', 'inside-live-ratio']) {
      const lines = await page.locator(`#${chart} polyline`).count();
      check(lines === 2, `${chart} draws ${lines} lines for 2 layers with values`);
    }

    mkdirSync(outDir, { recursive: true });
    await page.screenshot({ path: path.join(outDir, 'inside-screenshot.png'), fullPage: true });
    await page.evaluate(readFileSync(axeScript, 'utf8'));
    const axe = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
    const violations = axe.violations.map((v) => `${v.id} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`);
    check(violations.length === 0, `axe-core: ${violations.join('; ')}`);
    check(pageErrors.length === 0, `errors in the page: ${pageErrors.join('; ')}`);
    console.log('e2e inside: passed');
  } finally {
    if (browser) await browser.close();
    server.child.kill('SIGKILL');
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(`e2e FAILED: ${e.stack || e}`);
  process.exit(1);
});
