// The webhook-trigger console. Served under a strict CSP (no inline script); every piece of
// data reaches the page through textContent or a DOM attribute, never as HTML.
'use strict';

(function () {
  const KEY = 'webhookTriggerAdminKey';
  const STATUSES = ['queued', 'running', 'waiting', 'succeeded', 'failed'];
  const TRIGGER_LABELS = { generic_webhook: 'Generic Webhook', amazon_sns: 'Amazon SNS' };
  // Why a request for a workflow started nothing (the admin API's rejections.counts keys).
  const REASONS = ['auth', 'size', 'signature', 'duplicate', 'payload_invalid', 'other'];
  const REASON_TITLES = {
    auth: 'missing, wrong, revoked or ambiguous API key',
    size: 'body over the size limit',
    signature: 'missing or invalid signature, stale timestamp',
    duplicate: 'repeat of an earlier delivery, answered with its execution',
    payload_invalid: "body does not match the workflow's payload_schema",
    other: 'any other refusal (not JSON, wrong trigger, content type, ...)',
  };
  // Where the service lives: /console under serve, /STAGE/console behind API Gateway.
  const BASE = location.pathname.replace(/console\/?$/, '');
  const REFRESH_MS = 2000;
  // How long an armed Cancel waits for its second click before it is a plain Cancel again.
  const CONFIRM_MS = 10000;
  let timer = null;
  // Whether the operator has something unfinished on the page (a comment being written, an
  // armed Cancel) that a refresh would throw away.
  let busy = () => false;
  // The error shown came from a refresh, so the next good refresh may take it away; an
  // operator's failed action stays until they go elsewhere.
  let refreshError = false;

  const $ = (id) => document.getElementById(id);

  // el('td', {class: 'x'}, 'text', childNode): strings become text nodes, never markup.
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (/^on/i.test(name) || name === 'style') throw new Error('refused attribute ' + name);
      node.setAttribute(name, value === true ? '' : String(value));
    }
    for (const child of children.flat(Infinity)) {
      if (child === undefined || child === null) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function render(...children) {
    $('view').replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined));
  }

  function svg(tag, attrs) {
    const node = document.createElementNS('http://www.w3.org/2000/svg', tag);
    for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, String(value));
    return node;
  }

  // Step statuses beyond the executions' own, each with its colour.
  const STEP_STATUSES = ['skipped', 'pending', 'filtered', 'stopped', 'retrying'];
  // Items of a for_each per page (the API's default).
  const ITEM_PAGE = 50;

  function statusBadge(status) {
    const known = STATUSES.includes(status) || STEP_STATUSES.includes(status);
    return el('span', { class: 'status ' + (known ? status : ''), 'data-status': status }, status);
  }

  // What a branch record chose, as "case 1 → chat" or "default → ignore"; null otherwise.
  function branchChoice(s) {
    if (s.type !== 'branch' || !s.output || typeof s.output.next !== 'string') return null;
    const m = s.output.matched;
    const label = typeof m === 'number' ? 'case ' + m : String(m);
    return label + ' \u2192 ' + s.output.next;
  }

  function when(iso) {
    if (!iso) return '';
    const d = new Date(iso);
    return isNaN(d) ? String(iso) : d.toLocaleString();
  }

  function pretty(value) {
    return typeof value === 'string' ? value : JSON.stringify(value, null, 2);
  }

  function stopRefresh() {
    if (timer) clearTimeout(timer);
    timer = null;
  }

  function showError(message) {
    const box = $('error');
    box.textContent = message || '';
    box.hidden = !message;
  }

  class Refused extends Error {}

  // A refusal other than the admin key's, with its status, so a caller can tell a conflict
  // (409) from the rest.
  class Failed extends Error {
    constructor(message, status, code, details) {
      super(message);
      this.status = status;
      this.code = code;
      this.details = details || [];
    }
  }

  async function api(method, path, body, extraHeaders) {
    const key = sessionStorage.getItem(KEY);
    if (!key) throw new Refused('sign in first');
    const headers = { ...(extraHeaders || {}), 'x-admin-key': key, accept: 'application/json' };
    // A caller that names its content type (the editor's YAML) sends its text as it is.
    const raw = body !== undefined && headers['content-type'] !== undefined;
    if (body !== undefined && !raw) headers['content-type'] = 'application/json';
    const response = await fetch(BASE + path, {
      method,
      headers,
      body: body === undefined ? undefined : raw ? body : JSON.stringify(body),
      cache: 'no-store',
      credentials: 'omit',
      referrerPolicy: 'no-referrer',
    });
    let answer = null;
    try { answer = await response.json(); } catch (_) { answer = null; }
    if (response.status === 401) {
      sessionStorage.removeItem(KEY);
      const msg = answer && answer.error ? answer.error.message : 'refused';
      throw new Refused('The admin key was refused: ' + msg);
    }
    if (!response.ok) {
      const msg = answer && answer.error ? answer.error.code + ': ' + answer.error.message : response.statusText;
      const error = answer && answer.error ? answer.error : {};
      throw new Failed(msg, response.status, error.code || '', error.details);
    }
    return answer;
  }

  function showLogin(message) {
    stopRefresh();
    $('login').hidden = false;
    $('sign-out').hidden = true;
    $('menu').hidden = true;
    $('who').textContent = '';
    $('view').replaceChildren();
    showError(message);
  }

  function counts(c) {
    return el('span', { class: 'counts' },
      STATUSES.map((s) => el('span', { 'data-count': s }, s + ' ' + ((c && c[s]) || 0))));
  }

  // Per hour, stacked bars of `keys` (each bar's class is its key), oldest hour on the left.
  function bars(hours, keys, id, label, classOf) {
    const width = 720, height = 140, pad = 18;
    const max = Math.max(1, ...hours.map((h) => keys.reduce((n, k) => n + (h.counts[k] || 0), 0)));
    const bar = (width - 2 * pad) / Math.max(1, hours.length);
    const root = svg('svg', { class: 'chart', width, height, viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': label, id });
    hours.forEach((h, i) => {
      let y = height - pad;
      for (const k of keys) {
        const n = h.counts[k] || 0;
        if (!n) continue;
        const barHeight = ((height - 2 * pad) * n) / max;
        y -= barHeight;
        const rect = svg('rect', { class: classOf(k), x: pad + i * bar + 1, y, width: Math.max(1, bar - 2), height: barHeight, 'data-key': k, 'data-n': n });
        const title = svg('title');
        title.textContent = `${when(h.hour)}: ${n} ${k}`;
        rect.append(title);
        root.append(rect);
      }
      if (i % 6 === 0) {
        const label = svg('text', { x: pad + i * bar, y: height - 4 });
        label.textContent = new Date(h.hour).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
        root.append(label);
      }
    });
    const top = svg('text', { x: 2, y: 12 });
    top.textContent = `max ${max}/h`;
    root.append(top);
    return root;
  }

  // Executions per hour by status.
  function chart(activity) {
    return el('div', {},
      bars(activity.hourly || [], STATUSES, 'chart', 'executions per hour by status, last 24 hours', (s) => s),
      el('div', { class: 'legend' }, STATUSES.map((s) => el('span', {}, statusBadge(s)))));
  }

  function reasonBadge(reason, n) {
    return el('span', { class: 'reason r-' + reason, 'data-reason': reason, title: REASON_TITLES[reason] }, reason + ' ' + n);
  }

  // Refused requests (and duplicates) per hour by reason, with the totals as the legend.
  function rejectionsChart(rejections) {
    const r = rejections || { total: 0, counts: {}, hourly: [] };
    return el('div', { id: 'rejections' },
      bars(r.hourly || [], REASONS, 'rejections-chart', 'refused requests per hour by reason, last 24 hours', (k) => 'r-' + k),
      el('div', { class: 'legend' },
        el('span', { id: 'rejections-total', 'data-total': r.total }, 'total ' + r.total),
        REASONS.map((k) => reasonBadge(k, (r.counts && r.counts[k]) || 0))));
  }

  // Samples of refused requests (one per reason and minute, newest first) beside the chart:
  // what the sender got and what it sent, secrets already redacted by the server. Every value
  // is the sender's text, so it goes in as text nodes only.
  const SAMPLES_SHOWN = 10;
  function refusalSamples(samples) {
    const list = samples || [];
    if (!list.length) return el('p', { id: 'refusal-samples', class: 'muted' }, 'No refused requests sampled in the last 48 h.');
    const rows = list.slice(0, SAMPLES_SHOWN).map((s) => el('tr', { class: 'refusal-sample', 'data-code': s.code, 'data-reason': s.reason },
      el('td', {}, when(s.at)),
      el('td', {}, String(s.status), ' ', el('code', {}, s.code)),
      el('td', {}, reasonBadge(s.reason, '')),
      el('td', {}, s.sourceIp || ''),
      el('td', {}, el('pre', { class: 'refusal-headers' }, Object.entries(s.headers || {}).map(([k, v]) => k + ': ' + v + '\n'))),
      el('td', {}, el('pre', { class: 'refusal-body' }, s.body),
        s.bodyTruncated ? el('span', { class: 'muted' }, s.body ? 'first 4 KiB' : 'body not read') : null)));
    return el('div', { id: 'refusal-samples' },
      el('p', { class: 'muted' }, 'One sample per reason and minute, kept 48 h; header values are shown only for headers known to carry no secret. ',
        list.length > SAMPLES_SHOWN ? `Showing the ${SAMPLES_SHOWN} newest of ${list.length}.` : ''),
      el('table', { id: 'refusal-samples-table' },
        el('thead', {}, el('tr', {}, ['Time', 'Answer', 'Reason', 'From', 'Headers', 'Body'].map((h) => el('th', {}, h)))),
        el('tbody', {}, rows)));
  }

  function copyButton(text, attrs) {
    const button = el('button', { type: 'button', ...attrs }, 'Copy');
    button.addEventListener('click', async () => {
      try { await navigator.clipboard.writeText(text); button.textContent = 'Copied'; } catch (_) { button.textContent = 'Copy failed'; }
    });
    return button;
  }

  async function workflowsPage() {
    const workflows = await api('GET', 'admin/workflows');
    const rows = workflows.map((w) => {
      const url = location.origin + BASE + w.webhookPath.replace(/^\//, '');
      const copy = copyButton(url, { class: 'copy', 'data-url': url });
      const last = w.activity.lastExecution;
      return el('tr', { 'data-workflow': w.id },
        el('td', {}, el('a', { href: '#/workflows/' + encodeURIComponent(w.id), class: 'workflow-link' }, w.name),
          el('div', { class: 'muted' }, el('code', {}, w.id))),
        el('td', {}, TRIGGER_LABELS[w.trigger] || w.trigger),
        el('td', {}, w.enabled ? 'yes' : 'no'),
        el('td', { class: 'url-cell' }, el('code', { class: 'webhook-url' }, url), ' ', copy),
        el('td', {}, last
          ? [el('a', { href: `#/workflows/${encodeURIComponent(w.id)}/executions/${encodeURIComponent(last.id)}` }, statusBadge(last.status)), ' ', when(last.receivedAt)]
          : el('span', { class: 'muted' }, 'none')),
        el('td', {}, counts(w.activity.counts), w.activity.truncated ? el('span', { class: 'muted' }, ' (newest only)') : null,
          el('div', { class: 'muted refused', 'data-refused': w.activity.rejections.total }, 'refused ' + w.activity.rejections.total)));
    });
    render(
      el('h1', {}, 'Workflows'),
      el('div', { class: 'toolbar' }, el('a', { href: '#/workflows/new', id: 'new-workflow', class: 'button' }, 'New workflow')),
      rows.length
        ? el('table', { id: 'workflows' },
          el('thead', {}, el('tr', {}, ['Name', 'Trigger', 'Enabled', 'Webhook URL', 'Last execution', 'Last 24 h'].map((h) => el('th', {}, h)))),
          el('tbody', {}, rows))
        : el('p', {}, 'No workflows yet: New workflow makes one (or webhook-trigger workflows create).'));
  }

  async function executionsPage(workflowId, params, refreshing) {
    if (refreshing && busy()) return schedule();
    const filters = readFilters(params, 'any');
    const cursor = params.get('cursor') || '';
    const query = filterQuery(filters);
    query.set('limit', '20');
    if (cursor) query.set('cursor', cursor);
    const id = encodeURIComponent(workflowId);
    const [workflow, page, refused] = await Promise.all([
      api('GET', `admin/workflows/${id}`),
      api('GET', `admin/workflows/${id}/executions?${query}`),
      api('GET', `admin/workflows/${id}/refusals`),
    ]);
    const form = filtersForm(filters, { withWorkflow: false, onApply: (next) => { location.hash = `#/workflows/${id}?${filterHash(next)}`; } });
    const bulk = bulkReplayPanel(workflow, filters, () => { auto.checked = false; stopRefresh(); });
    busy = () => filtersBusy(form) || bulk.dataset.busy === 'true';
    const auto = el('input', { type: 'checkbox', id: 'auto-refresh', checked: !cursor });
    const rows = page.items.map((e) => el('tr', { 'data-execution': e.id, 'data-status': e.status },
      el('td', {}, el('a', { href: `#/workflows/${id}/executions/${encodeURIComponent(e.id)}`, class: 'execution-link' }, el('code', {}, e.id)), testBadge(e)),
      el('td', {}, statusBadge(e.status)),
      el('td', {}, when(e.receivedAt)),
      el('td', {}, e.finishedAt ? when(e.finishedAt) : ''),
      el('td', {}, e.trigger.type),
      el('td', { class: 'workflow-version' }, versionLabel(e.workflowVersion)),
      el('td', {}, String(e.steps.length)),
      el('td', {}, String(e.attempts))));
    const nav = el('div', { class: 'toolbar' });
    const here = filterHash(filters);
    if (cursor) nav.append(el('a', { href: `#/workflows/${id}?${here}`, id: 'newest' }, '« Newest'));
    if (page.nextCursor) {
      const older = new URLSearchParams(here);
      older.set('cursor', page.nextCursor);
      nav.append(el('a', { href: `#/workflows/${id}?${older}`, id: 'older' }, 'Older »'));
    }
    render(
      el('p', {}, el('a', { href: '#/' }, '« Workflows')),
      workflowHeading(workflow, 'executions'),
      el('p', { class: 'muted' }, 'last 24 h: ', counts(workflow.activity.counts)),
      flowSection(workflow),
      el('h2', {}, 'Executions per hour, last 24 h'),
      chart(workflow.activity),
      el('h2', {}, 'Refused requests per hour, last 24 h'),
      el('p', { class: 'muted' }, 'Requests to this workflow that started nothing, by reason; counted by each process and written every few seconds, so the last seconds of another process may be missing.'),
      rejectionsChart(workflow.activity.rejections),
      el('h3', {}, 'Refused requests, sampled'),
      refusalSamples(refused.samples),
      el('h2', {}, 'Executions'),
      form,
      el('div', { class: 'toolbar' }, el('label', {}, auto, ' auto-refresh')),
      scanNote(page, filters),
      rows.length
        ? el('table', { id: 'executions' },
          el('thead', {}, el('tr', {}, ['Execution', 'Status', 'Received', 'Finished', 'Trigger', 'Version', 'Steps', 'Attempts'].map((h) => el('th', {}, h)))),
          el('tbody', {}, rows))
        : el('p', { id: 'no-executions' }, 'No executions' + (filters.status ? ' with status ' + filters.status : '') + (filterActive(filters) ? ' matching the filters' : '') + '.'),
      nav,
      bulk);
    if (auto.checked) schedule();
    auto.addEventListener('change', () => (auto.checked ? schedule() : stopRefresh()));
  }

  function section(title, ...content) {
    return [el('h2', {}, title), ...content];
  }

  function dl(pairs) {
    return el('dl', { class: 'meta' }, pairs.filter(([, v]) => v !== undefined && v !== null && v !== '')
      .map(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
  }

  async function executionPage(workflowId, executionId, refreshing) {
    const wid = encodeURIComponent(workflowId);
    const eid = encodeURIComponent(executionId);
    const e = await api('GET', `admin/workflows/${wid}/executions/${eid}`);
    const { headers, query, type, ...source } = e.trigger;
    const replay = el('button', { type: 'button', id: 'replay' }, 'Replay');
    const replayVersion = replayVersionChoice(e);
    replay.addEventListener('click', async () => {
      replay.disabled = true;
      try {
        const accepted = await api('POST', `admin/workflows/${wid}/executions/${eid}/replay`, { version: replayVersion.value });
        location.hash = `#/workflows/${wid}/executions/${encodeURIComponent(accepted.executionId)}`;
      } catch (err) {
        replay.disabled = false;
        fail(err);
      }
    });
    const [steps, flow] = await Promise.all([pathSteps(e, `admin/workflows/${wid}/executions/${eid}`), executionFlow(workflowId, e)]);
    // Checked right before rendering, in the same task: a refresh already on its way when
    // the operator began typing must not clear the field either.
    if (refreshing && busy()) return schedule();
    const waiting = e.status === 'waiting' && e.waiting ? waitingPanel(e.waiting, `admin/workflows/${wid}/executions/${eid}`) : null;
    busy = waiting ? () => operatorBusy(waiting) : () => false;
    render(
      el('p', {}, el('a', { href: `#/workflows/${wid}` }, '« Executions')),
      el('h1', {}, 'Execution ', el('code', { id: 'execution-id' }, e.id), ' ', el('span', { id: 'execution-status' }, statusBadge(e.status)), testBadge(e)),
      el('div', { class: 'toolbar' }, el('label', {}, 'Replay with ', replayVersion), replay, window.WebhookEditor.executionTools(editorContext(), workflowId, e)),
      waiting ? section('Waiting', waiting) : [],
      ...section('Timeline', dl([['received', when(e.receivedAt)], ['started', when(e.startedAt)],
        ['finished', when(e.finishedAt)], ['attempts', String(e.attempts)], ['expires', when(e.expiresAt)],
        ['workflow version', el('a', { id: 'execution-version', href: `#/workflows/${wid}/versions` }, versionLabel(e.workflowVersion))]])),
      ...section('Trigger', dl([['type', type], ...Object.entries(source).map(([k, v]) => [k, pretty(v)])])),
      ...section('Headers', headers && Object.keys(headers).length
        ? el('table', { id: 'headers' }, el('tbody', {}, Object.entries(headers).map(([k, v]) => el('tr', {}, el('td', {}, el('code', {}, k)), el('td', {}, v)))))
        : el('p', { class: 'muted' }, 'none')),
      query && Object.keys(query).length ? section('Query', el('pre', {}, pretty(query))) : [],
      ...section('Payload', el('pre', { id: 'payload' }, pretty(e.payload))),
      e.result !== undefined ? section('Result', el('pre', { id: 'result' }, pretty(e.result))) : [],
      e.error ? section('Error', el('pre', { id: 'execution-error' }, e.error)) : [],
      ...flow,
      ...section('Steps', steps.length
        ? [el('p', { class: 'muted' }, 'The workflow\'s steps in order: those on the path this execution took with what they did, the others greyed.'),
          el('div', { id: 'steps' }, steps)]
        : el('p', { class: 'muted' }, 'no steps ran yet')));
    // A waiting execution can move on without this page (a wait ends, its link is used, it
    // times out), so the page keeps looking at it too.
    if (['queued', 'running', 'waiting'].includes(e.status)) schedule();
  }

  // Which version a replay runs: the current one (the API's default: a replay usually
  // follows a fix), or the one the execution ran.
  function replayVersionChoice(e) {
    return el('select', { id: 'replay-version' },
      el('option', { value: 'current' }, 'the current version'),
      el('option', { value: 'original' }, 'the version it ran' + (e.workflowVersion ? ' (v' + e.workflowVersion + ')' : '')));
  }

  const WAIT_NOTES = {
    wait: 'A wait step: the run goes on by itself when it wakes.',
    approval: 'An approval: approve or deny here or at the link it sent; without a decision it times out when it wakes.',
    callback: 'A callback: the run goes on when its resume URL is called, or times out when it wakes.',
  };

  // What a waiting execution waits for, with what an operator may do about it: decide an
  // approval, or cancel any wait.
  function waitingPanel(w, executionPath) {
    const buttons = [];
    const comment = w.type === 'approval'
      ? el('input', { type: 'text', id: 'decision-comment', maxlength: 1000, placeholder: 'optional comment', autocomplete: 'off' })
      : null;
    const decide = (verb, label) => {
      const button = el('button', { type: 'button', id: verb }, label);
      button.addEventListener('click', () => act(buttons, () => {
        const text = comment.value.trim();
        return api('POST', `${executionPath}/${verb}`, text ? { comment: text } : {});
      }));
      buttons.push(button);
      return button;
    };
    const decisions = w.type === 'approval'
      ? [el('label', {}, 'Comment ', comment), decide('approve', 'Approve'), decide('deny', 'Deny')]
      : [];
    const cancel = cancelButton(() => act(buttons, () => api('POST', `${executionPath}/cancel`)));
    buttons.push(cancel);
    return el('div', { id: 'waiting', 'data-type': w.type },
      el('p', { class: 'muted' }, WAIT_NOTES[w.type] || ''),
      dl([['step', w.step], ['type', w.type], ['wakes', when(w.wakeAt)], ['link expires', when(w.expiresAt)]]),
      el('div', { class: 'toolbar' }, decisions, cancel));
  }

  // Cancelling ends the run for good, so it takes a second click.
  function cancelButton(onConfirm) {
    return confirmButton({ id: 'cancel', class: 'danger' }, 'Cancel', 'Confirm cancel', onConfirm);
  }

  // An action that cannot be undone: the first click arms the button (it reads
  // `confirmLabel`), the second does it; the button disarms itself if that click does not come.
  function confirmButton(attrs, label, confirmLabel, onConfirm) {
    const button = el('button', { type: 'button', ...attrs }, label);
    let disarm = null;
    const reset = () => { delete button.dataset.armed; button.textContent = label; };
    button.addEventListener('click', () => {
      if (!button.dataset.armed) {
        button.dataset.armed = 'true';
        button.textContent = confirmLabel;
        disarm = setTimeout(reset, CONFIRM_MS);
        return;
      }
      clearTimeout(disarm);
      reset();
      onConfirm();
    });
    return button;
  }

  // Runs an operator's action with its buttons held, then shows the execution as it is now.
  async function act(buttons, call) {
    for (const b of buttons) b.disabled = true;
    try {
      await call();
    } catch (err) {
      // Mostly it moved on meanwhile (409 not_waiting, 410 callback_used): show it as it is
      // now, and why the action was refused.
      await route(false);
      return fail(err);
    }
    await route(false);
  }

  function operatorBusy(panel) {
    if (!panel.isConnected) return false;
    const comment = panel.querySelector('#decision-comment');
    return Boolean((comment && (comment.value || document.activeElement === comment))
      || panel.querySelector('#cancel[data-armed]'));
  }

  // One step that ran: status, timing, request, output or error; a branch's case; a loop's
  // items.
  function stepCard(s, items) {
    const choice = branchChoice(s);
    return el('div', { class: 'step', 'data-step': s.id, 'data-status': s.status },
      el('h3', {}, statusBadge(s.status), ' ', s.id, ' ', el('span', { class: 'muted' }, s.type),
        choice ? [' ', el('span', { class: 'branch-choice' }, choice)] : null),
      dl([['attempts', String(s.attempts)], ['started', when(s.startedAt)], ['duration', s.durationMs + ' ms'],
        ['continued', s.continued ? 'yes (continue_on_error)' : ''], ['next', s.next]]),
      items || null,
      s.request !== undefined ? [el('h4', {}, 'Request'), el('pre', { class: 'step-request' }, pretty(s.request))] : null,
      s.output !== undefined ? [el('h4', {}, 'Output'), el('pre', { class: 'step-output' }, pretty(s.output))] : null,
      s.error ? [el('h4', {}, 'Error'), el('pre', { class: 'step-error' }, s.error)] : null);
  }

  // A step of the definition the run went past (or has not reached yet): greyed, no details.
  function offPathCard(p, items) {
    const why = p.status === 'skipped' ? 'not on the path this execution took'
      : items ? 'running, or not run yet' : 'not run yet';
    return el('div', { class: 'step off-path ' + p.status, 'data-step': p.id, 'data-status': p.status },
      el('h3', {}, statusBadge(p.status), ' ', p.id, ' ', el('span', { class: 'muted' }, p.type)),
      el('p', { class: 'muted' }, why),
      items || null);
  }

  // The definition's steps in order (the path only goes forward, so the steps that ran are
  // in the order they ran), those off the path greyed; then any record the definition does
  // not name (an older execution read against a workflow edited since).
  async function pathSteps(e, executionPath) {
    const plan = e.plan || [];
    const byId = new Map(e.steps.map((s) => [s.id, s]));
    const shown = new Set();
    const cards = [];
    for (const p of plan) {
      const s = byId.get(p.id);
      if (!s && p.type === 'for_each' && p.status === 'pending') {
        // A loop in progress has items before it has a record.
        cards.push(offPathCard(p, await itemsPanel(executionPath, p.id)));
      } else if (!s) {
        cards.push(offPathCard(p));
      } else {
        shown.add(s.id);
        cards.push(stepCard(s, s.type === 'for_each' ? await itemsPanel(executionPath, s.id) : null));
      }
    }
    for (const s of e.steps) if (!shown.has(s.id)) cards.push(stepCard(s, null));
    return cards;
  }

  // An inner step of an item, on one line: status, path, type, a branch's case, an error.
  function innerStep(s) {
    const choice = branchChoice(s);
    return el('div', { class: 'inner-step', 'data-path': s.path || s.id, 'data-status': s.status },
      statusBadge(s.status), ' ', el('code', {}, s.path || s.id), ' ', el('span', { class: 'muted' }, s.type),
      choice ? [' ', el('span', { class: 'branch-choice' }, choice)] : null,
      s.error ? [' ', el('span', { class: 'inner-error' }, s.error)] : null);
  }

  function itemRow(item) {
    return el('tr', { 'data-item': item.index, 'data-status': item.status },
      el('td', {}, String(item.index)),
      el('td', {}, statusBadge(item.status)),
      el('td', {}, (item.steps || []).map(innerStep)),
      el('td', {},
        item.error ? el('pre', { class: 'item-error' }, item.error) : null,
        !item.error && item.output !== undefined ? el('pre', { class: 'item-output' }, pretty(item.output)) : null));
  }

  // A for_each's items, a page at a time; "More items" appends the next page.
  async function itemsPanel(executionPath, stepId) {
    const base = `${executionPath}/steps/${encodeURIComponent(stepId)}/items`;
    const body = el('tbody', {});
    const more = el('button', { type: 'button', class: 'more-items', hidden: true }, 'More items');
    const note = el('p', { class: 'muted items-note' });
    const panel = el('div', { class: 'items', 'data-items-step': stepId },
      el('h4', {}, 'Items'),
      el('table', { class: 'items-table' },
        el('thead', {}, el('tr', {}, ['#', 'Status', 'Steps', 'Output or error'].map((h) => el('th', {}, h)))),
        body),
      note, more);
    let after = null;
    async function load() {
      const query = new URLSearchParams({ limit: String(ITEM_PAGE) });
      if (after !== null) query.set('after', String(after));
      const page = await api('GET', `${base}?${query}`);
      body.append(...page.items.map(itemRow));
      after = page.nextAfter === undefined ? null : page.nextAfter;
      more.hidden = after === null;
      note.textContent = body.children.length ? `${body.children.length} shown` + (after === null ? '' : ', more to load') : 'no items';
    }
    more.addEventListener('click', async () => {
      more.disabled = true;
      try { await load(); } catch (err) { fail(err); } finally { more.disabled = false; }
    });
    try {
      await load();
    } catch (err) {
      if (err instanceof Refused) throw err;
      note.textContent = 'items could not be read: ' + String(err.message || err);
    }
    return panel;
  }

  function versionLabel(n) {
    return n === undefined || n === null ? '' : 'v' + n;
  }

  // A workflow's name and state, with its tabs: executions, trigger, versions.
  function workflowHeading(workflow, active) {
    const id = encodeURIComponent(workflow.id);
    const tab = (name, href, label) => el('a', { href, id: 'tab-' + name, class: name === active ? 'tab active' : 'tab', 'aria-current': name === active ? 'page' : null }, label);
    return [
      el('h1', {}, workflow.name),
      el('p', { class: 'muted', id: 'workflow-meta' }, el('code', {}, workflow.id), ' · ', TRIGGER_LABELS[workflow.trigger] || workflow.trigger,
        ' · ', el('span', { id: 'workflow-state' }, workflow.enabled ? 'enabled' : 'disabled'), ' · version ',
        el('span', { id: 'workflow-version' }, String(workflow.version))),
      el('nav', { class: 'tabs' },
        tab('executions', `#/workflows/${id}`, 'Executions'),
        tab('steps', `#/workflows/${id}/steps`, 'Steps'),
        tab('trigger', `#/workflows/${id}/trigger`, 'Trigger'),
        tab('versions', `#/workflows/${id}/versions`, 'Versions')),
    ];
  }

  // What the editor (editor.js) is given of this page: its helpers, and where to draw.
  function editorContext(workflow) {
    return { api, el, Failed, workflow, pretty, when, statusBadge, showError, fail,
      heading: workflow ? workflowHeading(workflow, 'steps') : [],
      navigate: (hash) => { location.hash = hash; },
      reload: () => route(false) };
  }

  // Steps: the editor and test bench of editor.js, on the workflow as saved (or its draft).
  async function stepsPage(workflowId) {
    const workflow = await api('GET', `admin/workflows/${encodeURIComponent(workflowId)}`);
    const holder = el('div', { id: 'editor' });
    render(el('p', {}, el('a', { href: '#/workflows' }, '\u00ab Workflows')), holder);
    await window.WebhookEditor.mount(holder, editorContext(workflow));
  }

  // What a sender must present (the workflow's `auth`).
  const AUTH_LABELS = {
    api_key: 'the API key (x-api-key)',
    signature: 'a signature only (see Signature check); the key guards reading executions',
    both: 'the API key and a signature',
  };
  // Stands in for a key value the page does not have (only a hash is kept). The curl line
  // reads it from the shell; SNS gets the CLI's placeholder, to replace by hand.
  const CURL_KEY = '$API_KEY';
  const SNS_KEY = 'YOUR_API_KEY';
  // A key made inline with a new workflow: its value is shown on that workflow's trigger
  // panel the one time the page is shown after creating it, then dropped (never stored).
  let justCreated = null;

  // ---- Executions as operators use them: filters, counts, bulk replay (issue 22) ----

  // The time ranges a filter offers, as [value, label, milliseconds back from now].
  const RANGES = [['1h', 'last hour', 3600e3], ['24h', 'last 24 h', 86400e3], ['7d', 'last 7 days', 7 * 86400e3],
    ['any', 'any time', 0], ['custom', 'custom', 0]];
  // The most a bulk replay starts (the API's cap).
  const BULK_MAX = 100;

  // The filters of an executions list, from the page's URL (so back, reload and links keep them).
  function readFilters(params, defaultRange) {
    const range = params.get('range') || defaultRange;
    return {
      workflow: params.get('workflow') || '',
      status: params.get('status') || '',
      range: RANGES.some(([v]) => v === range) ? range : defaultRange,
      since: params.get('since') || '',
      until: params.get('until') || '',
      q: params.get('q') || '',
    };
  }

  function filterActive(f) {
    return Boolean(f.workflow || f.q || (f.range && f.range !== 'any'));
  }

  // The filters as the page's URL query (empty values left out).
  function filterHash(f) {
    const out = new URLSearchParams();
    for (const k of ['workflow', 'status', 'range', 'since', 'until', 'q']) if (f[k]) out.set(k, f[k]);
    if (f.range !== 'custom') { out.delete('since'); out.delete('until'); }
    return out.toString();
  }

  // A datetime-local value (the operator's time zone) or an RFC 3339 one, as RFC 3339 in UTC.
  function isoTime(value) {
    if (!value) return '';
    const d = new Date(value);
    return isNaN(d) ? '' : d.toISOString();
  }

  // The interval a filter means, as the API's since/until (RFC 3339).
  function interval(f) {
    if (f.range === 'custom') return { since: isoTime(f.since), until: isoTime(f.until) };
    const back = (RANGES.find(([v]) => v === f.range) || [])[2];
    return back ? { since: new Date(Date.now() - back).toISOString(), until: '' } : { since: '', until: '' };
  }

  // The filters as the admin API's query: workflow, status, since, until, q.
  function filterQuery(f) {
    const out = new URLSearchParams();
    const { since, until } = interval(f);
    for (const [k, v] of [['workflow', f.workflow], ['status', f.status], ['since', since], ['until', until], ['q', f.q]]) {
      if (v) out.set(k, v);
    }
    return out;
  }

  // The same filters as a bulk replay's body.
  function filterBody(f) {
    const body = {};
    for (const [k, v] of filterQuery(f)) if (k !== 'workflow') body[k] = v;
    return body;
  }

  // The filter bar: workflow name (on the page across workflows), status, time range (custom:
  // from/to), text or path=value; Apply (or Enter) puts them in the URL.
  function filtersForm(f, { withWorkflow, onApply }) {
    const workflow = withWorkflow ? el('input', { type: 'text', id: 'filter-workflow', value: f.workflow, placeholder: 'part of a name', autocomplete: 'off', spellcheck: 'false' }) : null;
    const status = el('select', { id: 'status-filter' },
      el('option', { value: '' }, 'all statuses'),
      STATUSES.map((s) => el('option', { value: s, selected: s === f.status }, s)));
    const range = el('select', { id: 'range-filter' }, RANGES.map(([v, label]) => el('option', { value: v, selected: v === f.range }, label)));
    const local = (iso) => {
      const d = new Date(iso);
      if (!iso || isNaN(d)) return '';
      return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
    };
    const since = el('input', { type: 'datetime-local', id: 'filter-since', value: local(f.since) });
    const until = el('input', { type: 'datetime-local', id: 'filter-until', value: local(f.until) });
    const custom = el('span', { class: 'custom-range', hidden: f.range !== 'custom' }, el('label', {}, 'From', since), ' ', el('label', {}, 'To', until));
    const q = el('input', { type: 'text', id: 'filter-q', value: f.q, placeholder: 'text, or body.path=value', autocomplete: 'off', spellcheck: 'false',
      title: 'Text found (ignoring case) in the payload, a header or a query value; or path=value: body.alerts[0].name=disk, headers.x-source=ci, query.x=1' });
    const apply = el('button', { type: 'submit', id: 'apply-filters' }, 'Apply');
    const form = el('form', { class: 'filters', id: 'filters', autocomplete: 'off' },
      workflow ? el('label', {}, 'Workflow', workflow) : null,
      el('label', {}, 'Status', status),
      el('label', {}, 'Received', range), custom,
      el('label', {}, 'Payload or headers', q),
      apply);
    const read = () => ({ workflow: workflow ? workflow.value.trim() : '', status: status.value, range: range.value,
      since: range.value === 'custom' ? isoTime(since.value) : '', until: range.value === 'custom' ? isoTime(until.value) : '', q: q.value.trim() });
    range.addEventListener('change', () => { custom.hidden = range.value !== 'custom'; if (range.value !== 'custom') onApply(read()); });
    status.addEventListener('change', () => onApply(read()));
    form.addEventListener('submit', (event) => { event.preventDefault(); onApply(read()); });
    return form;
  }

  // The operator is typing a filter: a refresh would throw it away.
  function filtersBusy(form) {
    if (!form.isConnected) return false;
    return form.contains(document.activeElement) && document.activeElement.tagName === 'INPUT';
  }

  // What a search read: the API reads a bounded number of the newest executions (1,000 of
  // each workflow in the range), the same on every backend.
  function scanNote(answer, filters) {
    if (answer.scanned === undefined) {
      return filters && filters.q ? el('p', { class: 'muted', id: 'scan-note' },
        'The payload search reads the newest executions in the time range (at most 1,000 a search): narrow the range to reach older ones.') : null;
    }
    return el('p', { class: 'muted', id: 'scan-note', 'data-scanned': answer.scanned, 'data-truncated': String(Boolean(answer.truncated)) },
      `Searched the payload and headers of ${answer.scanned} execution${answer.scanned === 1 ? '' : 's'} in the range`,
      answer.truncated ? ': the list may not hold every match (more matched than it shows, or a workflow had more executions in the range than a search reads, 1,000): narrow the filters.' : ' (all of them).');
  }

  function testBadge(e) {
    return e.test ? el('span', { class: 'badge test', title: 'a test run: left out of the metrics' }, 'test') : null;
  }

  // Counters by status over the chosen interval, across workflows or for one.
  function countsPanel(c) {
    return el('p', { id: 'execution-counts', class: 'counts' },
      el('span', { 'data-count': 'total' }, 'total ' + (c.total || 0)),
      STATUSES.map((s) => el('span', { 'data-count': s }, s + ' ' + (c[s] || 0))),
      c.truncated ? el('span', { class: 'muted' }, ` (the newest ${c.scanned} only)`) : null);
  }

  // Every workflow's executions, newest first, through GET /admin/executions with the filters
  // in the URL, and the counts by status over the same interval.
  async function allExecutionsPage(params, refreshing) {
    if (refreshing && busy()) return schedule();
    const filters = readFilters(params, '24h');
    const query = filterQuery(filters);
    query.set('limit', '50');
    const { since, until } = interval(filters);
    const countQuery = new URLSearchParams();
    if (since) countQuery.set('since', since);
    if (until) countQuery.set('until', until);
    const [page, totals] = await Promise.all([
      api('GET', `admin/executions?${query}`),
      api('GET', `admin/executions/counts?${countQuery}`),
    ]);
    const form = filtersForm(filters, { withWorkflow: true, onApply: (next) => { location.hash = `#/executions?${filterHash(next)}`; } });
    busy = () => filtersBusy(form);
    const rows = page.executions.map((e) => {
      const id = encodeURIComponent(e.workflowId);
      return el('tr', { 'data-execution': e.id, 'data-status': e.status, 'data-workflow': e.workflowId, 'data-test': e.test ? 'true' : null },
        el('td', {}, el('a', { href: `#/workflows/${id}/executions/${encodeURIComponent(e.id)}`, class: 'execution-link' }, el('code', {}, e.id)), testBadge(e)),
        el('td', {}, el('a', { href: `#/workflows/${id}`, class: 'workflow-name' }, e.workflowName || e.workflowId)),
        el('td', {}, statusBadge(e.status)),
        el('td', {}, when(e.receivedAt)),
        el('td', { class: 'workflow-version' }, versionLabel(e.workflowVersion)),
        el('td', {}, e.trigger ? e.trigger.type : ''));
    });
    render(
      el('h1', {}, 'Executions'),
      el('p', { class: 'muted' }, 'Every workflow\'s executions, newest first (50 at most); refreshed every 2 s. The counts are over the time range, across all workflows.'),
      countsPanel(totals),
      form,
      scanNote(page, filters),
      rows.length
        ? el('table', { id: 'all-executions' },
          el('thead', {}, el('tr', {}, ['Execution', 'Workflow', 'Status', 'Received', 'Version', 'Trigger'].map((h) => el('th', {}, h)))),
          el('tbody', {}, rows))
        : el('p', { id: 'no-executions' }, filterActive(filters) || filters.status ? 'No executions match the filters.' : 'No executions yet.'));
    schedule();
  }

  // Bulk replay of what the filters match: the count first (countOnly), a confirmation naming
  // it and the version, then the replay and links to the new executions.
  function bulkReplayPanel(workflow, filters, hold) {
    const id = encodeURIComponent(workflow.id);
    const version = el('select', { id: 'bulk-version' },
      el('option', { value: 'current' }, 'the current version (v' + workflow.version + ')'),
      el('option', { value: 'original' }, 'the version each ran'));
    const max = el('input', { type: 'number', id: 'bulk-max', min: 1, max: BULK_MAX, value: BULK_MAX });
    const ask = el('button', { type: 'button', id: 'bulk-replay-button' }, 'Replay matching\u2026');
    const out = el('div', { id: 'bulk-out' });
    const panel = el('div', { id: 'bulk-replay' },
      el('h2', {}, 'Replay the executions the filters match'),
      el('div', { class: 'toolbar' }, el('label', {}, 'With ', version), el('label', {}, 'At most ', max), ask),
      el('p', { class: 'muted' }, `Each becomes a new execution of the same request; at most ${BULK_MAX} at a time, newest first.`),
      out);
    const cap = () => Math.max(1, Math.min(BULK_MAX, Number(max.value) || BULK_MAX));
    ask.addEventListener('click', async () => {
      hold();
      panel.dataset.busy = 'true';
      ask.disabled = true;
      try {
        const body = { ...filterBody(filters), max: cap(), version: version.value };
        const counted = await api('POST', `admin/workflows/${id}/replay`, { ...body, countOnly: true });
        const n = Math.min(counted.matched, body.max);
        const words = version.value === 'current' ? 'the current' : 'the original';
        if (!n) {
          out.replaceChildren(el('p', { id: 'bulk-confirm', 'data-count': 0 }, 'No execution matches the filters: nothing to replay.'));
          ask.disabled = false;
          return;
        }
        const confirm = el('button', { type: 'button', id: 'bulk-confirm-button', class: 'danger' }, `Replay ${n}`);
        const cancel = el('button', { type: 'button', id: 'bulk-cancel' }, 'Cancel');
        out.replaceChildren(
          el('p', { id: 'bulk-confirm', 'data-count': n, 'data-matched': counted.matched },
            `Replay ${n} execution${n === 1 ? '' : 's'} with ${words} version?`,
            counted.matched > n ? ` (${counted.matched} match; the newest ${n} are replayed.)` : ''),
          el('div', { class: 'toolbar' }, confirm, cancel));
        cancel.addEventListener('click', () => { out.replaceChildren(); ask.disabled = false; panel.dataset.busy = 'false'; });
        confirm.addEventListener('click', async () => {
          confirm.disabled = true;
          cancel.disabled = true;
          try {
            const done = await api('POST', `admin/workflows/${id}/replay`, body);
            out.replaceChildren(el('div', { id: 'bulk-result', 'data-count': done.executionIds.length },
              el('p', {}, `Replayed ${done.executionIds.length} execution${done.executionIds.length === 1 ? '' : 's'}:`),
              done.executionIds.map((eid) => el('a', { href: `#/workflows/${id}/executions/${encodeURIComponent(eid)}`, class: 'replayed-link' }, el('code', {}, eid)))));
          } catch (err) {
            out.replaceChildren();
            fail(err);
          }
          ask.disabled = false;
        });
      } catch (err) {
        ask.disabled = false;
        panel.dataset.busy = 'false';
        fail(err);
      }
    });
    return panel;
  }

  // ---- The flow diagram on the workflow and execution pages (diagram.js) ----

  // The step whose definition the workflow page shows, kept across the page's refreshes.
  let selectedStep = null;

  // A step of a definition by id, looking inside loops too.
  function findStep(steps, stepId) {
    for (const s of steps || []) {
      if (s && s.id === stepId) return s;
      const inner = s && s.type === 'for_each' ? findStep(s.steps, stepId) : null;
      if (inner) return inner;
    }
    return null;
  }

  function markSelected(holder, stepId) {
    for (const g of holder.querySelectorAll('.step-box')) g.classList.toggle('selected', g.dataset.step === stepId);
  }

  // The workflow page's diagram, read-only: a box clicked (or Enter on it) shows that step's
  // definition below.
  function flowSection(workflow) {
    if (!window.WebhookDiagram) return null;
    const shown = el('pre', { id: 'diagram-step', hidden: true });
    const holder = el('div', { class: 'diagram-wrap', id: 'workflow-diagram' });
    const show = (stepId) => {
      const step = findStep(workflow.definition && workflow.definition.steps, stepId);
      selectedStep = step ? { workflowId: workflow.id, stepId } : null;
      shown.hidden = !step;
      shown.dataset.step = stepId;
      shown.textContent = step ? pretty(step) : '';
      markSelected(holder, stepId);
    };
    holder.append(window.WebhookDiagram.render(workflow.definition, { onSelect: show }));
    if (selectedStep && selectedStep.workflowId === workflow.id) show(selectedStep.stepId);
    return [el('h2', {}, 'Flow'),
      el('p', { class: 'muted' }, 'The steps from the trigger down, with where each can go; click a step (or focus it and press Enter) to see its definition.'),
      holder, shown];
  }

  // Definitions of workflow versions already read: a version never changes.
  const versionDefinitions = new Map();

  // The definition an execution ran: its version's when the admin API has it, the
  // workflow's current one otherwise (an execution from before versions).
  async function executionDefinition(workflowId, version) {
    const id = encodeURIComponent(workflowId);
    if (version !== undefined && version !== null) {
      const key = workflowId + '@' + version;
      if (versionDefinitions.has(key)) return { definition: versionDefinitions.get(key), version };
      try {
        const v = await api('GET', `admin/workflows/${id}/versions/${encodeURIComponent(version)}`);
        versionDefinitions.set(key, v.definition);
        return { definition: v.definition, version };
      } catch (err) {
        if (err instanceof Refused) throw err;
      }
    }
    return { definition: (await api('GET', `admin/workflows/${id}`)).definition, version: null };
  }

  // An execution's diagram: boxes coloured by each step's status (its plan), the path taken
  // solid; a box clicked goes to that step's card.
  async function executionFlow(workflowId, e) {
    if (!window.WebhookDiagram) return [];
    let drawn;
    try {
      drawn = await executionDefinition(workflowId, e.workflowVersion);
    } catch (err) {
      if (err instanceof Refused) throw err;
      return section('Flow', el('p', { class: 'muted' }, 'The diagram could not be drawn: ' + String(err.message || err)));
    }
    const statuses = {};
    for (const p of e.plan || []) statuses[p.id] = p.status;
    const holder = el('div', { class: 'diagram-wrap', id: 'execution-diagram', 'data-version': drawn.version === null ? 'current' : drawn.version });
    holder.append(window.WebhookDiagram.render(drawn.definition, {
      statuses,
      records: e.steps,
      onSelect: (stepId) => {
        markSelected(holder, stepId);
        const card = document.querySelector(`#steps .step[data-step="${CSS.escape(stepId)}"]`);
        if (card) card.scrollIntoView({ block: 'start' });
      },
    }));
    return section('Flow', el('p', { class: 'muted' }, drawn.version === null
      ? 'The workflow\'s current definition (this execution names no version), coloured by what each step did: the path taken solid, the rest faded.'
      : `Version ${drawn.version}, the one this execution ran, coloured by what each step did: the path taken solid, the rest faded.`), holder);
  }

  // The key select's "Create a new key…" (a key's name is never empty).
  const NEW_KEY = '';

  // Workflows → New workflow: a name, a trigger, a key (or a new one), and a first step
  // (echo) to edit later; Create saves version 1 and opens its trigger panel.
  async function newWorkflowPage() {
    const keys = (await api('GET', 'admin/api-keys')).filter((k) => !k.revoked);
    const name = el('input', { type: 'text', id: 'wf-name', autocomplete: 'off', maxlength: 200, required: true, placeholder: 'Orders from the shop' });
    const trigger = el('select', { id: 'wf-trigger' },
      Object.entries(TRIGGER_LABELS).map(([value, label]) => el('option', { value }, label)));
    const key = el('select', { id: 'wf-key' },
      keys.map((k) => el('option', { value: k.name }, k.name)),
      el('option', { value: NEW_KEY, selected: !keys.length }, 'Create a new key\u2026'));
    const keyName = el('input', { type: 'text', id: 'wf-new-key-name', autocomplete: 'off', spellcheck: 'false', maxlength: 64, placeholder: 'partner-acme' });
    const newKey = el('label', { id: 'wf-new-key', hidden: key.value !== NEW_KEY }, 'New key name ', keyName);
    key.addEventListener('change', () => { newKey.hidden = key.value !== NEW_KEY; });
    const shown = el('div', {});
    const form = el('form', { id: 'new-workflow-form', class: 'panel', autocomplete: 'off' },
      el('p', {}, el('label', {}, 'Name ', name)),
      el('p', {}, el('label', {}, 'Trigger ', trigger)),
      el('p', {}, el('label', {}, 'API key ', key), ' ', newKey),
      el('p', { class: 'muted' }, 'Senders present the key in the x-api-key header (Amazon SNS: in the subscription URL). The workflow starts with one echo step, which answers with what it received.'),
      el('button', { type: 'submit', id: 'create-workflow' }, 'Create'));
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      createWorkflow({ form, name, trigger, key, keyName, shown });
    });
    render(
      el('p', {}, el('a', { href: '#/workflows' }, '\u00ab Workflows')),
      el('h1', {}, 'New workflow'),
      shown,
      form);
    name.focus();
  }

  async function createWorkflow({ form, name, trigger, key, keyName, shown }) {
    const title = name.value.trim();
    if (!title) return showError('Give the workflow a name.');
    let apiKey = key.value;
    if (apiKey === NEW_KEY && !keyName.value.trim()) return showError('Name the new key.');
    const button = form.querySelector('button');
    button.disabled = true;
    showError('');
    let created = null;
    try {
      if (apiKey === NEW_KEY) {
        created = await api('POST', 'admin/api-keys', { name: keyName.value.trim() });
        apiKey = created.name;
        // The key exists now whatever happens next: offer it, and show its value this once.
        key.prepend(el('option', { value: apiKey }, apiKey));
        key.value = apiKey;
        key.dispatchEvent(new Event('change'));
        shown.replaceChildren(valuePanel({ name: apiKey, title: `API key ${apiKey} created: its value`, value: created.value }));
      }
      const workflow = await api('POST', 'admin/workflows', {
        name: title, trigger: trigger.value, api_key: apiKey, steps: [{ id: 'echo', type: 'echo' }],
      });
      justCreated = created ? { workflowId: workflow.id, name: created.name, value: created.value } : null;
      location.hash = `#/workflows/${encodeURIComponent(workflow.id)}/trigger`;
    } catch (err) {
      button.disabled = false;
      fail(err);
    }
  }

  // Shows what an action on the trigger panel answered, after the panel is drawn again.
  async function triggerAction(workflowId, call) {
    for (const b of $('view').querySelectorAll('button, select, input')) b.disabled = true;
    let shown = null;
    let error = null;
    try { shown = await call(); } catch (err) { error = err; }
    showError('');
    try { await triggerPage(workflowId, shown); } catch (err) { return fail(err); }
    if (error) fail(conflictExplained(error));
  }

  function conflictExplained(err) {
    if (!(err instanceof Failed) || err.status !== 409 || err.code !== 'version_conflict') return err;
    return new Failed('Not saved: someone saved this workflow after this page read it (version conflict). '
      + 'The page now shows the current version; make the change again.', 409, err.code);
  }

  function curlLine(url, keyValue) {
    const header = keyValue ? `'x-api-key: ${keyValue}'` : `"x-api-key: ${CURL_KEY}"`;
    return `curl -X POST '${url}' -H ${header} -H 'content-type: application/json' -d '{"hello": "world"}'`;
  }

  // The trigger panel: where senders call, with which key, whether it is on, and how it checks
  // signatures.
  async function triggerPage(workflowId, shown) {
    const id = encodeURIComponent(workflowId);
    const [workflow, keys] = await Promise.all([api('GET', `admin/workflows/${id}`), api('GET', 'admin/api-keys')]);
    const fresh = justCreated && justCreated.workflowId === workflow.id && justCreated.name === workflow.apiKeyName ? justCreated : null;
    justCreated = null;
    const url = location.origin + BASE + workflow.webhookPath.replace(/^\//, '');
    const curl = curlLine(url, fresh && fresh.value);
    render(
      el('p', {}, el('a', { href: '#/workflows' }, '\u00ab Workflows')),
      workflowHeading(workflow, 'trigger'),
      fresh ? valuePanel({ name: fresh.name, title: `API key ${fresh.name}: its value`, value: fresh.value }) : null,
      shown || null,
      el('div', { id: 'trigger-panel', class: 'panel', 'data-version': workflow.version },
        dl([
          ['Trigger', TRIGGER_LABELS[workflow.trigger] || workflow.trigger],
          ['Enabled', enabledToggle(workflow)],
          ['Sender auth', AUTH_LABELS[workflow.auth] || workflow.auth],
          ['API key', keyChooser(workflow, keys)],
          ['Webhook URL', [el('code', { id: 'trigger-url' }, url), ' ', copyButton(url, { id: 'copy-url' })]],
          ['curl', [el('code', { id: 'curl' }, curl), ' ', copyButton(curl, { id: 'copy-curl' })]],
        ]),
        fresh ? null : el('p', { class: 'muted' }, `Set ${CURL_KEY} to the key's value (shown once, when the key was made) before running the line.`),
        workflow.trigger === 'amazon_sns' ? snsPanel(workflow, url, fresh) : null),
      el('h2', {}, 'Signature check'),
      verifyPanel(workflow));
  }

  function enabledToggle(workflow) {
    const box = el('input', { type: 'checkbox', id: 'enabled', checked: workflow.enabled });
    box.addEventListener('change', () => triggerAction(workflow.id, async () => {
      await api('PATCH', `admin/workflows/${encodeURIComponent(workflow.id)}`, { enabled: box.checked });
      return null;
    }));
    return el('label', {}, box, ' ', workflow.enabled ? 'on: the webhook URL starts executions' : 'off: the webhook URL answers 404');
  }

  // Changing the key is a new version of the definition, based on the version this page read.
  function keyChooser(workflow, keys) {
    const names = keys.filter((k) => !k.revoked || k.name === workflow.apiKeyName).map((k) => k.name);
    if (!names.includes(workflow.apiKeyName)) names.unshift(workflow.apiKeyName);
    const select = el('select', { id: 'trigger-key' },
      names.map((n) => el('option', { value: n, selected: n === workflow.apiKeyName }, n)));
    const change = el('button', { type: 'button', id: 'change-key', disabled: true }, 'Change key');
    select.addEventListener('change', () => { change.disabled = select.value === workflow.apiKeyName; });
    change.addEventListener('click', () => triggerAction(workflow.id, async () => {
      const definition = { ...workflow.definition, api_key: select.value };
      await api('PUT', `admin/workflows/${encodeURIComponent(workflow.id)}`, definition, { 'if-match': `"${workflow.version}"` });
      return null;
    }));
    return [el('code', { id: 'trigger-key-name' }, workflow.apiKeyName), ' ', select, ' ', change];
  }

  function snsPanel(workflow, url, fresh) {
    const endpoint = url + '?x-api-key=' + encodeURIComponent(fresh ? fresh.value : SNS_KEY);
    const topics = (workflow.definition.sns && workflow.definition.sns.allowed_topic_arns) || [];
    return el('div', { id: 'sns' },
      el('h2', {}, 'Amazon SNS'),
      dl([
        ['Subscription endpoint', [el('code', { id: 'subscription-url' }, endpoint), ' ', copyButton(endpoint, { id: 'copy-subscription-url' })]],
        ['Topic allowlist', topics.length
          ? el('ul', { id: 'topics' }, topics.map((t) => el('li', {}, el('code', {}, t))))
          : el('span', { id: 'topics', class: 'muted' }, 'any topic')],
        ['Subscriptions', subscriptionsList(workflow.id)],
      ]),
      fresh ? null : el('p', { class: 'muted' }, `Replace ${SNS_KEY} with the key's value: SNS cannot send headers, so the key travels in the query string.`));
  }

  // The subscriptions recorded (topic, confirmed or pending, when), filled in when they arrive.
  function subscriptionsList(workflowId) {
    const holder = el('div', { id: 'subscriptions' }, el('span', { class: 'muted' }, 'loading…'));
    api('GET', `admin/workflows/${encodeURIComponent(workflowId)}/subscriptions`).then((subs) => {
      holder.replaceChildren(subs.length
        ? el('ul', {}, subs.map((s) => el('li', { class: 'subscription' },
          el('code', {}, s.topicArn), ` ${s.state} ${s.updatedAt}`)))
        : el('span', { class: 'muted' }, 'none yet: subscribe the endpoint to a topic; the confirmation is answered for you'));
    }).catch((e) => holder.replaceChildren(el('span', { class: 'error' }, e.message || String(e))));
    return holder;
  }

  // The verify block as saved (changed with the definition), and the secrets' buttons.
  function verifyPanel(workflow) {
    const verify = workflow.definition.verify;
    if (!verify) return el('p', { id: 'verify', class: 'muted' }, 'None: this workflow checks no signature (add a verify block to its definition).');
    const id = encodeURIComponent(workflow.id);
    const value = el('input', { type: 'password', id: 'secret-value', autocomplete: 'off', placeholder: "provider's secret, or empty to generate one" });
    const secretCall = (path, label) => {
      const button = el('button', { type: 'button', id: 'secret-' + label.toLowerCase() }, label);
      button.addEventListener('click', () => triggerAction(workflow.id, async () => {
        const body = label === 'Retire' ? undefined : value.value ? { value: value.value } : { generate: true };
        return secretsShown(await api(label === 'Set' ? 'PUT' : 'POST', `admin/workflows/${id}/${path}`, body));
      }));
      return button;
    };
    const onFile = workflow.signingSecrets || [];
    const secrets = el('p', { id: 'secrets-on-file' }, 'Secrets on file: ', onFile.length
      ? onFile.map((s) => el('code', { class: 'fingerprint' }, `${s.fingerprint} (added ${when(s.addedAt)}) `))
      : el('span', { class: 'muted' }, 'none yet: signed requests are refused until one is set'));
    return el('div', { id: 'verify' },
      dl(Object.entries(verify).map(([k, v]) => [k, typeof v === 'object' ? pretty(v) : String(v)])),
      secrets,
      el('div', { class: 'toolbar' }, value, secretCall('secret', 'Set'), secretCall('secret/rotate', 'Rotate'), secretCall('secret/retire', 'Retire')),
      el('p', { class: 'muted' }, 'Set replaces every secret; Rotate adds one, the older staying valid until Retire. A generated value is shown once.'));
  }

  function secretsShown(answer) {
    const fingerprints = el('p', { id: 'secret-fingerprints' }, 'Secrets now: ',
      answer.secrets.map((s) => el('code', { class: 'fingerprint' }, s.fingerprint + ' ')));
    if (!answer.value) return fingerprints;
    return el('div', {}, valuePanel({ name: 'secret', title: 'The generated signing secret', value: answer.value,
      warning: 'Copy this value now and give it to the sender: it will not be shown again (only its fingerprint is).' }), fingerprints);
  }

  // Versions: newest first, each viewable and restorable.
  async function versionsPage(workflowId) {
    const id = encodeURIComponent(workflowId);
    const [workflow, versions] = await Promise.all([api('GET', `admin/workflows/${id}`), api('GET', `admin/workflows/${id}/versions`)]);
    const rows = versions.map((v) => el('tr', { 'data-version': v.number },
      el('td', {}, el('a', { href: `#/workflows/${id}/versions/${v.number}`, class: 'version-link' }, 'v' + v.number),
        v.number === workflow.version ? el('span', { class: 'muted' }, ' (current)') : null),
      el('td', {}, when(v.createdAt)),
      el('td', {}, v.createdBy),
      el('td', { class: 'note' }, v.note || ''),
      el('td', {}, v.number === workflow.version ? null : restoreButton(workflow.id, v.number, { class: 'restore' }))));
    render(
      el('p', {}, el('a', { href: '#/workflows' }, '\u00ab Workflows')),
      workflowHeading(workflow, 'versions'),
      rows.length
        ? el('table', { id: 'versions' },
          el('thead', {}, el('tr', {}, ['Version', 'Saved', 'By', 'Note', ''].map((h) => el('th', {}, h)))),
          el('tbody', {}, rows))
        : el('p', { class: 'muted' }, 'No version records: this workflow was stored before versions.'));
  }

  // Restoring saves a new version with the old document; the list shows it after.
  function restoreButton(workflowId, n, attrs) {
    const button = el('button', { type: 'button', ...attrs }, 'Restore');
    button.addEventListener('click', async () => {
      button.disabled = true;
      const id = encodeURIComponent(workflowId);
      try {
        await api('POST', `admin/workflows/${id}/versions/${n}/restore`);
        const target = `#/workflows/${id}/versions`;
        if (location.hash === target) await route(false); else location.hash = target;
      } catch (err) {
        button.disabled = false;
        fail(err);
      }
    });
    return button;
  }

  function definitionText(definition) {
    return JSON.stringify(definition, null, 2);
  }

  // A line diff by longest common subsequence: [{op: ' ' | '-' | '+', line}], `before`'s lines
  // marked '-', `after`'s '+'. Quadratic, which workflow documents are small enough for.
  function lineDiff(before, after) {
    const a = before.split('\n');
    const b = after.split('\n');
    const lcs = Array.from({ length: a.length + 1 }, () => new Array(b.length + 1).fill(0));
    for (let i = a.length - 1; i >= 0; i--) {
      for (let j = b.length - 1; j >= 0; j--) {
        lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
      }
    }
    const out = [];
    let i = 0, j = 0;
    while (i < a.length && j < b.length) {
      if (a[i] === b[j]) { out.push({ op: ' ', line: a[i] }); i++; j++; }
      else if (lcs[i + 1][j] >= lcs[i][j + 1]) out.push({ op: '-', line: a[i++] });
      else out.push({ op: '+', line: b[j++] });
    }
    while (i < a.length) out.push({ op: '-', line: a[i++] });
    while (j < b.length) out.push({ op: '+', line: b[j++] });
    return out;
  }

  const DIFF_CLASSES = { ' ': 'diff-same', '-': 'diff-del', '+': 'diff-add' };

  function diffView(changes) {
    return el('pre', { id: 'version-diff', class: 'diff' },
      changes.map((c) => el('span', { class: DIFF_CLASSES[c.op] }, c.op + ' ' + c.line + '\n')));
  }

  async function versionPage(workflowId, n) {
    const id = encodeURIComponent(workflowId);
    const [workflow, version] = await Promise.all([
      api('GET', `admin/workflows/${id}`),
      api('GET', `admin/workflows/${id}/versions/${encodeURIComponent(n)}`),
    ]);
    const text = definitionText(version.definition);
    const changes = lineDiff(text, definitionText(workflow.definition));
    const same = changes.every((c) => c.op === ' ');
    render(
      el('p', {}, el('a', { href: `#/workflows/${id}/versions` }, '\u00ab Versions')),
      workflowHeading(workflow, 'versions'),
      el('h2', { id: 'version-title', 'data-version': version.number }, `Version ${version.number}`),
      dl([['saved', when(version.createdAt)], ['by', version.createdBy], ['note', version.note]]),
      version.number === workflow.version ? el('p', { class: 'muted' }, 'This is the current version.')
        : el('div', { class: 'toolbar' }, restoreButton(workflow.id, version.number, { id: 'restore' })),
      el('h2', {}, `Changes from version ${version.number} to the current one (version ${workflow.version})`),
      same ? el('p', { id: 'version-same', class: 'muted' }, 'None: the same definition.') : null,
      el('p', { class: 'muted legend' }, el('span', { class: 'diff-del' }, '- only in version ' + version.number), ' ',
        el('span', { class: 'diff-add' }, '+ only in the current version')),
      diffView(changes),
      el('h2', {}, 'Definition'),
      el('pre', { id: 'version-definition' }, text));
  }

  // Settings: the pages under #/settings.
  function settingsPage() {
    render(
      el('h1', {}, 'Settings'),
      el('ul', {}, el('li', {}, el('a', { href: '#/settings/api-keys', id: 'settings-api-keys' }, 'API keys'),
        ' \u2014 the keys webhook senders present, which workflows use them, rotation and revocation')));
  }

  // How long the old value of a rotated key keeps working (the API's retireAfter).
  const RETIRE_CHOICES = [['24h', 'old value works 24 h more'], ['1h', 'old value works 1 h more'],
    ['7d', 'old value works 7 days more'], ['', 'old value works until retired']];

  // A value just made (a new key, a rotation): shown this once, never stored by the page, gone
  // when the operator goes elsewhere.
  function valuePanel(shown) {
    return el('div', { id: 'key-value-panel', 'data-key': shown.name },
      el('h2', {}, shown.title),
      el('p', { class: 'warning', id: 'value-warning' }, shown.warning ||
        'Copy this value now: it will not be shown again. Only a hash of it is kept, so a lost value means rotating the key.'),
      el('p', {}, el('code', { id: 'key-value' }, shown.value), ' ', copyButton(shown.value, { id: 'copy-key-value' })),
      shown.note || null);
  }

  // When the value from before a rotation stops working, as a sentence.
  function previousNote(key) {
    const p = key.previous;
    if (!p) return null;
    return el('p', { id: 'old-retires', 'data-retire-at': p.retireAt || '' },
      `The old value (${p.prefix}\u2026) keeps working until `,
      p.retireAt ? when(p.retireAt) : 'you retire it (Retire old value)', '.');
  }

  function keyState(k) {
    if (k.revoked) return el('span', { class: 'key-state' }, 'revoked ' + when(k.revokedAt));
    if (!k.previous) return el('span', { class: 'key-state' }, 'active');
    return el('span', { class: 'key-state' }, 'active; rotated ' + when(k.previous.rotatedAt) + ', old value ',
      el('code', {}, k.previous.prefix + '\u2026'), ' works until ', k.previous.retireAt ? when(k.previous.retireAt) : 'retired');
  }

  function usedBy(ids) {
    if (!ids.length) return el('span', { class: 'muted' }, 'no workflow');
    return el('div', { class: 'used-by' },
      ids.map((id) => el('a', { href: '#/workflows/' + encodeURIComponent(id), 'data-workflow': id }, el('code', {}, id))));
  }

  // Runs a change to the keys with the page's buttons held, then lists them again with what
  // the change wants shown once.
  async function keyAction(call) {
    for (const b of $('view').querySelectorAll('button')) b.disabled = true;
    let shown = null;
    try {
      shown = await call();
    } catch (err) {
      // Show the keys as they are now, and why the change was refused.
      await route(false);
      return fail(err);
    }
    showError('');
    try { await apiKeysPage(shown); } catch (err) { fail(err); }
  }

  function keyRow(k, retireAfter) {
    const name = encodeURIComponent(k.name);
    const actions = [];
    if (!k.revoked) {
      const rotate = el('button', { type: 'button', class: 'rotate' }, 'Rotate');
      rotate.addEventListener('click', () => keyAction(async () => {
        const choice = retireAfter.value;
        const r = await api('POST', `admin/api-keys/${name}/rotate`, choice ? { retireAfter: choice } : {});
        return { name: k.name, title: `API key ${k.name} rotated: its new value`, value: r.value, note: previousNote(r) };
      }));
      actions.push(rotate);
      if (k.previous) {
        const retire = el('button', { type: 'button', class: 'retire' }, 'Retire old value');
        retire.addEventListener('click', () => keyAction(async () => {
          await api('POST', `admin/api-keys/${name}/retire`);
          return null;
        }));
        actions.push(' ', retire);
      }
      actions.push(' ', confirmButton({ class: 'revoke danger' }, 'Revoke', 'Confirm revoke', () => keyAction(async () => {
        await api('DELETE', `admin/api-keys/${name}`);
        return null;
      })));
    }
    return el('tr', { 'data-key': k.name, 'data-state': k.revoked ? 'revoked' : 'active' },
      el('td', {}, el('code', { class: 'key-name' }, k.name)),
      el('td', {}, el('code', { class: 'key-prefix' }, k.prefix + '\u2026')),
      el('td', {}, when(k.createdAt)),
      el('td', { class: 'last-used' }, k.lastUsedAt ? when(k.lastUsedAt) : el('span', { class: 'muted' }, 'never')),
      el('td', {}, usedBy(k.usedBy || [])),
      el('td', {}, keyState(k)),
      el('td', { class: 'actions' }, actions));
  }

  // "Add new": a name, then Save; the answer's value is shown once above the list.
  function newKeyForm() {
    const name = el('input', { type: 'text', id: 'new-key-name', autocomplete: 'off', spellcheck: 'false', maxlength: 64,
      placeholder: 'partner-acme', required: true });
    const form = el('form', { id: 'new-key', hidden: true, autocomplete: 'off' },
      el('label', {}, 'Name ', name), ' ', el('button', { type: 'submit', id: 'save-key' }, 'Save'),
      el('p', { class: 'muted' }, 'Letters, digits, "_", "-" and "."; a workflow names its key in its api_key field.'));
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const value = name.value.trim();
      if (!value) return showError('Give the key a name.');
      keyAction(async () => {
        const created = await api('POST', 'admin/api-keys', { name: value });
        return { name: created.name, title: `API key ${created.name} created: its value`, value: created.value };
      });
    });
    return form;
  }

  async function apiKeysPage(shown) {
    const keys = await api('GET', 'admin/api-keys');
    const form = newKeyForm();
    const add = el('button', { type: 'button', id: 'add-key' }, 'Add new');
    add.addEventListener('click', () => {
      form.hidden = false;
      form.querySelector('input').focus();
    });
    const retireAfter = el('select', { id: 'retire-after' },
      RETIRE_CHOICES.map(([value, label]) => el('option', { value }, label)));
    render(
      el('p', {}, el('a', { href: '#/settings' }, '\u00ab Settings')),
      el('h1', {}, 'API keys'),
      el('p', { class: 'muted' }, 'Webhook senders present a key in the x-api-key header; each workflow names the key it accepts. Values are shown once, when made.'),
      el('div', { class: 'toolbar' }, add, el('label', {}, 'On rotation: ', retireAfter)),
      form,
      shown ? valuePanel(shown) : null,
      keys.length
        ? el('table', { id: 'api-keys' },
          el('thead', {}, el('tr', {}, ['Name', 'Prefix', 'Created', 'Last used', 'Used by', 'State', ''].map((h) => el('th', {}, h)))),
          el('tbody', {}, keys.map((k) => keyRow(k, retireAfter))))
        : el('p', { id: 'no-keys' }, 'No API keys yet. Add one.'));
  }

  function schedule() {
    stopRefresh();
    timer = setTimeout(() => route(true), REFRESH_MS);
  }

  function fail(err) {
    if (err instanceof Refused) showLogin(err.message);
    else showError(String(err.message || err));
  }

  // The menu entry of the section shown (its first path segment).
  function markMenu(section) {
    for (const [id, name] of [['nav-workflows', 'workflows'], ['nav-executions', 'executions'], ['nav-settings', 'settings']]) {
      if (section === name) $(id).setAttribute('aria-current', 'page'); else $(id).removeAttribute('aria-current');
    }
  }

  async function route(refreshing) {
    stopRefresh();
    if (!sessionStorage.getItem(KEY)) return showLogin('');
    $('login').hidden = true;
    $('sign-out').hidden = false;
    $('menu').hidden = false;
    if (!refreshing) {
      // Gone somewhere: the menu that led here folds away (a refresh leaves an open one be).
      $('settings-menu').open = false;
      showError('');
      refreshError = false;
    }
    const [path, qs] = location.hash.replace(/^#/, '').split('?');
    const params = new URLSearchParams(qs || '');
    const parts = (path || '/').split('/').filter(Boolean).map(decodeURIComponent);
    markMenu(parts[0] || 'workflows');
    try {
      if (parts[0] === 'workflows' && parts.length === 2 && parts[1] === 'new') await newWorkflowPage();
      else if (parts[0] === 'workflows' && parts.length === 4 && parts[2] === 'executions') await executionPage(parts[1], parts[3], refreshing);
      else if (parts[0] === 'workflows' && parts.length === 4 && parts[2] === 'versions') await versionPage(parts[1], parts[3]);
      else if (parts[0] === 'workflows' && parts.length === 3 && parts[2] === 'versions') await versionsPage(parts[1]);
      else if (parts[0] === 'workflows' && parts.length === 3 && parts[2] === 'trigger') await triggerPage(parts[1], null);
      else if (parts[0] === 'workflows' && parts.length === 3 && parts[2] === 'steps') await stepsPage(parts[1]);
      else if (parts[0] === 'workflows' && parts.length === 2) await executionsPage(parts[1], params, refreshing);
      else if (parts[0] === 'executions' && parts.length === 1) await allExecutionsPage(params, refreshing);
      else if (parts[0] === 'settings' && parts[1] === 'api-keys' && parts.length === 2) await apiKeysPage(null);
      else if (parts[0] === 'settings' && parts.length === 1) settingsPage();
      else await workflowsPage();
      if (refreshing && refreshError) {
        showError('');
        refreshError = false;
      }
    } catch (err) {
      fail(err);
      if (refreshing) refreshError = true;
    }
  }

  document.addEventListener('DOMContentLoaded', () => {
    $('login-form').addEventListener('submit', (event) => {
      event.preventDefault();
      const value = $('admin-key').value.trim();
      $('admin-key').value = '';
      if (!value) return showError('Paste an admin key.');
      sessionStorage.setItem(KEY, value);
      route(false);
    });
    $('sign-out').addEventListener('click', () => {
      sessionStorage.removeItem(KEY);
      location.hash = '#/';
      showLogin('Signed out.');
    });
    window.addEventListener('hashchange', () => route(false));
    route(false);
  });
})();
