// The live training view: server-sent events from /events, one per epoch.
'use strict';
(() => {
  const $ = (id) => document.getElementById(id);
  const epochs = [];
  let planned = null;
  const fmt = (x) => (x === undefined || x === null ? '–' : Math.abs(x) < 0.001 && x !== 0 ? x.toExponential(3) : (+x).toPrecision(4));

  function curve() {
    const el = $('curve');
    el.textContent = '';
    if (!epochs.length) return;
    const W = 520, H = 220, P = 36, ns = 'http://www.w3.org/2000/svg';
    const svg = document.createElementNS(ns, 'svg');
    svg.setAttribute('viewBox', `0 0 ${W} ${H}`); svg.setAttribute('width', String(W));
    const vals = epochs.flatMap((e) => [e.trainLoss, e.valLoss]).filter(Number.isFinite);
    const lo = Math.min(...vals), hi = Math.max(...vals);
    const n = Math.max(planned || 0, epochs.length);
    const x = (ep) => P + (n <= 1 ? (W - 2 * P) / 2 : ((ep - 1) * (W - 2 * P)) / (n - 1));
    const y = (v) => H - P + ((v - lo) / (hi - lo || 1)) * (2 * P - H);
    for (const [key, colour] of [['trainLoss', '#1f5fbf'], ['valLoss', '#e07b00']]) {
      const pts = epochs.filter((e) => Number.isFinite(e[key]));
      if (!pts.length) continue;
      const line = document.createElementNS(ns, 'polyline');
      line.setAttribute('points', pts.map((e) => `${x(e.epoch).toFixed(1)},${y(e[key]).toFixed(1)}`).join(' '));
      line.setAttribute('fill', 'none'); line.setAttribute('stroke', colour); line.setAttribute('stroke-width', '2');
      line.setAttribute('data-series', key);
      svg.appendChild(line);
      for (const e of pts) {
        const c = document.createElementNS(ns, 'circle');
        c.setAttribute('cx', x(e.epoch).toFixed(1)); c.setAttribute('cy', y(e[key]).toFixed(1)); c.setAttribute('r', '3'); c.setAttribute('fill', colour);
        svg.appendChild(c);
      }
    }
    const label = (t, lx, ly) => { const e = document.createElementNS(ns, 'text'); e.setAttribute('x', lx); e.setAttribute('y', ly); e.textContent = t; svg.appendChild(e); };
    label(fmt(hi), 2, P - 6); label(fmt(lo), 2, H - P + 14); label('epoch', W / 2 - 12, H - 6);
    el.appendChild(svg);
    const legend = document.createElement('div');
    legend.className = 'legend';
    legend.innerHTML = '<span class="train">■ training loss</span> <span class="val">■ validation loss</span>';
    el.appendChild(legend);
  }

  function images(id, urls) {
    const el = $(id);
    el.textContent = '';
    for (const u of urls) { const img = document.createElement('img'); img.src = u; img.alt = ''; el.appendChild(img); }
  }

  const source = new EventSource('events');
  source.addEventListener('setup', (m) => {
    const d = JSON.parse(m.data);
    planned = d.epochs;
    $('title').textContent = d.title;
    document.title = `vigil: ${d.title}`;
    $('progress').textContent = 'waiting for the first epoch…';
  });
  source.addEventListener('images', (m) => images('originals', JSON.parse(m.data)));
  source.addEventListener('epoch', (m) => {
    const e = JSON.parse(m.data);
    epochs.push(e);
    const tr = document.createElement('tr');
    for (const v of [e.epoch, fmt(e.trainLoss), fmt(e.valLoss), fmt(e.lr), e.seconds.toFixed(1)]) { const td = document.createElement('td'); td.textContent = String(v); tr.appendChild(td); }
    $('epochs').appendChild(tr);
    $('progress').textContent = `epoch ${e.epoch}${planned ? ` of ${planned}` : ''}`;
    if (e.reconstructions) { images('recons', e.reconstructions); $('recon-epoch').textContent = `(epoch ${e.epoch})`; }
    curve();
  });
  source.addEventListener('done', (m) => {
    $('progress').textContent = JSON.parse(m.data).message;
    document.body.dataset.done = 'true';
    source.close();
  });
  source.onerror = () => { if (!document.body.dataset.done) $('progress').textContent = 'connection lost; retrying…'; };
})();
