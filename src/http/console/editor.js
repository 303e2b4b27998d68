// The console's workflow editor and test bench (the Steps tab): step cards built from the
// workflow file's JSON Schema, a YAML Code view, checks by the server's own loader as you type,
// a field picker over a real payload, a draft kept in the tab until saved, and dry-runs of the
// draft. Loaded before app.js, which calls `window.WebhookEditor.mount(container, ctx)`; like
// app.js it builds every node with createElement and puts data in as text, never as markup.
'use strict';

(function () {
  // sessionStorage keys: a draft per workflow, and the execution chosen as the sample.
  const DRAFT = 'webhookTriggerDraft:';
  const SAMPLE = 'webhookTriggerSample';
  // Quiet time after the last keystroke before the server checks the draft.
  const CHECK_MS = 400;
  // Fields that hold a bare expression (a condition, a list); every other text is a template.
  const EXPRESSION_FIELDS = ['when', 'items'];
  // The workflow's own fields in the order a workflow file is written; any other after them.
  const TOP_ORDER = ['name', 'trigger', 'api_key', 'auth', 'sns', 'verify', 'payload_schema'];
  const topRank = (name) => (TOP_ORDER.includes(name) ? TOP_ORDER.indexOf(name) : TOP_ORDER.length);
  // Every step's fields about where the run goes, shown after the type's own.
  const ROUTING_FIELDS = ['next', 'on_error', 'continue_on_error'];
  // Fields shown as several lines.
  const LONG_FIELDS = ['text', 'html', 'message', 'reason'];
  // The picker shows this many nodes at most (a payload may be large).
  const MAX_TREE_NODES = 600;
  const MAX_ARRAY_ITEMS = 20;

  let schemaText = null;

  // ---- paths: ['steps', 1, 'url'] is written steps[1].url, as the server names fields ----

  function pathText(parts) {
    return parts.map((p, i) => (typeof p === 'number' ? `[${p}]` : (i ? '.' : '') + p)).join('');
  }

  function getAt(value, parts) {
    let node = value;
    for (const p of parts) {
      if (node === null || typeof node !== 'object') return undefined;
      node = node[p];
    }
    return node;
  }

  function setAt(doc, parts, value) {
    let node = doc;
    parts.slice(0, -1).forEach((p, i) => {
      if (node[p] === null || typeof node[p] !== 'object') node[p] = typeof parts[i + 1] === 'number' ? [] : {};
      node = node[p];
    });
    node[parts[parts.length - 1]] = value;
  }

  // Removes a field, and the objects it leaves empty (a `retry: {}` is no setting at all);
  // a list's entries stay, even empty, since their place means something.
  function deleteAt(doc, parts) {
    for (let end = parts.length; end > 0; end--) {
      const parent = getAt(doc, parts.slice(0, end - 1));
      const key = parts[end - 1];
      if (!parent || typeof parent !== 'object' || Array.isArray(parent)) return;
      if (end < parts.length) {
        const child = parent[key];
        if (!child || typeof child !== 'object' || Array.isArray(child) || Object.keys(child).length) return;
      }
      delete parent[key];
    }
  }

  function clone(value) {
    return value === undefined ? undefined : JSON.parse(JSON.stringify(value));
  }

  // JSON with sorted keys: two documents that differ only in key order are the same draft.
  function canonical(value) {
    return JSON.stringify(value, (k, v) => (v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.keys(v).sort().map((key) => [key, v[key]])) : v));
  }

  // The expression of a payload's child: `.name`, `[0]`, or `['content-type']`.
  function childExpr(expr, key) {
    if (typeof key === 'number') return `${expr}[${key}]`;
    if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) return `${expr}.${key}`;
    return `${expr}['${String(key).replace(/\\/g, '\\\\').replace(/'/g, "\\'")}']`;
  }

  // ---- the workflow file's JSON Schema, read for forms ----

  function makeSchema(root) {
    const defs = root.$defs || root.definitions || {};

    // A boolean schema (`true`: anything) reads as an empty one.
    function resolve(s) {
      let node = s && typeof s === 'object' ? s : {};
      for (let n = 0; node.$ref && n < 32; n++) {
        const m = /^#\/(?:\$defs|definitions)\/(.+)$/.exec(node.$ref);
        const target = m ? defs[decodeURIComponent(m[1]).replace(/~1/g, '/').replace(/~0/g, '~')] : null;
        const { $ref, ...own } = node;
        node = { ...(target || {}), ...own };
      }
      return node;
    }

    // One schema with its allOf parts merged in.
    function flat(s) {
      const node = resolve(s);
      if (!node.allOf) return node;
      const { allOf, ...own } = node;
      const out = { ...own, properties: { ...(own.properties || {}) }, required: [...(own.required || [])] };
      for (const part of allOf) {
        const p = flat(part);
        Object.assign(out.properties, p.properties || {});
        out.required.push(...(p.required || []));
        for (const key of ['oneOf', 'anyOf', 'type', 'items', 'enum', 'const', 'description', 'default']) {
          if (p[key] !== undefined && out[key] === undefined) out[key] = p[key];
        }
      }
      return out;
    }

    // An optional value's schema without its null.
    function nonNull(s) {
      const node = flat(s);
      const alts = node.anyOf || node.oneOf;
      if (alts) {
        const rest = alts.filter((a) => flat(a).type !== 'null');
        if (rest.length === 1 && rest.length < alts.length) {
          const { anyOf, oneOf, ...own } = node;
          return { ...nonNull(rest[0]), ...own };
        }
      }
      if (Array.isArray(node.type)) {
        const types = node.type.filter((t) => t !== 'null');
        if (types.length === 1) return { ...node, type: types[0] };
      }
      return node;
    }

    // The step types a list's items may be (each a oneOf branch with a `type` const), or null.
    function stepKinds(items) {
      const s = flat(items);
      const alts = s.oneOf || s.anyOf || [];
      const common = s.properties || {};
      const commonRequired = s.required || [];
      const kinds = alts.map((a) => {
        const b = flat(a);
        const t = b.properties && b.properties.type ? nonNull(b.properties.type) : {};
        const kind = t.const !== undefined ? t.const : t.enum && t.enum.length === 1 ? t.enum[0] : null;
        if (typeof kind !== 'string') return null;
        const properties = { ...common, ...(b.properties || {}) };
        delete properties.type;
        const required = [...new Set([...commonRequired, ...(b.required || [])])].filter((r) => r !== 'type');
        return { kind, title: b.title || kind, description: b.description || '', properties, required };
      }).filter(Boolean);
      return kinds.length ? kinds : null;
    }

    function fieldType(s) {
      const node = nonNull(s);
      if (node.const !== undefined) return { t: 'const' };
      if (node.enum) return { t: 'enum', values: node.enum };
      const alts = node.oneOf || node.anyOf;
      if (alts) {
        const parts = alts.map(flat);
        if (parts.every((p) => p.const !== undefined || Array.isArray(p.enum))) {
          return { t: 'enum', values: parts.flatMap((p) => (p.const !== undefined ? [p.const] : p.enum)) };
        }
        // A text with some values named (an HTTP method in any case): offered, not imposed.
        if (node.type === 'string') {
          return { t: 'string', suggestions: parts.flatMap((p) => (p.const !== undefined ? [p.const] : p.enum || [])) };
        }
        return { t: 'json' };
      }
      if (node.type === 'boolean') return { t: 'bool' };
      if (node.type === 'integer' || node.type === 'number') return { t: 'number' };
      if (node.type === 'string') return { t: 'string' };
      if (node.type === 'array' && node.items) {
        const kinds = stepKinds(node.items);
        if (kinds) return { t: 'steps', kinds };
        const item = nonNull(node.items);
        if (item.type === 'object' && item.properties && !item.oneOf && !item.anyOf) return { t: 'list', item };
      }
      if (node.type === 'object' && node.properties && Object.keys(node.properties).length
        && !node.oneOf && !node.anyOf) return { t: 'object' };
      return { t: 'json' };
    }

    const top = flat(root);
    const steps = top.properties && top.properties.steps ? nonNull(top.properties.steps) : {};
    return {
      top,
      kinds: (steps.items && stepKinds(steps.items)) || [],
      nonNull,
      fieldType,
    };
  }

  async function loadSchema(api) {
    if (!schemaText) schemaText = await api('GET', 'schemas/workflow.json');
    return makeSchema(schemaText);
  }

  // ---- a JSON Schema from a sample body ("use as schema") ----

  function typeName(value) {
    if (value === null) return 'null';
    if (Array.isArray(value)) return 'array';
    if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
    return typeof value;
  }

  function inferSchema(value) {
    const type = typeName(value);
    if (type === 'object') {
      const keys = Object.keys(value);
      return { type, properties: Object.fromEntries(keys.map((k) => [k, inferSchema(value[k])])), required: keys };
    }
    if (type === 'array') {
      return value.length ? { type, items: value.map(inferSchema).reduce(mergeSchemas) } : { type };
    }
    return { type };
  }

  // One schema that both samples fit: an object's keys in either (required: those in both),
  // an integer widened to a number, unlike types as a list of alternatives.
  function mergeSchemas(a, b) {
    if (canonical(a) === canonical(b)) return a;
    if (a.type === 'object' && b.type === 'object') {
      const properties = { ...a.properties };
      for (const [k, s] of Object.entries(b.properties)) properties[k] = properties[k] ? mergeSchemas(properties[k], s) : s;
      return { type: 'object', properties, required: a.required.filter((k) => b.required.includes(k)) };
    }
    if (a.type === 'array' && b.type === 'array') {
      if (!a.items || !b.items) return a.items ? a : b;
      return { type: 'array', items: mergeSchemas(a.items, b.items) };
    }
    const numbers = ['integer', 'number'];
    if (numbers.includes(a.type) && numbers.includes(b.type)) return { type: 'number' };
    const alternatives = [...(a.anyOf || [a]), ...(b.anyOf || [b])];
    const unique = [...new Map(alternatives.map((s) => [canonical(s), s])).values()];
    return { anyOf: unique };
  }

  // A made-up body shaped as a schema says (the picker's paths when no payload is chosen).
  function exampleOf(schema, depth) {
    if (!schema || typeof schema !== 'object' || depth > 12) return null;
    if (schema.anyOf && schema.anyOf.length) return exampleOf(schema.anyOf[0], depth + 1);
    const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
    if (type === 'object' || schema.properties) {
      return Object.fromEntries(Object.entries(schema.properties || {}).map(([k, s]) => [k, exampleOf(s, depth + 1)]));
    }
    if (type === 'array') return [exampleOf(schema.items, depth + 1)];
    return `<${type || 'any'}>`;
  }

  // ---- drafts ----

  function readDraft(workflowId) {
    try {
      const draft = JSON.parse(sessionStorage.getItem(DRAFT + workflowId) || 'null');
      return draft && typeof draft === 'object' && draft.doc && typeof draft.doc === 'object' ? draft : null;
    } catch (_) {
      return null;
    }
  }

  function writeDraft(workflowId, draft) {
    if (draft) sessionStorage.setItem(DRAFT + workflowId, JSON.stringify(draft));
    else sessionStorage.removeItem(DRAFT + workflowId);
  }

  function readSample() {
    try {
      const sample = JSON.parse(sessionStorage.getItem(SAMPLE) || 'null');
      return sample && sample.workflowId && sample.executionId ? sample : null;
    } catch (_) {
      return null;
    }
  }

  // ---- the editor ----

  async function mount(container, ctx) {
    const { api, el, workflow } = ctx;
    const schema = await loadSchema(api);
    const wid = encodeURIComponent(workflow.id);
    const saved = workflow.definition;
    const stored = readDraft(workflow.id);
    const state = {
      doc: clone(stored ? stored.doc : saved),
      baseVersion: stored && stored.baseVersion ? stored.baseVersion : workflow.version,
      mode: stored && stored.mode === 'code' ? 'code' : 'form',
      yaml: stored && typeof stored.yaml === 'string' ? stored.yaml : '',
      // The Code view's text has changes the server has not read yet.
      yamlPending: Boolean(stored && stored.yamlPending),
      errors: [],
      lastField: null,
      checkTimer: null,
      checkSeq: 0,
    };
    if (!Array.isArray(state.doc.steps)) state.doc.steps = [];

    const banner = el('div', { id: 'draft-banner', class: 'draft-banner', hidden: true });
    const checkState = el('span', { id: 'check-state', class: 'muted' });
    const topErrors = el('ul', { id: 'editor-errors', class: 'editor-errors', hidden: true });
    const note = el('p', { id: 'editor-note', class: 'muted', hidden: true });
    const modeForm = el('button', { type: 'button', id: 'mode-form' }, 'Form');
    const modeCode = el('button', { type: 'button', id: 'mode-code' }, 'Code');
    const saveButton = el('button', { type: 'button', id: 'save-draft' }, 'Save');
    const diagram = el('div', { id: 'editor-diagram' });
    // The picture of the flow (diagram.js), folded away by a click when the cards need room.
    const diagramBox = el('details', { id: 'editor-diagram-box', open: true, hidden: !window.WebhookDiagram },
      el('summary', {}, 'Diagram (click a box to open its card)'), diagram);
    const topFields = el('div', { id: 'top-fields' });
    // Settings change seldom, steps often: the settings fold away (an error in them opens them).
    const topBox = el('details', { id: 'top-fields-box', class: 'panel' },
      el('summary', {}, 'Workflow settings: name, trigger, API key, sender auth, signature check, payload schema'), topFields);
    const cards = el('div', { id: 'cards' });
    const formView = el('div', { id: 'form-view' }, topBox, el('h2', {}, 'Steps'), cards);
    const code = el('textarea', { id: 'code-yaml', spellcheck: 'false', autocomplete: 'off', rows: 30 });
    const codeView = el('div', { id: 'code-view', hidden: true },
      el('p', { class: 'muted' }, 'The same document as YAML; checked as you type. Back to Form once it loads.'), code);
    const picker = el('div', { id: 'picker', class: 'panel' });
    const bench = el('div', { id: 'bench', class: 'panel' });
    const root = el('div', { class: 'editor' },
      ctx.heading,
      banner,
      el('div', { class: 'toolbar' }, el('span', { class: 'segmented' }, modeForm, modeCode), saveButton, checkState),
      note,
      topErrors,
      diagramBox,
      el('div', { class: 'editor-grid' },
        el('div', { class: 'editor-main' }, formView, codeView),
        el('div', { class: 'editor-side' }, picker, bench)));
    container.replaceChildren(root);

    const isDraft = () => state.yamlPending || canonical(state.doc) !== canonical(saved);

    function say(text) {
      note.textContent = text || '';
      note.hidden = !text;
    }

    // Keeps the draft in the tab (or drops it when it is the saved document again) and says so.
    function persist() {
      const draft = isDraft();
      writeDraft(workflow.id, draft ? {
        baseVersion: state.baseVersion, doc: state.doc, mode: state.mode, yaml: state.yaml, yamlPending: state.yamlPending,
      } : null);
      const stale = state.baseVersion !== workflow.version;
      banner.replaceChildren(
        el('strong', {}, 'Unsaved draft'),
        ` based on version ${state.baseVersion}: not live until saved`,
        stale ? el('span', { class: 'warning', id: 'draft-stale' },
          ` (version ${workflow.version} was saved since: saving this draft is refused as a conflict)`) : '.',
        ' ', discardButton());
      banner.hidden = !draft;
      testRun.disabled = draft;
      testRun.title = draft ? 'Save the draft first: a real run uses the saved version' : '';
    }

    function discardButton() {
      const button = el('button', { type: 'button', id: 'discard-draft' }, 'Discard');
      button.addEventListener('click', () => {
        writeDraft(workflow.id, null);
        ctx.reload();
      });
      return button;
    }

    function changed() {
      persist();
      scheduleCheck();
    }

    // ---- checks by the server ----

    function checkRequest() {
      return state.mode === 'code'
        ? api('POST', 'admin/workflows/check', state.yaml, { 'content-type': 'application/yaml' })
        : api('POST', 'admin/workflows/check', state.doc);
    }

    function scheduleCheck() {
      clearTimeout(state.checkTimer);
      checkState.textContent = 'checking\u2026';
      checkState.dataset.state = 'checking';
      state.checkTimer = setTimeout(runCheck, CHECK_MS);
    }

    // The answer to the newest request only: an older one may come back later.
    async function runCheck() {
      if (!root.isConnected) return null;
      clearTimeout(state.checkTimer);
      const seq = ++state.checkSeq;
      let answer;
      try {
        answer = await checkRequest();
      } catch (err) {
        if (seq === state.checkSeq) ctx.fail(err);
        return null;
      }
      if (seq !== state.checkSeq || !root.isConnected) return null;
      state.errors = answer.errors || [];
      if (state.mode === 'code' && !state.errors.length && answer.definition) {
        state.doc = answer.definition;
        state.yamlPending = false;
        persist();
      }
      showErrors();
      drawDiagram();
      return answer;
    }

    function errorSpot(path) {
      let p = path;
      while (p) {
        const spot = root.querySelector(`[data-error-for="${CSS.escape(p)}"]`);
        if (spot) return spot;
        const shorter = p.replace(/(\.[^.[\]]*|\[\d+\])$/, '');
        if (shorter === p) break;
        p = shorter;
      }
      return null;
    }

    // Each error beside its field (or the nearest card or object holding it); the rest on top.
    function showErrors() {
      for (const spot of root.querySelectorAll('[data-error-for]')) spot.textContent = '';
      for (const n of root.querySelectorAll('.has-error')) n.classList.remove('has-error');
      const unplaced = [];
      for (const e of state.errors) {
        const spot = state.mode === 'form' ? errorSpot(e.path || '') : null;
        if (!spot) {
          unplaced.push(e);
          continue;
        }
        spot.textContent = (spot.textContent ? spot.textContent + ' ' : '') + e.message;
        for (let fold = spot.closest('details'); fold; fold = fold.parentElement && fold.parentElement.closest('details')) fold.open = true;
        const holder = spot.closest('.field, .card');
        if (holder) holder.classList.add('has-error');
      }
      topErrors.replaceChildren(...unplaced.map((e) => el('li', { 'data-path': e.path || '' },
        e.path ? [el('code', {}, e.path), ' '] : null,
        e.line ? `(line ${e.line}) ` : null,
        e.message)));
      topErrors.hidden = !unplaced.length;
      const n = state.errors.length;
      checkState.textContent = n ? `${n} error${n === 1 ? '' : 's'}` : 'checked: it would load';
      checkState.dataset.state = n ? 'errors' : 'ok';
    }

    // The definition to save or dry-run: the form's document, or the Code view's once read.
    async function currentDefinition() {
      if (state.mode === 'code' && state.yamlPending) {
        const answer = await runCheck();
        if (!answer || state.errors.length) return null;
      }
      return state.doc;
    }

    // ---- the form ----

    function allIds(steps, out) {
      for (const s of steps || []) {
        if (s && s.id) out.add(s.id);
        if (s && Array.isArray(s.steps)) allIds(s.steps, out);
      }
      return out;
    }

    function freshId(base, taken) {
      for (let n = 1; ; n++) {
        const id = `${base}_${n}`;
        if (!taken.has(id)) return id;
      }
    }

    // A copy with new ids (its own and its inner steps'), since ids are unique in a workflow.
    function renamed(step, taken) {
      const copy = clone(step);
      const rename = (s) => {
        s.id = freshId(String(s.id || s.type).replace(/_\d+$/, ''), taken);
        taken.add(s.id);
        if (Array.isArray(s.steps)) s.steps.forEach(rename);
      };
      rename(copy);
      return copy;
    }

    function structural(mutate) {
      mutate();
      renderForm();
      changed();
    }

    // A doc comment's lines as one paragraph.
    function oneLine(text) {
      return String(text || '').replace(/\s*\n\s*/g, ' ');
    }

    function placeholderOf(s) {
      if (s.default === undefined || s.default === null) return null;
      return typeof s.default === 'string' ? s.default : JSON.stringify(s.default);
    }

    function bindText(control, parts, parse) {
      control.addEventListener('input', () => {
        const raw = control.value;
        const local = control.parentElement && control.parentElement.parentElement
          ? control.parentElement.parentElement.querySelector(':scope > .local-error') : null;
        if (raw.trim() === '') {
          deleteAt(state.doc, parts);
        } else {
          let value;
          try {
            value = parse(raw);
          } catch (err) {
            if (local) local.textContent = err.message;
            return;
          }
          setAt(state.doc, parts, value);
        }
        if (local) local.textContent = '';
        changed();
      });
    }

    function parseJsonField(raw) {
      try {
        return JSON.parse(raw);
      } catch (_) {
        throw new Error('not JSON yet (a text in quotes, a number, an object, a list)');
      }
    }

    function field(parts, s, required) {
      const name = String(parts[parts.length - 1]);
      const p = pathText(parts);
      const node = schema.nonNull(s);
      const type = schema.fieldType(s);
      if (type.t === 'const') return null;
      const value = getAt(state.doc, parts);
      const label = el('span', { class: 'field-name', title: node.description || null }, name,
        required ? el('span', { class: 'required', title: 'required' }, ' *') : null);
      const hint = node.description ? el('div', { class: 'hint muted' }, oneLine(node.description)) : null;
      const wrap = (kind, control) => el('div', { class: 'field', 'data-field': p, 'data-kind': kind, 'data-required': required ? 'true' : null },
        el('label', {}, label, ' ', control), hint,
        el('div', { class: 'local-error' }),
        el('div', { class: 'field-error', 'data-error-for': p }));
      if (type.t === 'bool') {
        const box = el('input', { type: 'checkbox', 'data-path': p, checked: value === true });
        box.addEventListener('change', () => {
          if (box.checked) setAt(state.doc, parts, true);
          else if (node.default === true) setAt(state.doc, parts, false);
          else deleteAt(state.doc, parts);
          changed();
        });
        return wrap('bool', box);
      }
      if (type.t === 'enum') {
        const chosen = type.values.findIndex((v) => canonical(v) === canonical(value));
        const none = node.default !== undefined ? `(default: ${placeholderOf(node)})` : '\u2014';
        const select = el('select', { 'data-path': p },
          el('option', { value: '' }, none),
          type.values.map((v, i) => el('option', { value: String(i), selected: i === chosen }, typeof v === 'string' ? v : JSON.stringify(v))));
        select.addEventListener('change', () => {
          if (select.value === '') deleteAt(state.doc, parts);
          else setAt(state.doc, parts, type.values[Number(select.value)]);
          changed();
        });
        return wrap('enum', select);
      }
      if (type.t === 'number') {
        const input = el('input', { type: 'number', 'data-path': p, value: value === undefined ? null : String(value), placeholder: placeholderOf(node) });
        bindText(input, parts, (raw) => {
          const n = Number(raw);
          if (!Number.isFinite(n)) throw new Error('not a number');
          return n;
        });
        return wrap('number', input);
      }
      if (type.t === 'string') {
        const attrs = { 'data-path': p, placeholder: placeholderOf(node), spellcheck: 'false', autocomplete: 'off',
          'data-expression': EXPRESSION_FIELDS.includes(name) ? 'true' : null };
        const offered = type.suggestions && type.suggestions.length
          ? el('datalist', { id: 'offered-' + p.replace(/[^A-Za-z0-9_-]/g, '_') }, type.suggestions.map((v) => el('option', { value: String(v) })))
          : null;
        const input = LONG_FIELDS.includes(name)
          ? el('textarea', { ...attrs, rows: 3 }, typeof value === 'string' ? value : '')
          : el('input', { ...attrs, type: 'text', list: offered ? offered.id : null,
            value: typeof value === 'string' ? value : value === undefined ? null : String(value) });
        bindText(input, parts, (raw) => raw);
        const field = wrap('string', input);
        if (offered) field.append(offered);
        return field;
      }
      if (type.t === 'object') {
        const inner = Object.entries(node.properties).map(([k, sub]) => field(parts.concat(k), sub, (node.required || []).includes(k)));
        return el('fieldset', { class: 'field object', 'data-field': p, 'data-kind': 'object' },
          el('legend', { title: node.description || null }, label), hint, inner,
          el('div', { class: 'field-error', 'data-error-for': p }));
      }
      if (type.t === 'list') return listField(parts, node, type.item, label, hint);
      if (type.t === 'steps') {
        return el('div', { class: 'field nested-steps', 'data-field': p, 'data-kind': 'steps' },
          el('div', { class: 'field-name' }, label), hint,
          el('div', { class: 'field-error', 'data-error-for': p }),
          stepList(parts, Array.isArray(value) ? value : [], type.kinds));
      }
      const text = el('textarea', { class: 'json', 'data-path': p, rows: value !== undefined && typeof value === 'object' ? 4 : 2,
        spellcheck: 'false', placeholder: placeholderOf(node) }, value === undefined ? '' : JSON.stringify(value, null, 2));
      bindText(text, parts, parseJsonField);
      return wrap('json', text);
    }

    // A list of small objects (a branch's cases): each a sub-form, added and removed here.
    function listField(parts, node, item, label, hint) {
      const p = pathText(parts);
      const entries = getAt(state.doc, parts);
      const list = Array.isArray(entries) ? entries : [];
      const add = el('button', { type: 'button', class: 'add-entry' }, 'Add');
      add.addEventListener('click', () => structural(() => setAt(state.doc, parts, [...list, {}])));
      return el('fieldset', { class: 'field list', 'data-field': p, 'data-kind': 'list' },
        el('legend', { title: node.description || null }, label), hint,
        el('div', { class: 'field-error', 'data-error-for': p }),
        list.map((_, i) => {
          const remove = el('button', { type: 'button', class: 'remove-entry' }, 'Remove');
          remove.addEventListener('click', () => structural(() => list.splice(i, 1)));
          const here = parts.concat(i);
          return el('div', { class: 'entry', 'data-field': pathText(here) },
            el('div', { class: 'entry-head' }, el('code', {}, `${parts[parts.length - 1]}[${i}]`), ' ', remove),
            el('div', { class: 'field-error', 'data-error-for': pathText(here) }),
            Object.entries(item.properties).map(([k, sub]) => field(here.concat(k), sub, (item.required || []).includes(k))));
        }),
        add);
    }

    // The fields of a step in reading order: id, its type's own (the required first), then
    // where it goes next.
    function orderedFields(kind) {
      const names = Object.keys(kind.properties);
      const own = names.filter((n) => n !== 'id' && !ROUTING_FIELDS.includes(n))
        .sort((a, b) => Number(!kind.required.includes(a)) - Number(!kind.required.includes(b)));
      const routing = ROUTING_FIELDS.filter((n) => names.includes(n));
      return [...(names.includes('id') ? ['id'] : []), ...own, ...routing];
    }

    function stepCard(listParts, list, i, kinds) {
      const parts = listParts.concat(i);
      const p = pathText(parts);
      const step = list[i] || {};
      const kind = kinds.find((k) => k.kind === step.type);
      const tool = (cls, label, enabled, mutate) => {
        const button = el('button', { type: 'button', class: cls, disabled: !enabled }, label);
        button.addEventListener('click', (event) => {
          event.preventDefault();
          structural(mutate);
        });
        return button;
      };
      return el('details', { class: 'card', open: true, 'data-field': p, 'data-step': step.id || '', 'data-type': step.type || '' },
        el('summary', {}, el('code', { class: 'card-path' }, p), ' ', el('strong', { class: 'card-id' }, step.id || '(no id)'), ' ',
          el('span', { class: 'card-type' }, step.type || '?')),
        el('div', { class: 'toolbar card-tools' },
          tool('move-up', '\u2191 Up', i > 0, () => list.splice(i - 1, 2, list[i], list[i - 1])),
          tool('move-down', '\u2193 Down', i < list.length - 1, () => list.splice(i, 2, list[i + 1], list[i])),
          tool('duplicate', 'Duplicate', true, () => list.splice(i + 1, 0, renamed(step, allIds(state.doc.steps, new Set())))),
          tool('delete', 'Delete', true, () => list.splice(i, 1))),
        kind && kind.description ? el('p', { class: 'muted kind-description' }, kind.description) : null,
        el('div', { class: 'field-error', 'data-error-for': p }),
        el('div', { class: 'dry-run-note', 'data-dry-run-for': step.id || '' }),
        kind ? orderedFields(kind).map((name) => field(parts.concat(name), kind.properties[name], kind.required.includes(name)))
          : el('p', { class: 'field-error' }, `unknown step type ${step.type}: edit it in the Code view`));
    }

    // Cards of a list of steps (the workflow's, or a loop's) and the palette that adds to it.
    function stepList(listParts, list, kinds) {
      const top = listParts.length === 1;
      const palette = el('select', { class: 'palette', id: top ? 'palette' : null, 'aria-label': 'step type' },
        kinds.map((k) => el('option', { value: k.kind, title: k.description || null }, k.kind)));
      const add = el('button', { type: 'button', class: 'add-step', id: top ? 'add-step' : null }, 'Add step');
      add.addEventListener('click', () => structural(() => {
        const steps = getAt(state.doc, listParts);
        const next = { id: freshId(palette.value, allIds(state.doc.steps, new Set())), type: palette.value };
        if (Array.isArray(steps)) steps.push(next); else setAt(state.doc, listParts, [next]);
      }));
      return el('div', { class: 'cards', 'data-list': pathText(listParts) },
        list.map((_, i) => stepCard(listParts, list, i, kinds)),
        el('div', { class: 'toolbar palette-row' }, el('label', {}, 'New ', palette), add));
    }

    function renderForm() {
      const props = schema.top.properties || {};
      const required = schema.top.required || [];
      topFields.replaceChildren(
        el('div', { class: 'field-error', 'data-error-for': '' }),
        ...Object.keys(props).filter((k) => k !== 'steps' && !k.startsWith('$'))
          .sort((a, b) => topRank(a) - topRank(b))
          .map((k) => field([k], props[k], required.includes(k))).filter(Boolean));
      cards.replaceChildren(stepList(['steps'], state.doc.steps, schema.kinds));
      state.lastField = null;
      showPickTarget();
      showErrors();
      drawDiagram();
    }

    // ---- the diagram (diagram.js, when loaded) ----

    function openCard(stepId) {
      const card = cards.querySelector(`.card[data-step="${CSS.escape(stepId)}"]`);
      if (!card) return;
      for (let n = card; n; n = n.parentElement && n.parentElement.closest('details.card')) n.open = true;
      for (const other of cards.querySelectorAll('.card.selected')) other.classList.remove('selected');
      card.classList.add('selected');
      card.scrollIntoView({ block: 'center' });
    }

    function drawDiagram() {
      if (!window.WebhookDiagram || state.mode !== 'form') return diagram.replaceChildren();
      try {
        diagram.replaceChildren(window.WebhookDiagram.render(state.doc, { onSelect: openCard }));
      } catch (_) {
        // A draft half-written may not draw; the cards still show it.
        diagram.replaceChildren();
      }
    }

    // ---- Form and Code ----

    function showMode() {
      formView.hidden = state.mode !== 'form';
      codeView.hidden = state.mode !== 'code';
      modeForm.setAttribute('aria-pressed', String(state.mode === 'form'));
      modeCode.setAttribute('aria-pressed', String(state.mode === 'code'));
      code.value = state.yaml;
    }

    modeCode.addEventListener('click', async () => {
      if (state.mode === 'code') return;
      say('');
      const answer = await runCheck();
      if (!answer) return;
      if (state.errors.length) return say('Not switched: the form has errors (shown beside their fields).');
      state.mode = 'code';
      state.doc = answer.definition;
      state.yaml = answer.yaml;
      state.yamlPending = false;
      state.errors = [];
      showMode();
      persist();
      showErrors();
      drawDiagram();
    });

    modeForm.addEventListener('click', async () => {
      if (state.mode === 'form') return;
      say('');
      const answer = await runCheck();
      if (!answer) return;
      if (state.errors.length) return say('Not switched: the YAML has errors (listed above).');
      state.mode = 'form';
      state.doc = answer.definition;
      state.yamlPending = false;
      showMode();
      renderForm();
      persist();
    });

    code.addEventListener('input', () => {
      state.yaml = code.value;
      state.yamlPending = true;
      changed();
    });

    // ---- saving ----

    saveButton.addEventListener('click', async () => {
      say('');
      saveButton.disabled = true;
      try {
        const definition = await currentDefinition();
        if (!definition) return say('Not saved: the YAML has errors (listed above).');
        await api('PUT', `admin/workflows/${wid}`, definition, { 'if-match': `"${state.baseVersion}"` });
        writeDraft(workflow.id, null);
        await ctx.reload();
      } catch (err) {
        if (err instanceof ctx.Failed && err.status === 409) {
          say(`Not saved: someone saved this workflow after version ${state.baseVersion}, which this draft is based on (version conflict). The draft is kept: copy what you need from its Code view, Discard it, and make the change again.`);
        } else if (err instanceof ctx.Failed && err.details && err.details.length) {
          state.errors = err.details;
          showErrors();
          say('Not saved: ' + err.message);
        } else {
          ctx.fail(err);
        }
      } finally {
        saveButton.disabled = false;
      }
    });

    // ---- the input: picker and test bench ----

    const sample = readSample();
    const source = el('select', { id: 'input-source' },
      el('option', { value: 'latest' }, 'the last execution received'),
      el('option', { value: 'sample', disabled: !sample, selected: Boolean(sample) },
        sample ? `the sample: ${sample.executionId}` : 'the sample (Use as sample on an execution)'),
      el('option', { value: 'execution' }, 'an execution by id'),
      el('option', { value: 'typed' }, 'a payload typed here'),
      el('option', { value: 'schema' }, 'the payload_schema\'s shape (picker only)'));
    const inputWorkflow = el('input', { type: 'text', id: 'input-workflow', placeholder: workflow.id, spellcheck: 'false', autocomplete: 'off' });
    const inputExecution = el('input', { type: 'text', id: 'input-execution', placeholder: 'execution id', spellcheck: 'false', autocomplete: 'off' });
    const typedBody = el('textarea', { id: 'input-body', rows: 5, spellcheck: 'false', placeholder: '{"alerts": [{"name": "disk full"}]}' });
    const typedHeaders = el('textarea', { id: 'input-headers', rows: 2, spellcheck: 'false', placeholder: '{"x-github-event": "push"}' });
    const typedQuery = el('textarea', { id: 'input-query', rows: 2, spellcheck: 'false', placeholder: '{"source": "test"}' });
    const byId = el('div', { id: 'input-by-id', hidden: true },
      el('label', {}, 'Workflow ', inputWorkflow), ' ', el('label', {}, 'Execution ', inputExecution));
    const typed = el('div', { id: 'input-typed', hidden: true },
      el('label', {}, 'Body (JSON, or text) ', typedBody),
      el('label', {}, 'Headers (JSON object) ', typedHeaders),
      el('label', {}, 'Query (JSON object) ', typedQuery));
    source.addEventListener('change', () => {
      byId.hidden = source.value !== 'execution';
      typed.hidden = source.value !== 'typed';
    });
    const loadButton = el('button', { type: 'button', id: 'load-input' }, 'Show its payload');
    const pickTarget = el('p', { id: 'pick-target', class: 'muted' });
    const tree = el('div', { id: 'picker-tree' });

    function jsonObject(text, what) {
      if (!text.trim()) return {};
      let value;
      try { value = JSON.parse(text); } catch (_) { throw new Error(`${what}: not JSON`); }
      if (!value || typeof value !== 'object' || Array.isArray(value)) throw new Error(`${what}: not a JSON object`);
      return value;
    }

    function typedInput() {
      let body = typedBody.value;
      try { body = JSON.parse(body); } catch (_) { /* a text body stays text */ }
      return { body, headers: jsonObject(typedHeaders.value, 'headers'), query: jsonObject(typedQuery.value, 'query') };
    }

    async function latestId() {
      const page = await api('GET', `admin/workflows/${wid}/executions?limit=1`);
      if (!page.items || !page.items.length) throw new Error('This workflow has no execution yet: choose another input.');
      return page.items[0].id;
    }

    // Where the input comes from, as the dry-run and test-run routes take it.
    async function chosenInput(forRealRun) {
      switch (source.value) {
        case 'sample': return { executionId: sample.executionId, executionWorkflowId: sample.workflowId };
        case 'execution': {
          if (!inputExecution.value.trim()) throw new Error('Give an execution id.');
          return { executionId: inputExecution.value.trim(), executionWorkflowId: inputWorkflow.value.trim() || workflow.id };
        }
        case 'typed': return { input: typedInput() };
        case 'schema': return { input: { body: exampleOf(state.doc.payload_schema, 0) || {}, headers: {}, query: {} } };
        default: return forRealRun ? { executionId: await latestId() } : {};
      }
    }

    // The payload the picker shows: the chosen execution's body, headers and query.
    async function chosenPayload() {
      const chosen = await chosenInput(true);
      if (chosen.input) return chosen.input;
      const owner = encodeURIComponent(chosen.executionWorkflowId || workflow.id);
      const e = await api('GET', `admin/workflows/${owner}/executions/${encodeURIComponent(chosen.executionId)}`);
      return { body: e.payload, headers: (e.trigger && e.trigger.headers) || {}, query: (e.trigger && e.trigger.query) || {} };
    }

    function showPickTarget() {
      const target = state.lastField && state.lastField.isConnected ? state.lastField : null;
      pickTarget.replaceChildren(...(target
        ? ['A click inserts into ', el('code', {}, target.dataset.path), target.dataset.expression ? ' (an expression)' : ' (as {{ \u2026 }})']
        : ['Click a field of a step, then a value here to insert its expression.']));
    }

    // The expression to write for `expr` in the field: inside a loop, the item by its name.
    function expressionFor(expr, target) {
      const m = /^steps\[(\d+)\]\.steps\[\d+\]/.exec(target.dataset.path);
      const loop = m ? state.doc.steps[Number(m[1])] : null;
      if (loop && loop.type === 'for_each' && typeof loop.items === 'string') {
        const items = loop.items.trim();
        const rest = expr.startsWith(items) ? /^\[\d+\]/.exec(expr.slice(items.length)) : null;
        if (rest) return (loop.as || 'item') + expr.slice(items.length + rest[0].length);
      }
      return expr;
    }

    function insert(expr) {
      const target = state.lastField && state.lastField.isConnected ? state.lastField : null;
      if (!target) return say('Click a field of a step first, then a value.');
      const inner = expressionFor(expr, target);
      const text = target.dataset.expression ? inner : `{{ ${inner} }}`;
      const start = target.selectionStart === null ? target.value.length : target.selectionStart;
      const end = target.selectionEnd === null ? start : target.selectionEnd;
      target.focus();
      target.setRangeText(text, start, end, 'end');
      target.dispatchEvent(new Event('input', { bubbles: true }));
      say('');
    }

    function treeOf(value, expr, label, budget) {
      const item = el('li', {});
      const key = el('button', { type: 'button', class: 'pick', 'data-expr': expr }, el('span', { class: 'pick-key' }, label));
      key.addEventListener('click', () => insert(expr));
      item.append(key);
      budget.n--;
      if (value !== null && typeof value === 'object') {
        const entries = Array.isArray(value) ? value.slice(0, MAX_ARRAY_ITEMS).map((v, i) => [i, v]) : Object.entries(value);
        const list = el('ul', {});
        for (const [k, v] of entries) {
          if (budget.n <= 0) {
            list.append(el('li', { class: 'muted' }, '\u2026'));
            break;
          }
          list.append(treeOf(v, childExpr(expr, k), typeof k === 'number' ? `[${k}]` : String(k), budget));
        }
        if (Array.isArray(value) && value.length > MAX_ARRAY_ITEMS) list.append(el('li', { class: 'muted' }, `\u2026 ${value.length - MAX_ARRAY_ITEMS} more`));
        item.append(list);
      } else {
        // A text as it is (quotes and all), so what is shown is what the sender sent.
        key.append(': ', el('span', { class: 'pick-value', 'data-type': typeName(value) }, typeof value === 'string' ? value : JSON.stringify(value)));
      }
      return item;
    }

    loadButton.addEventListener('click', async () => {
      loadButton.disabled = true;
      try {
        const payload = await chosenPayload();
        const budget = { n: MAX_TREE_NODES };
        tree.replaceChildren(el('ul', { class: 'tree' },
          treeOf(payload.body, 'trigger.body', 'trigger.body', budget),
          treeOf(payload.headers || {}, 'trigger.headers', 'trigger.headers', budget),
          treeOf(payload.query || {}, 'trigger.query', 'trigger.query', budget)));
      } catch (err) {
        tree.replaceChildren(el('p', { class: 'field-error', id: 'picker-error' }, String(err.message || err)));
      } finally {
        loadButton.disabled = false;
      }
    });

    root.addEventListener('focusin', (event) => {
      const t = event.target;
      if (t.matches && t.matches('#form-view input[type=text][data-path], #form-view textarea[data-path]')) {
        state.lastField = t;
        showPickTarget();
      }
    });

    picker.append(el('h2', {}, 'Input and field picker'),
      el('label', {}, 'Input ', source), byId, typed,
      el('div', { class: 'toolbar' }, loadButton), pickTarget, tree);

    // ---- test bench ----

    const dryRunButton = el('button', { type: 'button', id: 'dry-run-button' }, 'Dry-run the draft');
    const testRun = el('button', { type: 'button', id: 'test-run' }, 'Run for real');
    const results = el('div', { id: 'dry-run' });

    function showDryRun(answer) {
      for (const n of cards.querySelectorAll('[data-dry-run-for]')) n.textContent = '';
      results.replaceChildren(
        el('p', { id: 'dry-run-source', class: 'muted' }, answer.source === 'execution'
          ? ['Input: execution ', el('code', {}, answer.executionId || '')] : 'Input: the payload given'),
        answer.payload ? el('div', { id: 'dry-run-payload', class: answer.payload.valid ? 'muted' : 'field-error' },
          answer.payload.valid ? 'The body matches the payload_schema.'
            : ['A webhook with this body would be refused (422 payload_invalid):',
              el('ul', {}, (answer.payload.details || []).map((d) =>
                el('li', {}, el('code', {}, d.pointer === '' ? '(the body)' : d.pointer), ' ', d.message)))]) : null,
        el('ol', { id: 'dry-run-steps' }, (answer.steps || []).map((s) => {
          const spot = !s.path || s.path === s.id ? cards.querySelector(`[data-dry-run-for="${CSS.escape(s.id)}"]`) : null;
          if (spot && s.error) spot.textContent = 'Dry-run: ' + s.error;
          return el('li', { class: 'preview' + (s.notReached ? ' not-reached' : '') + (s.error ? ' failed' : ''),
            'data-step': s.id, 'data-path': s.path || s.id },
          el('div', {}, el('code', {}, s.path || s.id), ' ', el('span', { class: 'muted' }, s.type),
            s.notReached ? el('span', { class: 'muted' }, ' \u2014 not reached') : null),
          s.preview !== undefined ? el('pre', { class: 'preview-body' }, ctx.pretty(s.preview)) : null,
          s.error ? el('pre', { class: 'preview-error' }, s.error) : null);
        })));
    }

    dryRunButton.addEventListener('click', async () => {
      dryRunButton.disabled = true;
      say('');
      try {
        const definition = await currentDefinition();
        if (!definition) return say('Not run: the YAML has errors (listed above).');
        const body = { ...(await chosenInput(false)), definition };
        showDryRun(await api('POST', `admin/workflows/${wid}/dry-run`, body));
      } catch (err) {
        if (err instanceof ctx.Failed && err.details && err.details.length) {
          state.errors = err.details;
          showErrors();
        }
        results.replaceChildren(el('p', { class: 'field-error', id: 'dry-run-error' }, String(err.message || err)));
      } finally {
        dryRunButton.disabled = false;
      }
    });

    testRun.addEventListener('click', async () => {
      testRun.disabled = true;
      try {
        const accepted = await api('POST', `admin/workflows/${wid}/test-run`, await chosenInput(true));
        ctx.navigate(`#/workflows/${wid}/executions/${encodeURIComponent(accepted.executionId)}`);
      } catch (err) {
        testRun.disabled = isDraft();
        results.replaceChildren(el('p', { class: 'field-error', id: 'dry-run-error' }, String(err.message || err)));
      }
    });

    bench.append(el('h2', {}, 'Test bench'),
      el('p', { class: 'muted' }, 'Dry-run renders each step of the draft against the input above and sends nothing. Run for real starts an execution of the saved version, marked test.'),
      el('div', { class: 'toolbar' }, dryRunButton, testRun), results);

    showMode();
    renderForm();
    persist();
    runCheck();
  }

  // ---- an execution's page: take its payload as the sample, or as the payload schema ----

  function executionTools(ctx, workflowId, execution) {
    const { el, api } = ctx;
    const asSample = el('button', { type: 'button', id: 'use-as-sample' }, 'Use as sample');
    asSample.title = 'The Steps tab\'s picker and test bench read this execution by default';
    asSample.addEventListener('click', () => {
      sessionStorage.setItem(SAMPLE, JSON.stringify({ workflowId, executionId: execution.id }));
      asSample.textContent = 'Sample set';
    });
    const asSchema = el('button', { type: 'button', id: 'use-as-schema' }, 'Use as schema');
    asSchema.title = 'A payload_schema inferred from this body, put in the workflow\'s draft';
    asSchema.addEventListener('click', async () => {
      asSchema.disabled = true;
      try {
        const workflow = await api('GET', `admin/workflows/${encodeURIComponent(workflowId)}`);
        const draft = readDraft(workflowId) || { baseVersion: workflow.version, doc: clone(workflow.definition) };
        draft.doc.payload_schema = { $schema: 'https://json-schema.org/draft/2020-12/schema', ...inferSchema(execution.payload) };
        // The draft is read back as a document, so unread Code view text gives way to it.
        writeDraft(workflowId, { baseVersion: draft.baseVersion, doc: draft.doc, mode: 'form', yaml: '', yamlPending: false });
        ctx.navigate(`#/workflows/${encodeURIComponent(workflowId)}/steps`);
      } catch (err) {
        asSchema.disabled = false;
        ctx.fail(err);
      }
    });
    return [asSample, ' ', asSchema];
  }

  window.WebhookEditor = { mount, executionTools, inferSchema };
})();
