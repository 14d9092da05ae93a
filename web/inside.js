// The Inside page: POST /api/v1/inspect (docs/openapi.yaml) for the chosen image,
// the layers as a column, and for the clicked layer its montages and histograms.
'use strict';

const insideApi = '/api/v1';
const byId = (id) => document.getElementById(id);
// file: the chosen image; layer: the one on screen. The server inspects one image
// at a time, so this page sends one request at a time: a change while one is in
// flight is remembered (pending) and sent when the answer arrives.
const inside = { file: null, layer: null, busy: false, pending: null };

async function postInspect(query) {
  const res = await fetch(`${insideApi}/inspect${query}`, {
    method: 'POST', headers: { 'Content-Type': inside.file.type || 'application/octet-stream' }, body: inside.file,
  });
  const body = await res.json();
  if (!res.ok) throw new Error(body.error ? body.error.message : `HTTP ${res.status}`);
  return body;
}

function query(layer) {
  const params = new URLSearchParams();
  const cls = byId('inside-class').value;
  if (cls) params.set(byId('inside-objective').value, cls);
  if (layer) params.set('layer', layer);
  const text = params.toString();
  return text ? `?${text}` : '';
}

function histogram(svg, stats) {
  const counts = stats.histogram.counts;
  const peak = Math.max(1, ...counts);
  const width = 400, height = 100, bar = width / counts.length;
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.replaceChildren(...counts.map((c, i) => {
    const rect = document.createElementNS('http://www.w3.org/2000/svg', 'rect');
    const h = (c / peak) * height;
    rect.setAttribute('x', String(i * bar));
    rect.setAttribute('y', String(height - h));
    rect.setAttribute('width', String(Math.max(1, bar - 1)));
    rect.setAttribute('height', String(h));
    return rect;
  }));
}

const fmt = (x) => (Math.abs(x) >= 1e-3 && Math.abs(x) < 1e4 ? x.toPrecision(3) : x.toExponential(2));

function showLayers(result) {
  const largest = Math.max(...result.layers.map((l) => l.gradient.norm));
  byId('inside-layers').replaceChildren(...result.layers.map((l) => {
    const item = document.createElement('li');
    const button = document.createElement('button');
    button.type = 'button';
    button.dataset.layer = l.name;
    button.setAttribute('aria-pressed', String(l.name === inside.layer));
    const bar = document.createElement('span');
    bar.className = 'bar';
    bar.style.width = `${(100 * l.gradient.norm) / largest}%`;
    const barCell = document.createElement('span');
    barCell.append(bar, ` ${fmt(l.gradient.norm)}`);
    const cells = [l.name, l.shape.join('×'), `${(100 * l.activation.zero_fraction).toFixed(1)}% zero`];
    button.append(...cells.map((t) => Object.assign(document.createElement('span'), { textContent: t })), barCell);
    button.addEventListener('click', () => showLayer(l.name));
    item.append(button);
    return item;
  }));
}

async function showLayer(name) {
  if (inside.busy) {
    inside.pending = name;
    return;
  }
  inside.busy = true;
  inside.layer = name;
  byId('inside-status').textContent = `inspecting ${name}…`;
  try {
    const result = await postInspect(query(name));
    if (inside.pending) return;  // the answer to an earlier choice: the finally block asks again
    showLayers(result);
    const layer = result.layers.find((l) => l.name === name);
    byId('inside-layer-name').textContent = `Layer ${name} (${result.montages.channels_shown} of ${layer.shape[1]} channels)`;
    byId('inside-activation').src = result.montages.activation_png;
    byId('inside-gradient').src = result.montages.gradient_png;
    histogram(byId('inside-activation-histogram'), layer.activation);
    histogram(byId('inside-gradient-histogram'), layer.gradient);
    byId('inside-activation-caption').textContent =
      `activations from ${fmt(layer.activation.min)} to ${fmt(layer.activation.max)}, mean ${fmt(layer.activation.mean)}`;
    byId('inside-gradient-caption').textContent =
      `gradients from ${fmt(layer.gradient.min)} to ${fmt(layer.gradient.max)}, norm ${fmt(layer.gradient.norm)}`;
    byId('inside-status').textContent =
      `${result.objective === 'loss' ? 'loss for' : 'score of'} ${result.class}: J = ${fmt(result.objective_value)}`;
  } catch (e) {
    if (!inside.pending) byId('inside-status').textContent = e.message;
  } finally {
    inside.busy = false;
    const next = inside.pending;
    inside.pending = null;
    if (next) showLayer(next);
  }
}

async function loadClasses() {
  const res = await fetch(`${insideApi}/model`);
  if (!res.ok) return;
  const model = await res.json();
  for (const name of model.classes || []) byId('inside-class').append(new Option(name, name));
}

function start() {
  loadClasses();
  const rerun = () => { if (inside.file) showLayer(inside.layer || 'stem'); };
  byId('inside-file').addEventListener('change', (e) => {
    inside.file = e.target.files[0] || null;
    rerun();
  });
  byId('inside-objective').addEventListener('change', rerun);
  byId('inside-class').addEventListener('change', rerun);
}

start();
