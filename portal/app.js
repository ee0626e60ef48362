// The web portal: a tenant sees its balance, live calls, call records (search, CSV export), statements and invoices;
// an operator sees tenants (top-up, suspend/resume) and the real-name review queue. It only calls the API v1 with the
// bearer token the user pasted (kept in sessionStorage: gone when the tab closes). No build step, no framework.
(function () {
  'use strict';
  const main = document.getElementById('main');
  const nav = document.getElementById('nav');
  let lang = sessionStorage.getItem('lang') || ((navigator.language || '').toLowerCase().startsWith('zh') ? 'zh' : 'en');
  let me = null; // GET /v1/me
  let paths = null; // routes of /openapi.json: sections appear only when the server has them

  const t = (key, vars) => {
    let s = (window.I18N[lang] && window.I18N[lang][key]) || window.I18N.en[key] || key;
    for (const [k, v] of Object.entries(vars || {})) s = s.replace('{' + k + '}', String(v));
    return s;
  };

  /** h('div', {class: 'x', onclick: f}, 'text', child): DOM without innerHTML, so API data is never markup. */
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else if (k === 'class') el.className = v;
      else el.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : String(c));
    return el;
  }

  const cny = (fen) => {
    const n = BigInt(fen);
    const neg = n < 0n;
    const a = neg ? -n : n;
    const whole = (a / 100n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');
    return (neg ? '-' : '') + whole + '.' + (a % 100n).toString().padStart(2, '0');
  };
  const when = (iso) => (iso ? new Date(iso).toLocaleString(lang === 'zh' ? 'zh-CN' : 'en-GB', { hour12: false }) : '—');
  const token = () => sessionStorage.getItem('token');

  class ApiError extends Error {
    constructor(status, body) {
      super((body && body.error && body.error.message) || 'HTTP ' + status);
      this.status = status;
    }
  }

  async function api(method, path, body, headers) {
    const res = await fetch(path, {
      method,
      headers: { authorization: 'Bearer ' + token(), ...(body ? { 'content-type': 'application/json' } : {}), ...(headers || {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const type = res.headers.get('content-type') || '';
    const data = type.includes('json') ? await res.json() : await res.text();
    if (!res.ok) throw new ApiError(res.status, data);
    return data;
  }

  function setNav(links) {
    nav.replaceChildren(...links.map(([href, key]) => h('a', { href }, t(key))));
    document.getElementById('logout').hidden = !token();
  }

  function show(...children) {
    main.replaceChildren(...children.filter((c) => c !== null && c !== undefined));
  }

  function failure(e) {
    if (e instanceof ApiError && e.status === 401) return logout();
    const msg = e instanceof ApiError && (e.status === 404 || e.status === 403) ? t('notFound') : t('error') + ': ' + e.message;
    show(h('div', { class: 'banner bad', id: 'error' }, msg));
  }

  function logout() {
    sessionStorage.removeItem('token');
    me = null;
    location.hash = '#/login';
  }

  // ------------------------------------------------------------------------------------------------ login

  function loginPage(message) {
    setNav([]);
    const input = h('input', { id: 'token', type: 'password', autocomplete: 'off', required: true, placeholder: 'sst_…' });
    const form = h('form', {
      class: 'card login',
      onsubmit: async (ev) => {
        ev.preventDefault();
        sessionStorage.setItem('token', input.value.trim());
        try {
          me = await api('GET', '/v1/me');
          location.hash = me.role === 'tenant' ? '#/tenant/' + encodeURIComponent(me.tenant.code) : '#/ops';
        } catch (e) {
          sessionStorage.removeItem('token');
          loginPage(t('badToken'));
        }
      },
    },
    h('h1', {}, t('loginTitle')),
    message ? h('div', { class: 'banner bad' }, message) : null,
    h('label', {}, t('tokenLabel'), input),
    h('p', { class: 'muted' }, t('tokenHelp')),
    h('button', { class: 'btn', type: 'submit', id: 'login' }, t('login')));
    show(form);
    input.focus();
  }

  // ------------------------------------------------------------------------------------------------ tenant pages

  function monthsBack(n) {
    const out = [];
    const d = new Date();
    for (let i = 0; i < n; i++) {
      const m = new Date(d.getFullYear(), d.getMonth() - i, 1);
      out.push(m.getFullYear() + '-' + String(m.getMonth() + 1).padStart(2, '0'));
    }
    return out;
  }

  async function tenantPage(ref) {
    const base = '/v1/tenants/' + encodeURIComponent(ref);
    setNav(me.role === 'tenant' ? [] : [['#/ops', 'navTenants'], ['#/ops/review', 'navReview']]);
    show(h('p', { class: 'muted' }, t('loading')));
    let tenant, bal, calls;
    try {
      [tenant, bal, calls] = await Promise.all([api('GET', base), api('GET', base + '/balance'), api('GET', base + '/calls').catch(() => ({ calls: [] }))]);
    } catch (e) {
      return failure(e);
    }
    const live = calls.calls.reduce((s, c) => s + c.calls, 0);
    const low = bal.lowBalance && bal.lowBalance.low;
    const balanceCard = h('section', { class: 'card', id: 'balance' },
      h('h2', {}, t('balance'), ' ', h('span', { class: 'muted' }, '· ' + t('asOf') + ' ' + when(bal.asOf))),
      h('div', { class: 'grid' },
        h('div', { class: 'stat' }, h('div', { class: 'label' }, t('usable')), h('div', { class: 'value', id: 'usable' }, cny(bal.usableTotalFen))),
        h('div', { class: 'stat' }, h('div', { class: 'label' }, t('paid')), h('div', { class: 'value', id: 'paid' }, cny(bal.usablePaidFen))),
        h('div', { class: 'stat' }, h('div', { class: 'label' }, t('gift')), h('div', { class: 'value', id: 'gift' }, cny(bal.usableGiftFen))),
        h('div', { class: 'stat' }, h('div', { class: 'label' }, t('liveCalls')), h('div', { class: 'value', id: 'live' }, String(live)))),
      h('p', { class: 'muted' }, t('settledNote')));
    const banner = low
      ? h('div', { class: 'banner warn', id: 'low-balance' }, t('lowBalance', { due: cny(bal.lowBalance.amountDueFen) }), ' ', t('lowReasons', { reasons: bal.lowBalance.reasons.join(', ') }))
      : null;
    const title = h('h1', { id: 'tenant-name' }, tenant.legalName, ' ', h('span', { class: 'status ' + tenant.status }, t(tenant.status)));
    const sections = [title, banner, balanceCard, cdrSection(base, tenant), await statementSection(base)];
    const inv = await invoiceSection(base);
    if (inv) sections.push(inv);
    show(...sections);
  }

  function cdrSection(base, tenant) {
    const today = new Date();
    const from = h('input', { type: 'date', id: 'cdr-from', value: new Date(today.getTime() - 30 * 864e5).toISOString().slice(0, 10) });
    const to = h('input', { type: 'date', id: 'cdr-to', value: new Date(today.getTime() + 864e5).toISOString().slice(0, 10) });
    const callee = h('input', { type: 'text', id: 'cdr-callee', inputmode: 'numeric', pattern: '\\+?[0-9]{1,20}', size: 12 });
    const result = h('select', { id: 'cdr-result' }, h('option', { value: '' }, t('any')), ...['answered', 'failed', 'canceled', 'rejected'].map((r) => h('option', { value: r }, t(r))));
    const body = h('tbody');
    const status = h('p', { class: 'muted', id: 'cdr-status' });
    const moreBtn = h('button', { class: 'btn secondary', type: 'button', hidden: true, id: 'cdr-more' }, t('more'));
    let cursor = null;
    const query = () => {
      const q = new URLSearchParams();
      if (from.value) q.set('from', new Date(from.value + 'T00:00:00').toISOString());
      if (to.value) q.set('to', new Date(to.value + 'T00:00:00').toISOString());
      if (callee.value.trim()) q.set('callee', callee.value.trim());
      if (result.value) q.set('result', result.value);
      return q;
    };
    const cell = (label, v, cls) => h('td', { 'data-label': label, class: cls }, v);
    async function load(reset) {
      const q = query();
      q.set('limit', '50');
      if (!reset && cursor) q.set('cursor', cursor);
      try {
        const page = await api('GET', base + '/cdrs?' + q);
        if (reset) body.replaceChildren();
        for (const c of page.cdrs) {
          body.append(h('tr', { 'data-call-id': c.callId },
            cell(t('colTime'), when(c.inviteAt)), cell(t('colCaller'), c.caller), cell(t('colCallee'), c.callee),
            cell(t('colResult'), h('span', { class: 'status ' + c.result }, t(c.result))), cell(t('colSecs'), String(c.billableSeconds), 'num'),
            cell(t('colCharge'), cny(c.chargeFen), 'num'), cell(t('colCallId'), h('span', { class: 'muted' }, c.callId))));
        }
        cursor = page.nextCursor;
        moreBtn.hidden = !cursor;
        status.textContent = body.children.length ? '' : t('noCdrs');
      } catch (e) {
        status.textContent = t('error') + ': ' + e.message;
      }
    }
    async function exportCsv() {
      try {
        const res = await fetch(base + '/cdrs/export.csv?' + query(), { headers: { authorization: 'Bearer ' + token() } });
        if (!res.ok) throw new ApiError(res.status, await res.json());
        const url = URL.createObjectURL(await res.blob());
        const a = h('a', { href: url, download: 'cdrs-' + tenant.code + '.csv' });
        document.body.append(a);
        a.click();
        a.remove();
        setTimeout(() => URL.revokeObjectURL(url), 10000);
      } catch (e) {
        status.textContent = t('error') + ': ' + e.message;
      }
    }
    moreBtn.addEventListener('click', () => load(false));
    const form = h('form', { class: 'row', onsubmit: (ev) => { ev.preventDefault(); load(true); } },
      h('label', {}, t('from'), from), h('label', {}, t('to'), to), h('label', {}, t('callee'), callee), h('label', {}, t('result'), result),
      h('button', { class: 'btn', type: 'submit', id: 'cdr-search' }, t('search')),
      h('button', { class: 'btn secondary', type: 'button', id: 'cdr-export', onclick: exportCsv }, t('exportCsv')));
    const tableEl = h('table', { class: 'stack', id: 'cdr-table' },
      h('thead', {}, h('tr', {}, ['colTime', 'colCaller', 'colCallee', 'colResult', 'colSecs', 'colCharge', 'colCallId'].map((k) => h('th', { class: k === 'colSecs' || k === 'colCharge' ? 'num' : '' }, t(k))))),
      body);
    load(true);
    return h('section', { class: 'card', id: 'cdrs' }, h('h2', {}, t('cdrSearch')), form, h('div', { class: 'table-wrap' }, tableEl), status, moreBtn);
  }

  /** Monthly statements (the deprecated /bills/ route is a summary of the same statement). */
  async function statementSection(base) {
    const rows = await Promise.all(monthsBack(6).map(async (m) => {
      try {
        const s = await api('GET', base + '/statements/' + m);
        const both = (k) => BigInt(s.balances.paid[k]) + BigInt(s.balances.gift[k]);
        const total = (k) => s.totals[k];
        return h('tr', {},
          h('td', { 'data-label': t('month') }, m),
          h('td', { class: 'num', 'data-label': t('opening') }, cny(both('openingFen'))),
          h('td', { class: 'num', 'data-label': t('credited') }, cny(total('creditedFen'))),
          h('td', { class: 'num', 'data-label': t('debited') }, cny(total('debitedFen'))),
          h('td', { class: 'num', 'data-label': t('closing') }, cny(both('closingFen'))),
          h('td', { 'data-label': t('download') }, downloadLinks(base + '/statements/' + m, ['csv', 'pdf'])));
      } catch {
        return null;
      }
    }));
    return h('section', { class: 'card', id: 'statements' }, h('h2', {}, t('statements')),
      h('div', { class: 'table-wrap' }, h('table', { class: 'stack' },
        h('thead', {}, h('tr', {}, ['month', 'opening', 'credited', 'debited', 'closing', 'download'].map((k) => h('th', { class: ['month', 'download'].includes(k) ? '' : 'num' }, t(k))))),
        h('tbody', {}, rows.filter(Boolean)))));
  }

  function downloadLinks(url, formats) {
    return h('span', { class: 'actions' }, formats.map((f) => h('button', {
      class: 'link', type: 'button',
      onclick: async () => {
        const res = await fetch(url + '/' + f, { headers: { authorization: 'Bearer ' + token() } });
        if (!res.ok) return;
        const href = URL.createObjectURL(await res.blob());
        const a = h('a', { href, download: 'statement-' + url.split('/').slice(-1)[0] + '.' + f });
        document.body.append(a);
        a.click();
        a.remove();
      },
    }, f.toUpperCase())));
  }

  /** Invoices appear once the server has them (billing's routes). */
  async function invoiceSection(base) {
    if (!paths || !paths['/v1/tenants/{tenant}/invoices']) return null;
    let list;
    try {
      list = await api('GET', base + '/invoices');
    } catch {
      return null;
    }
    const items = list.invoices || [];
    return h('section', { class: 'card', id: 'invoices' }, h('h2', {}, t('invoices')),
      items.length === 0 ? h('p', { class: 'muted' }, t('noInvoices')) : h('div', { class: 'table-wrap' }, h('table', { class: 'stack' }, h('tbody', {},
        items.map((i) => h('tr', {},
          h('td', { 'data-label': t('invoices') }, i.number),
          h('td', { 'data-label': t('month') }, when(i.issuedAt)),
          h('td', { class: 'num', 'data-label': t('amount') }, cny(i.totalFen)),
          h('td', { 'data-label': t('download') }, h('button', {
            class: 'link', type: 'button',
            onclick: async () => {
              const res = await fetch('/v1/invoices/' + encodeURIComponent(i.number) + '/pdf', { headers: { authorization: 'Bearer ' + token() } });
              if (!res.ok) return;
              const href = URL.createObjectURL(await res.blob());
              const a = h('a', { href, download: 'invoice-' + i.number + '.pdf' });
              document.body.append(a);
              a.click();
              a.remove();
            },
          }, 'PDF'))))))));
  }

  // ------------------------------------------------------------------------------------------------ operator pages

  /** `notice`: the outcome of the action that re-rendered the page (kept visible over the fresh data). */
  async function opsPage(notice) {
    setNav([['#/ops', 'navTenants'], ['#/ops/review', 'navReview']]);
    show(h('p', { class: 'muted' }, t('loading')));
    let list;
    try {
      list = (await api('GET', '/v1/tenants')).tenants;
    } catch (e) {
      return failure(e);
    }
    const flash = h('div', { id: 'flash' }, notice ? h('div', { class: 'banner ok' }, notice) : null);
    const balances = await Promise.all(list.map((x) => api('GET', '/v1/tenants/' + x.id + '/balance').catch(() => null)));
    const rows = list.map((x, i) => {
      const amount = h('input', { type: 'text', inputmode: 'decimal', size: 8, placeholder: '100.00', 'aria-label': t('amount'), class: 'topup-amount' });
      const act = async (fn) => {
        try {
          await opsPage(await fn());
        } catch (e) {
          flash.replaceChildren(h('div', { class: 'banner bad' }, t('error') + ': ' + e.message));
        }
      };
      const topUp = () => act(async () => {
        // one key per submitted top-up: a double click or a retry never credits twice
        const key = 'portal-' + (crypto.randomUUID ? crypto.randomUUID() : Date.now() + '-' + Math.random().toString(36).slice(2));
        await api('POST', '/v1/tenants/' + x.id + '/top-ups', { amount: amount.value.trim(), memo: 'portal top-up' }, { 'idempotency-key': key });
        return t('toppedUp', { amount: amount.value.trim(), tenant: x.code });
      });
      const setStatus = (verb) => act(async () => {
        if (verb === 'suspend' && !confirm(t('confirmSuspend', { tenant: x.code }))) throw new Error('—');
        const reason = prompt(t('reasonPrompt')) || undefined;
        const r = await api('POST', '/v1/tenants/' + x.id + '/' + verb, reason ? { reason } : {});
        return t('statusChanged', { tenant: x.code, status: t(r.tenant.status) });
      });
      const readOnly = me.role === 'operator-read';
      return h('tr', { 'data-tenant': x.code },
        h('td', { 'data-label': t('code') }, h('a', { href: '#/tenant/' + encodeURIComponent(x.code) }, x.code)),
        h('td', { 'data-label': t('legalName') }, x.legalName),
        h('td', { 'data-label': t('status') }, h('span', { class: 'status ' + x.status }, t(x.status))),
        h('td', { class: 'num', 'data-label': t('usable') }, balances[i] ? cny(balances[i].usableTotalFen) : '—'),
        h('td', { 'data-label': t('actions') }, readOnly ? '' : h('span', { class: 'actions' },
          amount, h('button', { class: 'btn', type: 'button', onclick: topUp, 'data-action': 'top-up' }, t('topUp')),
          x.status === 'active' ? h('button', { class: 'btn danger', type: 'button', onclick: () => setStatus('suspend'), 'data-action': 'suspend' }, t('suspend')) : null,
          x.status === 'suspended' ? h('button', { class: 'btn secondary', type: 'button', onclick: () => setStatus('resume'), 'data-action': 'resume' }, t('resume')) : null)));
    });
    show(h('h1', {}, t('tenants')), flash, h('section', { class: 'card' }, h('div', { class: 'table-wrap' }, h('table', { class: 'stack', id: 'tenant-table' },
      h('thead', {}, h('tr', {}, ['code', 'legalName', 'status', 'usable', 'actions'].map((k) => h('th', { class: k === 'usable' ? 'num' : '' }, t(k))))),
      h('tbody', {}, rows)))));
  }

  async function reviewPage() {
    setNav([['#/ops', 'navTenants'], ['#/ops/review', 'navReview']]);
    let queue;
    try {
      queue = (await api('GET', '/v1/numbers/review-queue')).numbers;
    } catch (e) {
      return failure(e);
    }
    const flash = h('div', { id: 'flash' });
    const decide = async (n, action) => {
      const reason = action === 'reject' ? prompt(t('reasonPrompt')) : null;
      if (action === 'reject' && !reason) return;
      try {
        await api('POST', '/v1/numbers/' + encodeURIComponent(n.e164) + '/' + action, reason ? { reason } : {});
        reviewPage();
      } catch (e) {
        flash.replaceChildren(h('div', { class: 'banner bad' }, t('error') + ': ' + e.message));
      }
    };
    const readOnly = me.role === 'operator-read';
    show(h('h1', {}, t('review')), flash, h('section', { class: 'card' },
      queue.length === 0 ? h('p', { class: 'muted' }, t('noReview')) : h('div', { class: 'table-wrap' }, h('table', { class: 'stack', id: 'review-table' },
        h('thead', {}, h('tr', {}, ['number', 'tenant', 'documents', 'actions'].map((k) => h('th', {}, t(k))))),
        h('tbody', {}, queue.map((n) => h('tr', { 'data-number': n.e164 },
          h('td', { 'data-label': t('number') }, n.e164),
          h('td', { 'data-label': t('tenant') }, n.tenantCode || '—'),
          h('td', { 'data-label': t('documents') }, n.documents.map((d) => d.docType + ': ' + d.docRef).join(', ') || '—'),
          h('td', { 'data-label': t('actions') }, readOnly ? '' : h('span', { class: 'actions' },
            h('button', { class: 'btn', type: 'button', onclick: () => decide(n, 'approve') }, t('approve')),
            h('button', { class: 'btn danger', type: 'button', onclick: () => decide(n, 'reject') }, t('reject')))))))))));
  }

  // ------------------------------------------------------------------------------------------------ routing

  async function route() {
    document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
    document.getElementById('lang').textContent = lang === 'zh' ? 'English' : '中文';
    for (const el of document.querySelectorAll('[data-i18n]')) el.textContent = t(el.getAttribute('data-i18n'));
    const hash = location.hash || '#/';
    if (!token()) return loginPage();
    if (!me) {
      try {
        me = await api('GET', '/v1/me');
      } catch {
        sessionStorage.removeItem('token');
        return loginPage(t('badToken'));
      }
    }
    if (!paths) paths = (await fetch('/openapi.json').then((r) => r.json()).catch(() => ({ paths: {} }))).paths;
    const m = /^#\/tenant\/([^/]+)$/.exec(hash);
    if (m) return tenantPage(decodeURIComponent(m[1]));
    if (me.role === 'tenant') {
      location.hash = '#/tenant/' + encodeURIComponent(me.tenant.code);
      return;
    }
    if (hash === '#/ops/review') return reviewPage();
    if (hash !== '#/ops') {
      location.hash = '#/ops';
      return;
    }
    return opsPage();
  }

  document.getElementById('lang').addEventListener('click', () => {
    lang = lang === 'zh' ? 'en' : 'zh';
    sessionStorage.setItem('lang', lang);
    route();
  });
  document.getElementById('logout').addEventListener('click', logout);
  window.addEventListener('hashchange', route);
  route();
})();
