// The flow diagram of a workflow: an SVG drawn from the definition (the workflow file as the
// admin API returns it), node by node with createElementNS, so a step id or a label is only
// ever text. No library: the layout is a column read top to bottom, and since targets only
// point forward (to a step below, or `end`), every route is a straight arrow to the step
// below or a jump drawn down a lane on the right.
'use strict';

(function () {
  const NS = 'http://www.w3.org/2000/svg';
  const BOX_W = 220;
  const BOX_H = 44;
  const GAP = 40;
  const LANE = 16;
  const LANES_FROM = 24;
  const PAD = 12;
  const HEADER = 40;
  const END_W = 96;
  const END_H = 26;
  const EXIT = 14;
  const MARGIN = 8;
  const LABEL_CHARS = 16;
  // Roughly a character of the diagram's 12-px monospace text, to clip long ids to their box.
  const CHAR_W = 7.3;
  // Steps that never fall through to the step below: a branch always names where it goes,
  // stop and fail end the run.
  const NO_FALL_THROUGH = new Set(['branch', 'stop', 'fail']);
  // Statuses of steps the run has not been through (the plan's words).
  const NOT_RUN = new Set(['skipped', 'pending']);
  // Statuses after which a run may still go on from that step.
  const UNFINISHED = new Set(['pending', 'running', 'waiting', 'retrying', 'queued']);
  let serial = 0;

  function node(tag, attrs, text) {
    const n = document.createElementNS(NS, tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (/^on/i.test(name) || name === 'style') throw new Error('refused attribute ' + name);
      n.setAttribute(name, String(value));
    }
    if (text !== undefined) n.textContent = String(text);
    return n;
  }

  function clip(text, max) {
    const s = String(text);
    return s.length > max ? s.slice(0, Math.max(1, max - 1)) + '\u2026' : s;
  }

  function title(text) {
    return node('title', {}, text);
  }

  // Where a step can send the run, in the order its exits are drawn: `to` a step id or `end`,
  // `kind` unique per step (what an execution's record is matched against).
  function routesOf(step, below) {
    const out = [];
    const add = (to, kind, label, hint) => {
      if (typeof to === 'string' && to) out.push({ to, kind, label, hint });
    };
    if (step.type === 'branch') {
      (Array.isArray(step.cases) ? step.cases : []).forEach((c, i) =>
        add(c && c.next, 'case-' + i, 'case ' + i, c && c.when !== undefined ? 'case ' + i + ': ' + c.when : undefined));
      add(step.default, 'default', 'default');
    } else if (!NO_FALL_THROUGH.has(step.type)) {
      if (typeof step.next === 'string') add(step.next, 'next', step.next === below ? '' : 'next');
      else add(below, 'flow', '');
    }
    add(step.on_error, 'on_error', 'on_error');
    add(step.on_deny, 'on_deny', 'on_deny');
    add(step.on_timeout, 'on_timeout', 'on_timeout');
    return out;
  }

  // Sizes and places one list of steps (the workflow's, or a loop's inner ones) and its
  // routes: rows top to bottom ending with the list's end, each jump in the innermost lane
  // free over its rows (short jumps inside, long ones outside).
  function measure(steps, endLabel) {
    const rows = steps.map((step, i) => {
      const below = i + 1 < steps.length ? steps[i + 1].id : 'end';
      const inner = step.type === 'for_each' && Array.isArray(step.steps) ? measure(step.steps, 'next item') : null;
      const exits = routesOf(step, below);
      const w = inner ? Math.max(BOX_W, inner.width + 2 * PAD) : BOX_W;
      const h = inner ? HEADER + inner.height + PAD : Math.max(BOX_H, exits.length * EXIT + 10);
      return { step, inner, exits, w, h };
    });
    rows.push({ end: true, label: endLabel, exits: [], w: END_W, h: END_H });
    const index = new Map(steps.map((s, i) => [s.id, i]));
    index.set('end', steps.length);
    let y = 0;
    for (const r of rows) {
      r.y = y;
      y += r.h + GAP;
    }
    const jumps = [];
    rows.forEach((r, i) => {
      let straight = false;
      r.exits.forEach((e, k) => {
        e.from = i;
        e.exit = k;
        e.toIndex = index.get(e.to);
        // A target that is not below (a definition the loader would refuse) is not drawn.
        if (e.toIndex === undefined || e.toIndex <= i) e.skip = true;
        else if (e.toIndex === i + 1 && !straight && e.kind !== 'on_error') straight = e.straight = true;
        else jumps.push(e);
      });
    });
    jumps.sort((a, b) => (a.toIndex - a.from) - (b.toIndex - b.from) || a.from - b.from);
    const lanes = [];
    for (const e of jumps) {
      let lane = 0;
      // Touching at a row counts as overlapping: an arrow in and one out there would merge.
      while ((lanes[lane] || []).some((o) => o.from <= e.toIndex && e.from <= o.toIndex)) lane++;
      (lanes[lane] = lanes[lane] || []).push(e);
      e.lane = lane;
    }
    const colW = Math.max(BOX_W, ...rows.map((r) => r.w));
    return { rows, colW, width: colW + (lanes.length ? LANES_FROM + lanes.length * LANE : 0), height: y - GAP };
  }

  // Which routes an execution took: the steps on its path in the definition's order (the
  // path only goes forward, so that is the order they ran), joined pairwise; where two
  // routes join the same pair, the record says which (a branch's case, a failure, a decision).
  function takenRoutes(steps, statuses, records) {
    const onPath = steps.filter((s) => statuses[s.id] !== undefined && !NOT_RUN.has(statuses[s.id]));
    const byId = new Map(records.filter((r) => r && !r.path).map((r) => [r.id, r]));
    const seq = ['trigger', ...onPath.map((s) => s.id)];
    const last = onPath[onPath.length - 1];
    const unfinished = steps.some((s) => UNFINISHED.has(statuses[s.id]));
    const lastRecord = last && byId.get(last.id);
    const lastStatus = last && statuses[last.id];
    if (last && !unfinished && (lastStatus === 'succeeded' || (lastStatus === 'failed' && lastRecord && lastRecord.continued))) seq.push('end');
    return { seq, byId };
  }

  // The kind of route a step's record says it took, when it says.
  function preferredKind(record) {
    if (!record) return null;
    const out = record.output;
    if (record.type === 'branch' && out && out.matched !== undefined) {
      return typeof out.matched === 'number' ? 'case-' + out.matched : String(out.matched);
    }
    if (record.status === 'failed' && !record.continued) return 'on_error';
    if (out && out.decision === 'denied') return 'on_deny';
    if (out && out.decision === 'timed_out') return 'on_timeout';
    return null;
  }

  // Marks the one route each consecutive pair of the path took: `taken` is a set of
  // "from kind" keys.
  function markTaken(measured, steps, path) {
    const taken = new Set();
    const ids = steps.map((s) => s.id);
    const rowOf = (id) => (id === 'end' ? steps.length : ids.indexOf(id));
    for (let i = 0; i + 1 < path.seq.length; i++) {
      const from = path.seq[i];
      const to = path.seq[i + 1];
      if (from === 'trigger') {
        taken.add('trigger flow');
        continue;
      }
      const row = measured.rows[rowOf(from)];
      if (!row) continue;
      const candidates = row.exits.filter((e) => !e.skip && e.to === to && rowOf(to) >= 0);
      const want = preferredKind(path.byId.get(from));
      const chosen = candidates.find((e) => e.kind === want)
        || candidates.find((e) => e.kind !== 'on_error') || candidates[0];
      if (chosen) taken.add(from + ' ' + chosen.kind);
    }
    return taken;
  }

  // The steps with the ids the loader gives those written without one (`step2`, a loop's
  // `chat-step1`), so a draft draws as it will be stored. Copies: the caller's document is
  // left alone.
  function numbered(steps, prefix) {
    const out = steps.filter((s) => s && typeof s === 'object').map((s) => ({ ...s }));
    let next = 1;
    out.forEach((s, index) => {
      if (s.id !== undefined && s.id !== null && s.id !== '') {
        s.id = String(s.id);
        return;
      }
      next = Math.max(next, index + 1);
      let candidate;
      do {
        candidate = prefix + 'step' + next;
        next += 1;
      } while (out.some((o) => o.id === candidate));
      s.id = candidate;
    });
    for (const s of out) if (s.type === 'for_each' && Array.isArray(s.steps)) s.steps = numbered(s.steps, s.id + '-');
    return out;
  }

  function marker(id, cls) {
    const m = node('marker', { id, class: cls, viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 8, markerHeight: 8, markerUnits: 'userSpaceOnUse', orient: 'auto-start-reverse' });
    m.append(node('path', { d: 'M 0 0 L 10 5 L 0 10 z' }));
    return m;
  }

  // One route: the line, its arrowhead and its label, in a group that says where it goes.
  function drawRoute(parent, ctx, from, e, d, labelAt) {
    const state = ctx.taken && !ctx.inner ? (ctx.taken.has(from + ' ' + e.kind) ? 'taken' : 'faded') : '';
    const g = node('g', { class: ['route', 'kind-' + e.kind.replace(/-\d+$/, ''), state].filter(Boolean).join(' '),
      'data-from': from, 'data-to': e.to, 'data-kind': e.kind });
    const bad = e.kind === 'on_error';
    g.append(node('path', { d, 'marker-end': `url(#${bad ? ctx.markerBad : ctx.marker})` }));
    if (e.label) {
      g.append(title(e.hint || e.label));
      g.append(node('text', { class: 'route-label', x: labelAt[0], y: labelAt[1] }, clip(e.label, LABEL_CHARS)));
    }
    parent.append(g);
  }

  function selectable(g, id, ctx) {
    if (!ctx.onSelect) return;
    g.setAttribute('tabindex', '0');
    g.setAttribute('role', 'button');
    g.setAttribute('aria-label', 'step ' + id);
    const select = (event) => {
      event.stopPropagation();
      ctx.onSelect(id);
    };
    g.addEventListener('click', select);
    g.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' || event.key === ' ') {
        event.preventDefault();
        select(event);
      }
    });
  }

  // The classes of a box from its status: coloured by it, on or off the path taken.
  function statusClasses(status, ctx) {
    if (!ctx.statuses) return [];
    if (status === undefined) return ctx.inner ? [] : ['off-path'];
    return ['status-' + status, NOT_RUN.has(status) ? 'off-path' : 'on-path'];
  }

  function drawStep(parent, r, x, y, ctx) {
    const step = r.step;
    const id = String(step.id === undefined ? '' : step.id);
    const status = ctx.statuses ? ctx.statuses[id] : undefined;
    const g = node('g', { class: ['step-box', r.inner ? 'loop' : '', ...statusClasses(status, ctx)].filter(Boolean).join(' '),
      'data-step': id, 'data-type': step.type, 'data-status': status });
    g.append(title(`${id} (${step.type})${status ? ': ' + status : ''}`));
    g.append(node('rect', { x, y, width: r.w, height: r.h, rx: 6 }));
    const chars = Math.floor((r.w - 16) / CHAR_W);
    g.append(node('text', { class: 'step-id', x: x + 8, y: y + 18 }, clip(id, chars)));
    const detail = step.type === 'for_each' ? `for_each ${step.as || 'item'} in ${step.items || ''}` : String(step.type);
    g.append(node('text', { class: 'step-type', x: x + 8, y: y + 34 }, clip(detail + (status ? ' \u00b7 ' + status : ''), chars)));
    selectable(g, id, ctx);
    parent.append(g);
    if (r.inner) drawList(g, r.inner, x + PAD, y + HEADER, { ...ctx, inner: true });
  }

  function drawEnd(parent, r, cx, y, ctx, reached) {
    const cls = ['end-node'];
    if (ctx.taken && !ctx.inner) cls.push(reached ? 'on-path' : 'off-path');
    const g = node('g', { class: cls.join(' '), 'data-end': r.label });
    g.append(node('rect', { x: cx - r.w / 2, y, width: r.w, height: r.h, rx: r.h / 2 }));
    g.append(node('text', { class: 'end-label', x: cx, y: y + r.h / 2 + 4, 'text-anchor': 'middle' }, r.label));
    parent.append(g);
  }

  // Draws a measured list with its top left corner at (ox, oy): routes first, so the boxes
  // paint over their ends.
  function drawList(parent, m, ox, oy, ctx) {
    const cx = ox + m.colW / 2;
    const routes = node('g', { class: 'routes' });
    parent.append(routes);
    for (const r of m.rows) {
      for (const e of r.exits) {
        if (e.skip) continue;
        const from = String(r.step.id);
        const target = m.rows[e.toIndex];
        if (e.straight) {
          const y1 = oy + r.y + r.h;
          const y2 = oy + target.y;
          drawRoute(routes, ctx, from, e, `M ${cx} ${y1} V ${y2 - 1}`, [cx + 6, (y1 + y2) / 2 + 4]);
        } else {
          const sx = cx + r.w / 2;
          const sy = oy + r.y + Math.min(r.h - 4, 12 + e.exit * EXIT);
          const lane = ox + m.colW + LANES_FROM + e.lane * LANE;
          const tx = cx + target.w / 2;
          const ty = oy + target.y + (target.end ? target.h / 2 : 6);
          drawRoute(routes, ctx, from, e, `M ${sx} ${sy} H ${lane} V ${ty} H ${tx + 1}`, [sx + 4, sy - 3]);
        }
      }
    }
    const reachedEnd = ctx.path && ctx.path.seq[ctx.path.seq.length - 1] === 'end';
    for (const r of m.rows) {
      if (r.end) drawEnd(parent, r, cx, oy + r.y, ctx, reachedEnd);
      else drawStep(parent, r, cx - r.w / 2, oy + r.y, ctx);
    }
  }

  function drawTrigger(parent, definition, cx, y, ctx) {
    const reached = ctx.path && ctx.path.seq.length > 1;
    const cls = ['trigger-node'];
    if (ctx.taken) cls.push(reached ? 'on-path' : 'off-path');
    const g = node('g', { class: cls.join(' ') });
    g.append(node('rect', { x: cx - BOX_W / 2, y, width: BOX_W, height: BOX_H, rx: 6 }));
    g.append(node('text', { class: 'step-id', x: cx - BOX_W / 2 + 8, y: y + 18 }, 'trigger'));
    g.append(node('text', { class: 'step-type', x: cx - BOX_W / 2 + 8, y: y + 34 },
      clip(String(definition.trigger || 'generic_webhook'), Math.floor((BOX_W - 16) / CHAR_W))));
    parent.append(g);
  }

  /**
   * The diagram of `definition` (`{trigger, steps: [...]}`, snake_case as in the file).
   * options.statuses: {stepId: status} of an execution (its `plan`): boxes coloured by
   * status, the routes taken solid (`taken`), the rest faded (`faded`, `off-path`).
   * options.records: the execution's step records, which tell apart two routes between the
   * same steps (a branch's case, `on_error`, an approval's decision).
   * options.onSelect(stepId): each box is focusable, and Enter, Space or a click calls it.
   */
  function render(definition, options) {
    const opts = options || {};
    const def = definition && typeof definition === 'object' ? definition : {};
    const steps = numbered(Array.isArray(def.steps) ? def.steps : [], '');
    const m = measure(steps, 'end');
    serial += 1;
    const ctx = { onSelect: typeof opts.onSelect === 'function' ? opts.onSelect : null,
      statuses: opts.statuses || null, marker: 'wt-arrow-' + serial, markerBad: 'wt-arrow-bad-' + serial, inner: false };
    if (ctx.statuses) {
      ctx.path = takenRoutes(steps, ctx.statuses, Array.isArray(opts.records) ? opts.records : []);
      ctx.taken = markTaken(m, steps, ctx.path);
    }
    const top = BOX_H + GAP;
    const width = m.width + 2 * MARGIN;
    const height = top + m.height + 2 * MARGIN;
    const root = node('svg', { class: 'diagram' + (ctx.statuses ? ' with-statuses' : ''), width, height,
      viewBox: `0 0 ${width} ${height}`, role: 'group', 'aria-label': 'flow diagram of the workflow' });
    const defs = node('defs');
    defs.append(marker(ctx.marker, 'arrow'), marker(ctx.markerBad, 'arrow bad'));
    root.append(defs);
    const cx = MARGIN + m.colW / 2;
    const firstY = MARGIN + top;
    drawRoute(root, ctx, 'trigger', { to: steps.length ? String(steps[0].id) : 'end', kind: 'flow', label: '' },
      `M ${cx} ${MARGIN + BOX_H} V ${firstY - 1}`, null);
    drawTrigger(root, def, cx, MARGIN, ctx);
    drawList(root, m, MARGIN, firstY, ctx);
    return root;
  }

  window.WebhookDiagram = { render };
})();
