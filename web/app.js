// CXR browser UI: plain JavaScript over the JSON API (docs/openapi.yaml), no build step.
'use strict';

const api = '/api/v1';
const $ = (id) => document.getElementById(id);
const state = { file: null, classes: [], page: 1, perPage: 24, lossPoints: [], lastResult: null };

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
    throw new Error(message);
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
    for (const select of [$('class'), $('sample-label'), $('filter-label')]) {
      const keep = select.id === 'sample-label' ? 0 : 1;
      while (select.options.length > keep) select.remove(keep);
      for (const c of m.classes) select.add(new Option(c, c));
    }
  } catch (e) {
    setStatus($('model-line'), `cannot load the model: ${e.message}`, true);
  }
}

// ---- upload and prediction -----------------------------------------------------
function chooseFile(file) {
  if (!file) return;
  if (!['image/png', 'image/jpeg'].includes(file.type)) {
    setStatus($('status'), `${file.name}: not a PNG or JPEG image`, true);
    return;
  }
  state.file = file;
  $('add-button').disabled = false;
  drawPreview(file);
  predict();
}

// The picture the model sees: the longer side scaled to the square, centred on black.
function drawPreview(file) {
  const url = URL.createObjectURL(file);
  const img = new Image();
  img.onload = () => {
    const canvas = $('xray');
    const ctx = canvas.getContext('2d');
    const s = canvas.width, scale = s / Math.max(img.width, img.height);
    const w = img.width * scale, h = img.height * scale;
    ctx.fillStyle = '#000';
    ctx.fillRect(0, 0, s, s);
    ctx.drawImage(img, (s - w) / 2, (s - h) / 2, w, h);
    URL.revokeObjectURL(url);
  };
  img.src = url;
}

async function predict() {
  if (!state.file) return;
  const params = new URLSearchParams({ explain: $('method').value });
  if ($('class').value) params.set('class', $('class').value);
  setStatus($('status'), 'classifying…');
  try {
    const r = await call(`/predict?${params}`, {
      method: 'POST', headers: { 'Content-Type': state.file.type }, body: state.file,
    });
    state.lastResult = r;
    showResult(r);
    setStatus($('status'), `${state.file.name}: ${r.label}`);
  } catch (e) {
    setStatus($('status'), `${state.file.name}: ${e.message}`, true);
  }
}

function showResult(r) {
  const bars = $('bars');
  bars.replaceChildren();
  for (const p of r.probabilities) {
    const li = document.createElement('li');
    if (p.class === r.label) li.classList.add('top');
    const pct = (100 * p.probability).toFixed(1);
    li.innerHTML = `<div><strong></strong> <span>${pct}%</span></div>` +
      `<div class="bar" role="meter" aria-valuemin="0" aria-valuemax="100" aria-valuenow="${pct}"><span></span></div>`;
    li.querySelector('strong').textContent = p.class;
    li.querySelector('.bar').setAttribute('aria-label', `${p.class} probability`);
    li.querySelector('.bar > span').style.width = `${pct}%`;
    bars.append(li);
  }
  const heat = $('heatmap');
  if (r.explanation) {
    heat.src = r.explanation.heatmap_png;
    heat.hidden = false;
    applyOpacity();
    const method = r.explanation.method === 'gradcam' ? 'Grad-CAM' : 'Grad-CAM++';
    $('heatmap-caption').textContent = `${method}: regions that raised the score of "${r.explanation.class}" (red = most).`;
  } else {
    heat.hidden = true;
  }
  const t = r.timings_ms;
  $('timing').textContent = `model ${r.model}; ${t.total.toFixed(0)} ms (decode ${t.decode.toFixed(0)}, ` +
    `queue ${t.queue.toFixed(0)}, compute ${t.compute.toFixed(0)}; batch of ${r.batch_size})`;
}

function applyOpacity() {
  const v = $('opacity').value;
  $('heatmap').style.opacity = v / 100;
  $('opacity').setAttribute('aria-valuetext', `${v}%`);
}

// ---- training set ------------------------------------------------------------------
async function addSample(event) {
  event.preventDefault();
  if (!state.file) return;
  const form = new FormData();
  form.append('image', state.file, state.file.name);
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
  const params = new URLSearchParams({ page: state.page, per_page: state.perPage });
  if ($('filter-label').value) params.set('label', $('filter-label').value);
  try {
    const r = await call(`/samples?${params}`);
    $('counts').textContent = Object.entries(r.counts).map(([k, v]) => `${k}: ${v}`).join(' · ') || 'no samples yet';
    const list = $('samples');
    list.replaceChildren();
    for (const s of r.samples) {
      const li = document.createElement('li');
      const img = document.createElement('img');
      img.src = `${api}/samples/${s.id}/image`;
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
async function startTraining(event) {
  event.preventDefault();
  const body = {
    epochs: Number($('epochs').value), learning_rate: Number($('lr').value), unfreeze: $('unfreeze').value,
  };
  try {
    const r = await call('/train', {
      method: 'POST', headers: { ...authHeaders(), 'Content-Type': 'application/json' }, body: JSON.stringify(body),
    });
    $('train-button').disabled = true;
    state.lossPoints = [];
    drawLoss();
    followJob(r.job.id);
  } catch (e) {
    setStatus($('train-status'), e.message, true);
  }
}

function followJob(id) {
  setStatus($('train-status'), `job ${id} started`);
  const events = new EventSource(`${api}/jobs/${id}/events`);
  events.addEventListener('progress', (m) => {
    const p = JSON.parse(m.data);
    $('train-progress').value = p.fraction;
    state.lossPoints.push(p.loss);
    drawLoss();
    setStatus($('train-status'), `epoch ${p.epoch}/${p.epochs}, batch ${p.batch}/${p.batches}, loss ${p.loss.toFixed(4)}`);
  });
  events.addEventListener('validation', (m) => {
    const v = JSON.parse(m.data);
    setStatus($('train-status'), `epoch ${v.epoch}: validation accuracy ${(100 * v.accuracy).toFixed(1)}%`);
  });
  events.addEventListener('done', (m) => {
    const d = JSON.parse(m.data);
    events.close();
    $('train-progress').value = 1;
    $('train-button').disabled = false;
    const pct = (x) => (x === undefined ? '?' : `${(100 * x).toFixed(1)}%`);
    setStatus($('train-status'), `done: new version ${d.model}; test accuracy ${pct(d.before.accuracy)} → ` +
      `${pct(d.after.accuracy)}. Activate it below to use it.`);
    loadModels();
  });
  events.addEventListener('failed', (m) => {
    events.close();
    $('train-button').disabled = false;
    setStatus($('train-status'), `fine-tuning failed: ${JSON.parse(m.data).message}`, true);
  });
  events.onerror = () => { if (events.readyState === EventSource.CLOSED) $('train-button').disabled = false; };
}

function drawLoss() {
  const canvas = $('loss-chart');
  const ctx = canvas.getContext('2d');
  const w = canvas.width, h = canvas.height, pad = 28;
  ctx.clearRect(0, 0, w, h);
  ctx.fillStyle = '#5b6470';
  ctx.font = '12px system-ui';
  ctx.fillText('loss', 4, 14);
  const pts = state.lossPoints;
  if (pts.length < 2) return;
  const max = Math.max(...pts), min = Math.min(0, ...pts);
  ctx.fillText(max.toFixed(3), 4, pad);
  ctx.strokeStyle = '#0b5cad';
  ctx.lineWidth = 2;
  ctx.beginPath();
  pts.forEach((v, i) => {
    const x = pad + (i / (pts.length - 1)) * (w - 2 * pad);
    const y = h - pad - ((v - min) / (max - min || 1)) * (h - 2 * pad);
    if (i === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
  });
  ctx.stroke();
}

// ---- model versions ------------------------------------------------------------------
function confusionText(m) {
  if (!m || !m.confusion) return '';
  return m.confusion.map((row) => row.map((v) => String(v).padStart(4)).join('')).join('\n');
}

async function loadModels() {
  const body = $('models').querySelector('tbody');
  try {
    const r = await call('/models');
    body.replaceChildren();
    for (const m of r.models) {
      const tr = document.createElement('tr');
      const metrics = m.metrics || {};
      const pct = (x) => (typeof x === 'number' ? `${(100 * x).toFixed(1)}%` : '–');
      tr.innerHTML = '<td></td><td></td><td></td><td></td><td class="cm"></td><td></td>';
      const cells = tr.children;
      cells[0].textContent = m.id;
      cells[1].textContent = m.created_at;
      cells[2].textContent = pct(metrics.accuracy);
      cells[3].textContent = pct(metrics.macro_f1);
      cells[4].textContent = confusionText(metrics);
      if (m.active) {
        cells[5].textContent = 'active';
      } else {
        const b = document.createElement('button');
        b.type = 'button';
        b.textContent = 'Activate';
        b.setAttribute('aria-label', `activate model ${m.id}`);
        b.onclick = async () => {
          try {
            await call(`/models/${encodeURIComponent(m.id)}/activate`, { method: 'POST', headers: authHeaders() });
            await loadModel();
            loadModels();
            predict();
          } catch (e) { setStatus($('train-status'), e.message, true); }
        };
        cells[5].append(b);
      }
      body.append(tr);
    }
  } catch (e) {
    body.innerHTML = '<tr><td colspan="6"></td></tr>';
    body.querySelector('td').textContent = `model versions unavailable: ${e.message}`;
  }
}

// ---- wiring ---------------------------------------------------------------------------
function init() {
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
  $('method').addEventListener('change', predict);
  $('class').addEventListener('change', predict);
  $('opacity').addEventListener('input', applyOpacity);
  $('token').value = localStorage.getItem('cxr-token') || '';
  $('token').addEventListener('change', () => localStorage.setItem('cxr-token', $('token').value.trim()));
  $('add-sample').addEventListener('submit', addSample);
  $('filter-label').addEventListener('change', () => { state.page = 1; loadSamples(); });
  $('prev-page').addEventListener('click', () => { state.page -= 1; loadSamples(); });
  $('next-page').addEventListener('click', () => { state.page += 1; loadSamples(); });
  $('train-form').addEventListener('submit', startTraining);
  loadModel().then(() => { loadSamples(); loadModels(); });
}

document.addEventListener('DOMContentLoaded', init);
