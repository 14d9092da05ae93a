// CXR browser UI: plain JavaScript over the JSON API (docs/openapi.yaml), no build step.
'use strict';

const api = '/api/v1';
const $ = (id) => document.getElementById(id);
// file: the chosen image; request: the id of the latest prediction request (a
// counter), so that a late answer to an earlier one is dropped; shown: the image
// whose result is on screen, the one "Add to training set" sends.
// forced: the image the user asked to see although the OOD gate refused it.
const state = { file: null, request: 0, shown: null, forced: null, classes: [], page: 1, perPage: 24 };

function setStatus(el, text, isError = false) {
  el.textContent = text;
  el.classList.toggle('error', isError);
}

function authHeaders() {
  const token = $('token').value.trim();
  return token ? { Authorization: `Bearer ${token}` } : {};
}

async function call(path, options = {}) {
  const res = await fetch(api + path, options);
  const type = res.headers.get('Content-Type') || '';
  const body = type.includes('application/json') ? await res.json() : await res.text();
  if (!res.ok) {
    const message = body && body.error ? body.error.message : `HTTP ${res.status}`;
    const error = new Error(message);
    error.code = body && body.error ? body.error.code : undefined;
    error.body = body;
    throw error;
  }
  return body;
}

// ---- model -----------------------------------------------------------------
async function loadModel() {
  try {
    const m = await call('/model');
    state.classes = m.classes;
    $('model-line').textContent = `model ${m.version} (${m.preset}, ${m.input_size}×${m.input_size}, ` +
      `classes: ${m.classes.join(', ')})`;
    state.trainSources = (m.metrics && m.metrics.train_sources) || {};
    showShortcut(m.metrics || {});
    for (const select of [$('class'), $('sample-label'), $('filter-label')]) {
      const keep = select.id === 'sample-label' ? 0 : 1;
      while (select.options.length > keep) select.remove(keep);
      for (const c of m.classes) select.add(new Option(c, c));
    }
  } catch (e) {
    setStatus($('model-line'), `cannot load the model: ${e.message}`, true);
  }
}

// The served model's evaluation, broken down by source and age group (cxr eval).
function showShortcut(metrics) {
  const table = $('shortcut-table');
  const figures = $('shortcut-figures');
  table.tHead.replaceChildren();
  table.tBodies[0].replaceChildren();
  figures.replaceChildren();
  const s = metrics.by_source_and_age;
  if (!s) {
    figures.append(Object.assign(document.createElement('li'), { textContent: 'not measured for this version' }));
    return;
  }
  const targets = [...new Set(s.cells.flatMap((c) => Object.keys(c.called_covid_by_target)))];
  const head = table.tHead.insertRow();
  for (const h of ['source / age', 'images', 'accuracy', 'macro F1', ...targets.map((t) => `${t}: called COVID-19`)]) {
    head.append(Object.assign(document.createElement('th'), { scope: 'col', textContent: h }));
  }
  for (const c of s.cells) {
    const tr = table.tBodies[0].insertRow();
    tr.insertCell().textContent = `${c.source} / ${c.age_group}`;
    tr.insertCell().textContent = c.images;
    tr.insertCell().textContent = pct(c.accuracy);
    tr.insertCell().textContent = c.macro_f1 === null ? '–' : pct(c.macro_f1);
    for (const t of targets) {
      const v = c.called_covid_by_target[t];
      tr.insertCell().textContent = v ? `${v.called_covid}/${v.images}` : '–';
    }
  }
  const add = (text) => figures.append(Object.assign(document.createElement('li'), { textContent: text }));
  const adults = s.non_covid_adults_called_covid;
  add(`Adults without COVID-19 called COVID-19: ${adults.called_covid} of ${adults.images}`);
  const same = s.same_source;
  add(`Same collection (ieee8023 adults, ${same.covid_images} COVID-19 vs ${same.other_images} other): ` +
    `AUC ${same.auc_p_covid === null ? '–' : same.auc_p_covid.toFixed(2)}`);
  const probe = metrics.source_probe;
  if (probe) {
    add(`A linear probe on the model's features tells the source (${probe.classes.join(', ')}) with balanced ` +
      `accuracy ${pct(probe.balanced_accuracy)} (chance ${pct(probe.chance_balanced_accuracy)})`);
  }
  const energy = metrics.lung_energy && metrics.lung_energy.all;
  if (energy && energy.images) {
    add(`Grad-CAM energy outside the lungs: ${pct(energy.mean_outside)} (a uniform map: ` +
      `${pct(energy.mean_chance)}; ${energy.images} test images)`);
  }
}

// ---- upload and prediction -----------------------------------------------------
function chooseFile(file) {
  if (!file) return;
  if (!['image/png', 'image/jpeg'].includes(file.type)) {
    forgetImage();
    setStatus($('status'), `${file.name}: not a PNG or JPEG image`, true);
    return;
  }
  state.file = file;
  clearResult();
  drawPreview(file);
  predict();
}

// No image and no result on screen, and no answer still expected (after a failed
// upload: nothing left that "Add" could send).
function forgetImage() {
  state.file = null;
  state.request += 1;
  clearResult();
  clearPreview();
}

function clearResult() {
  state.shown = null;
  $('add-button').disabled = true;
  $('bars').replaceChildren();
  $('heatmap').hidden = true;
  $('heatmap-caption').textContent = 'Upload an image to see where the model looked.';
  $('timing').textContent = '';
  $('sources').textContent = '';
  $('ood-refusal').hidden = true;
  $('ood-forced').hidden = true;
}

// Before the first upload: an empty black square where the X-ray will be.
function clearPreview() {
  const canvas = $('xray');
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = '#000';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
}

// The uploaded image whole: the longer side scaled to the square, centred on black.
// The heatmap goes over it where the server's box says (placeHeatmap), whether the
// model saw the image padded or cropped.
function drawPreview(file) {
  const url = URL.createObjectURL(file);
  const img = new Image();
  img.onload = () => {
    URL.revokeObjectURL(url);
    if (state.file !== file) return;  // another image was chosen while this one loaded
    const canvas = $('xray');
    const ctx = canvas.getContext('2d');
    const s = canvas.width, scale = s / Math.max(img.width, img.height);
    const w = img.width * scale, h = img.height * scale;
    ctx.fillStyle = '#000';
    ctx.fillRect(0, 0, s, s);
    ctx.drawImage(img, (s - w) / 2, (s - h) / 2, w, h);
  };
  img.src = url;
}

// Asks for the current image, method and class; an answer that arrives after a
// newer request was made (another image, method or class) is dropped.
async function predict() {
  const file = state.file;
  if (!file) return;
  const id = ++state.request;
  const params = new URLSearchParams({ explain: $('method').value });
  if ($('class').value) params.set('class', $('class').value);
  if (state.forced === file) params.set('force', 'true');
  setStatus($('status'), 'classifying…');
  try {
    const r = await call(`/predict?${params}`, { method: 'POST', headers: { 'Content-Type': file.type }, body: file });
    if (id !== state.request) return;
    showResult(r);
    state.shown = file;
    const forced = Boolean(r.ood && r.ood.forced);
    $('add-button').disabled = forced;  // an image that is not a chest X-ray is no training sample
    setStatus($('status'), `${file.name}: ${r.label}${forced ? ' (shown anyway, not a chest X-ray)' : ''}`);
  } catch (e) {
    if (id !== state.request) return;
    if (e.code === 'not_a_chest_xray') {
      showRefusal(file);
      return;
    }
    forgetImage();
    setStatus($('status'), `${file.name}: ${e.message}`, true);
  }
}

// The OOD gate refused the image: the image stays, no result, a plain-language reason
// and a button that asks again with force=true.
function showRefusal(file) {
  clearResult();
  $('ood-refusal-text').textContent = `This does not look like a frontal chest X-ray like the ones the model ` +
    `learnt from, so it gives no answer: any answer about this image would be meaningless.`;
  $('ood-refusal').hidden = false;
  setStatus($('status'), `${file.name}: not recognised as a chest X-ray`, true);
}

function showResult(r) {
  $('ood-refusal').hidden = true;
  $('ood-forced').hidden = !(r.ood && r.ood.forced);
  const bars = $('bars');
  bars.replaceChildren();
  for (const p of r.probabilities) {
    const li = document.createElement('li');
    li.dataset.testid = `probability-${p.class}`;
    if (p.class === r.label) li.classList.add('top');
    const pct = (100 * p.probability).toFixed(1);
    li.innerHTML = `<div><strong></strong> <span>${pct}%</span></div>` +
      `<div class="bar" role="meter" aria-valuemin="0" aria-valuemax="100" aria-valuenow="${pct}"><span></span></div>`;
    li.querySelector('strong').textContent = p.class;
    li.querySelector('.bar').setAttribute('aria-label', `${p.class} probability`);
    li.querySelector('.bar > span').style.width = `${pct}%`;
    bars.append(li);
  }
  const from = (state.trainSources || {})[r.label];
  $('sources').textContent = from
    ? `The model learnt "${r.label}" from ` + Object.entries(from).map(([k, n]) => `${n} ${k}`).join(', ') +
      ' training images (source / age group).'
    : '';
  const heat = $('heatmap');
  if (r.explanation) {
    heat.src = r.explanation.heatmap_png;
    placeHeatmap(r.image, r.explanation.heatmap_box);
    heat.hidden = false;
    applyOpacity();
    const method = methodTitle(r.explanation.method);
    $('heatmap-caption').textContent = `${method}: what speaks for "${r.explanation.class}" (red = most).`;
  } else {
    heat.hidden = true;
  }
  const t = r.timings_ms;
  $('timing').textContent = `model ${r.model}; ${t.total.toFixed(0)} ms (decode ${t.decode.toFixed(0)}, ` +
    `queue ${t.queue.toFixed(0)}, compute ${t.compute.toFixed(0)}; batch of ${r.batch_size})` +
    (r.ood ? `; calibrated probabilities (temperature ${r.temperature.toFixed(2)})` : '; no OOD check for this model');
}

// The frame is the image's rectangle on the square (drawPreview's letterbox); the
// heatmap's box is in the image's pixels, so in percent of the frame it is exact.
function placeHeatmap(image, box) {
  const pct = (v) => `${100 * v}%`;
  const long = Math.max(image.width, image.height);
  const frame = $('heatmap-frame').style;
  frame.left = pct((1 - image.width / long) / 2);
  frame.top = pct((1 - image.height / long) / 2);
  frame.width = pct(image.width / long);
  frame.height = pct(image.height / long);
  const heat = $('heatmap').style;
  heat.left = pct(box.x / image.width);
  heat.top = pct(box.y / image.height);
  heat.width = pct(box.width / image.width);
  heat.height = pct(box.height / image.height);
}

function applyOpacity() {
  const v = $('opacity').value;
  $('heatmap').style.opacity = v / 100;
  $('opacity').setAttribute('aria-valuetext', `${v}%`);
}

// ---- training set ------------------------------------------------------------------
async function addSample(event) {
  event.preventDefault();
  const file = state.shown;
  if (!file) return;
  const form = new FormData();
  form.append('image', file, file.name);
  form.append('label', $('sample-label').value);
  if ($('sample-patient').value.trim()) form.append('patient_id', $('sample-patient').value.trim());
  try {
    const r = await call('/samples', { method: 'POST', headers: authHeaders(), body: form });
    setStatus($('sample-status'), r.duplicate ? `already in the training set as sample ${r.sample.id}`
                                              : `added as sample ${r.sample.id} (${r.sample.label})`);
    loadSamples();
  } catch (e) {
    setStatus($('sample-status'), e.message, true);
  }
}

async function loadSamples() {
  if (!$('token').value.trim()) {  // the samples are private: listed only with the token
    $('counts').textContent = 'enter the API token to see the samples';
    $('samples').replaceChildren();
    return;
  }
  const params = new URLSearchParams({ page: state.page, per_page: state.perPage });
  if ($('filter-label').value) params.set('label', $('filter-label').value);
  try {
    const r = await call(`/samples?${params}`, { headers: authHeaders() });
    $('counts').textContent = Object.entries(r.counts).map(([k, v]) => `${k}: ${v}`).join(' · ') || 'no samples yet';
    const list = $('samples');
    list.replaceChildren();
    for (const s of r.samples) {
      const li = document.createElement('li');
      li.dataset.testid = `sample-${s.id}`;
      const img = document.createElement('img');
      // The image needs the token, which an <img src> cannot send: fetch it, show a blob: URL.
      fetch(`${api}/samples/${s.id}/image`, { headers: authHeaders() })
        .then((res) => (res.ok ? res.blob() : Promise.reject(new Error(`HTTP ${res.status}`))))
        .then((blob) => {
          img.src = URL.createObjectURL(blob);
          img.onload = () => URL.revokeObjectURL(img.src);
        })
        .catch(() => {});
      img.alt = `sample ${s.id}, ${s.label}`;
      img.loading = 'lazy';
      const caption = document.createElement('div');
      caption.textContent = `#${s.id} ${s.label}`;
      const remove = document.createElement('button');
      remove.type = 'button';
      remove.textContent = 'Remove';
      remove.setAttribute('aria-label', `remove sample ${s.id}`);
      remove.onclick = async () => {
        try {
          await call(`/samples/${s.id}`, { method: 'DELETE', headers: authHeaders() });
          loadSamples();
        } catch (e) { setStatus($('sample-status'), e.message, true); }
      };
      li.append(img, caption, remove);
      list.append(li);
    }
    const pages = Math.max(1, Math.ceil(r.total / state.perPage));
    $('page').textContent = `page ${state.page} of ${pages} (${r.total} samples)`;
    $('prev-page').disabled = state.page <= 1;
    $('next-page').disabled = state.page >= pages;
  } catch (e) {
    $('counts').textContent = `samples unavailable: ${e.message}`;
  }
}

// ---- fine-tuning ---------------------------------------------------------------------
// The job being shown, its loss points ({x: epochs done, loss}) and validation records.
const train = { job: null, events: null, loss: [], epochs: [] };
const pct = (x) => (typeof x === 'number' ? `${(100 * x).toFixed(1)}%` : '–');
const phases = {
  queued: 'waiting to start', preparing: 'decoding the samples', evaluating: 'evaluating on the test split',
  training: 'training', finished: 'finished',
};

async function startTraining(event) {
  event.preventDefault();
  const body = {
    epochs: Number($('epochs').value), learning_rate: Number($('lr').value), unfreeze: $('unfreeze').value,
    activate: $('train-activate').checked,
  };
  try {
    const r = await call('/train', {
      method: 'POST', headers: { ...authHeaders(), 'Content-Type': 'application/json' }, body: JSON.stringify(body),
    });
    followJob(r.job);
  } catch (e) {
    setStatus($('train-state'), `Cannot start: ${e.message}`, true);
  }
}

async function cancelTraining() {
  if (!train.job) return;
  try {
    await call(`/jobs/${train.job.id}`, { method: 'DELETE', headers: authHeaders() });
    setStatus($('train-state'), `Cancelling job ${train.job.id}…`);
  } catch (e) {
    setStatus($('train-state'), e.message, true);
  }
}

function setRunning(running) {
  $('train-start').disabled = running;
  $('train-cancel').disabled = !running;
}

// Follows a job on its event stream. The stream opens with the job as it is
// ("state"), so a job started elsewhere (another tab, before a reload) shows its
// history too; it ends after the final event.
function followJob(job) {
  if (train.events) train.events.close();
  train.job = job;
  train.loss = [];
  train.epochs = [];
  $('train-result').replaceChildren();
  $('train-progress').value = 0;
  setRunning(true);
  setStatus($('train-state'), `Job ${job.id}: ${phases[job.phase] || job.state}…`);
  drawChart();
  const handlers = {
    state: (j) => {
      train.job = j;
      train.epochs = j.history.slice();
      // Epochs before this page followed the job: their mean training loss.
      train.loss = j.history.map((e) => ({ x: e.epoch, loss: e.train_loss }));
      if (j.progress) showProgress(j.progress, j);
      else setStatus($('train-state'), `Job ${j.id}: ${phases[j.phase] || j.state}…`);
      drawChart();
    },
    progress: (p) => showProgress(p, train.job),
    epoch: (e) => {
      train.epochs.push(e);
      drawChart();
      setStatus($('train-state'), `Job ${train.job.id}: epoch ${e.epoch} validated: accuracy ${pct(e.val_accuracy)}, ` +
        `macro F1 ${pct(e.val_macro_f1)}${e.best ? ' (best so far)' : ''}`);
    },
  };
  for (const name of ['done', 'failed', 'cancelled', 'interrupted']) {
    handlers[name] = (j) => {
      train.events = null;
      jobEnded(j);
    };
  }
  // The stream needs the token (the job describes the private samples): see event_stream.js.
  train.events = openEventStream(`${api}/jobs/${job.id}/events`, authHeaders(),
    (name, data) => { if (handlers[name]) handlers[name](JSON.parse(data)); },
    (error) => { if (error) setStatus($('train-state'), `Job ${job.id}: ${error.message}`, true); });
}

function showProgress(p, job) {
  train.loss.push({ x: p.epoch - 1 + p.batch / p.batches, loss: p.loss });
  $('train-progress').value = p.fraction;
  const eta = p.eta_seconds >= 1 ? `, about ${Math.ceil(p.eta_seconds)} s of training left` : '';
  setStatus($('train-state'), `Job ${job.id}: epoch ${p.epoch}/${p.epochs}, batch ${p.batch}/${p.batches}, ` +
    `loss ${p.loss.toFixed(4)}, ${p.images_per_second.toFixed(0)} images/s${eta}`);
  drawChart();
}

function jobEnded(job) {
  train.job = job;
  setRunning(false);
  if (job.state === 'succeeded') {
    $('train-progress').value = 1;
    const a = job.after || {}, b = job.before || {};
    const serving = job.activated ? `now serving ${job.model}` : `activate ${job.model} below to serve it`;
    setStatus($('train-state'), `Job ${job.id} done: new version ${job.model} (test accuracy ${pct(b.accuracy)} → ` +
      `${pct(a.accuracy)}, macro F1 ${pct(b.macro && b.macro.f1)} → ${pct(a.macro && a.macro.f1)}); ${serving}.`);
    showComparison(job);
    if (job.activated) loadModel();
  } else if (job.state === 'failed') {
    setStatus($('train-state'), `Job ${job.id} failed: ${job.error}`, true);
  } else {
    setStatus($('train-state'), `Job ${job.id} ${job.state}; no new version.`, job.state === 'interrupted');
  }
  loadModels();
}

// Before/after on the job's test split, per class.
function showComparison(job) {
  const box = $('train-result');
  box.replaceChildren();
  if (!job.before || !job.after) {
    box.textContent = 'No test images: add samples of more patients to get a comparison.';
    return;
  }
  const table = document.createElement('table');
  table.className = 'compare';
  const caption = table.createCaption();
  caption.textContent = `Test split of job ${job.id} (${job.after.count} images): ${job.parent} → ${job.model}`;
  const head = table.createTHead().insertRow();
  for (const text of ['class', `F1 ${job.parent}`, `F1 ${job.model}`, `recall ${job.parent}`, `recall ${job.model}`]) {
    const th = document.createElement('th');
    th.scope = 'col';
    th.textContent = text;
    head.append(th);
  }
  const body = table.createTBody();
  const row = (name, values) => {
    const tr = body.insertRow();
    const th = document.createElement('th');
    th.scope = 'row';
    th.textContent = name;
    tr.append(th);
    for (const v of values) tr.insertCell().textContent = pct(v);
  };
  job.after.classes.forEach((c, i) => {
    const before = job.before.classes[i];
    row(c.name, [before.f1, c.f1, before.recall, c.recall]);
  });
  row('macro average', [job.before.macro.f1, job.after.macro.f1, job.before.macro.recall, job.after.macro.recall]);
  box.append(table);
}

// Loss per progress event (left axis) and validation macro F1 and accuracy per
// epoch (right axis, 0 to 1) over the job's epochs.
function drawChart() {
  const canvas = $('train-chart');
  const ratio = window.devicePixelRatio || 1;
  const w = canvas.clientWidth || 720, h = canvas.clientHeight || 240;
  if (canvas.width !== Math.round(w * ratio)) {
    canvas.width = Math.round(w * ratio);
    canvas.height = Math.round(h * ratio);
  }
  const ctx = canvas.getContext('2d');
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, w, h);
  const left = 52, right = 48, top = 12, bottom = 34;
  const epochs = train.job && train.job.params ? train.job.params.epochs : 1;
  // A job followed live has a loss per progress event; a finished one, its epochs' mean training loss.
  const loss = train.loss.length > 0 ? train.loss : train.epochs.map((e) => ({ x: e.epoch, loss: e.train_loss }));
  const maxLoss = Math.max(0.1, ...loss.map((p) => p.loss)) * 1.05;
  const X = (x) => left + (x / epochs) * (w - left - right);
  const Y = (fraction) => h - bottom - fraction * (h - top - bottom);
  const line = (x0, y0, x1, y1) => { ctx.beginPath(); ctx.moveTo(x0, y0); ctx.lineTo(x1, y1); ctx.stroke(); };

  ctx.font = '12px system-ui, sans-serif';
  ctx.lineWidth = 1;
  ctx.strokeStyle = '#dde1e6';
  ctx.fillStyle = '#5b6470';
  for (let i = 0; i <= 4; ++i) {
    const y = Y(i / 4);
    line(left, y, w - right, y);
    ctx.textAlign = 'right';
    ctx.fillText((maxLoss * i / 4).toFixed(2), left - 6, y + 4);
    ctx.textAlign = 'left';
    ctx.fillText((i / 4).toFixed(2), w - right + 6, y + 4);
  }
  const step = Math.max(1, Math.ceil(epochs / 10));
  ctx.textAlign = 'center';
  for (let e = 0; e <= epochs; e += step) ctx.fillText(String(e), X(e), h - bottom + 16);
  ctx.fillText('epochs', (left + w - right) / 2, h - 4);

  if (loss.length > 0) {
    ctx.strokeStyle = '#0b5cad';
    ctx.lineWidth = 2;
    ctx.beginPath();
    loss.forEach((p, i) => {
      const x = X(p.x), y = Y(p.loss / maxLoss);
      if (i === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
    });
    ctx.stroke();
  }
  const series = [['val_macro_f1', '#d9730d'], ['val_accuracy', '#2e8540']];
  for (const [key, colour] of series) {
    ctx.strokeStyle = colour;
    ctx.fillStyle = colour;
    ctx.lineWidth = 2;
    ctx.beginPath();
    train.epochs.forEach((e, i) => {
      const x = X(e.epoch), y = Y(e[key]);
      if (i === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
    });
    ctx.stroke();
    for (const e of train.epochs) {
      ctx.beginPath();
      ctx.arc(X(e.epoch), Y(e[key]), 3.5, 0, 2 * Math.PI);
      ctx.fill();
    }
  }
  const last = train.epochs[train.epochs.length - 1];
  canvas.setAttribute('aria-label', last
    ? `training loss per batch and validation metrics: after epoch ${last.epoch}, macro F1 ${pct(last.val_macro_f1)}, ` +
      `accuracy ${pct(last.val_accuracy)}`
    : 'training loss per batch and validation metrics per epoch (no job yet)');
}

// A job that runs (started in another tab or before a reload) is followed again;
// the last finished one is summarised.
async function loadLastJob() {
  if (!$('token').value.trim()) {  // jobs are private: read only with the token
    setStatus($('train-state'), 'enter the API token to see the fine-tune jobs');
    return;
  }
  try {
    const r = await call('/jobs?limit=1', { headers: authHeaders() });
    const job = r.jobs[0];
    if (!job) return;
    if (job.state === 'queued' || job.state === 'running') {
      followJob(job);
    } else {
      train.job = job;
      train.epochs = job.history;
      drawChart();
      jobEnded(job);
    }
  } catch (e) {
    setStatus($('train-state'), `Jobs unavailable: ${e.message}`, true);
  }
}

// ---- model versions ------------------------------------------------------------------
// The confusion matrix of a version's test evaluation (rows: true class).
function confusionTable(metrics) {
  if (!metrics || !metrics.confusion_matrix) return document.createTextNode('–');
  const names = (metrics.classes || []).map((c) => c.name);
  const table = document.createElement('table');
  table.className = 'cm';
  table.createCaption().textContent = 'rows: true class; columns: predicted';
  const head = table.createTHead().insertRow();
  head.insertCell();  // the corner: a data cell, as an empty header would name nothing
  for (const name of names) {
    const th = document.createElement('th');
    th.scope = 'col';
    th.title = name;
    th.textContent = name.slice(0, 4);
    head.append(th);
  }
  const body = table.createTBody();
  metrics.confusion_matrix.forEach((row, t) => {
    const tr = body.insertRow();
    const th = document.createElement('th');
    th.scope = 'row';
    th.textContent = names[t] || String(t);
    tr.append(th);
    row.forEach((v, p) => {
      const td = tr.insertCell();
      td.textContent = v;
      if (p === t) td.className = 'diag';
    });
  });
  return table;
}

// "71.0% (was 65.0%)" when the version records its parent's value on the same images.
function withBaseline(value, baseline) {
  return typeof baseline === 'number' ? `${pct(value)} (was ${pct(baseline)})` : pct(value);
}

async function loadModels() {
  const body = $('models').querySelector('tbody');
  if (!$('token').value.trim()) {  // the versions' metrics describe the private samples
    body.replaceChildren();
    setStatus($('models-status'), 'enter the API token to see the model versions');
    return;
  }
  try {
    const r = await call('/models', { headers: authHeaders() });
    body.replaceChildren();
    setStatus($('models-status'), '');
    const number = (id) => Number(String(id).replace(/^v/, ''));
    for (const m of r.models) {
      const metrics = m.metrics || {};
      const base = (metrics.baseline && metrics.baseline.report) || {};
      const tr = body.insertRow();
      tr.dataset.testid = `model-${m.id}`;
      const id = document.createElement('th');
      id.scope = 'row';
      id.textContent = m.id;
      tr.append(id);
      tr.insertCell().textContent = m.parent || '–';
      tr.insertCell().textContent = m.created_at;
      tr.insertCell().textContent = withBaseline(metrics.accuracy, base.accuracy);
      tr.insertCell().textContent = withBaseline(metrics.macro && metrics.macro.f1, base.macro && base.macro.f1);
      tr.insertCell().append(confusionTable(metrics));
      const status = tr.insertCell();
      if (m.active) {
        status.textContent = 'serving';
        status.className = 'serving';
        continue;
      }
      const b = document.createElement('button');
      b.type = 'button';
      b.dataset.testid = `activate-${m.id}`;
      b.textContent = number(m.id) < number(r.active) ? `Roll back to ${m.id}` : `Activate ${m.id}`;
      b.onclick = async () => {
        try {
          await call(`/models/${encodeURIComponent(m.id)}/activate`, { method: 'POST', headers: authHeaders() });
          await loadModel();
          await loadModels();
          setStatus($('models-status'), `Now serving ${m.id}.`);
          $('models-status').focus();  // the button is gone: keep keyboard focus in the panel
          predict();
        } catch (e) { setStatus($('models-status'), e.message, true); }
      };
      status.append(b);
    }
  } catch (e) {
    body.replaceChildren();
    const cell = body.insertRow().insertCell();
    cell.colSpan = 7;
    cell.textContent = `Model versions unavailable: ${e.message}`;
  }
}

// ---- explanation methods ---------------------------------------------------------------
// The list comes from the server's registry (GET /explain-methods); the two options
// in index.html stay when it cannot be read. A method's title is its description
// up to the colon ("Score-CAM: ..." -> "Score-CAM").
state.methods = {};

function methodTitle(name) {
  const m = state.methods[name];
  return m ? m.description.split(':')[0] : name;
}

function describeMethod() {
  const m = state.methods[$('method').value];
  $('method-description').textContent = m ? m.description : '';
}

async function loadExplainMethods() {
  try {
    const { methods } = await call('/explain-methods');
    const select = $('method');
    const chosen = select.value;
    select.replaceChildren();
    for (const m of methods) {
      state.methods[m.name] = m;
      const option = new Option(methodTitle(m.name), m.name);
      option.title = m.description;
      select.add(option);
    }
    select.value = state.methods[chosen] ? chosen : methods[0].name;
  } catch (e) {
    // Keep the static Grad-CAM / Grad-CAM++ options.
  }
  describeMethod();
}

// ---- wiring ---------------------------------------------------------------------------
function init() {
  clearPreview();
  const drop = $('drop');
  drop.addEventListener('click', () => $('file').click());
  drop.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); $('file').click(); }
  });
  drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    chooseFile(e.dataTransfer.files[0]);
  });
  $('file').addEventListener('change', (e) => chooseFile(e.target.files[0]));
  $('method').addEventListener('change', () => { describeMethod(); predict(); });
  loadExplainMethods();
  $('class').addEventListener('change', predict);
  $('ood-force').addEventListener('click', () => { state.forced = state.file; predict(); });
  $('opacity').addEventListener('input', applyOpacity);
  $('token').value = localStorage.getItem('cxr-token') || '';
  $('token').addEventListener('change', () => {
    localStorage.setItem('cxr-token', $('token').value.trim());
    loadSamples();
    loadModels();
    loadLastJob();
  });
  $('add-sample').addEventListener('submit', addSample);
  $('filter-label').addEventListener('change', () => { state.page = 1; loadSamples(); });
  $('prev-page').addEventListener('click', () => { state.page -= 1; loadSamples(); });
  $('next-page').addEventListener('click', () => { state.page += 1; loadSamples(); });
  $('train-form').addEventListener('submit', startTraining);
  $('train-cancel').addEventListener('click', cancelTraining);
  window.addEventListener('resize', drawChart);
  drawChart();
  loadModel().then(() => { loadSamples(); loadModels(); loadLastJob(); });
}

document.addEventListener('DOMContentLoaded', init);
