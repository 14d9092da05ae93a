// Server-sent events read with fetch, so that the request carries the token: the job
// streams are private, and EventSource cannot send an Authorization header.
'use strict';

// Calls onEvent(name, data) for each event of the text/event-stream at `url`, then
// onEnd(error) once: error is null when the server ended the stream or close() was
// called, else an Error with the server's message. Returns { close }.
function openEventStream(url, headers, onEvent, onEnd = () => {}) {
  const controller = new AbortController();
  (async () => {
    const res = await fetch(url, { headers: { ...headers, Accept: 'text/event-stream' }, signal: controller.signal });
    if (!res.ok) {
      const body = await res.json().catch(() => null);
      throw new Error(body && body.error ? body.error.message : `HTTP ${res.status}`);
    }
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value.replace(/\r\n?/g, '\n');
      for (let end; (end = buffer.indexOf('\n\n')) >= 0; buffer = buffer.slice(end + 2)) {
        let name = 'message';
        const data = [];
        for (const line of buffer.slice(0, end).split('\n')) {
          if (line.startsWith('event:')) name = line.slice(6).trim();
          else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
        }
        if (data.length > 0) onEvent(name, data.join('\n'));
      }
    }
  })().then(() => onEnd(null), (e) => onEnd(controller.signal.aborted ? null : e));
  return { close: () => controller.abort() };
}
