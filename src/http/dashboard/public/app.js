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

/** @type {{ token: string, stop: (() => void) | null, samples: Sample[] }} */
var state = { token: sessionStorage.getItem('heraldToken') || '', stop: null, samples: [] };
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
  stopWatching();
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

function stopWatching() {
  if (state.stop) state.stop();
  state.stop = null;
}

// Polling waits at least this many times the last answer's time (a slow server is asked less
// often), doubles its wait after each failure up to MAX_WAIT_MS, and stops while the tab is hidden.
var SLOW_FACTOR = 4;
var MAX_WAIT_MS = 60000;
// The server sends a comment every 15 s on an idle stream; silence for longer means it is gone.
var STREAM_SILENCE_MS = 45000;

/**
 * Reads a server-sent event stream (text/event-stream) with fetch, which can send the bearer
 * token in its Authorization header; EventSource cannot send headers, and the token must not
 * go into a URL (URLs end up in logs and history). Resolves when the server ends the stream.
 * @param {string} path
 * @param {AbortSignal} signal
 * @param {(data: any) => void} onData each event's data, parsed as JSON
 * @param {() => void} onBytes called whenever anything arrives (comments included)
 * @returns {Promise<void>}
 */
function readStream(path, signal, onData, onBytes) {
  /** @type {Record<string, string>} */
  var headers = { accept: 'text/event-stream' };
  if (state.token) headers.authorization = 'Bearer ' + state.token;
  return fetch(path, { headers: headers, signal: signal, cache: 'no-store' }).then((res) => {
    if (res.status === 401) {
      showLogin('The token was refused.');
      throw new Error('unauthorized');
    }
    if (!res.ok || !res.body) throw new Error('the event stream was refused (' + res.status + ')');
    var reader = res.body.getReader();
    var decoder = new TextDecoder();
    var buffer = '';
    /** @returns {Promise<void>} */
    var next = () =>
      reader.read().then((chunk) => {
        if (chunk.done) return;
        onBytes();
        buffer += decoder.decode(chunk.value, { stream: true });
        var events = buffer.split(/\r?\n\r?\n/);
        buffer = events.pop() || '';
        events.forEach((event) => {
          var data = event
            .split(/\r?\n/)
            .filter((line) => line.slice(0, 5) === 'data:')
            .map((line) => line.slice(5).replace(/^ /, ''))
            .join('\n');
          if (data) onData(JSON.parse(data));
        });
        return next();
      });
    return next();
  });
}

/**
 * Keeps a view up to date: from the server's event stream when there is one, else (or while it
 * fails, trying it again later) by polling `path`, backing off when answers are slow or fail.
 * Nothing is asked while the tab is hidden; showing it again catches up at once.
 * @param {{ path: string, streamPath: string | null, everyMs: number, onData: (data: any) => void,
 *   onError: (err: Error) => void, onMode: (mode: 'live' | 'polling', waitMs: number) => void }} o
 */
function watch(o) {
  stopWatching();
  var stopped = false;
  /** @type {number | null} */
  var timer = null;
  /** @type {number | null} */
  var silence = null;
  /** @type {AbortController | null} */
  var stream = null;
  var polling = false;
  var failures = 0;
  var streamFailures = 0;
  var streamAgainAt = 0;

  var hidden = () => document.visibilityState === 'hidden';
  function quiet() {
    if (timer) clearTimeout(timer);
    if (silence) clearTimeout(silence);
    timer = silence = null;
    var s = stream;
    stream = null;
    if (s) s.abort();
  }
  function next() {
    quiet();
    if (stopped || hidden()) return;
    if (o.streamPath && Date.now() >= streamAgainAt && typeof ReadableStream === 'function') listen(o.streamPath);
    else poll();
  }
  /** @param {string} streamPath */
  function listen(streamPath) {
    var mine = new AbortController();
    stream = mine;
    var heard = () => {
      if (silence) clearTimeout(silence);
      silence = setTimeout(() => mine.abort(), STREAM_SILENCE_MS);
    };
    heard();
    readStream(
      streamPath,
      mine.signal,
      (data) => {
        failures = 0;
        streamFailures = 0;
        o.onMode('live', 0);
        o.onData(data);
      },
      heard,
    )
      .catch(() => {})
      .then(() => {
        // Ended by quiet() (tab hidden, page left): nothing to do. Otherwise the stream broke or
        // was refused: poll meanwhile, and try the stream again later, less often each time.
        if (stream !== mine || stopped) return;
        stream = null;
        if (silence) clearTimeout(silence);
        silence = null;
        streamFailures++;
        streamAgainAt = Date.now() + Math.min(MAX_WAIT_MS, 5000 * 2 ** (streamFailures - 1));
        poll();
      });
  }
  function poll() {
    var began = Date.now();
    polling = true;
    api('GET', o.path)
      .then(
        (data) => {
          failures = 0;
          if (!stopped) o.onData(data);
          return Math.max(o.everyMs, SLOW_FACTOR * (Date.now() - began));
        },
        (err) => {
          failures++;
          if (!stopped) o.onError(err);
          return Math.min(MAX_WAIT_MS, o.everyMs * 2 ** failures);
        },
      )
      .then((wait) => {
        polling = false;
        if (stopped || hidden()) return;
        o.onMode('polling', wait);
        timer = setTimeout(next, wait);
      });
  }
  function visibility() {
    if (hidden()) quiet();
    else if (!timer && !stream && !polling) next();
  }
  document.addEventListener('visibilitychange', visibility);
  state.stop = () => {
    stopped = true;
    quiet();
    document.removeEventListener('visibilitychange', visibility);
  };
  next();
}

/** A line saying how the page is kept up to date. */
function liveLine() {
  return el('p', { class: 'muted live', 'data-testid': 'live' });
}
/** @param {HTMLElement} line @param {'live' | 'polling'} mode @param {number} waitMs */
function showMode(line, mode, waitMs) {
  line.dataset.mode = mode;
  line.textContent = mode === 'live' ? 'Live' : 'Updated every ' + Math.round(waitMs / 100) / 10 + ' s';
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
  var live = liveLine();
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
    live,
  );
  watch({
    path: '/api/v1/campaigns',
    streamPath: '/api/v1/campaigns/events',
    everyMs: 2000,
    onMode: (mode, waitMs) => showMode(live, mode, waitMs),
    onError: () => {},
    onData: /** @param {{ items: CampaignRow[] }} data */ (data) => {
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
  });
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
    live = liveLine(),
    message = el('p', { class: 'error', role: 'alert' });
  view.replaceChildren(
    head,
    actions,
    live,
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
          .then((c) => {
            // The answer is the campaign after the change (the stream follows with the same).
            message.textContent = '';
            render(c);
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
    // One sample per half second at most: two answers close together (an action's and the
    // stream's) would make a spike of a few messages over a few milliseconds.
    if (!last || now - last.at >= 500) {
      if (last) state.samples.push({ rate: Math.max(0, ((c.counts.sent - last.sent) * 1000) / (now - last.at)) });
      if (state.samples.length > 180) state.samples.shift();
      last = { sent: c.counts.sent, at: now };
    }
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
  watch({
    path: '/api/v1/campaigns/' + id,
    streamPath: '/api/v1/campaigns/' + id + '/events',
    everyMs: 1000,
    onMode: (mode, waitMs) => showMode(live, mode, waitMs),
    onError: (err) => {
      message.textContent = err.message;
    },
    onData: render,
  });
}

function lookupView() {
  stopWatching();
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
