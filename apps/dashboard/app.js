// cnnlab dashboard: the runs table, a run's live curves and a comparison of runs, drawn on
// canvases by the small LineChart below (no library, nothing loaded from elsewhere). Every
// chart canvas carries data-points = the number of points drawn, which the browser test reads.
'use strict';

const COLORS = ['#1565c0', '#c62828', '#2e7d32', '#ef6c00', '#6a1b9a', '#00838f', '#5d4037', '#455a64'];
const POLL_MS = 1000;

async function api(path) {
  const response = await fetch(path, {cache: 'no-store'});
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}

function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}

function percent(value) {
  return typeof value === 'number' && isFinite(value) ? (value * 100).toFixed(2) + '%' : 'n/a';
}

function fixed(value, digits) {
  return typeof value === 'number' && isFinite(value) ? value.toFixed(digits) : 'n/a';
}

function showError(error) {
  document.getElementById('message').textContent = String(error.message || error);
}

// ---- charts ----

// A line chart of named series of [x, y] points with linear axes, redrawn in full on
// every change (a few thousand points draw in well under a frame).
class LineChart {
  constructor(canvas) {
    this.canvas = canvas;
    this.series = new Map();  // name -> {color, points}
    this.draw();
  }
  set(name, color, points) {
    this.series.set(name, {color, points});
  }
  append(name, color, points) {
    if (!this.series.has(name)) this.series.set(name, {color, points: []});
    const entry = this.series.get(name);
    for (const p of points) entry.points.push(p);
  }
  pointCount() {
    let count = 0;
    for (const s of this.series.values()) count += s.points.length;
    return count;
  }
  bounds() {
    let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
    for (const s of this.series.values())
      for (const [x, y] of s.points) {
        if (!isFinite(x) || !isFinite(y)) continue;
        x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y);
      }
    if (x0 === Infinity) return null;
    if (x1 === x0) x1 = x0 + 1;
    if (y1 === y0) {  // a constant (a fixed learning rate): centred, +-10%
      const half = Math.abs(y0) * 0.1 || 0.5;
      y0 -= half; y1 += half;
    }
    const pad = (y1 - y0) * 0.05;
    return {x0, x1, y0: y0 - pad, y1: y1 + pad};
  }
  draw() {
    const c = this.canvas.getContext('2d');
    const w = this.canvas.width, h = this.canvas.height;
    const left = 56, right = 10, top = 10, bottom = 28;
    c.clearRect(0, 0, w, h);
    c.fillStyle = '#fff';
    c.fillRect(0, 0, w, h);
    this.canvas.dataset.points = String(this.pointCount());
    const b = this.bounds();
    c.strokeStyle = '#999';
    c.strokeRect(left, top, w - left - right, h - top - bottom);
    c.fillStyle = '#555';
    c.font = '11px sans-serif';
    if (!b) {
      c.fillText('no points yet', left + 10, top + 20);
      return;
    }
    const sx = x => left + (x - b.x0) / (b.x1 - b.x0) * (w - left - right);
    const sy = y => top + (b.y1 - y) / (b.y1 - b.y0) * (h - top - bottom);
    for (let i = 0; i <= 4; ++i) {
      const y = b.y0 + (b.y1 - b.y0) * i / 4, x = b.x0 + (b.x1 - b.x0) * i / 4;
      c.fillText(y.toPrecision(3), 4, sy(y) + 4);
      c.fillText(b.x1 - b.x0 >= 20 ? String(Math.round(x)) : x.toPrecision(3), sx(x) - 10, h - 10);
      c.strokeStyle = '#eee';
      c.beginPath(); c.moveTo(left, sy(y)); c.lineTo(w - right, sy(y)); c.stroke();
    }
    for (const s of this.series.values()) {
      c.strokeStyle = s.color;
      c.lineWidth = 1.5;
      c.beginPath();
      let pen = false;
      for (const [x, y] of s.points) {
        if (!isFinite(y)) { pen = false; continue; }  // a NaN loss breaks the line
        if (pen) c.lineTo(sx(x), sy(y)); else c.moveTo(sx(x), sy(y));
        pen = true;
      }
      c.stroke();
      if (s.points.length === 1) c.fillRect(sx(s.points[0][0]) - 2, sy(s.points[0][1]) - 2, 4, 4);
    }
  }
}

// ---- runs table ----

function filterQuery(form) {
  const params = new URLSearchParams();
  if (form.experiment.value) params.set('experiment', form.experiment.value);
  if (form.status.value) params.set('status', form.status.value);
  for (const pair of form.where.value.split(',')) if (pair.trim()) params.append('where', pair.trim());
  return params.toString();
}

async function loadRuns(form) {
  try {
    const runs = await api('/api/runs?' + filterQuery(form));
    const body = document.querySelector('#runs tbody');
    body.replaceChildren();
    for (const run of runs) {
      const row = element('tr');
      const pick = element('input');
      pick.type = 'checkbox';
      pick.value = run.id;
      row.append(element('td'));
      row.lastChild.append(pick);
      const link = element('a', run.id);
      link.href = '/run?id=' + encodeURIComponent(run.id);
      row.append(element('td'));
      row.lastChild.append(link);
      row.append(element('td', run.name), element('td', run.experiment), element('td', run.variant),
                 element('td', run.status, 'status-' + run.status), element('td', run.started_at),
                 element('td', percent(run.best_test_acc), 'number'));
      body.append(row);
    }
    document.getElementById('message').textContent = runs.length ? '' : 'no runs match';
  } catch (error) {
    showError(error);
  }
}

function runsPage() {
  const form = document.getElementById('filters');
  form.addEventListener('submit', event => { event.preventDefault(); loadRuns(form); });
  document.getElementById('compare-selected').addEventListener('click', () => {
    const ids = [...document.querySelectorAll('#runs input:checked')].map(box => box.value);
    if (ids.length) location.href = '/compare?ids=' + ids.join(',');
  });
  loadRuns(form);
  setInterval(() => loadRuns(form), 5000);
}

// ---- one run ----

function fillEpochs(epochs) {
  const body = document.querySelector('#epochs tbody');
  body.replaceChildren();
  for (const e of epochs) {
    const row = element('tr');
    row.append(element('td', String(e.epoch)), element('td', fixed(e.train_loss, 4), 'number'),
               element('td', percent(e.train_acc), 'number'), element('td', fixed(e.test_loss, 4), 'number'),
               element('td', percent(e.test_acc), 'number'), element('td', fixed(e.seconds, 1), 'number'),
               element('td', fixed(e.images_per_s, 0), 'number'));
    body.append(row);
  }
}

function fillParameters(parameters) {
  const body = document.querySelector('#parameters tbody');
  body.replaceChildren();
  for (const [key, value] of Object.entries(parameters)) {
    const row = element('tr');
    row.append(element('td', key), element('td', value));
    body.append(row);
  }
}

// Polls the run's new metrics (after the last step seen) and layer statistics, and its
// row and epochs, until the run has ended and one last poll has read everything.
class RunPage {
  constructor(id) {
    this.id = id;
    this.base = '/api/runs/' + encodeURIComponent(id);
    this.lastStep = -1;
    this.lastStatStep = -1;
    this.layerRows = [];
    this.charts = {
      loss: new LineChart(document.getElementById('chart-loss')),
      accuracy: new LineChart(document.getElementById('chart-accuracy')),
      lr: new LineChart(document.getElementById('chart-lr')),
      layers: new LineChart(document.getElementById('chart-layers')),
    };
    this.kind = document.getElementById('layer-kind');
    this.kind.addEventListener('change', () => this.drawLayers());
  }
  async poll() {
    const detail = await api(this.base);
    const run = detail.run;
    document.getElementById('title').textContent = 'run ' + run.id + ': ' + run.name;
    document.getElementById('summary').textContent =
        [run.status, run.experiment && 'experiment ' + run.experiment, run.variant && 'variant ' + run.variant,
         'started ' + run.started_at, run.finished_at && 'finished ' + run.finished_at, run.run_dir]
            .filter(Boolean).join(' · ');
    if (!this.parametersShown) { fillParameters(detail.parameters); this.parametersShown = true; }
    const metrics = await api(this.base + '/metrics?after=' + this.lastStep);
    const byKey = {loss: [], accuracy: [], lr: []};
    for (const m of metrics) {
      if (byKey[m.key]) byKey[m.key].push([m.step, Number(m.value)]);
      this.lastStep = Math.max(this.lastStep, m.step);
    }
    this.charts.loss.append('loss', COLORS[0], byKey.loss);
    this.charts.accuracy.append('train accuracy', COLORS[0], byKey.accuracy);
    this.charts.lr.append('lr', COLORS[2], byKey.lr);
    const epochs = await api(this.base + '/epochs');
    fillEpochs(epochs);
    this.charts.accuracy.set('test accuracy', COLORS[1], epochs.filter(e => isFinite(Number(e.test_acc)))
        .map(e => [this.stepOfEpoch(e.epoch, metrics), e.test_acc]));
    const stats = await api(this.base + '/layer_stats?after=' + this.lastStatStep);
    for (const s of stats) { this.layerRows.push(s); this.lastStatStep = Math.max(this.lastStatStep, s.step); }
    for (const chart of ['loss', 'accuracy', 'lr']) this.charts[chart].draw();
    this.drawLayers();
    return run.status === 'running';
  }
  // The last step logged in an epoch, so test accuracy sits on the step axis.
  stepOfEpoch(epoch, metrics) {
    this.epochEnd = this.epochEnd || {};
    for (const m of metrics) this.epochEnd[m.epoch] = Math.max(this.epochEnd[m.epoch] || 0, m.step);
    return this.epochEnd[epoch] !== undefined ? this.epochEnd[epoch] : epoch;
  }
  drawLayers() {
    const kinds = [...new Set(this.layerRows.map(r => r.kind))].sort();
    if (kinds.join() !== [...this.kind.options].map(o => o.value).join()) {
      const chosen = this.kind.value || (kinds.includes('activation_std') ? 'activation_std' : kinds[0]);
      this.kind.replaceChildren(...kinds.map(k => { const o = element('option', k); o.value = k; return o; }));
      if (chosen) this.kind.value = chosen;
    }
    const chart = this.charts.layers;
    chart.series.clear();
    const layers = [...new Set(this.layerRows.map(r => r.layer))];
    for (const r of this.layerRows)
      if (r.kind === this.kind.value)
        chart.append(r.layer, COLORS[layers.indexOf(r.layer) % COLORS.length], [[r.step, Number(r.value)]]);
    chart.draw();
    const legend = document.getElementById('layer-legend');
    if (legend.childElementCount !== chart.series.size)
      legend.replaceChildren(...[...chart.series].map(([layer, s]) => {
        const item = element('span', layer);
        const swatch = element('i');
        swatch.style.background = s.color;
        item.prepend(swatch);
        return item;
      }));
  }
}

async function runPage() {
  const id = new URLSearchParams(location.search).get('id');
  if (!id) return showError('no run id: open /run?id=RUN');
  const page = new RunPage(id);
  let last = false;  // one more poll after the run ends, for its final rows
  const tick = async () => {
    try {
      const running = await page.poll();
      if (running || !last) { last = !running; setTimeout(tick, POLL_MS); }
    } catch (error) {
      showError(error);
      setTimeout(tick, POLL_MS * 5);
    }
  };
  tick();
}

// ---- comparison ----

async function comparePage() {
  const form = document.getElementById('chooser');
  const ids = (new URLSearchParams(location.search).get('ids') || '').split(',').filter(Boolean);
  form.ids.value = ids.join(',');
  form.addEventListener('submit', event => {
    event.preventDefault();
    location.href = '/compare?ids=' + form.ids.value.replace(/\s+/g, '');
  });
  if (!ids.length) return showError('choose runs on the runs page, or list their ids above');
  const charts = {
    loss: new LineChart(document.getElementById('chart-loss')),
    test: new LineChart(document.getElementById('chart-test-acc')),
    accuracy: new LineChart(document.getElementById('chart-accuracy')),
    lr: new LineChart(document.getElementById('chart-lr')),
  };
  const runs = ids.map((id, i) => ({id, color: COLORS[i % COLORS.length], lastStep: -1, label: id}));
  const tick = async () => {
    let anyRunning = false;
    try {
      for (const run of runs) {
        const base = '/api/runs/' + encodeURIComponent(run.id);
        const detail = await api(base);
        run.label = detail.run.id + ' ' + detail.run.name + (detail.parameters['model.norm'] ? ' (norm ' + detail.parameters['model.norm'] + ')' : '');
        anyRunning = anyRunning || detail.run.status === 'running';
        const metrics = await api(base + '/metrics?after=' + run.lastStep);
        for (const key of ['loss', 'accuracy', 'lr'])
          charts[key].append(run.label, run.color, metrics.filter(m => m.key === key).map(m => [m.step, Number(m.value)]));
        for (const m of metrics) run.lastStep = Math.max(run.lastStep, m.step);
        const epochs = await api(base + '/epochs');
        charts.test.set(run.label, run.color, epochs.filter(e => isFinite(Number(e.test_acc))).map(e => [e.epoch, e.test_acc]));
      }
      const legend = document.getElementById('legend');
      legend.replaceChildren(...runs.map(run => {
        const item = element('span', run.label);
        const swatch = element('i');
        swatch.style.background = run.color;
        item.prepend(swatch);
        return item;
      }));
      for (const chart of Object.values(charts)) chart.draw();
      if (anyRunning) setTimeout(tick, POLL_MS);
    } catch (error) {
      showError(error);
    }
  };
  tick();
}

const pages = {runs: runsPage, run: runPage, compare: comparePage};
pages[document.body.dataset.page]();
