// The prodready playground: a manifest editor, every rule's settings, and what `check` found.
// The rules run in a module worker (worker.js), so a slow or trapping check never freezes the
// page; this file owns the DOM and the worker's lifetime.
//
// For tests, document.body.dataset.state is 'loading', 'ready', 'checking' (a check is running
// or about to), 'done' or 'error', and dataset.run counts the checks that finished.

// The talk's slides ("Production Ready Kubernetes 15 Rules"); every rule's slide link points here.
const SLIDES_URL = 'https://speakerdeck.com/govargo';

const params = new URLSearchParams(location.search);
// A check that runs longer is stopped (the worker terminated and started again). ?deadline=MS
// changes it, so a test can reach the timeout without a huge input.
const CHECK_DEADLINE_MS = Number(params.get('deadline')) || 10_000;
// Starting the worker (fetching and compiling the module) on a slow machine.
const START_DEADLINE_MS = 30_000;
const DEBOUNCE_MS = 300;
// Rendering more than this many objects' findings would freeze the page instead of the worker.
const MAX_OBJECTS_SHOWN = 300;
// Must match style.css (--line and --pad): the gutter and the highlight are placed by them.
const LINE_PX = 20;
const PAD_PX = 8;
const DEFAULT_FILE = 'playground.yaml';
// The name check() reports for several files joined into one text.
const JOINED_FILE = 'joined.yaml';

const SAMPLE = `# A small web shop front end, with a few production-readiness mistakes.
# Edit it, paste your own manifests, or drop files here.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: storefront
  namespace: shop
  labels:
    app.kubernetes.io/name: storefront
    app.kubernetes.io/instance: storefront-prod
    app.kubernetes.io/managed-by: kustomize
spec:
  replicas: 1
  selector:
    matchLabels:
      app.kubernetes.io/name: storefront
  template:
    metadata:
      labels:
        app.kubernetes.io/name: storefront
        app.kubernetes.io/instance: storefront-prod
    spec:
      containers:
        - name: web
          image: ghcr.io/example/storefront:latest
          ports:
            - name: http
              containerPort: 8080
          livenessProbe:
            httpGet:
              path: /healthz
              port: 8081
          resources:
            requests:
              cpu: 250m
          securityContext:
            privileged: true
---
apiVersion: v1
kind: Service
metadata:
  name: storefront
  namespace: shop
  labels:
    app.kubernetes.io/name: storefront
    app.kubernetes.io/instance: storefront-prod
    app.kubernetes.io/managed-by: kustomize
spec:
  type: NodePort
  selector:
    app.kubernetes.io/name: storefront
  ports:
    - name: http
      port: 80
      targetPort: http
`;

const $ = (selector) => document.querySelector(selector);
const ui = {
  editor: $('#editor'),
  wrap: $('#editor-wrap'),
  gutter: $('#gutter'),
  lineNumbers: $('#line-numbers'),
  markers: $('#markers'),
  highlight: $('#highlight'),
  dropHint: $('#drop-hint'),
  fileName: $('#file-name'),
  open: $('#open'),
  check: $('#check'),
  status: $('#status'),
  version: $('#version'),
  summary: $('#summary'),
  results: $('#results'),
  error: $('#error'),
  errorTitle: $('#error-title'),
  errorMessage: $('#error-message'),
  errorLine: $('#error-line'),
  rules: $('#rules'),
  changedCount: $('#changed-count'),
};

// ---------------------------------------------------------------------------------------------
// The worker

class EngineError extends Error {
  constructor(title, message) {
    super(message);
    this.title = title;
  }
}

const engine = { worker: null, ready: null, pending: new Map(), seq: 0, version: '' };

function spawn() {
  const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
  let started;
  const ready = new Promise((resolve, reject) => (started = { resolve, reject }));
  ready.catch(() => {}); // a failed start is reported by the call that waits for it
  worker.onmessage = ({ data }) => {
    if (data.type === 'ready') {
      engine.version = data.version;
      started.resolve();
      return;
    }
    if (data.type === 'init-error') {
      const error = new EngineError('The rule engine did not start', data.message);
      started.reject(error);
      stop(worker, error);
      return;
    }
    const call = engine.pending.get(data.id);
    if (!call) return;
    engine.pending.delete(data.id);
    clearTimeout(call.timer);
    if (data.ok) {
      call.resolve(data.value);
    } else {
      // A trapped or throwing instance may be left half-way through a call: never reuse it.
      restart(worker);
      call.reject(new EngineError(
        data.trap ? 'The rule engine trapped' : 'The rule engine failed',
        `${data.message}\n\nThe worker was restarted; edit the manifests or press Check to try again.`,
      ));
    }
  };
  worker.onerror = (event) => {
    event.preventDefault();
    const error = new EngineError(
      'The rule engine stopped',
      event.message || 'The worker failed to load or threw outside a call. Is pkg/ built (playground/build.sh) and served next to worker.js?',
    );
    started.reject(error);
    stop(worker, error);
  };
  worker.onmessageerror = () => {
    const error = new EngineError('The rule engine failed', 'A message from the worker could not be read.');
    stop(worker, error);
  };
  engine.worker = worker;
  engine.ready = ready;
}

// Ends `worker` (if it is still the current one) and fails the calls waiting on it.
function stop(worker, error) {
  if (engine.worker !== worker) return;
  worker.terminate();
  engine.worker = null;
  engine.ready = null;
  for (const call of engine.pending.values()) {
    clearTimeout(call.timer);
    call.reject(error);
  }
  engine.pending.clear();
}

function restart(worker) {
  if (engine.worker !== worker) return;
  stop(worker, new EngineError('The rule engine was restarted', 'The worker was restarted during this call.'));
  spawn();
}

async function call(type, payload, deadlineMs) {
  if (!engine.worker) spawn();
  const { worker, ready } = engine;
  let startTimer;
  const startDeadline = new Promise((_, reject) => {
    startTimer = setTimeout(() => {
      const error = new EngineError('The rule engine did not start',
        `The worker did not start within ${START_DEADLINE_MS / 1000} s.`);
      stop(worker, error);
      reject(error);
    }, START_DEADLINE_MS);
  });
  try {
    await Promise.race([ready, startDeadline]);
  } finally {
    clearTimeout(startTimer);
  }
  // The deadline starts once the worker is ready: it bounds the evaluation, not the start.
  return new Promise((resolve, reject) => {
    const id = ++engine.seq;
    const timer = setTimeout(() => {
      engine.pending.delete(id);
      restart(worker);
      reject(new EngineError('The check took too long',
        `It did not finish within ${formatSeconds(deadlineMs)}, so the worker running it was stopped and a new one started.\n` +
        'Try fewer or smaller manifests.'));
    }, deadlineMs);
    engine.pending.set(id, { resolve, reject, timer });
    worker.postMessage({ id, type, ...payload });
  });
}

function formatSeconds(ms) {
  return ms >= 1000 ? `${ms / 1000} s` : `${ms} ms`;
}

// ---------------------------------------------------------------------------------------------
// Checking

let rules = null; // id -> rule, from rules()
let fileName = DEFAULT_FILE;
const run = { active: false, again: false, scheduled: false, timer: 0, count: 0 };

function setState(value) {
  document.body.dataset.state = value;
}

function schedule() {
  setState('checking');
  clearTimeout(run.timer);
  run.scheduled = true;
  run.timer = setTimeout(() => {
    run.scheduled = false;
    checkNow();
  }, DEBOUNCE_MS);
}

async function checkNow() {
  clearTimeout(run.timer);
  run.scheduled = false;
  if (!rules) return start();
  if (run.active) {
    run.again = true;
    return;
  }
  run.active = true;
  setState('checking');
  ui.status.textContent = 'Checking…';
  const began = performance.now();
  let report;
  let failure;
  try {
    const settings = readSettings();
    report = await call('check', {
      manifests: ui.editor.value,
      settings: JSON.stringify(settings),
      file: fileName,
    }, CHECK_DEADLINE_MS);
    if (typeof report.error === 'string') {
      failure = new EngineError('Not checked: the input was refused', report.error);
    }
  } catch (error) {
    failure = error;
  }
  run.active = false;
  // Input changed while this ran: its result is stale, the next check is due or starts now.
  if (run.again) {
    run.again = false;
    return checkNow();
  }
  if (run.scheduled) return;
  run.count += 1;
  document.body.dataset.run = String(run.count);
  if (failure) {
    showError(failure);
    ui.status.textContent = 'Error';
    setState('error');
  } else {
    renderReport(report);
    ui.status.textContent = `Checked in ${Math.round(performance.now() - began)} ms`;
    setState('done');
  }
}

let starting = null;

function start() {
  starting ||= startEngine().finally(() => {
    starting = null;
  });
  return starting;
}

async function startEngine() {
  setState('loading');
  ui.status.textContent = 'Loading the rules…';
  try {
    const list = await call('rules', {}, START_DEADLINE_MS);
    rules = new Map(list.map((rule) => [rule.id, rule]));
    buildRules(list);
  } catch (error) {
    showError(error);
    ui.status.textContent = 'Error';
    ui.check.disabled = false; // Check retries the start
    setState('error');
    return;
  }
  ui.version.textContent = `v${engine.version}`;
  ui.check.disabled = false;
  setState('ready');
  ui.status.textContent = 'Ready';
  await checkNow();
}

// ---------------------------------------------------------------------------------------------
// Errors

function showError(error) {
  clearResults();
  const message = error instanceof Error ? error.message : String(error);
  ui.errorTitle.textContent = error.title || 'Error';
  ui.errorMessage.textContent = message;
  ui.error.hidden = false;
  // An input error names the file and the line: offer to go there (the last position named is
  // where the parser stopped, e.g. "... at line 6, column 5").
  const position = message.includes(fileName) ? lastPosition(message) : null;
  ui.errorLine.hidden = !position;
  if (position) {
    ui.errorLine.textContent = `Go to line ${position.line}`;
    ui.errorLine.onclick = () => selectPosition(position.line, position.column, 'error');
    markLines([{ line: position.line, severity: 'error' }]);
    highlightLine(position.line, 'error');
  }
}

function lastPosition(message) {
  let found = null;
  for (const match of message.matchAll(/line (\d+)(?:, column (\d+))?/g)) {
    found = { line: Number(match[1]), column: Number(match[2] || 1) };
  }
  return found;
}

function hideError() {
  ui.error.hidden = true;
  ui.errorMessage.textContent = '';
}

function clearResults() {
  ui.results.replaceChildren();
  ui.summary.replaceChildren();
  markLines([]);
  highlightLine(null);
}

// ---------------------------------------------------------------------------------------------
// Results

function renderReport(report) {
  hideError();
  clearResults();
  renderSummary(report);

  const withFindings = [];
  const passing = [];
  for (const entry of report.objects) {
    const count = entry.violations.length + entry.exempted.length + entry.baselined.length + entry.errors.length;
    (count ? withFindings : passing).push(entry);
  }

  const parts = [];
  if (report.skipped.length) parts.push(renderSkipped(report.skipped));
  if (!report.objects.length) {
    parts.push(h('p', { class: 'empty', id: 'no-objects' },
      'No Kubernetes object was checked: paste manifests with apiVersion and kind.'));
  }
  for (const entry of withFindings.slice(0, MAX_OBJECTS_SHOWN)) parts.push(renderObject(entry));
  if (withFindings.length > MAX_OBJECTS_SHOWN) {
    parts.push(h('p', { class: 'empty' },
      `${withFindings.length - MAX_OBJECTS_SHOWN} more objects with findings are not shown (the summary counts them).`));
  }
  if (passing.length) {
    parts.push(h('details', { class: 'passing', id: 'passing' },
      h('summary', {}, `${passing.length} ${plural(passing.length, 'object')} without findings`),
      h('ul', {}, passing.slice(0, MAX_OBJECTS_SHOWN).map((entry) => h('li', {},
        h('button', { type: 'button', class: 'link', onclick: () => selectPosition(entry.line, 1) },
          `${objectLabel(entry.object)} `, h('span', { class: 'muted' }, `${entry.file}:${entry.line}`)))))));
  }
  ui.results.replaceChildren(...parts);

  const lines = [];
  for (const entry of withFindings) {
    for (const finding of entry.violations) lines.push({ line: finding.location.line, severity: finding.severity });
    for (const error of entry.errors) lines.push({ line: error.location?.line ?? entry.line, severity: 'error' });
  }
  markLines(lines);
}

function renderSummary(report) {
  const s = report.summary;
  const counts = [
    ['objects', s.objects, 'object'],
    ['errors', s.errors, 'error'],
    ['warnings', s.warnings, 'warning'],
    ['exempted', s.exempted, 'exempted', 'exempted'],
    ['baselined', s.baselined, 'baselined', 'baselined'],
    ['moduleErrors', s.moduleErrors, 'module error'],
    ['skipped', report.skipped.length, 'skipped', 'skipped'],
  ];
  ui.summary.replaceChildren(...counts
    .filter(([key, n]) => n > 0 || key === 'objects' || key === 'errors' || key === 'warnings')
    .map(([key, n, singular, fixed]) => h('span', { class: `count-${key}${n ? '' : ' zero'}`, 'data-count': key },
      `${n} ${fixed || plural(n, singular)}`)));
  for (const [key, n] of counts) ui.summary.dataset[key] = String(n);
}

function renderSkipped(skipped) {
  return h('details', { class: 'skipped', id: 'skipped' },
    h('summary', {}, `${skipped.length} ${plural(skipped.length, 'document')} skipped`),
    h('ul', {}, skipped.map((doc) => h('li', { 'data-skipped': String(doc.document) },
      h('button', { type: 'button', class: 'link', onclick: () => selectPosition(doc.line, 1) },
        `${doc.file}:${doc.line}`),
      ` document ${doc.document}: ${doc.reason}`))));
}

function renderObject(entry) {
  const o = entry.object;
  const key = [o.kind, o.namespace, o.name].filter((part) => part !== undefined && part !== null).join('/');
  const findings = [...entry.violations].sort(byImportance);
  const errors = findings.filter((f) => f.severity === 'error').length;
  const counts = [
    errors && `${errors} ${plural(errors, 'error')}`,
    findings.length - errors && `${findings.length - errors} ${plural(findings.length - errors, 'warning')}`,
    entry.exempted.length && `${entry.exempted.length} exempted`,
    entry.baselined.length && `${entry.baselined.length} baselined`,
    entry.errors.length && `${entry.errors.length} ${plural(entry.errors.length, 'module error')}`,
  ].filter(Boolean).join(', ');
  return h('section', {
    class: 'object', 'data-object': key, 'data-kind': o.kind, 'data-namespace': o.namespace ?? '', 'data-name': o.name,
  },
  h('header', {},
    h('span', { class: 'kind' }, o.kind), ' ',
    h('span', { class: 'object-name' }, o.namespace ? `${o.namespace}/${o.name}` : o.name), ' ',
    h('button', { type: 'button', class: 'link location', onclick: () => selectPosition(entry.line, 1) },
      `${entry.file}:${entry.line}`),
    h('span', { class: 'object-counts' }, counts)),
  h('ol', { class: 'findings' },
    entry.errors.map(renderModuleError),
    findings.map((f) => renderFinding(f)),
    entry.exempted.map((f) => renderFinding(f, `exempted: ${f.reason}${f.by ? ` (${f.by})` : ''}`)),
    entry.baselined.map((f) => renderFinding(f, 'baselined'))));
}

function byImportance(a, b) {
  const rank = (f) => (f.severity === 'error' ? 0 : 1);
  return rank(a) - rank(b) || a.location.line - b.location.line || a.location.column - b.location.column;
}

function renderFinding(f, note) {
  const rule = rules.get(f.rule);
  const check = rule?.checks.find((c) => c.id === f.check);
  const loc = f.location;
  const status = f.status || 'open';
  const item = h('li', {
    class: `finding severity-${f.severity} status-${status}`,
    tabindex: '0',
    'data-check': `${f.rule}/${f.check}`,
    'data-severity': f.severity,
    'data-status': status,
    'data-line': String(loc.line),
    'data-column': String(loc.column),
    title: 'Show in the editor',
  },
  h('div', { class: 'finding-head' },
    h('span', { class: `badge ${status === 'open' ? f.severity : status}` }, status === 'open' ? f.severity : status),
    h('code', { class: 'check-id' }, `${f.rule}/${f.check}`),
    h('span', { class: 'position', title: loc.exact ? `line ${loc.line}, column ${loc.column}`
      : `line ${loc.line}, column ${loc.column}: the field is absent, this is where its nearest parent is` },
    `${loc.exact ? '' : '≈ '}${loc.line}:${loc.column}`)),
  h('p', { class: 'message' }, f.message),
  note && h('p', { class: 'note' }, note),
  check && h('dl', { class: 'explain' },
    h('dt', {}, 'Why'), h('dd', {}, check.description),
    h('dt', {}, 'Fix'), h('dd', {}, check.remediation)),
  h('p', { class: 'meta' },
    f.path && h('code', { class: 'path' }, f.path),
    rule && h('span', {}, `Rule ${rule.number}: ${rule.title}`),
    rule && h('a', { href: SLIDES_URL, target: '_blank', rel: 'noopener', class: 'slides' }, rule.slide)));
  const show = (event) => {
    if (event.target.closest('a')) return;
    for (const selected of ui.results.querySelectorAll('.finding.selected')) selected.classList.remove('selected');
    item.classList.add('selected');
    selectPosition(loc.line, loc.column, f.severity);
  };
  item.addEventListener('click', show);
  item.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' || event.key === ' ') {
      event.preventDefault();
      show(event);
    }
  });
  return item;
}

function renderModuleError(error) {
  const line = error.location?.line;
  return h('li', { class: 'finding module-error', 'data-module-error': error.rule, 'data-line': line ? String(line) : '' },
    h('div', { class: 'finding-head' },
      h('span', { class: 'badge error' }, 'module error'),
      h('code', { class: 'check-id' }, `${error.rule}${error.code ? ` (${error.code})` : ''}`),
      line && h('button', { type: 'button', class: 'link position', onclick: () => selectPosition(line, error.location.column || 1, 'error') },
        `${line}:${error.location.column || 1}`)),
    h('p', { class: 'message' }, error.message),
    h('p', { class: 'note' }, 'The rule could not evaluate this object; it is not a pass.'));
}

function objectLabel(o) {
  return `${o.kind} ${o.namespace ? `${o.namespace}/` : ''}${o.name}`;
}

function plural(n, word) {
  return n === 1 ? word : `${word}s`;
}

// ---------------------------------------------------------------------------------------------
// The editor

let lineCount = 1;

function updateGutter() {
  const text = ui.editor.value;
  let n = 1;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) n += 1;
  lineCount = n;
  ui.gutter.style.width = `calc(${Math.max(2, String(n).length)}ch + 24px)`;
  syncScroll();
}

// The gutter draws the visible line numbers only, moved to where the text is.
function syncScroll() {
  const top = ui.editor.scrollTop;
  const first = Math.max(0, Math.floor((top - PAD_PX) / LINE_PX));
  const last = Math.min(lineCount, first + Math.ceil(ui.editor.clientHeight / LINE_PX) + 2);
  const numbers = [];
  for (let n = first + 1; n <= last; n += 1) numbers.push(n);
  ui.lineNumbers.textContent = numbers.join('\n');
  ui.lineNumbers.style.transform = `translateY(${PAD_PX + first * LINE_PX - top}px)`;
  ui.markers.style.transform = `translateY(${-top}px)`;
  placeHighlight();
}

let highlighted = null;

function highlightLine(line, kind = 'selected') {
  highlighted = line ? { line, kind } : null;
  ui.wrap.dataset.highlightLine = line ? String(line) : '';
  placeHighlight();
}

function placeHighlight() {
  if (!highlighted) {
    ui.highlight.hidden = true;
    return;
  }
  ui.highlight.hidden = false;
  ui.highlight.className = `line-highlight hl-${highlighted.kind}`;
  ui.highlight.style.top = `${PAD_PX + (highlighted.line - 1) * LINE_PX - ui.editor.scrollTop}px`;
}

// Gutter marks at the lines findings point to, in the colour of the worst severity there.
function markLines(list) {
  const worst = new Map();
  for (const { line, severity } of list) {
    if (!line) continue;
    if (worst.get(line) !== 'error') worst.set(line, severity);
  }
  ui.markers.replaceChildren(...[...worst].map(([line, severity]) => h('div', {
    class: `marker hl-${severity}`,
    style: `top: ${PAD_PX + (line - 1) * LINE_PX}px`,
  })));
}

// Selects the text from (line, column) to the end of that line, scrolls it into view, and
// highlights the line. Both are 1-based, as check() reports them.
function selectPosition(line, column = 1, kind = 'selected') {
  const text = ui.editor.value;
  let start = 0;
  for (let i = 1; i < line; i += 1) {
    const newline = text.indexOf('\n', start);
    if (newline < 0) break;
    start = newline + 1;
  }
  let end = text.indexOf('\n', start);
  if (end < 0) end = text.length;
  let from = Math.min(start + Math.max(0, column - 1), end);
  if (from === end) from = start;
  ui.editor.focus({ preventScroll: true });
  ui.editor.setSelectionRange(from, end);
  // The line a third of the way down, on a line boundary.
  const above = Math.floor(ui.editor.clientHeight / LINE_PX / 3);
  ui.editor.scrollTop = line - 1 > above ? PAD_PX + (line - 1 - above) * LINE_PX : 0;
  highlightLine(line, kind);
  syncScroll();
}

function setText(text, name = DEFAULT_FILE, label = name) {
  ui.editor.value = text;
  fileName = name;
  ui.fileName.textContent = label;
  ui.editor.scrollTop = 0;
  onEdit();
}

function onEdit() {
  updateGutter();
  markLines([]);
  highlightLine(null);
  schedule();
}

// Several files become one stream of documents, each starting with a comment naming its file.
async function loadFiles(files) {
  const list = [...files];
  if (!list.length) return;
  const texts = await Promise.all(list.map((file) => file.text()));
  if (list.length === 1) {
    setText(texts[0], list[0].name);
    return;
  }
  const joined = list.map((file, i) => {
    // A file's own leading `---` would make an empty document after the joining one.
    const body = texts[i].replace(/^\uFEFF/, '').replace(/^---[ \t]*(#[^\r\n]*)?\r?\n/, '');
    return `# file: ${file.name}\n${body.endsWith('\n') ? body : `${body}\n`}`;
  }).join('---\n');
  setText(joined, JOINED_FILE, `${JOINED_FILE}: ${list.map((file) => file.name).join(', ')}`);
}

// ---------------------------------------------------------------------------------------------
// Settings, generated from each rule's settingsSchema (JSON Schema by schemars)

const fields = []; // {rule, prop, kind, element(s), schema}

function buildRules(list) {
  const sorted = [...list].sort((a, b) => a.number - b.number);
  ui.rules.replaceChildren(...sorted.map(renderRule));
  countChanges();
}

function renderRule(rule) {
  const root = rule.settingsSchema || {};
  const properties = Object.entries(root.properties || {});
  const severityProp = properties.find(([prop, s]) => prop === 'severity' && severityMap(resolve(s, root)));
  const severitySelects = new Map();
  const checks = h('table', { class: 'checks' },
    h('thead', {}, h('tr', {},
      h('th', {}, 'Check'), h('th', {}, 'Severity'), h('th', {}, 'What it checks'),
      severityProp && h('th', {}, 'Override'))),
    h('tbody', {}, rule.checks.map((check) => {
      let override;
      if (severityProp) {
        const values = severityMap(resolve(severityProp[1], root));
        override = h('select', { 'data-setting': `${rule.id}.severity.${check.id}`, 'aria-label': `Severity of ${rule.id}/${check.id}` },
          h('option', { value: '' }, 'default'),
          values.map((value) => h('option', { value }, value)));
        severitySelects.set(check.id, override);
      }
      return h('tr', { 'data-rule-check': `${rule.id}/${check.id}` },
        h('td', {}, h('code', {}, check.id)),
        h('td', {}, h('span', { class: `badge ${check.severity}` }, check.severity)),
        h('td', {}, check.description, ' ', h('span', { class: 'muted' }, `Fix: ${check.remediation}`)),
        override && h('td', {}, override));
    })));
  if (severityProp) fields.push({ rule: rule.id, prop: 'severity', kind: 'severity', selects: severitySelects });

  const rows = properties
    .filter(([prop]) => !(severityProp && prop === 'severity'))
    .map(([prop, schema]) => renderSetting(rule, prop, resolve(schema, root), schema));

  return h('details', { class: 'rule', 'data-rule': rule.id, id: `rule-${rule.id}` },
    h('summary', {},
      h('span', { class: 'number' }, String(rule.number)),
      h('span', { class: 'title' }, rule.title),
      h('code', {}, rule.id),
      h('span', { class: 'changed', hidden: '' })),
    h('div', { class: 'rule-body' },
      h('p', {}, rule.description),
      h('p', { class: 'meta' }, `version ${rule.version} · `,
        h('a', { href: SLIDES_URL, target: '_blank', rel: 'noopener', class: 'slides' }, rule.slide)),
      checks,
      rows.length ? h('div', { class: 'settings' }, rows) : h('p', { class: 'muted' }, 'No settings.')));
}

function renderSetting(rule, prop, schema, raw) {
  const id = `${rule.id}.${prop}`;
  const def = 'default' in schema ? schema.default : raw.default;
  const kind = kindOf(schema);
  const attrs = { 'data-setting': id, id: `setting-${id}`, 'data-kind': kind };
  let input;
  switch (kind) {
    case 'boolean':
      input = h('input', { ...attrs, type: 'checkbox' });
      input.checked = def === true;
      break;
    case 'number':
      input = h('input', {
        ...attrs, type: 'number', placeholder: def === undefined || def === null ? 'none' : String(def),
        step: schema.type === 'integer' || (Array.isArray(schema.type) && schema.type.includes('integer')) ? '1' : 'any',
        min: schema.minimum ?? undefined, max: schema.maximum ?? undefined,
      });
      break;
    case 'enum':
      input = h('select', attrs,
        h('option', { value: '' }, `default${def === undefined ? '' : `: ${def}`}`),
        schema.enum.map((value, i) => h('option', { value: JSON.stringify(value), title: schema.enumDescriptions?.[i] ?? '' },
          String(value))));
      break;
    case 'string':
      input = h('input', { ...attrs, type: 'text', placeholder: def ? String(def) : '(empty)', spellcheck: 'false' });
      break;
    case 'list':
      input = h('textarea', {
        ...attrs, rows: String(Math.min(4, Math.max(2, Array.isArray(def) ? def.length : 2))), spellcheck: 'false',
        placeholder: Array.isArray(def) && def.length ? def.join('\n') : '(empty list)',
      });
      break;
    default:
      input = h('textarea', {
        ...attrs, rows: '2', spellcheck: 'false', class: 'json',
        placeholder: def === undefined ? 'JSON' : JSON.stringify(def),
      });
  }
  fields.push({ rule: rule.id, prop, kind, input, schema, def });
  const description = (schema.description || raw.description || '').replace(/([^\n])\n(?!\n)/g, '$1 ');
  const label = [h('code', {}, prop), h('span', { class: 'type' }, kindLabel(kind, schema, def))];
  return h('div', { class: 'setting' },
    kind === 'boolean' ? h('label', {}, input, label) : [h('label', { for: attrs.id }, label), input],
    description && h('p', { class: 'hint' }, description));
}

function kindLabel(kind, schema, def) {
  switch (kind) {
    case 'boolean': return `boolean, default ${def === true}`;
    case 'number': return schema.minimum === undefined ? typeName(schema) : `${typeName(schema)} ≥ ${schema.minimum}`;
    case 'enum': return 'one of';
    case 'string': return 'string';
    case 'list': return `list of ${typeName(resolve(schema.items, schema))}, one a line`;
    default: return 'JSON';
  }
}

function typeName(schema) {
  const types = Array.isArray(schema.type) ? schema.type : [schema.type];
  return types.filter((t) => t && t !== 'null').join(' or ') || 'value';
}

function singleType(schema) {
  const types = (Array.isArray(schema.type) ? schema.type : [schema.type]).filter((t) => t && t !== 'null');
  return types.length === 1 ? types[0] : undefined;
}

function kindOf(schema) {
  if (Array.isArray(schema.enum) && schema.enum.length) return 'enum';
  const type = singleType(schema);
  if (type === 'boolean') return 'boolean';
  if (type === 'integer' || type === 'number') return 'number';
  if (type === 'string') return 'string';
  if (type === 'array' && schema.items && !Array.isArray(schema.items)) {
    const items = schema.items;
    const itemType = singleType(items);
    if (['string', 'integer', 'number'].includes(itemType) && !items.enum && !items.anyOf && !items.oneOf && !items.$ref) {
      return 'list';
    }
  }
  return 'json';
}

// The check-severity override map: an object whose values are an enum (error, warning, off).
function severityMap(schema) {
  const values = schema.additionalProperties?.enum;
  return singleType(schema) === 'object' && Array.isArray(values) ? values : null;
}

// Follows $ref (into $defs or definitions), a lone allOf, and Option<T>'s anyOf [T, null];
// turns oneOf/anyOf of consts into an enum.
function resolve(schema, root) {
  let s = schema || {};
  const seen = new Set();
  for (;;) {
    if (typeof s.$ref === 'string' && !seen.has(s.$ref)) {
      seen.add(s.$ref);
      const target = pointer(root, s.$ref);
      if (!target) break;
      const { $ref, ...rest } = s;
      s = { ...target, ...rest };
      continue;
    }
    if (Array.isArray(s.allOf) && s.allOf.length === 1) {
      const { allOf, ...rest } = s;
      s = { ...resolve(allOf[0], root), ...rest };
      continue;
    }
    const alternatives = s.anyOf || s.oneOf;
    if (Array.isArray(alternatives)) {
      const { anyOf, oneOf, ...rest } = s;
      const options = alternatives.map((a) => resolve(a, root));
      const nonNull = options.filter((a) => a.type !== 'null');
      if (nonNull.length === 1 && options.length === 2) {
        s = { ...nonNull[0], ...rest };
        continue;
      }
      if (options.every((a) => 'const' in a || Array.isArray(a.enum))) {
        s = {
          ...rest,
          enum: options.flatMap((a) => ('const' in a ? [a.const] : a.enum)),
          enumDescriptions: options.flatMap((a) => ('const' in a ? [a.description] : a.enum.map(() => a.description))),
        };
      }
    }
    break;
  }
  return s;
}

function pointer(root, ref) {
  if (!ref.startsWith('#/')) return null;
  let node = root;
  for (const part of ref.slice(2).split('/')) {
    node = node?.[part.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  return node && typeof node === 'object' ? node : null;
}

class SettingsError extends EngineError {
  constructor(field, message) {
    super('Invalid settings', `${field}: ${message}`);
  }
}

// Only the values the user changed; the rules fill in their own defaults.
function readSettings() {
  const settings = {};
  const put = (rule, prop, value) => {
    (settings[rule] ||= {})[prop] = value;
  };
  for (const field of fields) {
    const name = `${field.rule}.${field.prop}`;
    if (field.kind === 'severity') {
      const overrides = {};
      for (const [check, select] of field.selects) if (select.value) overrides[check] = select.value;
      if (Object.keys(overrides).length) put(field.rule, field.prop, overrides);
      continue;
    }
    const { input } = field;
    input.removeAttribute('aria-invalid');
    const text = input.value;
    try {
      switch (field.kind) {
        case 'boolean':
          if (input.checked !== (field.def === true)) put(field.rule, field.prop, input.checked);
          break;
        case 'number':
          if (input.validity.badInput) throw new SettingsError(name, 'not a number');
          if (text !== '') put(field.rule, field.prop, Number(text));
          break;
        case 'enum':
          if (text !== '') put(field.rule, field.prop, JSON.parse(text));
          break;
        case 'string':
          if (text !== '') put(field.rule, field.prop, text);
          break;
        case 'list':
          if (text.trim() !== '') put(field.rule, field.prop, parseList(name, text, singleType(field.schema.items)));
          break;
        default:
          if (text.trim() !== '') put(field.rule, field.prop, parseJson(name, text));
      }
    } catch (error) {
      input.setAttribute('aria-invalid', 'true');
      throw error;
    }
  }
  return settings;
}

function parseList(name, text, itemType) {
  if (text.trim().startsWith('[')) return parseJson(name, text);
  return text.split('\n').map((line) => line.trim()).filter(Boolean).map((item) => {
    if (itemType === 'string') return item;
    const n = Number(item);
    if (!Number.isFinite(n)) throw new SettingsError(name, `${JSON.stringify(item)} is not a number`);
    return n;
  });
}

function parseJson(name, text) {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new SettingsError(name, `not valid JSON (${error.message})`);
  }
}

function countChanges() {
  let total = 0;
  for (const details of ui.rules.querySelectorAll('details.rule')) {
    const changed = [...details.querySelectorAll('[data-setting]')].filter(isChanged).length;
    const badge = details.querySelector('.changed');
    badge.hidden = !changed;
    badge.textContent = `${changed} changed`;
    total += changed;
  }
  ui.changedCount.hidden = !total;
  ui.changedCount.textContent = String(total);
}

function isChanged(input) {
  if (input.type === 'checkbox') {
    const field = fields.find((f) => f.input === input);
    return input.checked !== (field?.def === true);
  }
  return input.value.trim() !== '';
}

function resetSettings() {
  for (const input of ui.rules.querySelectorAll('[data-setting]')) {
    if (input.type === 'checkbox') {
      input.checked = fields.find((f) => f.input === input)?.def === true;
    } else {
      input.value = '';
    }
    input.removeAttribute('aria-invalid');
  }
  countChanges();
  schedule();
}

// ---------------------------------------------------------------------------------------------
// Small DOM helpers

// h('a', {href}, 'text', child, [more children]). Children that are false, null, undefined, 0 or ''
// are left out, so `count && h(...)` reads naturally; pass numbers as strings.
function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? '' : String(value));
  }
  const add = (child) => {
    if (child === undefined || child === null || child === false || child === 0 || child === '') return;
    if (Array.isArray(child)) child.forEach(add);
    else element.append(child instanceof Node ? child : String(child));
  };
  children.forEach(add);
  return element;
}

function selectTab(name) {
  for (const tab of ['results', 'rules']) {
    const selected = tab === name;
    $(`#tab-${tab}`).setAttribute('aria-selected', String(selected));
    $(`#${tab}-panel`).hidden = !selected;
  }
}

// ---------------------------------------------------------------------------------------------
// Wiring

ui.editor.addEventListener('input', onEdit);
ui.editor.addEventListener('scroll', syncScroll);
new ResizeObserver(syncScroll).observe(ui.editor);
ui.check.addEventListener('click', () => checkNow());
$('#sample').addEventListener('click', () => setText(SAMPLE));
$('#clear').addEventListener('click', () => setText(''));
$('#reset-settings').addEventListener('click', resetSettings);
$('#tab-results').addEventListener('click', () => selectTab('results'));
$('#tab-rules').addEventListener('click', () => selectTab('rules'));
ui.open.addEventListener('change', async () => {
  await loadFiles(ui.open.files);
  ui.open.value = '';
});
ui.rules.addEventListener('input', () => {
  countChanges();
  schedule();
});

// Dropped files replace the text; dropped text is left to the textarea.
const hasFiles = (event) => [...(event.dataTransfer?.types || [])].includes('Files');
ui.wrap.addEventListener('dragover', (event) => {
  if (!hasFiles(event)) return;
  event.preventDefault();
  ui.dropHint.hidden = false;
});
ui.wrap.addEventListener('dragleave', (event) => {
  if (!ui.wrap.contains(event.relatedTarget)) ui.dropHint.hidden = true;
});
ui.wrap.addEventListener('drop', (event) => {
  ui.dropHint.hidden = true;
  if (!hasFiles(event)) return;
  event.preventDefault();
  loadFiles(event.dataTransfer.files);
});

ui.editor.value = SAMPLE;
updateGutter();
start();
