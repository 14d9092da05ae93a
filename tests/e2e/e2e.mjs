// Browser end-to-end test of the web application: starts `cxr serve` on a
// temporary store with the bundled model and a free port, then drives Debian's
// Chromium (headless, through playwright-core) like a user: the empty black image
// area, an upload of a synthetic X-ray (made here: no dataset image is shipped),
// the probabilities and the Grad-CAM heatmap, the opacity slider, the method and
// class switches, a late answer to an earlier image (dropped), the token, adding samples to the training set, a fine-tune job
// followed to its end, activating the new version, and the CT tab's segmentation of a slice. Saves a screenshot, then
// checks the page at a phone's width (390 px: no sideways scroll) and runs axe-core.
// That part serves a copy of the bundled model without its OOD gate file (a synthetic
// X-ray is not a real one, and the gate may rightly refuse it); a second server with
// the gate then gets a colour-noise upload: refused in plain language, "show anyway"
// answers it marked as forced.
//
// Environment: CXR_BINARY (the built cxr), CXR_SOURCE_DIR, CXR_E2E_OUT (where the
// screenshot goes), CHROMIUM (default /usr/bin/chromium). Exits 77 (ctest: skipped)
// when Chromium, playwright-core or axe-core is missing; scripts/install-e2e installs both.
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateSync } from 'node:zlib';

const SKIP = 77;
const here = path.dirname(fileURLToPath(import.meta.url));
const source = process.env.CXR_SOURCE_DIR || path.resolve(here, '../..');
const binary = process.env.CXR_BINARY || path.join(source, 'build/app/cxr');
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
const outDir = process.env.CXR_E2E_OUT || path.join(source, 'build/e2e');
const started = Date.now();
let playwrightChromium;  // set by main() once playwright-core is loaded
const chromium = () => playwrightChromium;

function skip(why) {
  console.log(`e2e SKIPPED: ${why} (scripts/install-e2e installs what is missing)`);
  process.exit(SKIP);
}

function check(condition, message) {
  if (!condition) throw new Error(`check failed: ${message}`);
}

function step(text) {
  console.log(`[${((Date.now() - started) / 1000).toFixed(1)} s] ${text}`);
}

// ---- a synthetic chest-like X-ray as an 8-bit grey PNG ----------------------------
const crcTable = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; ++k) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(bytes) {
  let c = 0xffffffff;
  for (const b of bytes) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type, data) {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  data.copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}
// Two dark lung fields in a brighter frame, film noise from a seeded generator.
function xrayPng(width, height, seed) {
  let s = seed * 2654435761 + 1;
  const noise = () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648 - 0.5;
  };
  const rows = Buffer.alloc((width + 1) * height);
  for (let y = 0; y < height; ++y) {
    rows[y * (width + 1)] = 0;  // filter: none
    for (let x = 0; x < width; ++x) {
      const u = (x + 0.5) / width - 0.5 + 0.03 * Math.sin(seed), v = (y + 0.5) / height - 0.5;
      const lung = Math.abs(Math.abs(u) - 0.2) < 0.12 && Math.abs(v) < 0.3;
      const base = lung ? 60 + 40 * v : 170 - 80 * (u * u + v * v);
      rows[y * (width + 1) + 1 + x] = Math.max(0, Math.min(255, Math.round(base + 14 * noise())));
    }
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 0, 0, 0, 0], 8);  // 8-bit grey
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', header),
    chunk('IDAT', deflateSync(rows)), chunk('IEND', Buffer.alloc(0))]);
}

// Uniform random RGB pixels: plainly not an X-ray.
function noisePng(width, height, seed) {
  let s = seed * 2654435761 + 7;
  const rows = Buffer.alloc((3 * width + 1) * height);
  for (let i = 0; i < rows.length; ++i) {
    s = (s * 1103515245 + 12345) % 2147483648;
    rows[i] = i % (3 * width + 1) === 0 ? 0 : s >> 23;
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8);  // 8-bit RGB
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', header),
    chunk('IDAT', deflateSync(rows)), chunk('IEND', Buffer.alloc(0))]);
}

// ---- cxr serve -----------------------------------------------------------------------------
const bundledModel = path.join(source, 'models/pretrained/cxr-small.safetensors');

function startServer(store, model = bundledModel) {
  const child = spawn(binary, ['serve', '--store', store, '--port', '0', '--model', model, '--web',
    path.join(source, 'web')], { stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`cxr serve did not start:\n${output}`)), 60000);
    child.stdout.on('data', (data) => {
      output += data;
      const port = output.match(/cxr serve: http:\/\/127\.0\.0\.1:(\d+)\//);
      const token = output.match(/keep it\):\n {2}([0-9a-f]{64})/);
      if (port && token) {
        clearTimeout(timer);
        resolve({ port: Number(port[1]), token: token[1] });
      }
    });
    child.on('exit', (code) => reject(new Error(`cxr serve exited (${code}):\n${output}`)));
  });
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return { child, ready, exited };
}

async function api(base, token, pathAndQuery, options = {}) {
  const res = await fetch(base + pathAndQuery, {
    ...options, headers: { Authorization: `Bearer ${token}`, ...(options.headers || {}) },
  });
  const body = await res.json();
  if (!res.ok) throw new Error(`${pathAndQuery}: HTTP ${res.status} ${JSON.stringify(body)}`);
  return body;
}

// ---- the test ------------------------------------------------------------------------------
async function main() {
  if (!existsSync(chromiumPath)) skip(`no Chromium at ${chromiumPath}`);
  let chromium;
  try {
    ({ chromium } = await import('playwright-core'));
    playwrightChromium = chromium;
  } catch {
    skip(`playwright-core is not installed in ${here}/node_modules`);
  }
  const axeScript = path.join(here, 'node_modules/axe-core/axe.min.js');
  if (!existsSync(axeScript)) skip(`axe-core is not installed in ${here}/node_modules`);
  check(existsSync(binary), `no cxr binary at ${binary} (set CXR_BINARY)`);

  const work = mkdtempSync(path.join(tmpdir(), 'cxr-e2e-'));
  const ungated = path.join(work, 'cxr-small.safetensors');  // no .ood.safetensors beside it
  copyFileSync(bundledModel, ungated);
  const server = startServer(path.join(work, 'store'), ungated);
  let browser;
  try {
    const { port, token } = await server.ready;
    const base = `http://127.0.0.1:${port}`;
    step(`cxr serve on ${base}`);
    browser = await chromium.launch({
      executablePath: chromiumPath,
      headless: true,
      // Debian's Chromium as root, on a machine without outside network access.
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync'],
    });
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const pageErrors = [];
    // True while the test uploads a broken image on purpose: its HTTP 400 and the
    // console line Chromium writes for it are expected.
    let expectRefusedUpload = false;
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => {
      if (m.type() !== 'error') return;
      if (expectRefusedUpload && m.text().startsWith('Failed to load resource')) return;
      pageErrors.push(m.text());
    });
    page.on('response', (r) => {
      if (r.status() < 400) return;
      if (expectRefusedUpload && r.status() < 500 && r.url().includes('/api/v1/predict?')) return;
      pageErrors.push(`HTTP ${r.status()} for ${r.url()}`);
    });
    const byId = (id) => page.locator(`[data-testid="${id}"]`);
    await page.goto(base + '/');
    await page.waitForFunction(() => document.querySelector('#model-line').textContent.startsWith('model v1'));
    step('page loaded: model v1');

    // Before any upload: a black canvas and no heatmap.
    const centre = () => byId('xray-canvas').evaluate((c) =>
      Array.from(c.getContext('2d').getImageData(c.width / 2, c.height / 2, 1, 1).data));
    check(JSON.stringify(await centre()) === '[0,0,0,255]', 'the empty image area is not black');
    check(await byId('heatmap-overlay').isHidden(), 'a heatmap is shown before any upload');

    // Upload: probabilities and heatmap.
    await byId('upload-input').setInputFiles({ name: 'xray.png', mimeType: 'image/png', buffer: xrayPng(480, 440, 1) });
    await page.waitForFunction(() => {
      const img = document.querySelector('[data-testid="heatmap-overlay"]');
      return img && !img.hidden && img.complete && img.naturalWidth > 0;
    });
    const bars = await byId('probability-bars').locator('li').allTextContents();
    check(bars.length === 4, `${bars.length} probability bars`);
    const percents = bars.map((t) => Number(t.match(/([\d.]+)%/)[1]));
    const total = percents.reduce((a, b) => a + b, 0);
    check(Math.abs(total - 100) < 0.3, `probabilities add up to ${total}%`);  // 4 values rounded to 0.1
    const heat = await byId('heatmap-overlay').evaluate((i) => ({ src: i.src.slice(0, 22), w: i.naturalWidth }));
    check(heat.src === 'data:image/png;base64,' && heat.w === 192, `heatmap ${JSON.stringify(heat)}`);
    check(JSON.stringify(await centre()) !== '[0,0,0,255]', 'the X-ray was not drawn on the canvas');
    // Placed by the server's heatmap_box: a padding model's square is the letterbox
    // square, so the map covers the canvas exactly (the frame clips the bands outside
    // the image; the picture itself keeps the square's size and place).
    const rects = await page.evaluate(() => [document.querySelector('#xray'), document.querySelector('#heatmap')]
      .map((e) => { const r = e.getBoundingClientRect(); return [r.left, r.top, r.width, r.height]; }));
    check(rects[0].every((v, i) => Math.abs(v - rects[1][i]) < 1), `heatmap at ${rects[1]}, canvas at ${rects[0]}`);
    step(`prediction: ${bars.map((t) => t.replace(/\s+/g, ' ').trim()).join(', ')}`);

    // The opacity slider changes the heatmap's opacity.
    await byId('opacity-slider').fill('80');
    const opacity = await byId('heatmap-overlay').evaluate((i) => i.style.opacity);
    check(opacity === '0.8', `heatmap opacity ${opacity} after moving the slider to 80`);

    // Method and class switches ask again.
    await byId('method-select').selectOption('gradcam++');
    await page.waitForFunction(() => document.querySelector('#heatmap-caption').textContent.startsWith('Grad-CAM++'));
    await byId('class-select').selectOption('viral');
    await page.waitForFunction(() => document.querySelector('#heatmap-caption').textContent.includes('"viral"'));
    step('opacity, Grad-CAM++ and the class switch work');

    // A slow image, then a fast one: the first answer is held back until the second
    // is on screen, and must then be dropped. The two differ in shape, so the
    // heatmap frame (the image's rectangle on the square) tells whose result it is.
    // Holds back the answer to the next prediction request until release() is
    // called; `answered` resolves once the page has it.
    const holdNextPrediction = async () => {
      let release, delivered;
      const released = new Promise((resolve) => { release = resolve; });
      const answered = new Promise((resolve) => { delivered = resolve; });
      let held = false;
      await page.route('**/api/v1/predict?*', async (route) => {
        if (held) return route.continue();
        held = true;
        const response = await route.fetch();
        await released;
        await route.fulfill({ response });
        delivered();
      });
      return { release, answered };
    };
    const slow = await holdNextPrediction();
    await byId('upload-input').setInputFiles({ name: 'slow.png', mimeType: 'image/png', buffer: xrayPng(480, 440, 2) });
    const addWhilePending = await byId('sample-add').isEnabled();
    await byId('upload-input').setInputFiles({ name: 'fast.png', mimeType: 'image/png', buffer: xrayPng(300, 600, 3) });
    await page.waitForFunction(() => /^fast\.png: /.test(document.querySelector('#status').textContent));
    slow.release();
    await slow.answered;
    await page.waitForTimeout(500);  // time for the page to handle (and drop) the late answer
    await page.unroute('**/api/v1/predict?*');
    const shown = await page.evaluate(() => ({
      status: document.querySelector('#status').textContent,
      frame: [document.querySelector('#heatmap-frame').style.width, document.querySelector('#heatmap-frame').style.height],
    }));
    check(!addWhilePending, '"Add" was enabled while the chosen image had no result');
    check(shown.status.startsWith('fast.png: '), `status "${shown.status}" after the late answer`);
    check(shown.frame[0] === '50%' && shown.frame[1] === '100%',
      `heatmap frame ${shown.frame} is not the 300×600 image's: the late answer for slow.png was shown`);
    check(await byId('sample-add').isEnabled(), '"Add" is disabled under a result');
    step('a late answer for an earlier image is dropped');

    // The same for a method switch overtaken by a class switch: the Grad-CAM answer
    // for "viral" comes last and must be dropped for the one for "normal".
    const method = await holdNextPrediction();
    await byId('method-select').selectOption('gradcam');
    await byId('class-select').selectOption('normal');
    await page.waitForFunction(() => document.querySelector('#heatmap-caption').textContent.includes('"normal"'));
    method.release();
    await method.answered;
    await page.waitForTimeout(500);
    await page.unroute('**/api/v1/predict?*');
    const caption = await page.locator('#heatmap-caption').textContent();
    check(caption.startsWith('Grad-CAM: ') && caption.includes('"normal"'), `caption "${caption}" after a late answer`);
    step('a late answer for an earlier method or class is dropped');

    // The token, then this X-ray added to the training set with a label.
    await byId('token-input').fill(token);
    await byId('sample-label').selectOption('covid');
    await page.locator('#sample-patient').fill('e2e-ui');
    await byId('sample-add').click();
    await page.waitForFunction(() => /added as sample 1/.test(document.querySelector('#sample-status').textContent));
    await byId('sample-1').waitFor();
    step('sample 1 added from the UI and shown in the dataset browser');
    const added = (await api(base, token, '/api/v1/samples')).samples.find((s) => s.id === 1);
    check(added.width === 300 && added.height === 600, `sample 1 is ${added.width}×${added.height}, not fast.png`);

    // A refused upload clears the previous image and result and disables "Add".
    expectRefusedUpload = true;
    await byId('upload-input').setInputFiles({ name: 'broken.png', mimeType: 'image/png',
      buffer: xrayPng(200, 200, 4).subarray(0, 60) });
    await page.waitForFunction(() => /^broken\.png: /.test(document.querySelector('#status').textContent));
    expectRefusedUpload = false;
    check(await byId('sample-add').isDisabled(), '"Add" is enabled after a refused upload');
    check(await byId('heatmap-overlay').isHidden(), 'the previous heatmap is shown after a refused upload');
    check((await byId('probability-bars').locator('li').count()) === 0, 'the previous probabilities are shown');
    check(JSON.stringify(await centre()) === '[0,0,0,255]', 'the previous X-ray is shown after a refused upload');
    step('a refused upload clears the image and result and disables "Add"');

    // More samples through the API until fine-tuning has two training labels and a
    // validation image (a sample's split follows its patient id).
    const labels = ['covid', 'normal', 'bacterial', 'viral'];
    const have = { train: new Set(['covid']), val: 0 };
    for (let i = 2; i <= 40 && (have.train.size < 2 || have.val === 0); ++i) {
      const label = labels[i % 4];
      const r = await api(base, token, `/api/v1/samples?label=${label}&patient_id=e2e-${i}`, {
        method: 'POST', headers: { 'Content-Type': 'image/png' }, body: xrayPng(320, 300, i),
      });
      if (r.sample.split === 'train') have.train.add(label);
      if (r.sample.split === 'val') have.val += 1;
    }
    check(have.train.size >= 2 && have.val > 0, 'could not make a training and a validation split');

    // Fine-tune: one epoch of the head, followed on the job's event stream.
    await byId('train-epochs').fill('1');
    await byId('train-unfreeze').selectOption('head');
    await byId('train-start').click();
    await page.waitForFunction(() => /done: new version v2/.test(document.querySelector('[data-testid="train-state"]').textContent),
      null, { timeout: 45000 });
    const progress = await byId('train-progress').evaluate((p) => p.value);
    check(progress === 1, `progress ${progress} after the job`);
    await byId('model-v2').waitFor();
    step('fine-tune job finished: version v2');

    await byId('activate-v2').click();
    await page.waitForFunction(() => document.querySelector('#model-line').textContent.startsWith('model v2'));
    step('v2 activated');

    // The CT tab: the bundled U-Net (models/pretrained/ct-seg.safetensors) segments an
    // uploaded slice; the overlay and one area line per class appear.
    await byId('ct-input').setInputFiles({ name: 'ct.png', mimeType: 'image/png', buffer: xrayPng(300, 360, 7) });
    await byId('ct-overlay').waitFor({ state: 'visible', timeout: 30000 });
    const areas = await byId('ct-areas').locator('li').allTextContents();
    check(areas.length >= 1 && areas.every((t) => /^[a-z -]+: \d+\.\d% of the slice$/.test(t)), `CT areas: ${areas.join('; ')}`);
    check(/ct\.png: 300×360 px/.test(await byId('ct-status').textContent()), 'CT status names the slice and its size');
    step(`CT slice segmented: ${areas.join(', ')}`);

    // The training-set panel's GAN figure: the image is served and decoded, and its
    // caption says the pictures are synthetic, not patients.
    const synthetic = byId('synthetic-samples');
    await synthetic.scrollIntoViewIfNeeded();
    await page.waitForFunction(() => {
      const img = document.querySelector('[data-testid="synthetic-samples"] img');
      return img && img.complete && img.naturalWidth > 0;
    }, null, { timeout: 10000 });
    check(/^Synthetic images, not patients\./.test((await synthetic.locator('figcaption').textContent()).trim()),
          'the GAN figure is labelled synthetic');
    step('synthetic GAN samples shown, labelled');

    mkdirSync(outDir, { recursive: true });
    const shot = path.join(outDir, 'e2e-screenshot.png');
    await page.screenshot({ path: shot, fullPage: true });
    console.log(`screenshot: ${shot}`);

    // A phone's width: the page must not scroll sideways (wide tables scroll inside
    // their box), and axe-core must find no accessibility violation.
    await page.setViewportSize({ width: 390, height: 844 });
    const layout = await page.evaluate(() => {
      const width = document.documentElement.clientWidth;
      const wide = [...document.querySelectorAll('body *')]
        .filter((e) => !e.parentElement.closest('.table-scroll') && e.getBoundingClientRect().right > width + 0.5)
        .map((e) => e.id || `${e.tagName.toLowerCase()}.${e.className}`);
      return { width, scroll: document.documentElement.scrollWidth, wide: wide.slice(0, 8) };
    });
    check(layout.scroll <= layout.width, `at 390 px the page is ${layout.scroll} px wide (${layout.wide.join(', ')})`);
    // Evaluated through the DevTools protocol, which the page's Content-Security-Policy
    // (no inline scripts) does not govern; a <script> tag would be refused, rightly.
    await page.evaluate(readFileSync(axeScript, 'utf8'));
    const axe = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
    const violations = axe.violations.map((v) => `${v.id} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`);
    check(violations.length === 0, `axe-core: ${violations.join('; ')}`);
    step('390 px wide without sideways scrolling; axe-core finds no violations');
    check(pageErrors.length === 0, `errors in the page: ${pageErrors.join('; ')}`);

    await browser.close();
    browser = null;
    server.child.kill('SIGTERM');
    const exit = await server.exited;
    check(exit.code === 0, `cxr serve exited with ${JSON.stringify(exit)} after SIGTERM`);
    await refusedUpload(work);
    step('passed');
  } finally {
    if (browser) await browser.close();
    server.child.kill('SIGKILL');
    rmSync(work, { recursive: true, force: true });
  }
}

// The bundled model with its OOD gate: a noise image is refused in plain language
// (HTTP 422, no result, "Add" disabled); "show anyway" asks again with force=true and
// the answer is marked.
async function refusedUpload(work) {
  const server = startServer(path.join(work, 'store-gated'));
  let browser;
  try {
    const { port } = await server.ready;
    browser = await chromium().launch({ executablePath: chromiumPath, headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync'] });
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const requests = [];
    page.on('pageerror', (e) => check(false, `page error: ${e.message}`));
    page.on('response', (r) => { if (r.url().includes('/api/v1/predict?')) requests.push([r.status(), r.url()]); });
    const byId = (id) => page.locator(`[data-testid="${id}"]`);
    await page.goto(`http://127.0.0.1:${port}/`);
    await page.waitForFunction(() => document.querySelector('#model-line').textContent.startsWith('model v1'));
    await byId('upload-input').setInputFiles({ name: 'noise.png', mimeType: 'image/png', buffer: noisePng(320, 320, 5) });
    await byId('ood-refusal').waitFor();
    const text = await byId('ood-refusal').textContent();
    check(/does not look like a frontal chest X-ray/.test(text), `refusal text "${text}"`);
    check((await byId('probability-bars').locator('li').count()) === 0, 'probabilities shown for a refused image');
    check(await byId('heatmap-overlay').isHidden(), 'a heatmap is shown for a refused image');
    check(await byId('sample-add').isDisabled(), '"Add" is enabled for a refused image');
    check(requests.length === 1 && requests[0][0] === 422, `predict answered ${JSON.stringify(requests)}`);
    step('a noise image is refused in plain language (HTTP 422)');
    await byId('ood-force').click();
    await byId('ood-forced').waitFor();
    await page.waitForFunction(() => /shown anyway/.test(document.querySelector('#status').textContent));
    check((await byId('probability-bars').locator('li').count()) === 4, 'no probabilities after "show anyway"');
    check(await byId('ood-refusal').isHidden(), 'the refusal stays after "show anyway"');
    check(await byId('sample-add').isDisabled(), '"Add" is enabled for a forced result');
    check(requests.length === 2 && requests[1][0] === 200 && requests[1][1].includes('force=true'),
      `"show anyway" asked ${JSON.stringify(requests)}`);
    step('"show anyway" sends force=true and marks the result');
  } finally {
    if (browser) await browser.close();
    server.child.kill('SIGKILL');
  }
}

main().catch((e) => {
  console.error(`e2e FAILED: ${e.stack || e}`);
  process.exit(1);
});
