// CXR browser UI, CT tab: upload a CT slice, see the predicted infection overlay and
// each class's share of the slice (POST /api/v1/segment, docs/openapi.yaml).
'use strict';

(() => {
  const el = (id) => document.getElementById(id);
  let latest = 0;  // the id of the latest request: a late answer to an earlier one is dropped

  function status(text, isError = false) {
    el('ct-status').textContent = text;
    el('ct-status').classList.toggle('error', isError);
  }

  async function segment(file) {
    const request = ++latest;
    status(`Segmenting ${file.name}…`);
    try {
      const res = await fetch('/api/v1/segment', { method: 'POST', headers: { 'Content-Type': file.type || 'application/octet-stream' }, body: file });
      const body = await res.json();
      if (request !== latest) return;
      if (!res.ok) throw new Error(body && body.error ? body.error.message : `HTTP ${res.status}`);
      el('ct-overlay').src = body.overlay_png;
      el('ct-overlay').hidden = false;
      const list = el('ct-areas');
      list.replaceChildren();
      for (const c of body.classes) {
        const li = document.createElement('li');
        li.textContent = `${c.class}: ${(100 * c.area_fraction).toFixed(1)}% of the slice`;
        list.append(li);
      }
      status(`${file.name}: ${body.image.width}×${body.image.height} px, ${body.task} model, ${Math.round(body.timings_ms.total)} ms`);
    } catch (e) {
      if (request === latest) status(`Segmentation failed: ${e.message}`, true);
    }
  }

  function choose(files) {
    if (files && files.length) segment(files[0]);
  }

  document.addEventListener('DOMContentLoaded', () => {
    const drop = el('ct-drop');
    const input = el('ct-file');
    drop.addEventListener('click', () => input.click());
    drop.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); input.click(); }
    });
    drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
    drop.addEventListener('dragleave', () => drop.classList.remove('over'));
    drop.addEventListener('drop', (e) => { e.preventDefault(); drop.classList.remove('over'); choose(e.dataTransfer.files); });
    input.addEventListener('change', () => choose(input.files));
  });
})();
