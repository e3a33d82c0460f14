// @ts-check
// The dashboard's browser code: served as is (no build step) and type-checked by
// `npm run typecheck` through tsconfig.dashboard.json (checkJs, DOM types).
'use strict';

// What the API answers (see /openapi.json); only the fields the page reads.
/** @typedef {{ id: number, name: string, status: string, listName: string, listSize: number, sent: number, failed: number, delivered: number, opened: number, clicked: number, bounced: number }} CampaignRow */
/** @typedef {{ reason: string, until: string, detail?: string | null }} Waiting */
/**
 * @typedef {{ name: string, status: string, domain?: string | null, listSize: number, rate: number, etaSeconds: number | null,
 *   unclaimed: number, waiting: Waiting | null, pausedReason: string | null, counts: Record<string, number>,
 *   notSent: Array<{ status: string, reason: string | null, count: number }>, funnel?: Funnel }} CampaignDetail
 */
/**
 * @typedef {{ campaignId: number, campaignName: string, status: string, attempts: number, errorCode: string | null,
 *   errorMessage: string | null, sentAt: string | null, providerId: string | null }} DeliveryRow
 */
/**
 * @typedef {{ accepted: number, delivered: number, bouncedHard: number, bouncedSoft: number, opened: number,
 *   openRate: number | null, clicked: number, clickRate: number | null, complained: number, unsubscribed: number }} Funnel
 */
/** @typedef {{ at: string, n: number }} Bucket */
/**
 * @typedef {{ sentPerMinute: Bucket[], opensPerHour: Bucket[], clicksPerHour: Bucket[],
 *   topLinks: Array<{ url: string, uniqueClicks: number, clicks: number }> }} Timeline
 */
/**
 * @typedef {{ campaignId: number, campaignName: string, status: string, attempts: number, errorCode: string | null,
 *   sentAt: string | null, outcome: string | null, deliveredAt: string | null,
 *   failure: { severity: string, reason: string | null, code: number | null, at: string | null } | null,
 *   firstOpenAt: string | null, opens: number, firstClickAt: string | null, clicks: number,
 *   complainedAt: string | null, unsubscribedAt: string | null }} PersonCampaign
 */
/**
 * @typedef {{ email: string, recipient: { id: number, email: string, name: string | null, lists: string[] } | null,
 *   suppressed: { reason: string, source: string | null, campaignId: number | null, at: string } | null,
 *   campaigns: PersonCampaign[] }} Person
 */
/** An erased person (GET /api/v1/recipients/{email}): "erased" and nothing else. @typedef {{ email: string, erased: true }} ErasedPerson */
/** @typedef {Node | string | null | false | undefined} Child */

/** @param {string} id @returns {HTMLElement} the element, which the page always has */
function byId(id) {
  return /** @type {HTMLElement} */ (document.getElementById(id));
}

/** @type {{ token: string, stops: Array<() => void> }} what stops the current view's watchers */
var state = { token: sessionStorage.getItem('heraldToken') || '', stops: [] };
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
      if (!res.ok) throw Object.assign(new Error(data.error || res.statusText), { status: res.status });
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
  var stops = state.stops;
  state.stops = [];
  stops.forEach((stop) => {
    stop();
  });
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
 * Nothing is asked while the tab is hidden; showing it again catches up at once. A view may
 * run several watchers (a campaign: its stream, and its time series every 20 s); leaving the
 * view (stopWatching) stops them all.
 * @param {{ path: string, streamPath: string | null, everyMs: number, onData: (data: any) => void,
 *   onError: (err: Error) => void, onMode: (mode: 'live' | 'polling', waitMs: number) => void }} o
 * @returns {() => void} asks again now, unless a request is in flight or the tab is hidden
 */
function watch(o) {
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
  state.stops.push(() => {
    stopped = true;
    quiet();
    document.removeEventListener('visibilitychange', visibility);
  });
  next();
  return () => {
    if (!stopped && !polling && !hidden()) next();
  };
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

/**
 * A part as a share of delivered, in parentheses with one decimal, or nothing before anything was delivered.
 * @param {number} part @param {number} whole
 */
function share(part, whole) {
  return whole > 0 ? ' (' + (Math.round((part / whole) * 1000) / 10).toLocaleString('en') + '%)' : '';
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
          ['#', 'Name', 'Status', 'List', 'Progress', 'Sent', 'Failed', 'Delivered', 'Bounced', 'Opened', 'Clicked'].map((h) => el('th', { text: h })),
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
              el('td', { text: num(c.delivered) }),
              el('td', { text: num(c.bounced) }),
              el('td', { text: num(c.opened) + share(c.opened, c.delivered) }),
              el('td', { text: num(c.clicked) + share(c.clicked, c.delivered) }),
            ],
          ),
        ),
      );
      if (data.items.length === 0) body.appendChild(el('tr', {}, [el('td', { colspan: '11', class: 'muted', text: 'No campaigns yet.' })]));
    },
  });
}

var SVG_NS = 'http://www.w3.org/2000/svg';
var MINUTE = 60000;
var HOUR = 60 * MINUTE;
var DAY = 24 * HOUR;
// A chart draws at most this many bars; a longer span gets wider ones (5 minutes, 2 hours …).
var MAX_BARS = 180;
// The time series and top links are read from the database this often while the page is
// shown (the campaign's own numbers follow its event stream): a minute's bar changes slowly.
var TIMELINE_EVERY_MS = 20000;

/**
 * @param {string} tag
 * @param {Record<string, string | number>} attrs
 * @param {Node[]} [children]
 * @returns {SVGElement}
 */
function svgEl(tag, attrs, children) {
  var node = /** @type {SVGElement} */ (document.createElementNS(SVG_NS, tag));
  Object.keys(attrs).forEach((k) => {
    node.setAttribute(k, String(attrs[k]));
  });
  (children || []).forEach((c) => {
    node.appendChild(c);
  });
  return node;
}

/** @param {string | null} iso @returns {string} local date and time, or '' */
function when(iso) {
  return iso ? new Date(iso).toLocaleString() : '';
}

/** @param {number} ms @param {number} step the bar's width: whole days show no time */
function slotTime(ms, step) {
  /** @type {Intl.DateTimeFormatOptions} */
  var opts = step >= DAY ? { month: 'short', day: 'numeric' } : { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' };
  return new Date(ms).toLocaleString(undefined, opts);
}

/** @param {number} step @returns {string} e.g. 'per minute', 'per 5 minutes', 'per 2 hours' */
function perStep(step) {
  /** @type {Array<[number, string]>} */
  var units = [
    [DAY, 'day'],
    [HOUR, 'hour'],
    [MINUTE, 'minute'],
  ];
  var unit = units.find((u) => step % u[0] === 0) || units[2];
  var k = step / unit[0];
  return k === 1 ? 'per ' + unit[1] : 'per ' + k + ' ' + unit[1] + 's';
}

/**
 * Lays buckets out as the API gives them (UTC minutes or hours, only those with something in
 * them) as bars: one per step from the first bucket to the last, empty ones included, with a
 * wider step when the span would need more than MAX_BARS.
 * @param {Bucket[][]} series
 * @param {number} unit MINUTE or HOUR
 * @param {number[]} multiples the steps to choose from, in units, narrowest first
 * @returns {{ start: number, step: number, values: number[][] } | null} null when every series is empty
 */
function layout(series, unit, multiples) {
  var first = Infinity;
  var last = -Infinity;
  series.forEach((s) => {
    s.forEach((b) => {
      var t = Date.parse(b.at);
      if (t < first) first = t;
      if (t > last) last = t;
    });
  });
  if (first === Infinity) return null;
  var k = multiples.find((m) => Math.floor(last / (m * unit)) - Math.floor(first / (m * unit)) < MAX_BARS) || multiples[multiples.length - 1];
  var step = k * unit;
  var start = Math.floor(first / step) * step;
  var count = Math.floor((last - start) / step) + 1;
  var values = series.map((s) => {
    /** @type {number[]} */
    var v = new Array(count).fill(0);
    s.forEach((b) => {
      var t = Date.parse(b.at);
      if (!Number.isNaN(t)) v[Math.floor((t - start) / step)] += b.n;
    });
    return v;
  });
  return { start: start, step: step, values: values };
}

/**
 * A bar chart of one or more series over time, in inline SVG; bars of several series stand side
 * by side in each step. Every bar carries its count (data-n) and a tooltip.
 * @param {{ testid: string, title: string, empty: string, unit: number, multiples: number[],
 *   series: Array<{ name: string, label: string, buckets: Bucket[] }> }} o
 */
function barChart(o) {
  var figure = el('figure', { class: 'chart', 'data-testid': o.testid });
  var lay = layout(
    o.series.map((s) => s.buckets),
    o.unit,
    o.multiples,
  );
  if (!lay) {
    put(figure, [el('figcaption', { text: o.title }), el('p', { class: 'muted empty', text: o.empty })]);
    return figure;
  }
  var W = 720;
  var H = 140;
  var start = lay.start;
  var step = lay.step;
  var values = lay.values;
  var count = values[0].length;
  var max = Math.max(
    1,
    values.reduce((m, v) => v.reduce((a, b) => Math.max(a, b), m), 0),
  );
  var slot = W / count;
  // Each step's bars, side by side, centred in the step; a few steps make no wall of colour.
  var group = Math.min(slot * (count > 60 ? 0.9 : 0.75), 60);
  var bw = group / o.series.length;
  var svg = svgEl('svg', { viewBox: '0 0 ' + W + ' ' + H, preserveAspectRatio: 'none', role: 'img', 'aria-label': o.title });
  svg.appendChild(svgEl('line', { class: 'baseline', x1: 0, y1: H - 0.5, x2: W, y2: H - 0.5 }));
  o.series.forEach((s, k) => {
    var g = svgEl('g', { class: 'series ' + s.name, 'data-series': s.name });
    values[k].forEach((n, i) => {
      var h = n > 0 ? Math.max(2, ((H - 8) * n) / max) : 0;
      var at = start + i * step;
      var tip = svgEl('title', {});
      tip.textContent = slotTime(at, step) + ': ' + num(n) + ' ' + s.label;
      g.appendChild(
        svgEl(
          'rect',
          {
            x: (i * slot + (slot - group) / 2 + k * bw).toFixed(2),
            y: (H - h).toFixed(2),
            width: bw.toFixed(2),
            height: h.toFixed(2),
            'data-n': n,
            'data-at': new Date(at).toISOString(),
          },
          [tip],
        ),
      );
    });
    svg.appendChild(g);
  });
  var total = (/** @type {number[]} */ v) => v.reduce((a, b) => a + b, 0);
  put(figure, [
    el('figcaption', {}, [o.title + ' ' + perStep(step), el('span', { class: 'muted', text: ' · peak ' + num(max) })]),
    svg,
    el('div', { class: 'axis' + (count === 1 ? ' one' : '') }, [
      el('span', { text: slotTime(start, step) }),
      count > 1 ? el('span', { text: slotTime(start + (count - 1) * step, step) }) : null,
    ]),
    el(
      'div',
      { class: 'legend' },
      o.series.map((s, k) => el('span', { 'data-legend': s.name }, [el('i', { class: 'swatch ' + s.name }), s.label + ' ' + num(total(values[k]))])),
    ),
  ]);
  return figure;
}

/**
 * The funnel's rows: the main stages, then what went wrong or away. `of` is what the share is
 * of; the tooltips say what each number means (docs/http-api.md says the same).
 * @type {Array<{ key: 'accepted' | 'delivered' | 'opened' | 'clicked' | 'bouncedHard' | 'bouncedSoft' | 'complained' | 'unsubscribed',
 *   label: string, of: 'accepted' | 'delivered' | null, side?: boolean, tip: string }>}
 */
var FUNNEL_ROWS = [
  { key: 'accepted', label: 'Accepted', of: null, tip: 'Messages the provider (Mailgun) accepted for delivery: the funnel starts here.' },
  {
    key: 'delivered',
    label: 'Delivered',
    of: 'accepted',
    tip: 'The receiving mail server took the message. Not necessarily the inbox: a spam folder counts as delivered.',
  },
  {
    key: 'opened',
    label: 'Opened *',
    of: 'delivered',
    tip: 'Recipients with at least one open. Inflated: mail privacy proxies (Apple Mail Privacy Protection, security scanners) fetch the images of every message, so an open may be no person; clicks are the reliable signal.',
  },
  { key: 'clicked', label: 'Clicked', of: 'delivered', tip: 'Recipients who clicked a tracked link at least once: the reliable signal that a person read it.' },
  {
    key: 'bouncedHard',
    label: 'Bounced hard',
    of: 'accepted',
    side: true,
    tip: 'A permanent failure after acceptance (no such mailbox, the domain refuses). Final, even if a delivery was reported earlier; the address is suppressed.',
  },
  {
    key: 'bouncedSoft',
    label: 'Bounced soft',
    of: 'accepted',
    side: true,
    tip: 'A temporary failure (mailbox full, greylisting, a busy server) with no delivery since.',
  },
  { key: 'complained', label: 'Complained', of: 'delivered', side: true, tip: 'Recipients who reported the message as spam; the address is suppressed.' },
  {
    key: 'unsubscribed',
    label: 'Unsubscribed',
    of: 'delivered',
    side: true,
    tip: 'Recipients who unsubscribed through the provider; the address is suppressed. (Herald’s own one-click links suppress too, and show on the suppression list.)',
  },
];

/** @param {Funnel} f */
function funnelView(f) {
  /** @param {number} n @param {number} base */
  var share = (n, base) => (base > 0 ? Math.round((n / base) * 1000) / 10 : null);
  var noWord = Math.max(0, f.accepted - f.delivered - f.bouncedHard - f.bouncedSoft);
  return el('div', { class: 'funnel', 'data-testid': 'funnel' }, [
    el(
      'div',
      { class: 'stages' },
      FUNNEL_ROWS.map((r) => {
        var n = f[r.key];
        var pct = r.key === 'opened' ? f.openRate : r.key === 'clicked' ? f.clickRate : r.of ? share(n, f[r.of]) : null;
        var width = f.accepted > 0 ? Math.min(100, (100 * n) / f.accepted) : 0;
        return el('div', { class: 'stage' + (r.side ? ' side' : ''), 'data-stage': r.key, title: r.tip }, [
          el('span', { class: 'label', text: r.label }),
          el('div', { class: 'track' }, [el('span', { class: 'fill ' + r.key, style: 'width:' + width.toFixed(1) + '%' })]),
          el('b', { class: 'n', text: num(n) }),
          el('span', { class: 'share', text: r.of ? (pct === null ? '–' : pct + '% of ' + r.of) : '' }),
        ]);
      }),
    ),
    noWord > 0
      ? el('p', {
          class: 'muted',
          'data-testid': 'funnel-no-word',
          text: num(noWord) + ' accepted with no word yet from the receiving server (neither delivered nor failed).',
        })
      : null,
    el('p', {
      class: 'footnote',
      'data-testid': 'funnel-note',
      text:
        '* Opens are inflated: mail privacy proxies such as Apple Mail Privacy Protection fetch the images of every message they receive, ' +
        'so an open may be no person (and a reader who blocks images opens nothing). Read opens as an upper bound; clicks are the reliable signal. ' +
        'Delivered and bounces are shares of accepted; the rest, of delivered, each recipient counted once. Bounced hard: a permanent failure ' +
        'after acceptance. Bounced soft: a temporary failure with no delivery since. The numbers come from the provider’s events, ' +
        'so they keep growing for days after the send.',
    }),
  ]);
}

/** @param {Timeline['topLinks']} links */
function topLinksView(links) {
  if (links.length === 0) return el('p', { class: 'muted', 'data-testid': 'top-links-empty', text: 'No clicks recorded yet.' });
  return el('table', { 'data-testid': 'top-links' }, [
    el('thead', {}, [
      el('tr', {}, [
        el('th', { text: 'Link' }),
        el('th', { class: 'num', text: 'Unique clicks', title: 'Recipients who clicked it (each counted once)' }),
        el('th', { class: 'num', text: 'Clicks', title: 'Every click, repeats included' }),
      ]),
    ]),
    el(
      'tbody',
      {},
      // Links are whatever recipients clicked: text only, never markup, never a live link.
      links.map((l) =>
        el('tr', {}, [
          el('td', { class: 'url', text: l.url }),
          el('td', { class: 'num', text: num(l.uniqueClicks) }),
          el('td', { class: 'num', text: num(l.clicks) }),
        ]),
      ),
    ),
  ]);
}

/** @param {string} id */
function campaignView(id) {
  var head = el('div'),
    cards = el('div', { class: 'cards' }),
    actions = el('div', { class: 'actions' });
  var funnelBox = el('div'),
    chartsBox = el('div', { class: 'charts' }, [el('p', { class: 'muted', text: 'Loading…' })]),
    linksBox = el('div'),
    timelineNote = el('p', { class: 'footnote', 'data-testid': 'timeline-note' }),
    timelineError = el('p', { class: 'error', role: 'alert' }),
    errors = el('div'),
    live = liveLine(),
    message = el('p', { class: 'error', role: 'alert' });
  view.replaceChildren(
    head,
    actions,
    live,
    message,
    cards,
    el('h2', { text: 'After acceptance' }),
    funnelBox,
    el('h2', { text: 'Over time' }),
    timelineNote,
    timelineError,
    chartsBox,
    el('h2', { text: 'Most clicked links' }),
    linksBox,
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

  /** @type {(() => void) | null} reads the time series now */
  var refreshTimeline = null;
  /** @type {{ status: string, sending: boolean } | null} */
  var seen = null;

  /** @param {CampaignDetail} c */
  function render(c) {
    document.title = c.name + ' · Herald';
    // The time series are read every 20 s; a change of state, or the first messages going
    // out, is worth reading them at once.
    var now = { status: c.status, sending: c.counts.sent > 0 };
    if (seen && refreshTimeline && (seen.status !== now.status || seen.sending !== now.sending)) refreshTimeline();
    seen = now;
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
    if (c.funnel) put(funnelBox, [funnelView(c.funnel)]);
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

  /** @param {Timeline} t */
  function renderTimeline(t) {
    timelineError.textContent = '';
    timelineNote.textContent =
      'From the delivery records and the provider’s events, in your local time: the same picture whenever this page is opened. Read at ' +
      new Date().toLocaleTimeString() +
      ', and every ' +
      TIMELINE_EVERY_MS / 1000 +
      ' s while the page is shown.';
    put(chartsBox, [
      barChart({
        testid: 'chart-sent',
        title: 'Messages sent',
        empty: 'Nothing sent yet.',
        unit: MINUTE,
        multiples: [1, 2, 5, 10, 15, 30, 60, 120, 360, 720, 1440],
        series: [{ name: 'sent', label: 'sent', buckets: t.sentPerMinute }],
      }),
      barChart({
        testid: 'chart-engagement',
        title: 'Opens and clicks',
        empty: 'No opens or clicks recorded yet.',
        unit: HOUR,
        multiples: [1, 2, 3, 6, 12, 24, 48, 168],
        series: [
          { name: 'opens', label: 'opens', buckets: t.opensPerHour },
          { name: 'clicks', label: 'clicks', buckets: t.clicksPerHour },
        ],
      }),
    ]);
    put(linksBox, [topLinksView(t.topLinks)]);
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
  refreshTimeline = watch({
    path: '/api/v1/campaigns/' + id + '/timeline',
    streamPath: null,
    everyMs: TIMELINE_EVERY_MS,
    onMode: () => {},
    onError: (err) => {
      timelineError.textContent = 'The time series could not be read: ' + err.message;
    },
    onData: renderTimeline,
  });
}

/** @type {Record<string, string>} */
var OUTCOME_LABELS = {
  accepted: 'accepted, no word yet',
  delivered: 'delivered',
  bounced_hard: 'bounced hard',
  bounced_soft: 'bounced soft',
};

/**
 * One person: whether and why they are suppressed, and every campaign they were in with send
 * state, outcome and engagement (GET /api/v1/recipients/{email}), with each delivery's
 * provider id and error message from GET /api/v1/deliveries.
 * @param {Person} p
 * @param {DeliveryRow[]} rows
 */
function personView(p, rows) {
  /** @type {Record<string, DeliveryRow>} */
  var byCampaign = {};
  rows.forEach((d) => {
    byCampaign[String(d.campaignId)] = d;
  });
  var s = p.suppressed;
  var source = s?.source ? ' (' + s.source + (s.campaignId !== null ? ', campaign #' + s.campaignId : '') + ')' : '';
  /** @param {number} n @param {string | null} first */
  var times = (n, first) => [el('b', { text: num(n) }), n > 0 && first ? el('div', { class: 'muted small', text: 'first ' + when(first) }) : null];
  return el('section', { 'data-testid': 'person' }, [
    el('h2', {}, [p.email, p.recipient?.name ? el('span', { class: 'muted', text: ' · ' + p.recipient.name }) : null]),
    el('p', {
      class: 'muted',
      'data-testid': 'person-lists',
      text: p.recipient
        ? 'Lists: ' + (p.recipient.lists.length ? p.recipient.lists.join(', ') : 'none')
        : 'Not a recipient: the address is only on the suppression list.',
    }),
    s
      ? el('p', {
          class: 'suppressed',
          'data-testid': 'suppression',
          text: 'Suppressed: ' + s.reason + source + ' since ' + when(s.at) + '. No campaign will mail this address.',
        })
      : el('p', { class: 'muted', 'data-testid': 'suppression', text: 'Not suppressed.' }),
    p.campaigns.length === 0
      ? el('p', { class: 'muted', text: 'In no campaign.' })
      : el('table', { 'data-testid': 'lookup-results' }, [
          el('thead', {}, [
            el(
              'tr',
              {},
              ['Campaign', 'Sent', 'Outcome', 'Opens *', 'Clicks', 'Complaint / unsubscribe', 'Provider id'].map((h) => el('th', { text: h })),
            ),
          ]),
          el(
            'tbody',
            {},
            p.campaigns.map((c) => {
              var d = byCampaign[String(c.campaignId)];
              var error = c.errorCode ? c.errorCode + (d?.errorMessage ? ': ' + d.errorMessage : '') : '';
              var f = c.failure;
              return el('tr', { 'data-campaign': String(c.campaignId) }, [
                el('td', {}, [el('a', { href: '#/campaigns/' + c.campaignId, text: '#' + c.campaignId + ' ' + c.campaignName })]),
                el('td', { 'data-col': 'sent' }, [
                  badge(c.status),
                  el('div', {
                    class: 'muted small',
                    text: c.attempts + (c.attempts === 1 ? ' attempt' : ' attempts') + (c.sentAt ? ' · ' + when(c.sentAt) : ''),
                  }),
                  error ? el('div', { class: 'error small', text: error }) : null,
                ]),
                el('td', { 'data-col': 'outcome' }, [
                  c.outcome ? el('span', { class: 'badge ' + c.outcome, 'data-testid': 'outcome', text: OUTCOME_LABELS[c.outcome] || c.outcome }) : null,
                  c.deliveredAt ? el('div', { class: 'muted small', text: 'delivered ' + when(c.deliveredAt) }) : null,
                  f
                    ? el('div', {
                        class: 'small ' + (f.severity === 'permanent' ? 'error' : 'waiting'),
                        'data-testid': 'failure',
                        text:
                          f.severity + ' failure' + (f.reason ? ' ' + f.reason : '') + (f.code !== null ? ' ' + f.code : '') + (f.at ? ' · ' + when(f.at) : ''),
                      })
                    : null,
                ]),
                el('td', { 'data-col': 'opens' }, times(c.opens, c.firstOpenAt)),
                el('td', { 'data-col': 'clicks' }, times(c.clicks, c.firstClickAt)),
                el('td', { 'data-col': 'complaint' }, [
                  c.complainedAt ? el('div', { class: 'error small', text: 'complained ' + when(c.complainedAt) }) : null,
                  c.unsubscribedAt ? el('div', { class: 'small', text: 'unsubscribed ' + when(c.unsubscribedAt) }) : null,
                ]),
                el('td', { class: 'small', text: d?.providerId || '' }),
              ]);
            }),
          ),
        ]),
    p.campaigns.length
      ? el('p', {
          class: 'footnote',
          text: '* Opens are inflated by mail privacy proxies (Apple Mail Privacy Protection fetches the images of every message it receives); clicks are the reliable signal.',
        })
      : null,
  ]);
}

function lookupView() {
  document.title = 'Person lookup · Herald';
  var input = /** @type {HTMLInputElement} */ (el('input', { type: 'email', id: 'lookup-email', placeholder: 'someone@example.com', required: 'required' }));
  var results = el('div');
  var asked = 0;
  var form = el(
    'form',
    {
      id: 'lookup',
      class: 'actions',
      onsubmit: /** @param {Event} e */ (e) => {
        e.preventDefault();
        var mine = ++asked;
        var email = input.value.trim();
        Promise.all([
          api('GET', '/api/v1/recipients/' + encodeURIComponent(email)),
          // Only for the provider ids and error messages; the person is shown without them.
          api('GET', '/api/v1/deliveries?email=' + encodeURIComponent(email) + '&limit=100').catch(() => ({ items: [] })),
        ])
          .then(
            /** @param {[Person | ErasedPerson, { items: DeliveryRow[] }]} answers */ (answers) => {
              if (mine !== asked) return;
              var p = answers[0];
              results.replaceChildren(
                'erased' in p ? el('p', { class: 'muted', 'data-testid': 'person-erased', text: 'Erased.' }) : personView(p, answers[1].items),
              );
            },
          )
          .catch((err) => {
            if (mine !== asked) return;
            results.replaceChildren(
              err.status === 404
                ? el('p', { class: 'muted', 'data-testid': 'person-unknown', text: 'Nobody with this address: no recipient, no suppression.' })
                : el('p', { class: 'error', text: err.message }),
            );
          });
      },
    },
    [input, el('button', { type: 'submit', class: 'primary', text: 'Look up' })],
  );
  view.replaceChildren(
    el('h1', { text: 'What happened to one person' }),
    el('p', {
      class: 'muted',
      text: 'Every campaign they were in, what the provider said after accepting, opens and clicks, and whether they are suppressed.',
    }),
    form,
    results,
  );
}

function route() {
  stopWatching();
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
