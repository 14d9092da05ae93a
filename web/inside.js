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
  for (const name of model.classes || []) {
    byId('inside-class').append(new Option(name, name));
    byId('inside-step-label').append(new Option(name, name));
  }
}

const svgNs = 'http://www.w3.org/2000/svg';
function svgElement(name, attributes, text) {
  const el = document.createElementNS(svgNs, name);
  for (const [k, v] of Object.entries(attributes)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

// A kernel's share of the roofline, "12%", or "–" for one without arithmetic or time.
function roofShare(point) {
  return point ? `${(100 * point.share).toFixed(point.share < 0.1 ? 1 : 0)}%` : '–';
}

// Intensity, achieved rate and share of one pass, for a node's tooltip.
function roofText(pass, point) {
  if (!point) return `${pass}: no arithmetic timed`;
  return `${pass}: ${point.intensity.toFixed(2)} FLOP/byte (${point.bound}-bound), `
    + `${(point.achieved_flops / 1e9).toFixed(2)} of ${(point.attainable_flops / 1e9).toFixed(2)} GFLOP/s attainable `
    + `= ${roofShare(point)}`;
}

// The graph as a column of ops in the order they ran; an input from the op just
// above is the column itself, any other is an arc on the right.
function drawGraph(step) {
  const rowHeight = 34, boxWidth = 580, boxHeight = 26, left = 10;
  const slowest = Math.max(...step.nodes.map((n) => n.forward_ms + n.backward_ms), 1e-9);
  const parts = [];
  step.nodes.forEach((n, i) => {
    const y = 10 + i * rowHeight;
    const params = n.inputs.filter((x) => x && x.leaf !== undefined).length;
    const title = svgElement('title', {}, `node ${n.id}: ${n.op}, forward ${n.forward_ms.toFixed(3)} ms, backward `
      + `${n.backward_ms.toFixed(3)} ms, ${(n.flops_forward / 1e6).toFixed(2)} MFLOP forward; `
      + `${roofText('forward', n.roofline_forward)}; ${roofText('backward', n.roofline_backward)}`);
    const group = svgElement('g', { 'data-node': n.id });
    group.addEventListener('click', () => { byId('inside-node').value = String(n.id); showNodeValues(step); });
    group.append(title,
      svgElement('rect', { class: 'node', x: left, y, width: boxWidth, height: boxHeight, rx: 4 }),
      svgElement('rect', { class: 'time', x: left, y: y + boxHeight - 4, height: 4,
        width: Math.max(1, (boxWidth * (n.forward_ms + n.backward_ms)) / slowest) }),
      svgElement('text', { x: left + 8, y: y + 17 },
        `${n.op} [${n.shape.join('×')}]${params ? ` +${params} tensor${params > 1 ? 's' : ''}` : ''}  `
        + `${n.forward_ms.toFixed(1)} / ${n.backward_ms.toFixed(1)} ms  `
        + `roof ${roofShare(n.roofline_forward)} / ${roofShare(n.roofline_backward)}`));
    parts.push(group);
    for (const input of n.inputs) {
      if (!input || input.node === undefined || input.node === n.id - 1) continue;
      const from = 10 + input.node * rowHeight + boxHeight / 2, to = y + boxHeight / 2;
      const reach = Math.min(120, 20 + (to - from) / 8);
      parts.push(svgElement('path', { d: `M ${left + boxWidth} ${from} C ${left + boxWidth + reach} ${from}, `
        + `${left + boxWidth + reach} ${to}, ${left + boxWidth} ${to}` }));
    }
  });
  const svg = byId('inside-graph');
  svg.setAttribute('width', String(boxWidth + 160));
  svg.setAttribute('height', String(20 + step.nodes.length * rowHeight));
  svg.replaceChildren(...parts);
}

// The chosen op's sampled tensors: input, output and the loss's gradient at the same flat indices.
function showNodeValues(step) {
  const n = step.nodes[Number(byId('inside-node').value)];
  if (!n || !n.values) return;
  const v = n.values;
  byId('inside-node-values').replaceChildren(...v.index.map((index, j) => {
    const row = document.createElement('tr');
    for (const text of [index, v.input ? fmt(v.input[j]) : '–', fmt(v.output[j]),
      v.gradient.length ? fmt(v.gradient[j]) : '–']) row.insertCell().textContent = text;
    return row;
  }));
}

function listNodes(step) {
  const select = byId('inside-node');
  select.replaceChildren(...step.nodes.map((n) => new Option(`${n.id} ${n.op} [${n.shape.join('×')}]`, String(n.id))));
  select.disabled = false;
  select.onchange = () => showNodeValues(step);
  showNodeValues(step);
}

// A few of a parameter's values before and after the step, with their gradients:
// a table inside a <details> that the parameter's name opens.
function shownValues(u) {
  const details = document.createElement('details');
  details.append(Object.assign(document.createElement('summary'), { textContent: u.name }));
  const table = document.createElement('table');
  table.className = 'values';
  const head = table.createTHead().insertRow();
  for (const text of ['index', 'w before', 'g', 'w after']) head.append(Object.assign(document.createElement('th'),
    { textContent: text, scope: 'col' }));
  const body = table.createTBody();
  u.values.index.forEach((index, j) => {
    const row = body.insertRow();
    for (const text of [index, fmt(u.values.before[j]), fmt(u.values.gradient[j]), fmt(u.values.after[j])])
      row.insertCell().textContent = text;
  });
  details.append(table);
  return details;
}

function showUpdates(step) {
  byId('inside-updates').replaceChildren(...step.updates.map((u) => {
    const row = document.createElement('tr');
    row.insertCell().append(shownValues(u));
    for (const text of [fmt(u.weight_norm), fmt(u.grad_norm), fmt(u.update_ratio)])
      row.append(Object.assign(document.createElement('td'), { textContent: text }));
    return row;
  }));
}

async function runStep() {
  if (!inside.file) return;
  const button = byId('inside-step-run');
  button.disabled = true;
  byId('inside-step-status').textContent = 'running one training step…';
  try {
    const label = encodeURIComponent(byId('inside-step-label').value);
    const res = await fetch(`${insideApi}/inspect/step?label=${label}`, {
      method: 'POST', headers: { 'Content-Type': inside.file.type || 'application/octet-stream' }, body: inside.file,
    });
    const step = await res.json();
    if (!res.ok) throw new Error(step.error ? step.error.message : `HTTP ${res.status}`);
    drawGraph(step);
    listNodes(step);
    showUpdates(step);
    showStepTensors(step);  // inside_tensor.js
    const s = step.seconds;
    byId('inside-step-status').textContent = `loss ${fmt(step.loss)}; ${step.nodes.length} ops; forward `
      + `${(1e3 * s.forward).toFixed(0)} ms, backward ${(1e3 * s.backward).toFixed(0)} ms, AdamW `
      + `${(1e3 * s.optimizer).toFixed(1)} ms`;
    const r = step.roofline;
    byId('inside-step-roofline').textContent = r.peak_flops > 0
      ? `Roofline of ${r.threads} thread${r.threads === 1 ? '' : 's'} (${r.isa}): peak `
        + `${(r.peak_flops / 1e9).toFixed(1)} GFLOP/s, memory ${(r.bandwidth / 1e9).toFixed(1)} GB/s; below `
        + `${r.ridge_intensity.toFixed(1)} FLOP/byte a kernel is memory-bound.`
      : 'No roofline: the step ran on a GPU.';
  } catch (e) {
    byId('inside-step-status').textContent = e.message;
  } finally {
    button.disabled = false;
  }
}

function start() {
  loadClasses();
  const rerun = () => { if (inside.file) showLayer(inside.layer || 'stem'); };
  byId('inside-file').addEventListener('change', (e) => {
    inside.file = e.target.files[0] || null;
    byId('inside-step-run').disabled = !inside.file;
    rerun();
  });
  byId('inside-step-run').addEventListener('click', runStep);
  byId('inside-objective').addEventListener('change', rerun);
  byId('inside-class').addEventListener('change', rerun);
}

start();
