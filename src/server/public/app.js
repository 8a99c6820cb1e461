// vigil's web page: drop images, see each verdict, score and error-map overlay; a threshold
// slider re-labels the images here (the server's verdicts use the model's threshold).
'use strict';
(() => {
  const $ = (id) => document.getElementById(id);
  const params = new URLSearchParams(location.search);
  let token = params.get('token') || sessionStorage.getItem('vigil-token') || '';
  if (params.has('token')) { sessionStorage.setItem('vigil-token', token); history.replaceState(null, '', location.pathname); }
  const state = { models: [], model: null, results: [], threshold: NaN };

  async function api(path, init = {}) {
    const headers = Object.assign({}, init.headers, token ? { Authorization: `Bearer ${token}` } : {});
    const res = await fetch(path, Object.assign({}, init, { headers }));
    if (res.status === 401) {
      const t = prompt('This vigil server needs its token:');
      if (t) { token = t; sessionStorage.setItem('vigil-token', t); return api(path, init); }
    }
    const body = await res.json().catch(() => ({ error: { message: `HTTP ${res.status}` } }));
    if (!res.ok) throw new Error(body.error ? body.error.message : `HTTP ${res.status}`);
    return body;
  }

  const fmt = (x) => (x === undefined || x === null ? '–' : Math.abs(x) >= 1000 || (Math.abs(x) < 0.001 && x !== 0) ? x.toExponential(2) : (+x).toPrecision(4));

  function curve(el, history) {
    el.textContent = '';
    if (!history || history.length === 0) return;
    const W = 268, H = 120, P = 24;
    const ns = 'http://www.w3.org/2000/svg';
    const svg = document.createElementNS(ns, 'svg');
    svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
    svg.setAttribute('width', String(W));
    const vals = history.flatMap((h) => [h.trainLoss, h.valLoss]).filter((v) => Number.isFinite(v));
    const lo = Math.min(...vals), hi = Math.max(...vals);
    const x = (i) => P + (history.length === 1 ? (W - 2 * P) / 2 : (i * (W - 2 * P)) / (history.length - 1));
    const y = (v) => H - P + ((v - lo) / (hi - lo || 1)) * (2 * P - H);
    for (const [key, colour] of [['trainLoss', '#1f5fbf'], ['valLoss', '#e07b00']]) {
      const pts = history.map((h, i) => [i, h[key]]).filter(([, v]) => Number.isFinite(v));
      if (!pts.length) continue;
      const path = document.createElementNS(ns, 'polyline');
      path.setAttribute('points', pts.map(([i, v]) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' '));
      path.setAttribute('fill', 'none'); path.setAttribute('stroke', colour); path.setAttribute('stroke-width', '2');
      svg.appendChild(path);
      for (const [i, v] of pts) {
        const c = document.createElementNS(ns, 'circle');
        c.setAttribute('cx', x(i).toFixed(1)); c.setAttribute('cy', y(v).toFixed(1)); c.setAttribute('r', '2.5'); c.setAttribute('fill', colour);
        svg.appendChild(c);
      }
    }
    const label = (t, lx, ly) => { const e = document.createElementNS(ns, 'text'); e.setAttribute('x', lx); e.setAttribute('y', ly); e.textContent = t; svg.appendChild(e); };
    label(fmt(hi), 2, P - 4); label(fmt(lo), 2, H - P + 12); label(`epoch ${history.length}`, W - P - 40, H - 4);
    el.appendChild(svg);
    const legend = document.createElement('div');
    legend.className = 'legend';
    legend.innerHTML = '<span class="train">■ training loss</span> <span class="val">■ validation loss</span>';
    el.appendChild(legend);
  }

  function showCard(m) {
    const dl = $('card-facts');
    dl.textContent = '';
    const s = m.summary || {};
    const t = s.training || {};
    const pre = s.preprocessing || {};
    const facts = [
      ['name', m.name], ['version', m.version], ['model', s.model], ['input', pre.width ? `${pre.width}×${pre.height}, ${pre.channels === 1 ? 'gray' : 'RGB'}, ${pre.resize}` : '–'],
      ['score', s.score], ['threshold', fmt(s.thresholds && s.thresholds[s.score])],
      ['trained on', t.items !== undefined ? `${t.items} images (${t.validationItems} held out)` : '–'],
      ['normal class', t.normalClass !== undefined ? [].concat(t.normalClass).join(', ') : '–'],
      ['epochs', t.epochs !== undefined ? `${t.epochs} (best ${t.bestEpoch})` : '–'],
      ['training time', t.seconds !== undefined ? `${t.seconds.toFixed(1)} s on ${t.device}` : '–'],
    ];
    for (const [k, v] of facts) {
      const dt = document.createElement('dt'); dt.textContent = k;
      const dd = document.createElement('dd'); dd.textContent = v === undefined ? '–' : String(v);
      dl.append(dt, dd);
    }
    curve($('card-curve'), t.history);
  }

  function modelThreshold() {
    const s = state.model && state.model.summary;
    return s ? s.thresholds[s.score] : 0;
  }

  function setRange() {
    const slider = $('threshold');
    const th = modelThreshold();
    const scores = state.results.filter((r) => !r.error).map((r) => r.score).concat([th]);
    let lo = Math.min(...scores), hi = Math.max(...scores);
    const pad = (hi - lo) * 0.15 || Math.abs(th) * 0.5 || 1;
    lo -= pad; hi += pad;
    slider.min = String(lo); slider.max = String(hi); slider.step = String((hi - lo) / 1000);
    if (!Number.isFinite(state.threshold)) state.threshold = th;
    slider.value = String(state.threshold);
  }

  function render() {
    const slider = $('threshold');
    const lo = +slider.min, hi = +slider.max;
    const th = state.threshold;
    $('threshold-value').textContent = fmt(th);
    let flagged = 0, scored = 0;
    for (const r of state.results) {
      const el = r.el;
      if (r.error) { el.className = 'result error'; el.querySelector('.verdict').textContent = 'error'; el.querySelector('.nums').textContent = r.error; continue; }
      scored++;
      const bad = r.score > th;
      if (bad) flagged++;
      el.className = `result ${bad ? 'anomaly' : 'normal'}`;
      el.dataset.verdict = bad ? 'anomaly' : 'normal';
      el.querySelector('.verdict').textContent = bad ? 'ANOMALY' : 'normal';
      const pos = (v) => `${Math.max(0, Math.min(100, ((v - lo) / (hi - lo || 1)) * 100))}%`;
      el.querySelector('.fill').style.width = pos(r.score);
      el.querySelector('.mark').style.left = pos(th);
      el.querySelector('.nums').textContent = `score ${fmt(r.score)} ${bad ? '>' : '≤'} ${fmt(th)}`;
    }
    $('summary').textContent = state.results.length ? `${scored} images, ${flagged} anomalous at this threshold` : '';
  }

  async function upload(files) {
    const list = [...files].filter((f) => f.type.startsWith('image/') || /\.(png|jpe?g|bmp|tiff?|webp|gif)$/i.test(f.name));
    if (!list.length || !state.model) return;
    $('status').textContent = `scoring ${list.length} image(s)…`;
    for (let i = 0; i < list.length; i += 16) {
      const chunk = list.slice(i, i + 16);
      const form = new FormData();
      for (const f of chunk) form.append('images', f, f.name);
      const entries = chunk.map((f) => {
        const el = $('result-tpl').content.firstElementChild.cloneNode(true);
        el.querySelector('.name').textContent = f.name;
        el.querySelector('.verdict').textContent = '…';
        $('results').appendChild(el);
        return { el, name: f.name };
      });
      try {
        const body = await api(`/v1/models/${encodeURIComponent(state.model.name)}/score?map=overlay`, { method: 'POST', body: form });
        body.results.forEach((r, k) => {
          const e = entries[k];
          Object.assign(e, r);
          e.el.querySelector('img').src = `data:image/png;base64,${r.overlay}`;
          state.results.push(e);
        });
      } catch (err) {
        for (const e of entries) { e.error = err.message; state.results.push(e); }
      }
      setRange();
      render();
    }
    $('status').textContent = '';
  }

  async function selectModel(name) {
    state.model = state.models.find((m) => m.name === name) || null;
    state.threshold = NaN;
    if (state.model) showCard(state.model);
    setRange();
    render();
  }

  async function start() {
    try {
      const { models } = await api('/v1/models');
      state.models = models;
      const sel = $('model');
      sel.textContent = '';
      for (const m of models) { const o = document.createElement('option'); o.value = m.name; o.textContent = m.ready ? m.name : `${m.name} (loading)`; sel.appendChild(o); }
      await selectModel(models[0] && models[0].name);
      $('status').textContent = models.every((m) => m.ready) ? '' : 'some models are still loading';
      document.body.dataset.ready = 'true';
    } catch (err) {
      $('status').textContent = err.message;
    }
  }

  $('model').addEventListener('change', (e) => { state.results.forEach((r) => r.el.remove()); state.results = []; selectModel(e.target.value); });
  $('threshold').addEventListener('input', (e) => { state.threshold = +e.target.value; render(); });
  $('reset').addEventListener('click', () => { state.threshold = modelThreshold(); setRange(); render(); });
  $('files').addEventListener('change', (e) => { upload(e.target.files); e.target.value = ''; });
  const drop = $('drop');
  drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => { e.preventDefault(); drop.classList.remove('over'); upload(e.dataTransfer.files); });
  start();
})();
