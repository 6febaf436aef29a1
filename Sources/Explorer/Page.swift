/// The explorer's one page, served by `forger serve` itself: no build step, nothing fetched
/// from anywhere else. Kept as Swift strings so the binary carries it (a static build has no
/// resource bundle beside it).
enum ExplorerPage {
    static let html = ##"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Forger explorer</title>
<link rel="stylesheet" href="/explorer.css">
<link rel="icon" href="data:,">
</head>
<body>
<header><h1>Forger explorer</h1><span id="status" role="status"></span></header>
<main>
  <section id="controls">
    <label>Model <select id="model"></select></label>
    <label>Seed <input id="seed" type="number" min="0" step="1" value="0"></label>
    <button id="random" type="button">Random</button>
    <label>Truncation <input id="truncation" type="range" min="0.05" max="1" step="0.05" value="1"> <output id="truncation-value">1</output></label>
    <label id="class-row" hidden>Class <select id="class"></select></label>
    <p id="model-info"></p>
    <div id="drop" tabindex="0">Drop a PNG photo here to project it, or <label>choose one <input id="photo" type="file" accept="image/png"></label></div>
  </section>
  <section id="view">
    <img id="image" alt="the generated image" data-renders="0">
    <div id="actions">
      <button id="keep" type="button">Keep</button>
      <button id="walk" type="button" disabled>Walk</button>
      <button id="export-png" type="button">Export PNG</button>
      <button id="export-gif" type="button" disabled>Export walk GIF</button>
      <button id="reset" type="button">Reset sliders</button>
    </div>
    <div id="strip"><div id="bookmarks" aria-label="kept latents"></div><img id="walk-image" alt="the walk through the kept latents" hidden></div>
    <ul id="exports"></ul>
  </section>
  <section id="sliders">
    <h2>Directions <small id="direction-source"></small></h2>
    <div id="directions"></div>
    <details id="raw"><summary>Raw dimensions</summary><div id="raw-sliders"></div></details>
  </section>
</main>
<script src="/explorer.js"></script>
</body>
</html>
"""##

    static let style = ##"""
[hidden] { display: none !important; }
body { font: 14px/1.4 system-ui, sans-serif; margin: 0; background: #1d1f21; color: #e0e0e0; }
header { display: flex; align-items: baseline; gap: 1em; padding: 0.5em 1em; background: #282a2e; }
h1 { font-size: 18px; margin: 0; }
h2 { font-size: 15px; margin: 0 0 0.5em; }
main { display: flex; gap: 1.5em; padding: 1em; align-items: flex-start; flex-wrap: wrap; }
#controls { display: flex; flex-direction: column; gap: 0.6em; width: 220px; }
#controls label { display: flex; justify-content: space-between; gap: 0.5em; align-items: center; }
#controls input[type=number] { width: 8em; }
#view { display: flex; flex-direction: column; gap: 0.6em; align-items: flex-start; }
#image { image-rendering: pixelated; image-rendering: crisp-edges; background: #000; min-width: 256px; min-height: 256px; }
#walk-image { image-rendering: pixelated; }
#strip { display: flex; gap: 1em; align-items: flex-start; }
#bookmarks { display: flex; gap: 4px; flex-wrap: wrap; max-width: 300px; min-height: 4px; }
#bookmarks figure { margin: 0; position: relative; }
#bookmarks img { width: 56px; height: 56px; image-rendering: pixelated; cursor: pointer; border: 1px solid #555; }
#bookmarks button { position: absolute; top: 0; right: 0; padding: 0 4px; font-size: 11px; }
#sliders { width: 340px; }
.slider { display: grid; grid-template-columns: 7em 1fr 3em 2em; gap: 0.4em; align-items: center; }
.slider output { text-align: right; font-variant-numeric: tabular-nums; }
#raw-sliders .slider { grid-template-columns: 4em 1fr 3em; }
#drop { border: 2px dashed #666; padding: 1.2em 0.5em; text-align: center; color: #aaa; }
#drop.over { border-color: #8ab4f8; color: #fff; }
#status.error { color: #f28b82; }
#exports a { color: #8ab4f8; }
button { cursor: pointer; }
"""##

    static let script = ##"""
'use strict';
// The explorer page. State lives in the URL's hash (model, seed or latent, slider values),
// so a view can be shared or reloaded. One render is in flight at a time: while it runs,
// slider moves only mark the view dirty, and the latest value is sent when it returns.
const $ = (id) => document.getElementById(id);
const client = Math.random().toString(36).slice(2, 12);
let models = [], model = null;
let base = null;           // Float32Array: the latent the sliders move from
let baseSeed = null;       // its seed, or null for a kept or projected latent
let dirValues = [], rawOffsets = null;
let bookmarks = [];
let inFlight = false, dirty = false, renders = 0;
let note = '';             // a message the next drawn image keeps in the status line (a projection's PSNR)

function encode(values) {
  const bytes = new Uint8Array(values.length * 4), view = new DataView(bytes.buffer);
  values.forEach((v, i) => view.setFloat32(i * 4, v, true));
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}
function decode(text) {
  const bin = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
  const view = new DataView(new ArrayBuffer(bin.length));
  for (let i = 0; i < bin.length; i++) view.setUint8(i, bin.charCodeAt(i));
  const out = new Float32Array(bin.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}
function status(text, error) { const s = $('status'); s.textContent = text; s.className = error ? 'error' : ''; }
async function failure(r) { try { return (await r.json()).error; } catch (e) { return r.status + ' ' + r.statusText; } }

// The latent shown: base + sum of slider * sigma * direction + raw offsets.
function current() {
  const z = new Float32Array(base);
  model.directions.forEach((d, k) => {
    const a = dirValues[k] * d.sigma;
    if (a) for (let i = 0; i < z.length; i++) z[i] += a * d.vector[i];
  });
  for (let i = 0; i < z.length; i++) z[i] += rawOffsets[i];
  return z;
}
function fields() {
  const f = { model: model.name, scale: 1 };
  if (model.classes) f['class'] = Number($('class').value);
  const psi = Number($('truncation').value);
  if (psi < 1) f.truncation = psi;
  return f;
}
function renderURL(z) {
  const f = fields(), q = new URLSearchParams({ model: f.model, latent: encode(z), scale: '1' });
  if (f['class'] !== undefined) q.set('class', f['class']);
  if (f.truncation) q.set('truncation', f.truncation);
  return '/api/render?' + q.toString();
}

function schedule() { dirty = true; saveState(); if (!inFlight) send(); }
async function send() {
  dirty = false; inFlight = true;
  const url = renderURL(current());
  try {
    const r = await fetch(url, { headers: { 'X-Forger-Client': client } });
    if (r.ok) {
      const blob = await r.blob(), img = $('image');
      await new Promise((done) => { img.onload = done; img.onerror = done; img.src = URL.createObjectURL(blob); });
      const k = Math.max(1, Math.floor(420 / img.naturalWidth));   // integer enlargement: crisp pixels
      img.style.width = img.naturalWidth * k + 'px';
      img.dataset.renders = String(++renders);
      img.dataset.url = url;
      status(note); note = '';
    } else if (r.status !== 409) {
      status(await failure(r), true);
    }
  } catch (e) { status(String(e), true); }
  inFlight = false;
  if (dirty) send();
}

function slider(parent, label, min, max, step, value, onInput, extra) {
  const row = document.createElement('div'); row.className = 'slider';
  const name = document.createElement('span'); name.textContent = label;
  const input = document.createElement('input');
  Object.assign(input, { type: 'range', min, max, step, value });
  const out = document.createElement('output'); out.textContent = Number(value).toFixed(2);
  input.addEventListener('input', () => { out.textContent = Number(input.value).toFixed(2); onInput(Number(input.value)); });
  row.append(name, input, out);
  if (extra) row.append(extra);
  parent.append(row);
  return input;
}
function buildSliders() {
  const box = $('directions'); box.textContent = '';
  $('direction-source').textContent = model.directions.length ? '(' + model.directionSource + ')' : '(none)';
  model.directions.forEach((d, k) => {
    const strip = document.createElement('button');
    strip.type = 'button'; strip.textContent = '▶'; strip.title = 'animate along ' + d.name;
    strip.addEventListener('click', () => directionStrip(k));
    const input = slider(box, d.name, -3, 3, 0.05, dirValues[k], (v) => { dirValues[k] = v; schedule(); }, strip);
    input.id = 'dir-' + k;
  });
  const raw = $('raw-sliders'); raw.textContent = '';
  $('raw').querySelector('summary').textContent = 'Raw dimensions (' + model.latentSize + ')';
  for (let i = 0; i < model.latentSize; i++) {
    slider(raw, 'z[' + i + ']', -3, 3, 0.05, rawOffsets[i], (v) => { rawOffsets[i] = v; schedule(); }).id = 'raw-' + i;
  }
}

async function loadSeed(seed) {
  const r = await fetch('/api/latent?' + new URLSearchParams({ model: model.name, seed: String(seed) }));
  if (!r.ok) { status(await failure(r), true); return; }
  base = decode((await r.json()).latent); baseSeed = seed; $('seed').value = seed;
  schedule();
}
function chooseModel(name, keepSliders) {
  model = models.find((m) => m.name === name) || models[0];
  $('model').value = model.name;
  if (!keepSliders) { dirValues = model.directions.map(() => 0); rawOffsets = new Float32Array(model.latentSize); }
  const c = $('class'); c.textContent = '';
  $('class-row').hidden = !model.classes;
  for (let i = 0; i < (model.classes || 0); i++) {
    const o = document.createElement('option'); o.value = i; o.textContent = (model.classLabels || [])[i] || String(i); c.append(o);
  }
  const o = model.output;
  $('model-info').textContent = o.channels + 'x' + o.height + 'x' + o.width + ', latent ' + model.latentSize + ', ' + model.prior;
  buildSliders();
}

// The URL's hash holds the view: model, seed (or z, a kept latent), truncation, class, d (direction
// sliders) and r (raw offsets), each list as index:value pairs.
function saveState() {
  const q = new URLSearchParams({ model: model.name });
  if (baseSeed !== null) q.set('seed', baseSeed); else q.set('z', encode(base));
  if ($('truncation').value !== '1') q.set('truncation', $('truncation').value);
  if (model.classes) q.set('class', $('class').value);
  const pairs = (values) => Array.from(values).map((v, i) => v ? i + ':' + v : null).filter(Boolean).join(',');
  if (pairs(dirValues)) q.set('d', pairs(dirValues));
  if (pairs(rawOffsets)) q.set('r', pairs(rawOffsets));
  history.replaceState(null, '', '#' + q.toString());
}
function readState() {
  const q = new URLSearchParams(location.hash.slice(1));
  chooseModel(q.get('model') || models[0].name, false);
  const fill = (text, into) => (text || '').split(',').forEach((p) => {
    const [i, v] = p.split(':').map(Number);
    if (Number.isInteger(i) && i >= 0 && i < into.length && Number.isFinite(v)) into[i] = v;
  });
  fill(q.get('d'), dirValues); fill(q.get('r'), rawOffsets);
  if (q.get('truncation')) { $('truncation').value = q.get('truncation'); $('truncation-value').textContent = $('truncation').value; }
  if (q.get('class')) $('class').value = q.get('class');
  buildSliders();
  if (q.get('z')) {
    try { const z = decode(q.get('z')); if (z.length === model.latentSize) { base = z; baseSeed = null; schedule(); return; } } catch (e) {}
  }
  loadSeed(Number.parseInt(q.get('seed') || '0', 10) || 0);
}

function keep() {
  const z = current(), figure = document.createElement('figure');
  const img = document.createElement('img'); img.src = $('image').src; img.title = 'show this latent';
  img.addEventListener('click', () => { base = z; baseSeed = null; dirValues = dirValues.map(() => 0); rawOffsets.fill(0); buildSliders(); schedule(); });
  const remove = document.createElement('button'); remove.type = 'button'; remove.textContent = '×';
  const entry = { latent: z, figure };
  remove.addEventListener('click', () => { bookmarks = bookmarks.filter((b) => b !== entry); figure.remove(); updateButtons(); });
  figure.append(img, remove); $('bookmarks').append(figure);
  bookmarks.push(entry); updateButtons();
}
function updateButtons() { $('walk').disabled = $('export-gif').disabled = bookmarks.length < 2; }
function walkRequest() { return Object.assign(fields(), { keyframes: bookmarks.map((b) => encode(b.latent)), frames: 12, loop: true }); }
async function animate(body) {
  status('rendering the GIF…');
  const r = await fetch('/api/animate', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  if (!r.ok) { status(await failure(r), true); return; }
  const img = $('walk-image'); img.src = URL.createObjectURL(await r.blob()); img.hidden = false;
  img.onload = () => { img.style.width = img.naturalWidth * Math.max(1, Math.floor(140 / img.naturalWidth)) + 'px'; };
  status('');
}
function directionStrip(k) {
  const z = current(), d = model.directions[k], a = new Float32Array(z), b = new Float32Array(z);
  for (let i = 0; i < z.length; i++) { a[i] -= 3 * d.sigma * d.vector[i]; b[i] += 3 * d.sigma * d.vector[i]; }
  animate(Object.assign(fields(), { keyframes: [encode(a), encode(b)], frames: 12, loop: true }));
}
async function exportFiles(body) {
  const r = await fetch('/api/export', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  if (!r.ok) { status(await failure(r), true); return; }
  const files = (await r.json()).files, li = document.createElement('li');
  files.forEach((name, i) => {
    const a = document.createElement('a'); a.href = '/exports/' + name; a.textContent = i ? 'recipe' : name;
    li.append(a, document.createTextNode(' '));
  });
  $('exports').prepend(li);
  status('saved ' + files.join(' and '));
}

async function project(file) {
  status('projecting ' + file.name + '…');
  const r = await fetch('/api/project?' + new URLSearchParams({ model: model.name }),
                        { method: 'POST', headers: { 'Content-Type': file.type || 'application/octet-stream' }, body: file });
  if (!r.ok) { status(await failure(r), true); return; }
  const p = await r.json();
  note = file.name + ' projected: PSNR ' + p.psnr.toFixed(1) + ' dB after ' + p.steps + ' steps (' + p.seconds.toFixed(1) + ' s)';
  status(note);
  base = decode(p.latent); baseSeed = null; dirValues = dirValues.map(() => 0); rawOffsets.fill(0); buildSliders(); schedule();
}

async function start() {
  const r = await fetch('/api/models');
  if (!r.ok) { status(await failure(r), true); return; }
  models = (await r.json()).models;
  for (const m of models) { const o = document.createElement('option'); o.value = o.textContent = m.name; $('model').append(o); }
  $('model').addEventListener('change', () => { chooseModel($('model').value, false); loadSeed(Number($('seed').value) || 0); });
  $('seed').addEventListener('change', () => loadSeed(Math.max(0, Math.floor(Number($('seed').value) || 0))));
  $('random').addEventListener('click', () => loadSeed(Math.floor(Math.random() * 1000000)));
  $('truncation').addEventListener('input', () => { $('truncation-value').textContent = $('truncation').value; schedule(); });
  $('class').addEventListener('change', schedule);
  $('keep').addEventListener('click', keep);
  $('walk').addEventListener('click', () => animate(walkRequest()));
  $('export-png').addEventListener('click', () => exportFiles({ png: Object.assign(fields(), { latent: encode(current()) }) }));
  $('export-gif').addEventListener('click', () => exportFiles({ gif: walkRequest() }));
  $('reset').addEventListener('click', () => { dirValues = dirValues.map(() => 0); rawOffsets.fill(0); buildSliders(); schedule(); });
  const drop = $('drop');
  drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => { e.preventDefault(); drop.classList.remove('over'); if (e.dataTransfer.files[0]) project(e.dataTransfer.files[0]); });
  $('photo').addEventListener('change', () => { const f = $('photo').files[0]; if (f) project(f); $('photo').value = ''; });
  readState();
}
start();
"""##
}
