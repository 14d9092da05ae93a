// The Inside page's whole-tensor view of a training step: pick an op's output or
// gradient, or a parameter before / after the update or its gradient, see one
// channel (a plane of the last two dimensions) as an image, the histogram of the
// whole tensor, and the exact value under the pointer. The values come from
// GET /api/v1/inspect/step/{id}/tensor (docs/openapi.yaml), one plane at a time.
'use strict';

const tensorView = { step: null, plane: null, values: null, pinned: null };
const tensorById = (id) => document.getElementById(id);

// The tensors the step kept: [{label, ref: 'node=3' | 'leaf=2', kinds: [[kind, label, whole]]}].
function stepTensors(step) {
  const nodes = step.nodes.map((n) => ({
    label: `op ${n.id} ${n.op} [${n.shape.join('×')}]`, ref: `node=${n.id}`, shape: n.shape,
    kinds: [['output', 'output value', n.whole.output], ['gradient', '∂loss/∂output', n.whole.gradient]],
  }));
  const leaves = step.leaves.map((l) => ({
    label: `${l.name === 'input' ? 'input' : 'parameter'} ${l.name} [${l.shape.join('×')}]`, ref: `leaf=${l.id}`,
    shape: l.shape,
    kinds: [['value', l.name === 'input' ? 'value' : 'before the update', l.whole.value],
      ['after', 'after the update', l.whole.after], ['gradient', '∂loss/∂w', l.whole.gradient]],
  }));
  return [...nodes, ...leaves];
}

// How a tensor is cut into planes: the last two dimensions (trailing 1s dropped);
// a matrix or vector in row blocks of at most maxCount values.
function planeLayout(shape, maxCount) {
  const dims = shape.slice();
  while (dims.length > 1 && dims[dims.length - 1] === 1) dims.pop();
  const numel = shape.reduce((a, b) => a * b, 1);
  if (dims.length >= 3) {
    const height = dims[dims.length - 2], width = dims[dims.length - 1];
    return { height, width, planes: numel / (height * width), label: 'channel' };
  }
  const width = dims.length === 2 ? dims[1] : Math.min(numel, 64);
  const rows = Math.max(1, Math.floor(Math.min(maxCount, numel) / width));
  const allRows = Math.ceil(numel / width);
  return { height: Math.min(rows, allRows), width, planes: Math.ceil(allRows / rows), label: 'row block' };
}

// Blue (negative) – white (0) – red (positive), scaled by the plane's largest |value|.
function diverging(v, scale) {
  const t = Math.max(-1, Math.min(1, v / scale));
  const fade = Math.round(255 * (1 - Math.abs(t)));
  return t >= 0 ? [255, fade, fade] : [fade, fade, 255];
}

function drawPlane(values, layout) {
  const canvas = tensorById('inside-tensor-canvas');
  canvas.width = layout.width;
  canvas.height = Math.ceil(values.length / layout.width);
  const ctx = canvas.getContext('2d');
  const image = ctx.createImageData(canvas.width, canvas.height);
  const scale = Math.max(1e-30, ...values.map(Math.abs));
  values.forEach((v, i) => {
    const [r, g, b] = diverging(v, scale);
    image.data.set([r, g, b, 255], 4 * i);
  });
  ctx.putImageData(image, 0, 0);
  const zoom = Math.max(1, Math.floor(384 / Math.max(canvas.width, canvas.height)));
  canvas.style.width = `${canvas.width * zoom}px`;
  canvas.style.height = `${canvas.height * zoom}px`;
}

function describeValue(event) {
  const canvas = tensorById('inside-tensor-canvas');
  const v = tensorView.values;
  if (!v) return null;
  const col = Math.floor((event.offsetX / canvas.clientWidth) * canvas.width);
  const row = Math.floor((event.offsetY / canvas.clientHeight) * canvas.height);
  const i = row * canvas.width + col;
  if (col < 0 || row < 0 || col >= canvas.width || i >= v.values.length) return null;
  // String(x): the shortest decimal that reads back as this float32 value exactly.
  return `flat index ${v.offset + i} (row ${row}, column ${col}): ${String(v.values[i])}`;
}

async function showTensorPlane() {
  const choice = tensorView.choices[Number(tensorById('inside-tensor').value)];
  const kind = tensorById('inside-tensor-kind').value;
  const whole = choice.kinds.find((k) => k[0] === kind)[2];
  const status = tensorById('inside-tensor-value');
  tensorView.values = null;
  if (!whole.kept) {
    status.textContent = `Not kept: ${whole.reason}.`;
    return;
  }
  const layout = planeLayout(choice.shape, tensorView.maxCount);
  const planeInput = tensorById('inside-tensor-plane');
  planeInput.max = String(layout.planes - 1);
  const plane = Math.min(Number(planeInput.value) || 0, layout.planes - 1);
  const numel = choice.shape.reduce((a, b) => a * b, 1);
  const offset = plane * layout.height * layout.width;
  const count = Math.min(layout.height * layout.width, numel - offset);
  const res = await fetch(`${insideApi}/inspect/step/${tensorView.step.step_id}/tensor?${choice.ref}`
    + `&kind=${kind}&offset=${offset}&count=${count}`);
  const body = await res.json();
  if (!res.ok) {
    status.textContent = body.error ? body.error.message : `HTTP ${res.status}`;
    return;
  }
  tensorView.values = body;
  drawPlane(body.values, layout);
  histogram(tensorById('inside-tensor-histogram'), body.stats);
  const s = body.stats;
  tensorById('inside-tensor-caption').textContent = `${layout.label} ${plane} of ${layout.planes} `
    + `(${layout.height}×${layout.width}); the whole tensor's ${body.numel} values from ${fmt(s.min)} to `
    + `${fmt(s.max)}, mean ${fmt(s.mean)}, norm ${fmt(s.norm)} (histogram)`;
  status.textContent = 'Point at a value to read it; click to keep it.';
}

function listKinds() {
  const choice = tensorView.choices[Number(tensorById('inside-tensor').value)];
  tensorById('inside-tensor-kind').replaceChildren(...choice.kinds.map(([kind, label, whole]) =>
    new Option(whole.kept ? label : `${label} (not kept)`, kind)));
  tensorById('inside-tensor-plane').value = '0';
  showTensorPlane();
}

// Called by inside.js when a step's answer arrives.
function showStepTensors(step) {
  if (!step.whole_tensors) return;
  tensorView.step = step;
  tensorView.maxCount = 65536;
  tensorView.choices = stepTensors(step);
  const select = tensorById('inside-tensor');
  select.replaceChildren(...tensorView.choices.map((c, i) => new Option(c.label, String(i))));
  select.disabled = false;
  listKinds();
}

function startTensorView() {
  tensorById('inside-tensor').addEventListener('change', listKinds);
  tensorById('inside-tensor-kind').addEventListener('change', showTensorPlane);
  tensorById('inside-tensor-plane').addEventListener('change', showTensorPlane);
  const canvas = tensorById('inside-tensor-canvas');
  canvas.addEventListener('mousemove', (e) => {
    const text = describeValue(e);
    if (text) tensorById('inside-tensor-value').textContent = text;
  });
  canvas.addEventListener('click', (e) => {
    const text = describeValue(e);
    if (text) tensorById('inside-tensor-pinned').textContent = `kept: ${text}`;
  });
}

startTensorView();
