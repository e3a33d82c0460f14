// @ts-check
// The dashboard's browser code: served as is (no build step) and type-checked by
// `npm run typecheck` through tsconfig.dashboard.json (checkJs, DOM types).
'use strict';
var state = { token: sessionStorage.getItem('heraldToken') || '', timer: null, samples: [] };
var view = document.getElementById('view');
var login = document.getElementById('login');

function el(tag, attrs, children) {
  var node = document.createElement(tag);
  Object.keys(attrs || {}).forEach(function (k) {
    if (k === 'text') node.textContent = attrs[k];
    else if (k.slice(0, 2) === 'on') node.addEventListener(k.slice(2), attrs[k]);
    else node.setAttribute(k, attrs[k]);
  });
  (children || []).forEach(function (c) { if (c) node.appendChild(typeof c === 'string' ? document.createTextNode(c) : c); });
  return node;
}

// replaceChildren would print a skipped (null) child as the text "null".
function put(node, children) { node.replaceChildren.apply(node, children.filter(Boolean)); }

function api(method, path, body) {
  var headers = { accept: 'application/json' };
  if (state.token) headers.authorization = 'Bearer ' + state.token;
  if (body) headers['content-type'] = 'application/json';
  return fetch(path, { method: method, headers: headers, body: body ? JSON.stringify(body) : undefined }).then(function (res) {
    if (res.status === 401) { showLogin('The token was refused.'); throw new Error('unauthorized'); }
    return res.json().then(function (data) {
      if (!res.ok) throw new Error(data.error || res.statusText);
      return data;
    });
  });
}

function showLogin(message) {
  stopPolling();
  view.replaceChildren();
  login.hidden = false;
  document.getElementById('login-error').textContent = message || '';
  document.getElementById('logout').hidden = true;
}

login.addEventListener('submit', function (e) {
  e.preventDefault();
  state.token = document.getElementById('token').value.trim();
  sessionStorage.setItem('heraldToken', state.token);
  login.hidden = true;
  route();
});
document.getElementById('logout').addEventListener('click', function () {
  sessionStorage.removeItem('heraldToken');
  state.token = '';
  showLogin();
});

function stopPolling() { if (state.timer) clearTimeout(state.timer); state.timer = null; }
function poll(fn, ms) {
  stopPolling();
  var tick = function () { fn().catch(function () {}).then(function () { state.timer = setTimeout(tick, ms); }); };
  tick();
}

function badge(status) { return el('span', { class: 'badge ' + status, 'data-testid': 'status', text: status }); }
function bar(done, total) {
  var pct = total > 0 ? Math.min(100, (100 * done) / total) : 0;
  return el('div', { class: 'bar', title: Math.round(pct) + '%' }, [el('span', { style: 'width:' + pct.toFixed(1) + '%' })]);
}
function num(n) { return Number(n).toLocaleString('en'); }

function campaignsView() {
  document.title = 'Campaigns · Herald';
  var body = el('tbody');
  view.replaceChildren(el('h1', { text: 'Campaigns' }), el('table', {}, [
    el('thead', {}, [el('tr', {}, ['#', 'Name', 'Status', 'List', 'Progress', 'Sent', 'Failed'].map(function (h) { return el('th', { text: h }); }))]),
    body,
  ]));
  poll(function () {
    return api('GET', '/api/v1/campaigns').then(function (data) {
      put(body, data.items.map(function (c) {
        return el('tr', { class: 'link', 'data-campaign': String(c.id), onclick: function () { location.hash = '#/campaigns/' + c.id; } }, [
          el('td', { text: String(c.id) }), el('td', { text: c.name }), el('td', {}, [badge(c.status)]), el('td', { text: c.listName }),
          el('td', {}, [bar(c.sent + c.failed, c.listSize)]), el('td', { text: num(c.sent) }), el('td', { text: num(c.failed) }),
        ]);
      }));
      if (data.items.length === 0) body.appendChild(el('tr', {}, [el('td', { colspan: '7', class: 'muted', text: 'No campaigns yet.' })]));
    });
  }, 2000);
}

function chart(samples) {
  var svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('class', 'chart');
  svg.setAttribute('viewBox', '0 0 600 160');
  svg.setAttribute('preserveAspectRatio', 'none');
  var max = Math.max(1, Math.max.apply(null, samples.map(function (s) { return s.rate; })));
  var points = samples.map(function (s, i) {
    var x = samples.length > 1 ? (600 * i) / (samples.length - 1) : 0;
    return x.toFixed(1) + ',' + (150 - (140 * s.rate) / max).toFixed(1);
  }).join(' ');
  var line = document.createElementNS('http://www.w3.org/2000/svg', 'polyline');
  line.setAttribute('points', points);
  line.setAttribute('fill', 'none');
  line.setAttribute('stroke', '#3056d3');
  line.setAttribute('stroke-width', '2');
  svg.appendChild(line);
  var label = document.createElementNS('http://www.w3.org/2000/svg', 'text');
  label.setAttribute('x', '8'); label.setAttribute('y', '18'); label.setAttribute('fill', '#667085'); label.setAttribute('font-size', '12');
  label.textContent = 'peak ' + num(Math.round(max)) + ' msgs/s';
  svg.appendChild(label);
  return svg;
}

function campaignView(id) {
  state.samples = [];
  var last = null;
  var head = el('div'), cards = el('div', { class: 'cards' }), actions = el('div', { class: 'actions' });
  var chartBox = el('div'), errors = el('div'), message = el('p', { class: 'error', role: 'alert' });
  view.replaceChildren(head, actions, message, cards, el('h2', { text: 'Rate (msgs/s, while this page is open)' }), chartBox, el('h2', { text: 'Not sent' }), errors);

  function act(action, label, cls, confirmText) {
    return el('button', { class: cls || '', 'data-action': action, text: label, onclick: function (e) {
      if (confirmText && !confirm(confirmText)) return;
      e.target.disabled = true;
      api('POST', '/api/v1/campaigns/' + id + '/' + action).then(function () { message.textContent = ''; refresh(); })
        .catch(function (err) { message.textContent = err.message; });
    } });
  }

  function waitingText(c) {
    var w = c.waiting;
    var detail = w.detail ? ' (last error: ' + w.detail + ')' : '';
    if (w.reason === 'daily_cap') return 'Waiting: the daily cap of ' + (c.domain || 'its domain') + ' is reached; continues ' + new Date(w.until).toLocaleString();
    if (w.reason === 'provider_unavailable') return 'Holding: the provider is not answering' + detail + '; probing it, sending resumes by itself';
    if (w.reason === 'rate_limiter_unavailable') return 'Holding: no rate-limit permits from Redis' + detail + '; resumes when it answers';
    return 'Waiting (' + w.reason + ')' + detail;
  }

  function render(c) {
    document.title = c.name + ' · Herald';
    var now = Date.now();
    if (last) state.samples.push({ rate: Math.max(0, ((c.counts.sent - last.sent) * 1000) / (now - last.at)) });
    if (state.samples.length > 180) state.samples.shift();
    last = { sent: c.counts.sent, at: now };
    var settled = c.counts.sent + c.counts.failed + c.counts.suppressed + c.counts.skipped;
    put(head, [
      el('h1', {}, [c.name + ' ', badge(c.status)]),
      c.waiting ? el('p', { class: 'waiting', 'data-testid': 'waiting', text: waitingText(c) }) : null,
      c.pausedReason ? el('p', { class: 'waiting', 'data-testid': 'paused-reason', text: 'Paused itself: ' + c.pausedReason + '. Fix it, then resume.' }) : null,
      el('p', { class: 'muted', text: 'List size ' + num(c.listSize) + ' · ' + c.rate + ' msgs/s over the last minute' + (c.etaSeconds !== null ? ' · ETA ' + c.etaSeconds + ' s' : '') }),
      bar(settled, c.listSize),
    ]);
    put(actions, [
      c.status === 'draft' || c.status === 'scheduled' ? act('start', 'Start', 'primary') : null,
      c.status === 'running' ? act('pause', 'Pause', 'primary') : null,
      c.status === 'paused' ? act('resume', 'Resume', 'primary') : null,
      ['draft', 'scheduled', 'running', 'paused'].indexOf(c.status) >= 0 ? act('cancel', 'Cancel', 'danger', 'Cancel this campaign for good? Unsent recipients will not be sent.') : null,
    ]);
    var labels = { sent: 'sent', failed: 'failed', suppressed: 'suppressed', queued: 'claimed', pending: 'released', unknown: 'unknown', skipped: 'skipped' };
    put(cards, Object.keys(labels).map(function (k) {
      return el('div', { class: 'card', 'data-count': k }, [el('b', { text: num(c.counts[k]) }), el('span', { text: labels[k] })]);
    }).concat([el('div', { class: 'card', 'data-count': 'unclaimed' }, [el('b', { text: num(c.unclaimed) }), el('span', { text: 'not claimed yet' })])]));
    chartBox.replaceChildren(chart(state.samples.length ? state.samples : [{ rate: 0 }]));
    errors.replaceChildren(c.notSent.length === 0 ? el('p', { class: 'muted', text: 'Nobody so far.' }) : el('table', {}, [
      el('thead', {}, [el('tr', {}, [el('th', { text: 'Outcome' }), el('th', { text: 'Reason' }), el('th', { text: 'Recipients' })])]),
      el('tbody', {}, c.notSent.map(function (n) { return el('tr', {}, [el('td', { text: n.status }), el('td', { text: n.reason || '' }), el('td', { text: num(n.count) })]); })),
    ]));
  }
  function refresh() { return api('GET', '/api/v1/campaigns/' + id).then(render).catch(function (err) { message.textContent = err.message; }); }
  poll(refresh, 1000);
}

function lookupView() {
  stopPolling();
  document.title = 'Delivery lookup · Herald';
  var input = el('input', { type: 'email', id: 'lookup-email', placeholder: 'someone@example.com', required: 'required' });
  var results = el('div');
  var form = el('form', { id: 'lookup', class: 'actions', onsubmit: function (e) {
    e.preventDefault();
    api('GET', '/api/v1/deliveries?email=' + encodeURIComponent(input.value.trim()) + '&limit=100').then(function (data) {
      results.replaceChildren(data.items.length === 0 ? el('p', { class: 'muted', text: 'No deliveries for this address.' }) : el('table', { 'data-testid': 'lookup-results' }, [
        el('thead', {}, [el('tr', {}, ['Campaign', 'Status', 'Attempts', 'Error', 'Sent at', 'Provider id'].map(function (h) { return el('th', { text: h }); }))]),
        el('tbody', {}, data.items.map(function (d) {
          return el('tr', {}, [el('td', { text: '#' + d.campaignId + ' ' + d.campaignName }), el('td', {}, [badge(d.status)]), el('td', { text: String(d.attempts) }),
            el('td', { text: d.errorCode ? d.errorCode + (d.errorMessage ? ': ' + d.errorMessage : '') : '' }),
            el('td', { text: d.sentAt ? new Date(d.sentAt).toLocaleString() : '' }), el('td', { text: d.providerId || '' })]);
        })),
      ]));
    }).catch(function (err) { results.replaceChildren(el('p', { class: 'error', text: err.message })); });
  } }, [input, el('button', { type: 'submit', class: 'primary', text: 'Look up' })]);
  view.replaceChildren(el('h1', { text: 'What happened to one address' }), form, results);
}

function route() {
  if (document.body.dataset.tokenRequired === 'true' && !state.token) return showLogin();
  login.hidden = true;
  document.getElementById('logout').hidden = !state.token;
  var m = /^#\/campaigns\/(\d+)$/.exec(location.hash);
  if (m) return campaignView(m[1]);
  if (location.hash === '#/lookup') return lookupView();
  campaignsView();
}
window.addEventListener('hashchange', route);
route();
