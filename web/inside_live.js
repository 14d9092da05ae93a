// The Inside page's section 5: a fine-tune job's per-layer telemetry, live, over
// GET /api/v1/jobs/{id}/telemetry/stream (docs/openapi.yaml), drawn as two SVG
// line charts on a log scale: each layer's gradient norm and update/weight ratio
// against the optimizer step. Uses inside.js (loaded first): byId, insideApi, svgElement,
// and event_stream.js: openEventStream.
'use strict';

const live = { source: null, records: [] };
// One line per layer of log10(record.layers[i][key]) against record.step.
function drawChart(svg, key) {
  const width = 640, height = 260, left = 48, bottom = 24, top = 8;
  svg.replaceChildren();
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  const points = new Map();  // layer -> [[step, log10 value]]
  for (const r of live.records)
    for (const l of r.layers)
      if (typeof l[key] === 'number' && l[key] > 0) {
        if (!points.has(l.name)) points.set(l.name, []);
        points.get(l.name).push([r.step, Math.log10(l[key])]);
      }
  const all = [...points.values()].flat();
  if (all.length === 0) return;
  const [x0, x1] = [Math.min(...all.map((p) => p[0])), Math.max(...all.map((p) => p[0]))];
  const [y0, y1] = [Math.floor(Math.min(...all.map((p) => p[1]))), Math.ceil(Math.max(...all.map((p) => p[1])))];
  const x = (s) => left + (x1 > x0 ? (s - x0) / (x1 - x0) : 0.5) * (width - left - 8);
  const y = (v) => top + (y1 > y0 ? (y1 - v) / (y1 - y0) : 0.5) * (height - top - bottom);
  for (let e = y0; e <= y1; ++e) {
    svg.append(svgElement('line', { x1: left, x2: width - 8, y1: y(e), y2: y(e), class: 'grid' }));
    svg.append(svgElement('text', { x: 4, y: y(e) + 4 }, `1e${e}`));
  }
  svg.append(svgElement('text', { x: left, y: height - 4 }, `steps ${x0}–${x1}`));
  [...points.keys()].forEach((name, i) => {
    const hue = Math.round((360 * i) / points.size);
    const path = svgElement('polyline', {
      points: points.get(name).map(([s, v]) => `${x(s)},${y(v)}`).join(' '), stroke: `hsl(${hue} 70% 42%)`,
    });
    path.append(svgElement('title', {}, name));
    const [lastStep, lastValue] = points.get(name)[points.get(name).length - 1];
    svg.append(path, svgElement('text', { x: x(lastStep) - 4, y: y(lastValue) - 4, 'text-anchor': 'end',
      fill: `hsl(${hue} 70% 32%)` }, name));
  });
}

function drawLive() {
  drawChart(byId('inside-live-grad'), 'grad_norm');
  drawChart(byId('inside-live-ratio'), 'update_ratio');
  const last = live.records[live.records.length - 1];
  byId('inside-live-status').textContent = last
    ? `${live.records.length} records; step ${last.step}, epoch ${last.epoch}, loss ${last.loss.toFixed(4)}`
    : 'waiting for the first record (one every 10 steps)';
}

// The jobs are private: the token the main page keeps (its Access token field).
function tokenHeaders() {
  const token = localStorage.getItem('cxr-token') || '';
  return token ? { Authorization: `Bearer ${token}` } : {};
}

function follow() {
  const id = byId('inside-live-job').value.trim();
  if (!/^[0-9]+$/.test(id)) {
    byId('inside-live-status').textContent = 'give a job number';
    return;
  }
  if (live.source) live.source.close();
  live.records = [];
  drawLive();
  const status = byId('inside-live-status');
  live.source = openEventStream(`${insideApi}/jobs/${id}/telemetry/stream`, tokenHeaders(), (name, data) => {
    if (name !== 'telemetry') return;
    live.records.push(JSON.parse(data));
    drawLive();
  }, (error) => {
    live.source = null;
    status.textContent = error ? `no telemetry for job ${id}: ${error.message}` : `${status.textContent} — the job has ended`;
  });
}

async function latestJob() {
  if (!localStorage.getItem('cxr-token')) return;  // jobs are listed only with the token
  try {
    const res = await fetch(`${insideApi}/jobs?limit=1`, { headers: tokenHeaders() });
    const jobs = res.ok ? (await res.json()).jobs : [];
    if (jobs.length > 0) byId('inside-live-job').value = jobs[0].id;
  } catch (e) { /* a server without fine-tuning: the field stays empty */ }
}

byId('inside-live-follow').addEventListener('click', follow);
latestJob();
