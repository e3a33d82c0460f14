// @ts-check
// The dashboard's browser code: served as is (no build step) and type-checked by
// `npm run typecheck` through tsconfig.dashboard.json (checkJs, DOM types).
'use strict';

// What the API answers (see /openapi.json); only the fields the page reads.
/** @typedef {{ id: number, name: string, status: string, listName: string, listSize: number, sent: number, failed: number }} CampaignRow */
/** @typedef {{ reason: string, until: string, detail?: string | null }} Waiting */
/**
 * @typedef {{ name: string, status: string, domain?: string | null, listSize: number, rate: number, etaSeconds: number | null,
 *   unclaimed: number, waiting: Waiting | null, pausedReason: string | null, counts: Record<string, number>,
 *   notSent: Array<{ status: string, reason: string | null, count: number }> }} CampaignDetail
 */
/**
 * @typedef {{ campaignId: number, campaignName: string, status: string, attempts: number, errorCode: string | null,
 *   errorMessage: string | null, sentAt: string | null, providerId: string | null }} DeliveryRow
 */
/** @typedef {{ rate: number }} Sample */
/** @typedef {Node | string | null | false | undefined} Child */

/** @param {string} id @returns {HTMLElement} the element, which the page always has */
function byId(id) {
  return /** @type {HTMLElement} */ (document.getElementById(id));
}

/** @type {{ token: string, timer: number | null, samples: Sample[] }} */
var state = { token: sessionStorage.getItem('heraldToken') || '', timer: null, samples: [] };
var view = byId('view');
var login = byId('login');

/**
 * @param {string} tag
 * @param {Record<string, any>} [attrs] attributes; `text` sets the text, `on…` adds a listener
 * @param {Child[]} [children]
 * @returns {HTMLElement}
 */
function el(tag, attrs, children) {
  var node = document.createElement(tag);
  var a = attrs || {};
  Object.keys(a).forEach((k) => {
    if (k === 'text') node.textContent = a[k];
    else if (k.slice(0, 2) === 'on') node.addEventListener(k.slice(2), a[k]);
    else node.setAttribute(k, a[k]);
  });
  (children || []).forEach((c) => {
    if (c) node.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
  });
  return node;
}

// replaceChildren would print a skipped (null) child as the text "null".
/** @param {HTMLElement} node @param {Child[]} children */
function put(node, children) {
  node.replaceChildren.apply(node, /** @type {Node[]} */ (children.filter(Boolean)));
}

/**
 * @param {string} method
 * @param {string} path
 * @param {unknown} [body]
 * @returns {Promise<any>} the JSON answer; a non-2xx answer rejects with its `error`
 */
function api(method, path, body) {
  /** @type {Record<string, string>} */
  var headers = { accept: 'application/json' };
  if (state.token) headers.authorization = 'Bearer ' + state.token;
  if (body) headers['content-type'] = 'application/json';
  return fetch(path, { method: method, headers: headers, body: body ? JSON.stringify(body) : undefined }).then((res) => {
    if (res.status === 401) {
      showLogin('The token was refused.');
      throw new Error('unauthorized');
    }
    return res.json().then((data) => {
      if (!res.ok) throw new Error(data.error || res.statusText);
      return data;
    });
  });
}

/** @param {string} [message] */
function showLogin(message) {
  stopPolling();
  view.replaceChildren();
  login.hidden = false;
  byId('login-error').textContent = message || '';
  byId('logout').hidden = true;
}

login.addEventListener('submit', (e) => {
  e.preventDefault();
  state.token = /** @type {HTMLInputElement} */ (byId('token')).value.trim();
  sessionStorage.setItem('heraldToken', state.token);
  login.hidden = true;
  route();
});
byId('logout').addEventListener('click', () => {
  sessionStorage.removeItem('heraldToken');
  state.token = '';
  showLogin();
});

function stopPolling() {
  if (state.timer) clearTimeout(state.timer);
  state.timer = null;
}
/** @param {() => Promise<unknown>} fn @param {number} ms */
function poll(fn, ms) {
  stopPolling();
  var tick = () => {
    fn()
      .catch(() => {})
      .then(() => {
        state.timer = setTimeout(tick, ms);
      });
  };
  tick();
}

/** @param {string} status */
function badge(status) {
  return el('span', { class: 'badge ' + status, 'data-testid': 'status', text: status });
}
/** @param {number} done @param {number} total */
function bar(done, total) {
  var pct = total > 0 ? Math.min(100, (100 * done) / total) : 0;
  return el('div', { class: 'bar', title: Math.round(pct) + '%' }, [el('span', { style: 'width:' + pct.toFixed(1) + '%' })]);
}
/** @param {number | string} n */
function num(n) {
  return Number(n).toLocaleString('en');
}

function campaignsView() {
  document.title = 'Campaigns · Herald';
  var body = el('tbody');
  view.replaceChildren(
    el('h1', { text: 'Campaigns' }),
    el('table', {}, [
      el('thead', {}, [
        el(
          'tr',
          {},
          ['#', 'Name', 'Status', 'List', 'Progress', 'Sent', 'Failed'].map((h) => el('th', { text: h })),
        ),
      ]),
      body,
    ]),
  );
  poll(
    () =>
      api('GET', '/api/v1/campaigns').then(
        /** @param {{ items: CampaignRow[] }} data */ (data) => {
          put(
            body,
            data.items.map((c) =>
              el(
                'tr',
                {
                  class: 'link',
                  'data-campaign': String(c.id),
                  onclick: () => {
                    location.hash = '#/campaigns/' + c.id;
                  },
                },
                [
                  el('td', { text: String(c.id) }),
                  el('td', { text: c.name }),
                  el('td', {}, [badge(c.status)]),
                  el('td', { text: c.listName }),
                  el('td', {}, [bar(c.sent + c.failed, c.listSize)]),
                  el('td', { text: num(c.sent) }),
                  el('td', { text: num(c.failed) }),
                ],
              ),
            ),
          );
          if (data.items.length === 0) body.appendChild(el('tr', {}, [el('td', { colspan: '7', class: 'muted', text: 'No campaigns yet.' })]));
        },
      ),
    2000,
  );
}

/** @param {Sample[]} samples */
function chart(samples) {
  var svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('class', 'chart');
  svg.setAttribute('viewBox', '0 0 600 160');
  svg.setAttribute('preserveAspectRatio', 'none');
  var max = Math.max(
    1,
    Math.max.apply(
      null,
      samples.map((s) => s.rate),
    ),
  );
  var points = samples
    .map((s, i) => {
      var x = samples.length > 1 ? (600 * i) / (samples.length - 1) : 0;
      return x.toFixed(1) + ',' + (150 - (140 * s.rate) / max).toFixed(1);
    })
    .join(' ');
  var line = document.createElementNS('http://www.w3.org/2000/svg', 'polyline');
  line.setAttribute('points', points);
  line.setAttribute('fill', 'none');
  line.setAttribute('stroke', '#3056d3');
  line.setAttribute('stroke-width', '2');
  svg.appendChild(line);
  var label = document.createElementNS('http://www.w3.org/2000/svg', 'text');
  label.setAttribute('x', '8');
  label.setAttribute('y', '18');
  label.setAttribute('fill', '#667085');
  label.setAttribute('font-size', '12');
  label.textContent = 'peak ' + num(Math.round(max)) + ' msgs/s';
  svg.appendChild(label);
  return svg;
}

/** @param {string} id */
function campaignView(id) {
  state.samples = [];
  /** @type {{ sent: number, at: number } | null} */
  var last = null;
  var head = el('div'),
    cards = el('div', { class: 'cards' }),
    actions = el('div', { class: 'actions' });
  var chartBox = el('div'),
    errors = el('div'),
    message = el('p', { class: 'error', role: 'alert' });
  view.replaceChildren(
    head,
    actions,
    message,
    cards,
    el('h2', { text: 'Rate (msgs/s, while this page is open)' }),
    chartBox,
    el('h2', { text: 'Not sent' }),
    errors,
  );

  /** @param {string} action @param {string} label @param {string} [cls] @param {string} [confirmText] */
  function act(action, label, cls, confirmText) {
    return el('button', {
      class: cls || '',
      'data-action': action,
      text: label,
      onclick: /** @param {Event} e */ (e) => {
        if (confirmText && !confirm(confirmText)) return;
        /** @type {HTMLButtonElement} */ (e.target).disabled = true;
        api('POST', '/api/v1/campaigns/' + id + '/' + action)
          .then(() => {
            message.textContent = '';
            refresh();
          })
          .catch((err) => {
            message.textContent = err.message;
          });
      },
    });
  }

  /** @param {CampaignDetail} c @param {Waiting} w */
  function waitingText(c, w) {
    var detail = w.detail ? ' (last error: ' + w.detail + ')' : '';
    if (w.reason === 'daily_cap')
      return 'Waiting: the daily cap of ' + (c.domain || 'its domain') + ' is reached; continues ' + new Date(w.until).toLocaleString();
    if (w.reason === 'provider_unavailable') return 'Holding: the provider is not answering' + detail + '; probing it, sending resumes by itself';
    if (w.reason === 'rate_limiter_unavailable') return 'Holding: no rate-limit permits from Redis' + detail + '; resumes when it answers';
    return 'Waiting (' + w.reason + ')' + detail;
  }

  /** @param {CampaignDetail} c */
  function render(c) {
    document.title = c.name + ' · Herald';
    var now = Date.now();
    if (last) state.samples.push({ rate: Math.max(0, ((c.counts.sent - last.sent) * 1000) / (now - last.at)) });
    if (state.samples.length > 180) state.samples.shift();
    last = { sent: c.counts.sent, at: now };
    var settled = c.counts.sent + c.counts.failed + c.counts.suppressed + c.counts.skipped;
    put(head, [
      el('h1', {}, [c.name + ' ', badge(c.status)]),
      c.waiting ? el('p', { class: 'waiting', 'data-testid': 'waiting', text: waitingText(c, c.waiting) }) : null,
      c.pausedReason
        ? el('p', { class: 'waiting', 'data-testid': 'paused-reason', text: 'Paused itself: ' + c.pausedReason + '. Fix it, then resume.' })
        : null,
      el('p', {
        class: 'muted',
        text: 'List size ' + num(c.listSize) + ' · ' + c.rate + ' msgs/s over the last minute' + (c.etaSeconds !== null ? ' · ETA ' + c.etaSeconds + ' s' : ''),
      }),
      bar(settled, c.listSize),
    ]);
    put(actions, [
      c.status === 'draft' || c.status === 'scheduled' ? act('start', 'Start', 'primary') : null,
      c.status === 'running' ? act('pause', 'Pause', 'primary') : null,
      c.status === 'paused' ? act('resume', 'Resume', 'primary') : null,
      ['draft', 'scheduled', 'running', 'paused'].indexOf(c.status) >= 0
        ? act('cancel', 'Cancel', 'danger', 'Cancel this campaign for good? Unsent recipients will not be sent.')
        : null,
    ]);
    /** @type {Record<string, string>} */
    var labels = { sent: 'sent', failed: 'failed', suppressed: 'suppressed', queued: 'claimed', pending: 'released', unknown: 'unknown', skipped: 'skipped' };
    put(
      cards,
      Object.keys(labels)
        .map((k) => el('div', { class: 'card', 'data-count': k }, [el('b', { text: num(c.counts[k]) }), el('span', { text: labels[k] })]))
        .concat([el('div', { class: 'card', 'data-count': 'unclaimed' }, [el('b', { text: num(c.unclaimed) }), el('span', { text: 'not claimed yet' })])]),
    );
    chartBox.replaceChildren(chart(state.samples.length ? state.samples : [{ rate: 0 }]));
    errors.replaceChildren(
      c.notSent.length === 0
        ? el('p', { class: 'muted', text: 'Nobody so far.' })
        : el('table', {}, [
            el('thead', {}, [el('tr', {}, [el('th', { text: 'Outcome' }), el('th', { text: 'Reason' }), el('th', { text: 'Recipients' })])]),
            el(
              'tbody',
              {},
              c.notSent.map((n) => el('tr', {}, [el('td', { text: n.status }), el('td', { text: n.reason || '' }), el('td', { text: num(n.count) })])),
            ),
          ]),
    );
  }
  function refresh() {
    return api('GET', '/api/v1/campaigns/' + id)
      .then(render)
      .catch((err) => {
        message.textContent = err.message;
      });
  }
  poll(refresh, 1000);
}

function lookupView() {
  stopPolling();
  document.title = 'Delivery lookup · Herald';
  var input = /** @type {HTMLInputElement} */ (el('input', { type: 'email', id: 'lookup-email', placeholder: 'someone@example.com', required: 'required' }));
  var results = el('div');
  var form = el(
    'form',
    {
      id: 'lookup',
      class: 'actions',
      onsubmit: /** @param {Event} e */ (e) => {
        e.preventDefault();
        api('GET', '/api/v1/deliveries?email=' + encodeURIComponent(input.value.trim()) + '&limit=100')
          .then(
            /** @param {{ items: DeliveryRow[] }} data */ (data) => {
              results.replaceChildren(
                data.items.length === 0
                  ? el('p', { class: 'muted', text: 'No deliveries for this address.' })
                  : el('table', { 'data-testid': 'lookup-results' }, [
                      el('thead', {}, [
                        el(
                          'tr',
                          {},
                          ['Campaign', 'Status', 'Attempts', 'Error', 'Sent at', 'Provider id'].map((h) => el('th', { text: h })),
                        ),
                      ]),
                      el(
                        'tbody',
                        {},
                        data.items.map((d) =>
                          el('tr', {}, [
                            el('td', { text: '#' + d.campaignId + ' ' + d.campaignName }),
                            el('td', {}, [badge(d.status)]),
                            el('td', { text: String(d.attempts) }),
                            el('td', { text: d.errorCode ? d.errorCode + (d.errorMessage ? ': ' + d.errorMessage : '') : '' }),
                            el('td', { text: d.sentAt ? new Date(d.sentAt).toLocaleString() : '' }),
                            el('td', { text: d.providerId || '' }),
                          ]),
                        ),
                      ),
                    ]),
              );
            },
          )
          .catch((err) => {
            results.replaceChildren(el('p', { class: 'error', text: err.message }));
          });
      },
    },
    [input, el('button', { type: 'submit', class: 'primary', text: 'Look up' })],
  );
  view.replaceChildren(el('h1', { text: 'What happened to one address' }), form, results);
}

function route() {
  if (document.body.dataset.tokenRequired === 'true' && !state.token) return showLogin();
  login.hidden = true;
  byId('logout').hidden = !state.token;
  var m = /^#\/campaigns\/(\d+)$/.exec(location.hash);
  if (m) return campaignView(m[1]);
  if (location.hash === '#/lookup') return lookupView();
  campaignsView();
}
window.addEventListener('hashchange', route);
route();
