// @ts-check
// The dashboard's browser code: served as is (no build step) and type-checked by
// `npm run typecheck` through tsconfig.dashboard.json (checkJs, DOM types).
'use strict';

// What the API answers (see /openapi.json); only the fields the page reads.
/**
 * @typedef {{ id: number, name: string, status: string, listName: string, listSize: number, lists: string[], excludeLists: string[],
 *   segment: string | null, where: string | null, sent: number, failed: number, delivered: number, opened: number, clicked: number,
 *   bounced: number }} CampaignRow
 */
/**
 * Whom a campaign is for (docs/audience.md); `size` is null before the start when only a count would tell.
 * @typedef {{ lists: string[], excludeLists: string[], segment: string | null, where: string | null, size: number | null, fixed: boolean }} Audience
 */
/** @typedef {{ id: number, name: string, members: number }} ListRow */
/** @typedef {{ name: string, expression: string, createdAt: string, pendingCampaigns: number }} SegmentRow */
/**
 * @typedef {{ name: string, expression: string, createdAt: string,
 *   campaigns: Array<{ id: number, name: string, status: string, fixed: boolean }> }} SegmentDetails
 */
/**
 * @typedef {{ count: number, suppressed: number, warnings: string[],
 *   samples: Array<{ id: number, email: string, name: string | null, attributes: Record<string, unknown> }> }} Preview
 */
/** @typedef {{ lists?: string[], excludeLists?: string[], segment?: string, where?: string }} AudienceInput */
/**
 * A campaign's message as it would be sent (GET /api/v1/campaigns/{id}/preview).
 * @typedef {{ recipient: { email: string, name: string | null, source: 'audience' | 'given' | 'sample', inAudience: boolean | null },
 *   notes: string[], subject: string, headers: Record<string, string>, html: string, text: string,
 *   checks: Array<{ code: string, severity: 'warning' | 'info', message: string }> }} MessagePreview
 */
/**
 * A wrong field of a request (a segment's syntax error: with its 0-based position in the text).
 * @typedef {{ field: string, message: string, position?: number, line?: number, column?: number }} FieldProblem
 */
/**
 * What api() rejects with: the answer's `error`, its status, and the wrong fields it named.
 * @typedef {Error & { status?: number, fields?: FieldProblem[] }} ApiError
 */
/** @typedef {{ reason: string, until: string, detail?: string | null }} Waiting */
/**
 * @typedef {{ name: string, status: string, domain?: string | null, listSize: number, audience: Audience, rate: number, etaSeconds: number | null,
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
 * @returns {Promise<any>} the JSON answer; a non-2xx answer rejects (ApiError) with its `error`, status and `fields`
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
      if (!res.ok) throw Object.assign(new Error(data.error || res.statusText), { status: res.status, fields: data.fields });
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

/**
 * An audience on one line: its lists, minus the excluded ones, and its filter, e.g.
 * "customers, trial − press · segment active-pro".
 * @param {{ lists: string[], excludeLists: string[], segment: string | null, where: string | null }} a
 */
function audienceLine(a) {
  var text = a.lists.join(', ');
  if (a.excludeLists.length) text += ' − ' + a.excludeLists.join(', ');
  if (a.segment !== null) text += ' · segment ' + a.segment;
  else if (a.where !== null) text += ' · where ' + a.where;
  return text;
}

/** @param {string} text @param {number} max @returns {string} at most `max` characters, an ellipsis marking a cut */
function shorten(text, max) {
  return text.length > max ? text.slice(0, max - 1) + '…' : text;
}

function campaignsView() {
  document.title = 'Campaigns · Herald';
  var body = el('tbody');
  var live = liveLine();
  view.replaceChildren(
    el('h1', { text: 'Campaigns' }),
    el('div', { class: 'actions' }, [el('a', { class: 'button primary', href: '#/campaigns/new', 'data-testid': 'new-campaign', text: 'New campaign' })]),
    el('table', {}, [
      el('thead', {}, [
        el(
          'tr',
          {},
          ['#', 'Name', 'Status', 'Audience', 'Progress', 'Sent', 'Failed', 'Delivered', 'Bounced', 'Opened', 'Clicked'].map((h) => el('th', { text: h })),
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
              el('td', { class: 'audience-cell', title: audienceLine(c), text: shorten(audienceLine(c), 60) }),
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

/**
 * What the campaign page reads once about its audience, besides what the campaign says: the
 * saved segment's expression (a campaign that has not started names only the segment) and,
 * before the start, how many it would go to now.
 * @typedef {{ expression: string | null, now: Preview | null, error: string }} AudienceExtra
 */

/**
 * A campaign's audience definition: the lists, minus the excluded lists, its segment (name and
 * expression) or where text, and its size. Expressions are shown as text, never markup.
 * @param {Audience} a
 * @param {AudienceExtra} extra
 */
function audienceDefinition(a, extra) {
  var expression = a.where !== null ? a.where : extra.expression;
  var size;
  if (a.size !== null) size = num(a.size) + (a.size === 1 ? ' recipient' : ' recipients') + (a.fixed ? ', fixed when it started' : '');
  else if (extra.now) size = num(extra.now.count) + ' now (after exclusions and suppressions); fixed when it starts';
  else size = extra.error ? 'fixed when it starts (it could not be counted now: ' + extra.error + ')' : 'fixed when it starts; counting…';
  /** @type {Child} */
  var filter;
  if (a.segment !== null)
    filter = el('dd', { 'data-testid': 'audience-filter' }, [
      el('a', { href: '#/segments/' + encodeURIComponent(a.segment), 'data-testid': 'audience-segment', text: a.segment }),
      expression !== null ? el('code', { class: 'expr', 'data-testid': 'audience-expression', text: expression }) : null,
    ]);
  else if (expression !== null)
    filter = el('dd', { 'data-testid': 'audience-filter' }, [el('code', { class: 'expr', 'data-testid': 'audience-expression', text: expression })]);
  else filter = el('dd', { class: 'muted', 'data-testid': 'audience-filter', text: 'none: everyone on the lists' });
  return el('dl', { class: 'audience', 'data-testid': 'audience' }, [
    el('dt', { text: a.lists.length === 1 ? 'List' : 'Lists' }),
    el('dd', { 'data-testid': 'audience-lists', text: a.lists.join(', ') }),
    a.excludeLists.length ? el('dt', { text: 'Minus' }) : null,
    a.excludeLists.length ? el('dd', { 'data-testid': 'audience-exclude', text: a.excludeLists.join(', ') }) : null,
    el('dt', { text: a.segment !== null ? 'Segment' : a.where !== null ? 'Where' : 'Filter' }),
    filter,
    el('dt', { text: 'Size' }),
    el('dd', { 'data-testid': 'audience-size', text: size }),
  ]);
}

/** @param {string} id */
function campaignView(id) {
  var head = el('div'),
    audienceBox = el('div'),
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
    audienceBox,
    actions,
    live,
    message,
    previewPanel(id),
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

  /** @type {Audience | null} */
  var audience = null;
  /** @type {AudienceExtra} */
  var extra = { expression: null, now: null, error: '' };
  var audienceShown = '';
  var audienceRead = false;
  // The campaign comes about once a second while it runs; its audience is drawn again only
  // when it changed, and what it takes reading is read once per visit.
  function renderAudience() {
    if (!audience) return;
    var a = audience;
    var key = JSON.stringify([a, extra]);
    if (key === audienceShown) return;
    audienceShown = key;
    put(audienceBox, [audienceDefinition(a, extra)]);
    if (audienceRead) return;
    audienceRead = true;
    if (a.segment !== null && a.where === null) {
      api('GET', '/api/v1/segments/' + encodeURIComponent(a.segment))
        .then(
          /** @param {SegmentDetails} d */ (d) => {
            extra.expression = d.expression;
            renderAudience();
          },
        )
        .catch(() => {});
    }
    if (a.size === null) {
      api('POST', '/api/v1/audience/preview', {
        lists: a.lists,
        excludeLists: a.excludeLists,
        segment: a.segment !== null ? a.segment : undefined,
        where: a.segment === null && a.where !== null ? a.where : undefined,
      })
        .then(
          /** @param {Preview} p */ (p) => {
            extra.now = p;
            renderAudience();
          },
        )
        .catch(
          /** @param {ApiError} err */ (err) => {
            extra.error = err.message;
            renderAudience();
          },
        );
    }
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
        text:
          (c.audience.size !== null ? 'Audience ' + num(c.audience.size) : 'Audience counted when it starts') +
          ' · ' +
          c.rate +
          ' msgs/s over the last minute' +
          (c.etaSeconds !== null ? ' · ETA ' + c.etaSeconds + ' s' : ''),
      }),
      bar(settled, c.listSize),
    ]);
    audience = c.audience;
    renderAudience();
    put(actions, [
      c.status === 'draft' || c.status === 'scheduled' ? act('start', 'Start', 'primary') : null,
      c.status === 'draft' ? el('a', { class: 'button', href: '#/campaigns/' + id + '/edit', 'data-testid': 'edit-draft', text: 'Edit draft' }) : null,
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

/** Widths the preview shows the HTML at: a desktop client's reading pane, and a phone. */
var PREVIEW_WIDTHS = { desktop: 620, mobile: 375 };

/**
 * The message exactly as it would be sent to one recipient (GET /api/v1/campaigns/{id}/preview):
 * the template checks, subject and headers, the HTML at desktop and mobile widths, and the text
 * part. Read when the panel is first opened (not with every campaign update), and again for
 * the recipient typed in. The HTML goes into frames with an empty sandbox: no scripts, no
 * forms, an origin of its own, so nothing in a template or a recipient's data runs here.
 * @param {string} id
 */
function previewPanel(id) {
  var asInput = /** @type {HTMLInputElement} */ (
    el('input', { type: 'email', name: 'as', placeholder: 'the first recipient of the audience', class: 'as-input', 'data-testid': 'preview-as' })
  );
  var content = el('div', { 'data-testid': 'preview-content' });
  var error = el('p', { class: 'error', role: 'alert', 'data-testid': 'preview-error' });
  var read = false;
  var asked = 0;
  function load() {
    var as = asInput.value.trim();
    var mine = ++asked;
    read = true;
    content.classList.add('stale');
    api('GET', '/api/v1/campaigns/' + id + '/preview' + (as ? '?as=' + encodeURIComponent(as) : ''))
      .then(
        /** @param {MessagePreview} p */ (p) => {
          if (mine !== asked) return;
          error.textContent = '';
          content.classList.remove('stale');
          put(content, messagePreview(p));
        },
      )
      .catch(
        /** @param {ApiError} err */ (err) => {
          if (mine !== asked) return;
          content.classList.remove('stale');
          error.textContent = err.message;
        },
      );
  }
  var details = el('details', { class: 'panel preview', 'data-testid': 'preview' }, [
    el('summary', {}, [el('h2', { text: 'Preview' })]),
    el(
      'form',
      {
        class: 'preview-as',
        onsubmit: /** @param {Event} e */ (e) => {
          e.preventDefault();
          load();
        },
      },
      [
        el('label', { class: 'field' }, [el('span', { text: 'Render as (an address; empty: the first recipient)' }), asInput]),
        el('button', { type: 'submit', text: 'Render' }),
      ],
    ),
    error,
    content,
  ]);
  details.addEventListener('toggle', () => {
    if (/** @type {HTMLDetailsElement} */ (details).open && !read) load();
  });
  return details;
}

/** @param {MessagePreview} p @returns {Child[]} */
function messagePreview(p) {
  var who = { audience: 'the first recipient of the audience', given: 'as asked', sample: 'sample data: the audience is empty' }[p.recipient.source];
  var warnings = p.checks.filter((c) => c.severity === 'warning').length;
  /** @param {'desktop' | 'mobile'} kind */
  var frame = (kind) =>
    el('figure', { class: 'frame ' + kind }, [
      el('figcaption', { class: 'frame-caption', text: (kind === 'desktop' ? 'Desktop' : 'Mobile') + ', ' + PREVIEW_WIDTHS[kind] + ' px' }),
      el('iframe', {
        sandbox: '',
        srcdoc: p.html,
        width: String(PREVIEW_WIDTHS[kind]),
        title: 'The HTML part at ' + kind + ' width',
        'data-testid': 'preview-' + kind,
      }),
    ]);
  return [
    el('p', { 'data-testid': 'preview-recipient' }, ['Rendered for ', el('b', { text: p.recipient.email }), ' (' + who + ')']),
    p.notes.length
      ? el(
          'ul',
          { class: 'warnings', 'data-testid': 'preview-notes' },
          p.notes.map((n) => el('li', { text: n })),
        )
      : null,
    el('h3', { text: p.checks.length === 0 ? 'Checks: nothing to report' : 'Checks: ' + warnings + (warnings === 1 ? ' warning' : ' warnings') }),
    p.checks.length
      ? el(
          'ul',
          { class: 'checks', 'data-testid': 'preview-checks' },
          p.checks.map((c) => el('li', { class: c.severity, 'data-code': c.code }, [el('b', { text: c.severity }), ' ' + c.message])),
        )
      : null,
    el('dl', { class: 'headers', 'data-testid': 'preview-headers' }, [
      el('dt', { text: 'Subject' }),
      el('dd', { 'data-testid': 'preview-subject', text: p.subject }),
      ...Object.keys(p.headers).flatMap((name) => [el('dt', { text: name }), el('dd', { text: p.headers[name] })]),
    ]),
    el('div', { class: 'frames' }, [frame('desktop'), frame('mobile')]),
    el('h3', { text: 'Text part' }),
    el('pre', { class: 'text-part', 'data-testid': 'preview-text', text: p.text }),
  ];
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

/**
 * Runs jobs one at a time, each only once its element scrolls into view: the segment sizes of
 * the Lists & segments page, each a count over the recipients. Leaving the view stops it.
 * @returns {(node: Element, job: () => Promise<unknown>) => void} adds a job for `node`
 */
function lazyQueue() {
  /** @type {Array<() => Promise<unknown>>} */
  var queue = [];
  /** @type {Map<Element, () => Promise<unknown>>} */
  var waiting = new Map();
  var busy = false;
  var stopped = false;
  function pump() {
    if (busy || stopped) return;
    var job = queue.shift();
    if (!job) return;
    busy = true;
    job()
      .catch(() => {})
      .then(() => {
        busy = false;
        pump();
      });
  }
  /** @param {Element} node */
  function due(node) {
    var job = waiting.get(node);
    if (!job) return;
    waiting.delete(node);
    queue.push(job);
    pump();
  }
  var observer =
    typeof IntersectionObserver === 'function'
      ? new IntersectionObserver((entries) => {
          entries.forEach((e) => {
            if (!e.isIntersecting) return;
            /** @type {IntersectionObserver} */ (observer).unobserve(e.target);
            due(e.target);
          });
        })
      : null;
  state.stops.push(() => {
    stopped = true;
    if (observer) observer.disconnect();
  });
  return (node, job) => {
    waiting.set(node, job);
    if (observer) observer.observe(node);
    else due(node);
  };
}

/**
 * Debounced requests of which only the newest input counts (the segment editor's and the
 * composer's audience size): one request at a time; an input changed while one is in flight
 * is asked for when it answers; an answer to an older input is not shown.
 * @param {() => boolean} stopped true once the view is gone
 * @param {() => void} onChange runs at each change (e.g. marks the shown answer stale)
 * @param {(isCurrent: () => boolean) => Promise<unknown> | null} request starts one request
 *   (null: nothing to ask); its handlers show an answer only while isCurrent()
 * @returns {() => void} call at each change
 */
function newestOnly(stopped, onChange, request) {
  var version = 0;
  var inFlight = false;
  /** @type {number | null} */
  var timer = null;
  function ask() {
    timer = null;
    if (inFlight || stopped()) return;
    var asked = version;
    var pending = request(() => asked === version && !stopped());
    if (!pending) return;
    inFlight = true;
    pending.then(() => {
      inFlight = false;
      if (asked !== version && !timer && !stopped()) ask();
    });
  }
  return () => {
    version++;
    onChange();
    if (timer) clearTimeout(timer);
    timer = setTimeout(ask, PREVIEW_DEBOUNCE_MS);
  };
}
/** @param {Preview} p @returns {string} e.g. "1,204 recipients (3 suppressed left out)" */
function previewCount(p) {
  return num(p.count) + (p.count === 1 ? ' recipient' : ' recipients') + (p.suppressed > 0 ? ' (' + num(p.suppressed) + ' suppressed left out)' : '');
}

/** Every list with its size; every saved segment with its expression and its audience now. */
function listsAndSegmentsView() {
  document.title = 'Lists & segments · Herald';
  var listsBox = el('div', {}, [el('p', { class: 'muted', text: 'Loading…' })]);
  var segmentsBox = el('div', {}, [el('p', { class: 'muted', text: 'Loading…' })]);
  view.replaceChildren(
    el('h1', { text: 'Lists & segments' }),
    el('div', { class: 'actions' }, [el('a', { class: 'button primary', href: '#/audience/new', 'data-testid': 'new-segment', text: 'New segment' })]),
    el('h2', { text: 'Lists' }),
    listsBox,
    el('h2', { text: 'Segments' }),
    el('p', {
      class: 'muted',
      text: 'A segment’s audience here is every recipient it matches, on any list, suppressed addresses left out; a campaign narrows it to its lists.',
    }),
    segmentsBox,
  );
  var later = lazyQueue();
  api('GET', '/api/v1/lists').then(
    /** @param {{ items: ListRow[] }} data */ (data) => {
      put(listsBox, [
        data.items.length === 0
          ? el('p', { class: 'muted', text: 'No lists yet (herald lists create NAME, then import a CSV).' })
          : el('table', { 'data-testid': 'lists' }, [
              el('thead', {}, [el('tr', {}, [el('th', { text: 'List' }), el('th', { class: 'num', text: 'Members' })])]),
              el(
                'tbody',
                {},
                data.items.map((l) => el('tr', { 'data-list': l.name }, [el('td', { text: l.name }), el('td', { class: 'num', text: num(l.members) })])),
              ),
            ]),
      ]);
    },
    /** @param {ApiError} err */ (err) => put(listsBox, [el('p', { class: 'error', text: err.message })]),
  );
  api('GET', '/api/v1/segments').then(
    /** @param {{ items: SegmentRow[] }} data */ (data) => {
      if (data.items.length === 0) {
        put(segmentsBox, [el('p', { class: 'muted', text: 'No saved segments yet.' })]);
        return;
      }
      var rows = data.items.map((sg) => {
        var size = el('td', { class: 'num', 'data-testid': 'segment-size', text: '…' });
        var warn = el('td', { class: 'small waiting', 'data-testid': 'segment-warnings' });
        later(size, () =>
          api('POST', '/api/v1/audience/preview', { segment: sg.name }).then(
            /** @param {Preview} p */ (p) => {
              size.textContent = num(p.count);
              size.title = previewCount(p);
              warn.textContent = p.warnings.join('; ');
            },
            /** @param {ApiError} err */ (err) => {
              size.textContent = '–';
              warn.className = 'small error';
              warn.textContent = err.message;
            },
          ),
        );
        return el('tr', { 'data-segment': sg.name }, [
          el('td', {}, [el('a', { href: '#/segments/' + encodeURIComponent(sg.name), text: sg.name })]),
          el('td', {}, [el('code', { class: 'expr', text: sg.expression })]),
          size,
          warn,
        ]);
      });
      put(segmentsBox, [
        el('table', { 'data-testid': 'segments' }, [
          el('thead', {}, [
            el('tr', {}, [
              el('th', { text: 'Segment' }),
              el('th', { text: 'Expression' }),
              el('th', { class: 'num', text: 'Audience now', title: 'Recipients it matches now, suppressed addresses left out' }),
              el('th', { text: '' }),
            ]),
          ]),
          el('tbody', {}, rows),
        ]),
      ]);
    },
    /** @param {ApiError} err */ (err) => put(segmentsBox, [el('p', { class: 'error', text: err.message })]),
  );
}

// The editor asks for a count this long after the last keystroke.
var PREVIEW_DEBOUNCE_MS = 300;
// A line longer than this shows only this much either side of a syntax error.
var ERROR_CONTEXT = 50;

/**
 * A syntax error at its place: the line of the text that holds it with the spot marked and a
 * caret under it, then the parser's message (which says what was expected there).
 * @param {string} text the text that was checked
 * @param {FieldProblem} f
 * @param {HTMLInputElement | HTMLTextAreaElement} [input] where the text is edited: a click on the spot puts its cursor there
 */
function syntaxErrorView(text, f, input) {
  var pos = Math.max(0, Math.min(text.length, f.position || 0));
  var goTo = input
    ? () => {
        input.focus();
        input.setSelectionRange(pos, pos);
      }
    : undefined;
  var lineStart = text.lastIndexOf('\n', pos - 1) + 1;
  var lineEnd = text.indexOf('\n', pos);
  if (lineEnd < 0) lineEnd = text.length;
  // Tabs as one space each, so the caret line below lines up.
  var line = text.slice(lineStart, lineEnd).replace(/\t/g, ' ');
  var col = pos - lineStart;
  var from = Math.max(0, col - ERROR_CONTEXT);
  var to = Math.min(line.length, col + 1 + ERROR_CONTEXT);
  var before = (from > 0 ? '…' : '') + line.slice(from, col);
  var after = line.slice(col + 1, to) + (to < line.length ? '…' : '');
  return el('div', { class: 'syntax-error', 'data-testid': 'syntax-error', 'data-position': String(pos), role: 'alert' }, [
    el('pre', { class: 'syntax', title: goTo ? 'Click to put the cursor there' : '', onclick: goTo || (() => {}) }, [
      el('span', { class: 'gutter', text: (f.line || 1) + ' │ ' }),
      before,
      // At the end of the text there is no character to mark: a space stands for "here".
      el('mark', { 'data-testid': 'error-spot', text: line.slice(col, col + 1) || ' ' }),
      after,
      '\n',
      el('span', { class: 'gutter', text: ' '.repeat(String(f.line || 1).length) + ' │ ' }),
      el('span', { class: 'caret', 'data-testid': 'error-caret', text: ' '.repeat(before.length) + '^' }),
    ]),
    el('p', { class: 'error', 'data-testid': 'syntax-message', text: f.message }),
  ]);
}

/** @param {Record<string, unknown>} attributes @returns {string} e.g. "plan=pro, score=72" */
function attributesText(attributes) {
  return shorten(
    Object.keys(attributes)
      .map((k) => k + '=' + (typeof attributes[k] === 'string' ? attributes[k] : JSON.stringify(attributes[k])))
      .join(', '),
    200,
  );
}

/**
 * The segment editor: lists to send to and to leave out, the expression, and as you type the
 * audience's size, ten of its recipients, warnings, or the syntax error at its place; then save
 * it as a segment, or create a campaign for this audience. Started from a saved segment
 * (`name`), it shows that segment and the campaigns that use it; a change is saved under a new
 * name (a saved segment is not edited in place: campaigns name it).
 * @param {string | null} name
 */
function segmentView(name) {
  document.title = (name ? 'Segment ' + name : 'New segment') + ' · Herald';
  var info = el('div');
  var picker = el('div', { class: 'picker', 'data-testid': 'list-picker' }, [el('p', { class: 'muted', text: 'Loading lists…' })]);
  var pickerError = el('p', { class: 'error field-error', 'data-testid': 'lists-error' });
  var expr = /** @type {HTMLTextAreaElement} */ (
    el('textarea', {
      id: 'segment-expression',
      class: 'expr',
      rows: '3',
      spellcheck: 'false',
      autocomplete: 'off',
      placeholder: 'plan = "pro" and score >= 50 and clicked within 90 days and not bounced',
      'aria-label': 'Segment expression',
    })
  );
  var exprError = el('div', { 'data-testid': 'expression-error' });
  var countLine = el('p', { class: 'count', 'data-testid': 'preview-count', 'aria-live': 'polite' });
  var warnings = el('ul', { class: 'warnings', 'data-testid': 'preview-warnings' });
  var samples = el('div', { 'data-testid': 'preview-samples' });
  var previewError = el('p', { class: 'error', role: 'alert' });

  var segName = /** @type {HTMLInputElement} */ (el('input', { id: 'segment-name', class: 'wide', placeholder: 'active-pro', autocomplete: 'off' }));
  var segNameError = el('p', { class: 'error field-error', 'data-testid': 'segment-name-error' });
  var saved = el('p', { 'data-testid': 'segment-saved' });

  /** @type {Record<string, HTMLInputElement>} */
  var campaignInputs = {};
  /** @type {Record<string, HTMLElement>} */
  var campaignErrors = {};
  var campaignMessage = el('p', { class: 'error', role: 'alert', 'data-testid': 'campaign-error' });
  /** @param {string} field @param {string} label @param {string} placeholder */
  var campaignField = (field, label, placeholder) => {
    var input = /** @type {HTMLInputElement} */ (el('input', { id: 'campaign-' + field, class: 'wide', placeholder: placeholder, autocomplete: 'off' }));
    campaignInputs[field] = input;
    campaignErrors[field] = el('span', { class: 'error field-error', 'data-field-error': field });
    return el('label', { class: 'field' }, [el('span', { text: label }), input, campaignErrors[field]]);
  };

  /** @type {Map<string, HTMLSelectElement>} each list's role: '' (not used), 'include' or 'exclude' */
  var roles = new Map();
  /** The saved segment the text is, while it is unchanged (a campaign then names it). */
  var savedAs = name ? { name: name, expression: '' } : null;

  var stopped = false;
  // A request timer still pending when the view goes finds it stopped (newestOnly).
  state.stops.push(() => {
    stopped = true;
  });

  /** @returns {AudienceInput} */
  function audienceInput() {
    /** @type {AudienceInput} */
    var input = {};
    /** @param {string} role */
    var marked = (role) => Array.from(roles.keys()).filter((k) => roles.get(k)?.value === role);
    var include = marked('include');
    var exclude = marked('exclude');
    if (include.length) input.lists = include;
    if (exclude.length) input.excludeLists = exclude;
    if (expr.value.trim()) input.where = expr.value;
    return input;
  }

  /**
   * Shows the wrong fields of an answer next to their fields; what none of them holds goes to
   * `fallback`. A syntax error in the text is shown at its place.
   * @param {ApiError} err
   * @param {Record<string, HTMLElement>} boxes
   * @param {HTMLElement} fallback
   * @param {string} text the text the request held
   */
  function showFields(err, boxes, fallback, text) {
    var rest = /** @type {string[]} */ ([]);
    (err.fields || []).forEach((f) => {
      if ((f.field === 'where' || f.field === 'segment') && typeof f.position === 'number') {
        exprError.replaceChildren(syntaxErrorView(text, f, expr));
      } else if (f.field === 'where' || f.field === 'segment') exprError.replaceChildren(el('p', { class: 'error', text: f.message }));
      else if (f.field === 'lists' || f.field === 'excludeLists') pickerError.textContent = f.message;
      else if (boxes[f.field]) boxes[f.field].textContent = f.message;
      else rest.push(f.field + ': ' + f.message);
    });
    fallback.textContent = !err.fields || err.fields.length === 0 ? err.message : rest.join('; ');
  }

  // As you type: the newest input only (newestOnly).
  var changed = newestOnly(
    () => stopped,
    () => countLine.classList.add('stale'),
    (isCurrent) => {
      var text = expr.value;
      return api('POST', '/api/v1/audience/preview', audienceInput()).then(
        /** @param {Preview} p */ (p) => {
          if (!isCurrent()) return;
          exprError.replaceChildren();
          pickerError.textContent = '';
          previewError.textContent = '';
          countLine.textContent = previewCount(p);
          countLine.classList.remove('stale');
          put(
            warnings,
            p.warnings.map((w) => el('li', { text: w })),
          );
          put(samples, [
            p.samples.length === 0
              ? el('p', { class: 'muted', text: 'Nobody matches.' })
              : el('table', {}, [
                  el('thead', {}, [el('tr', {}, [el('th', { text: 'Email' }), el('th', { text: 'Name' }), el('th', { text: 'Attributes' })])]),
                  el(
                    'tbody',
                    {},
                    p.samples.map((r) =>
                      el('tr', { 'data-recipient': String(r.id) }, [
                        el('td', { text: r.email }),
                        el('td', { text: r.name || '' }),
                        el('td', { class: 'small', text: attributesText(r.attributes) }),
                      ]),
                    ),
                  ),
                ]),
            p.samples.length > 0 && p.count > p.samples.length
              ? el('p', { class: 'muted small', text: 'The first ' + p.samples.length + ' of ' + num(p.count) + '.' })
              : null,
          ]);
        },
        /** @param {ApiError} err */ (err) => {
          if (!isCurrent()) return;
          exprError.replaceChildren();
          pickerError.textContent = '';
          countLine.textContent = err.status === 400 ? 'No count: fix the expression or the lists.' : 'No count.';
          countLine.classList.remove('stale');
          warnings.replaceChildren();
          samples.replaceChildren();
          showFields(err, {}, previewError, text);
        },
      );
    },
  );
  expr.addEventListener('input', () => {
    if (savedAs && expr.value !== savedAs.expression) savedAs = null;
    changed();
  });

  var saveForm = el(
    'form',
    {
      id: 'save-segment',
      class: 'panel',
      onsubmit: /** @param {Event} e */ (e) => {
        e.preventDefault();
        segNameError.textContent = '';
        saved.textContent = '';
        saved.className = '';
        var text = expr.value;
        api('POST', '/api/v1/segments', { name: segName.value.trim(), where: text })
          .then(
            /** @param {{ name: string, expression: string }} sg */ (sg) => {
              savedAs = { name: sg.name, expression: sg.expression };
              saved.replaceChildren('Saved as ', el('a', { href: '#/segments/' + encodeURIComponent(sg.name), text: sg.name }), '. ');
              saved.appendChild(el('a', { href: '#/audience', text: 'See it with the others' }));
            },
          )
          .catch(
            /** @param {ApiError} err */ (err) => {
              // The one name that can clash is the segment's.
              if (err.status === 409) segNameError.textContent = err.message;
              else showFields(err, { name: segNameError }, saved, text);
              if (saved.textContent) saved.className = 'error';
            },
          );
      },
    },
    [
      el('h2', { text: 'Save as a segment' }),
      el('label', { class: 'field' }, [el('span', { text: 'Name' }), segName, segNameError]),
      el('button', { type: 'submit', class: 'primary', text: 'Save segment' }),
      saved,
    ],
  );

  var campaignForm = el(
    'form',
    {
      id: 'create-campaign',
      class: 'panel',
      onsubmit: /** @param {Event} e */ (e) => {
        e.preventDefault();
        Object.keys(campaignErrors).forEach((k) => {
          campaignErrors[k].textContent = '';
        });
        pickerError.textContent = '';
        campaignMessage.textContent = '';
        var text = expr.value;
        var input = audienceInput();
        // The saved segment, while the text is still it: the campaign names the segment.
        if (savedAs && input.where === savedAs.expression) {
          delete input.where;
          input.segment = savedAs.name;
        }
        /** @type {Record<string, unknown>} */
        var body = Object.assign({}, input);
        Object.keys(campaignInputs).forEach((k) => {
          if (campaignInputs[k].value.trim()) body[k] = campaignInputs[k].value.trim();
        });
        api('POST', '/api/v1/campaigns', body)
          .then((c) => {
            location.hash = '#/campaigns/' + c.id;
          })
          .catch(/** @param {ApiError} err */ (err) => showFields(err, campaignErrors, campaignMessage, text));
      },
    },
    [
      el('h2', { text: 'New campaign for this audience' }),
      el('p', { class: 'muted small', text: 'A draft, to start from its page. Its audience is fixed when it starts.' }),
      campaignField('name', 'Name', 'Spring sale, pro customers'),
      campaignField('template', 'Template', 'spring-sale'),
      campaignField('subject', 'Subject', 'Hi {{ name }}'),
      campaignField('from', 'From', 'News <news@example.com>'),
      el('button', { type: 'submit', class: 'primary', text: 'Create campaign' }),
      campaignMessage,
    ],
  );

  view.replaceChildren(
    el('p', {}, [el('a', { href: '#/audience', text: '← Lists & segments' })]),
    el('h1', { text: name ? 'Segment ' + name : 'New segment' }),
    info,
    el('section', { class: 'panel editor' }, [
      el('h2', { text: 'Lists' }),
      el('p', {
        class: 'muted small',
        text: 'Send to the members of any list marked “send to”, less those of lists marked “leave out”. None marked: every recipient.',
      }),
      picker,
      pickerError,
      el('h2', { text: 'Who among them' }),
      el('label', {
        for: 'segment-expression',
        class: 'muted small',
        text: 'Attributes (plan = "pro", score >= 50, city in ("Berlin", "Paris")), engagement (clicked within 90 days, not bounced), and/or/not. Empty: everyone.',
      }),
      expr,
      exprError,
      el('h2', { text: 'Audience now' }),
      countLine,
      warnings,
      previewError,
      samples,
    ]),
    el('div', { class: 'forms' }, [saveForm, campaignForm]),
  );

  api('GET', '/api/v1/lists')
    .then(
      /** @param {{ items: ListRow[] }} data */ (data) => {
        if (stopped) return;
        put(
          picker,
          data.items.length === 0
            ? [el('p', { class: 'muted', text: 'No lists yet.' })]
            : data.items.map((l) => {
                var select = /** @type {HTMLSelectElement} */ (
                  el('select', { 'data-list': l.name, 'aria-label': 'List ' + l.name, onchange: changed }, [
                    el('option', { value: '', text: '—' }),
                    el('option', { value: 'include', text: 'send to' }),
                    el('option', { value: 'exclude', text: 'leave out' }),
                  ])
                );
                roles.set(l.name, select);
                return el('label', { class: 'pick' }, [select, el('span', { text: l.name }), el('span', { class: 'muted small', text: num(l.members) })]);
              }),
        );
      },
    )
    .catch(/** @param {ApiError} err */ (err) => put(picker, [el('p', { class: 'error', text: err.message })]));

  if (!name) {
    changed();
    return;
  }
  api('GET', '/api/v1/segments/' + encodeURIComponent(name))
    .then(
      /** @param {SegmentDetails} d */ (d) => {
        if (stopped) return;
        if (savedAs) savedAs.expression = d.expression;
        expr.value = d.expression;
        changed();
        var message = el('p', { class: 'error', role: 'alert' });
        put(info, [
          el('p', { class: 'muted', text: 'Saved ' + when(d.createdAt) + '. A saved segment is not changed in place: save a change under a new name.' }),
          d.campaigns.length
            ? el('div', { 'data-testid': 'segment-campaigns' }, [
                el('span', { class: 'muted', text: 'Used by ' }),
                ...d.campaigns.map((c, i) =>
                  el('span', {}, [i > 0 ? ', ' : null, el('a', { href: '#/campaigns/' + c.id, text: '#' + c.id + ' ' + c.name }), ' ', badge(c.status)]),
                ),
              ])
            : el('p', { class: 'muted', text: 'No campaign uses it.' }),
          el('div', { class: 'actions' }, [
            el('button', {
              class: 'danger',
              'data-action': 'delete-segment',
              text: 'Delete segment',
              onclick: () => {
                if (!confirm('Delete the segment ' + d.name + '? Campaigns that started keep the audience they were fixed with.')) return;
                api('DELETE', '/api/v1/segments/' + encodeURIComponent(d.name))
                  .then(() => {
                    location.hash = '#/audience';
                  })
                  .catch(
                    /** @param {ApiError} err */ (err) => {
                      message.textContent = err.message;
                    },
                  );
              },
            }),
          ]),
          message,
        ]);
      },
    )
    .catch(/** @param {ApiError} err */ (err) => put(info, [el('p', { class: 'error', text: err.message })]));
}

/**
 * A campaign's settings as GET /api/v1/campaigns/{id} answers them: what the composer edits.
 * @typedef {{ id: number, name: string, status: string, template: string, subject: string, from: string, replyTo: string | null,
 *   tags: string[], ratePerSecond: number | null, audience: Audience }} CampaignSettings
 */
/** @typedef {{ name: string, parts: string[] }} TemplateRow */

/**
 * The campaign composer (#/campaigns/new, and #/campaigns/{id}/edit for a draft): name, audience
 * (lists to send to and to leave out, a saved segment or a where text, with its size as you
 * choose), template, subject, sender, reply-to, tags and rate. "Save draft" creates the draft
 * (POST /api/v1/campaigns) or edits it (PATCH); every field the API refuses is named next to
 * it. Once saved: a link to the campaign page (its preview), a test send, start now, schedule.
 * @param {string | null} id the draft to edit, or null for a new campaign
 */
function composeView(id) {
  document.title = (id ? 'Edit campaign' : 'New campaign') + ' · Herald';
  /** @type {string | null} the saved draft, once there is one */
  var draftId = id;
  var dirty = false;
  var stopped = false;
  // A request timer still pending when the view goes finds it stopped (newestOnly).
  state.stops.push(() => {
    stopped = true;
  });

  /** @type {Record<string, HTMLElement>} each field's error, by API field */
  var errorBoxes = {};
  /** @type {Record<string, HTMLElement>} each field's control, by API field */
  var controls = {};
  /** @param {string} field */
  function errorBox(field) {
    var box = el('span', { id: 'compose-' + field + '-error', class: 'error field-error', 'data-field-error': field });
    errorBoxes[field] = box;
    return box;
  }
  /**
   * A labelled control with its hint and its error below it.
   * @param {string} key the API field @param {string} label @param {HTMLElement} control @param {string} [hint]
   */
  function field(key, label, control, hint) {
    controls[key] = control;
    control.setAttribute('aria-describedby', 'compose-' + key + '-error' + (hint ? ' compose-' + key + '-hint' : ''));
    return el('label', { class: 'field', for: control.id }, [
      el('span', { text: label }),
      control,
      hint ? el('span', { id: 'compose-' + key + '-hint', class: 'muted small hint', text: hint }) : null,
      errorBox(key),
    ]);
  }
  /** @param {string} key the API field @param {Record<string, string>} [attrs] */
  function textInput(key, attrs) {
    return /** @type {HTMLInputElement} */ (el('input', Object.assign({ id: 'compose-' + key, name: key, class: 'wide', autocomplete: 'off' }, attrs || {})));
  }

  var heading = el('h1', { text: id ? 'Edit draft #' + id : 'New campaign' });
  var name = textInput('name', { placeholder: 'Spring sale, pro customers' });
  var template = /** @type {HTMLSelectElement} */ (
    el('select', { id: 'compose-template', name: 'template', class: 'wide' }, [el('option', { value: '', text: 'Loading templates…' })])
  );
  var subject = textInput('subject', { placeholder: 'Hi {{ name }}, spring is here' });
  var from = textInput('from', { placeholder: 'News <news@example.com>' });
  var replyTo = textInput('replyTo', { placeholder: 'Support <help@example.com>' });
  var tags = textInput('tags', { placeholder: 'spring, sale' });
  var rate = textInput('ratePerSecond', { type: 'number', min: '1', step: '1', inputmode: 'numeric', placeholder: 'no limit of its own' });

  var includeBox = el('div', { class: 'picker', 'data-testid': 'compose-include' }, [el('p', { class: 'muted', text: 'Loading lists…' })]);
  var excludeBox = el('div', { class: 'picker', 'data-testid': 'compose-exclude' });
  /** @type {Map<string, { include: HTMLInputElement, exclude: HTMLInputElement }>} */
  var listBoxes = new Map();
  /** @param {string} value @param {string} label */
  var filterRadio = (value, label) => {
    var radio = /** @type {HTMLInputElement} */ (el('input', { type: 'radio', name: 'compose-filter', value: value, id: 'compose-filter-' + value }));
    return { radio: radio, label: el('label', { class: 'pick', for: radio.id }, [radio, el('span', { text: label })]) };
  };
  var filterAll = filterRadio('all', 'Everyone on the lists');
  var filterSegment = filterRadio('segment', 'A saved segment');
  var filterWhere = filterRadio('where', 'Only those who match');
  filterAll.radio.checked = true;
  var segment = /** @type {HTMLSelectElement} */ (
    el('select', { id: 'compose-segment', name: 'segment', class: 'wide' }, [el('option', { value: '', text: '—' })])
  );
  var where = /** @type {HTMLTextAreaElement} */ (
    el('textarea', {
      id: 'compose-where',
      name: 'where',
      class: 'expr',
      rows: '2',
      spellcheck: 'false',
      autocomplete: 'off',
      placeholder: 'plan = "pro" and clicked within 90 days',
    })
  );
  var count = el('p', { class: 'count', 'data-testid': 'compose-count', 'aria-live': 'polite' });
  var warnings = el('ul', { class: 'warnings', 'data-testid': 'compose-warnings' });

  var summary = el('p', { class: 'error', role: 'alert', 'data-testid': 'compose-error' });
  var savedLine = el('p', { role: 'status', 'data-testid': 'compose-saved' });
  var saveButton = /** @type {HTMLButtonElement} */ (el('button', { type: 'submit', class: 'primary', text: id ? 'Save changes' : 'Save draft' }));

  // Next steps, for the saved draft.
  var previewLink = el('a', { class: 'button', 'data-testid': 'preview-link', text: 'Preview' });
  var testTo = textInput('to', { type: 'email', placeholder: 'you@example.com' });
  testTo.id = 'compose-test-to';
  var testButton = /** @type {HTMLButtonElement} */ (el('button', { type: 'submit', text: 'Send test' }));
  var testResult = el('p', { role: 'status', 'data-testid': 'test-result' });
  var testError = el('span', { id: 'compose-test-to-error', class: 'error field-error', 'data-field-error': 'to' });
  testTo.setAttribute('aria-describedby', testError.id);
  var startButton = /** @type {HTMLButtonElement} */ (el('button', { type: 'button', class: 'primary', 'data-action': 'start', text: 'Start now' }));
  var scheduleAt = /** @type {HTMLInputElement} */ (el('input', { type: 'datetime-local', id: 'compose-schedule-at', name: 'at' }));
  var scheduleButton = /** @type {HTMLButtonElement} */ (el('button', { type: 'submit', text: 'Schedule' }));
  var scheduleError = el('span', { id: 'compose-schedule-at-error', class: 'error field-error', 'data-field-error': 'at' });
  scheduleAt.setAttribute('aria-describedby', scheduleError.id);
  var nextMessage = el('p', { class: 'error', role: 'alert', 'data-testid': 'compose-next-error' });
  var unsaved = el('p', { class: 'waiting', 'data-testid': 'compose-unsaved' });

  var next = el('section', { id: 'compose-next', class: 'panel', hidden: 'hidden', 'aria-labelledby': 'compose-next-title' }, [
    el('h2', { id: 'compose-next-title', text: 'Look, test, send' }),
    unsaved,
    el('p', {}, [previewLink, ' ', el('span', { class: 'muted small', text: 'the message as recipients will see it, on the campaign page' })]),
    el(
      'form',
      {
        id: 'compose-test',
        onsubmit: /** @param {Event} e */ (e) => {
          e.preventDefault();
          testError.textContent = '';
          testResult.textContent = 'Sending…';
          testResult.className = 'muted';
          testButton.disabled = true;
          api('POST', '/api/v1/campaigns/' + draftId + '/test-send', { to: testTo.value.trim() })
            .then(
              /** @param {{ to: string, renderedAs: string, providerId: string }} r */ (r) => {
                testResult.className = '';
                testResult.textContent = 'Accepted by the provider for ' + r.to + ' (rendered as ' + r.renderedAs + '): ' + r.providerId;
              },
            )
            .catch(
              /** @param {ApiError} err */ (err) => {
                var toField = (err.fields || []).find((f) => f.field === 'to');
                testResult.className = 'error';
                if (toField) {
                  testError.textContent = toField.message;
                  testResult.textContent = '';
                } else testResult.textContent = err.message;
              },
            )
            .then(() => {
              testButton.disabled = dirty;
            });
        },
      },
      [el('label', { class: 'field', for: testTo.id }, [el('span', { text: 'Send a test to' }), testTo, testError]), testButton, testResult],
    ),
    el('div', { class: 'actions' }, [startButton]),
    el(
      'form',
      {
        id: 'compose-schedule',
        onsubmit: /** @param {Event} e */ (e) => {
          e.preventDefault();
          scheduleError.textContent = '';
          nextMessage.textContent = '';
          var at = scheduleAt.value ? new Date(scheduleAt.value) : null;
          api('POST', '/api/v1/campaigns/' + draftId + '/schedule', at && !Number.isNaN(at.getTime()) ? { at: at.toISOString() } : {})
            .then(() => {
              location.hash = '#/campaigns/' + draftId;
            })
            .catch(
              /** @param {ApiError} err */ (err) => {
                var atField = (err.fields || []).find((f) => f.field === 'at');
                if (atField) scheduleError.textContent = atField.message === 'required' ? 'choose a date and time' : atField.message;
                else nextMessage.textContent = err.message;
              },
            );
        },
      },
      [
        el('label', { class: 'field', for: scheduleAt.id }, [el('span', { text: 'Or start it at (your local time)' }), scheduleAt, scheduleError]),
        scheduleButton,
      ],
    ),
    nextMessage,
  ]);
  startButton.addEventListener('click', () => {
    nextMessage.textContent = '';
    startButton.disabled = true;
    api('POST', '/api/v1/campaigns/' + draftId + '/start')
      .then(() => {
        location.hash = '#/campaigns/' + draftId;
      })
      .catch(
        /** @param {ApiError} err */ (err) => {
          nextMessage.textContent = err.message;
          startButton.disabled = dirty;
        },
      );
  });

  function showNext() {
    if (!draftId) return;
    next.hidden = false;
    previewLink.setAttribute('href', '#/campaigns/' + draftId);
    unsaved.textContent = dirty ? 'Changed since it was saved: save the draft first; the test and the start use the saved draft.' : '';
    testButton.disabled = startButton.disabled = scheduleButton.disabled = dirty;
  }

  /** @returns {AudienceInput} */
  function audienceInput() {
    /** @type {AudienceInput} */
    var input = {};
    /** @param {'include' | 'exclude'} role */
    var marked = (role) => Array.from(listBoxes.keys()).filter((k) => listBoxes.get(k)?.[role].checked);
    var include = marked('include');
    var exclude = marked('exclude');
    if (include.length) input.lists = include;
    if (exclude.length) input.excludeLists = exclude;
    if (filterSegment.radio.checked && segment.value) input.segment = segment.value;
    if (filterWhere.radio.checked && where.value.trim()) input.where = where.value;
    return input;
  }

  // The audience's size as you choose: the newest choice only (newestOnly).
  var audienceChanged = newestOnly(
    () => stopped,
    () => count.classList.add('stale'),
    (isCurrent) => {
      var input = audienceInput();
      var text = where.value;
      if (!input.lists) {
        count.textContent = 'Choose at least one list to send to.';
        count.classList.remove('stale');
        warnings.replaceChildren();
        return null;
      }
      return api('POST', '/api/v1/audience/preview', input).then(
        /** @param {Preview} p */ (p) => {
          if (!isCurrent()) return;
          ['lists', 'excludeLists', 'segment', 'where'].forEach((f) => {
            errorBoxes[f].replaceChildren();
          });
          count.textContent = previewCount(p);
          count.classList.remove('stale');
          put(
            warnings,
            p.warnings.map((w) => el('li', { text: w })),
          );
        },
        /** @param {ApiError} err */ (err) => {
          if (!isCurrent()) return;
          count.textContent = err.status === 400 ? 'No count: fix the audience.' : 'No count.';
          count.classList.remove('stale');
          warnings.replaceChildren();
          showErrors(err, text, true);
        },
      );
    },
  );

  /**
   * Shows each refused field next to it (a where text's syntax error at its place); the rest,
   * or the error itself when it names no field, above the button.
   * @param {ApiError} err @param {string} whereText the text the request held @param {boolean} audienceOnly
   */
  function showErrors(err, whereText, audienceOnly) {
    /** @type {string[]} */
    var rest = [];
    (err.fields || []).forEach((f) => {
      // `tags.1` is the second tag; `list` is the single-list form of `lists`.
      var key = f.field.split('.')[0];
      if (key === 'list') key = 'lists';
      var box = errorBoxes[key];
      if (!box) rest.push(f.field + ': ' + f.message);
      else if (key === 'where' && typeof f.position === 'number') box.replaceChildren(syntaxErrorView(whereText, f, where));
      else box.textContent = (box.textContent ? box.textContent + '; ' : '') + f.message;
      if (box && controls[key]) controls[key].setAttribute('aria-invalid', 'true');
    });
    if (audienceOnly) return;
    var named = (err.fields || []).length - rest.length;
    summary.textContent =
      rest.length > 0
        ? rest.join('; ')
        : named > 0
          ? 'Not saved: ' + named + (named === 1 ? ' field needs' : ' fields need') + ' a change (shown next to each).'
          : err.message;
  }

  function clearErrors() {
    Object.keys(errorBoxes).forEach((k) => {
      errorBoxes[k].replaceChildren();
    });
    Object.keys(controls).forEach((k) => {
      controls[k].removeAttribute('aria-invalid');
    });
    summary.textContent = '';
  }

  /** @returns {Record<string, unknown>} the draft as the API takes it; an edit clears what was emptied */
  function body() {
    var editing = draftId !== null;
    /** @type {Record<string, unknown>} */
    var b = Object.assign({}, audienceInput());
    if (editing) {
      if (!b.lists) b.lists = [];
      if (!b.excludeLists) b.excludeLists = [];
      // No segment and no text: the filter is cleared.
      if (b.segment === undefined && b.where === undefined) b.where = null;
    }
    /** @param {string} key @param {string} value */
    var text = (key, value) => {
      var v = value.trim();
      if (v) b[key] = v;
      else if (editing && (key === 'replyTo' || key === 'ratePerSecond')) b[key] = null;
    };
    text('name', name.value);
    if (template.value) b.template = template.value;
    text('subject', subject.value);
    text('from', from.value);
    text('replyTo', replyTo.value);
    var tagList = tags.value
      .split(',')
      .map((t) => t.trim())
      .filter(Boolean);
    if (tagList.length || editing) b.tags = tagList;
    if (rate.value.trim()) b.ratePerSecond = Number(rate.value);
    else if (editing) b.ratePerSecond = null;
    return b;
  }

  var form = el(
    'form',
    {
      id: 'compose',
      class: 'panel compose',
      novalidate: 'novalidate',
      oninput: () => {
        if (!draftId || dirty) return;
        dirty = true;
        savedLine.textContent = '';
        showNext();
      },
      onsubmit: /** @param {Event} e */ (e) => {
        e.preventDefault();
        clearErrors();
        savedLine.textContent = '';
        var text = where.value;
        saveButton.disabled = true;
        var saving = draftId ? api('PATCH', '/api/v1/campaigns/' + draftId, body()) : api('POST', '/api/v1/campaigns', body());
        saving
          .then(
            /** @param {CampaignSettings} c */ (c) => {
              if (stopped) return;
              draftId = String(c.id);
              dirty = false;
              // The address of the draft, without drawing the page again (no hashchange).
              history.replaceState(null, '', '#/campaigns/' + c.id + '/edit');
              document.title = 'Edit campaign · Herald';
              heading.textContent = 'Edit draft #' + c.id;
              saveButton.textContent = 'Save changes';
              savedLine.replaceChildren(
                'Saved: draft ',
                el('a', { href: '#/campaigns/' + c.id, text: '#' + c.id + ' ' + c.name }),
                ', ' + new Date().toLocaleTimeString() + '. It sends nothing until started.',
              );
              showNext();
            },
          )
          .catch(/** @param {ApiError} err */ (err) => showErrors(err, text, false))
          .then(() => {
            saveButton.disabled = false;
          });
      },
    },
    [
      el('h2', { text: 'Campaign' }),
      field('name', 'Name', name),
      el('fieldset', { class: 'audience-choice' }, [
        el('legend', { text: 'Audience' }),
        el('fieldset', { 'aria-describedby': 'compose-lists-error' }, [el('legend', { text: 'Send to the members of' }), includeBox, errorBox('lists')]),
        el('fieldset', { 'aria-describedby': 'compose-excludeLists-error' }, [
          el('legend', { text: 'Leave out the members of' }),
          excludeBox,
          errorBox('excludeLists'),
        ]),
        el('fieldset', {}, [
          el('legend', { text: 'Who among them' }),
          filterAll.label,
          filterSegment.label,
          field('segment', 'Saved segment', segment),
          filterWhere.label,
          field('where', 'Expression (docs/segments.md)', where),
        ]),
        el('p', { class: 'muted small', text: 'Audience now, after exclusions and suppressions (fixed when it starts):' }),
        count,
        warnings,
      ]),
      el('h2', { text: 'Message' }),
      field('template', 'Template', template, 'a folder of the templates directory'),
      field('subject', 'Subject', subject, 'Nunjucks: {{ name }} and the recipient’s attributes'),
      field('from', 'From', from),
      field('replyTo', 'Reply-to (optional)', replyTo),
      field('tags', 'Tags (optional)', tags, 'comma-separated, at most 3; Mailgun reports by them'),
      field('ratePerSecond', 'Rate (optional)', rate, 'messages per second at most; empty: as fast as the worker’s limits allow'),
      el('div', { class: 'actions' }, [saveButton]),
      summary,
      savedLine,
    ],
  );
  segment.addEventListener('change', () => {
    if (segment.value) filterSegment.radio.checked = true;
    audienceChanged();
  });
  where.addEventListener('input', () => {
    filterWhere.radio.checked = true;
    audienceChanged();
  });
  [filterAll, filterSegment, filterWhere].forEach((f) => {
    f.radio.addEventListener('change', audienceChanged);
  });

  view.replaceChildren(el('p', {}, [el('a', { href: '#/', text: '← Campaigns' })]), heading, form, next);

  /** @param {CampaignSettings} c */
  function fill(c) {
    name.value = c.name;
    if (!Array.from(template.options).some((o) => o.value === c.template)) template.appendChild(el('option', { value: c.template, text: c.template }));
    template.value = c.template;
    subject.value = c.subject;
    from.value = c.from;
    replyTo.value = c.replyTo || '';
    tags.value = c.tags.join(', ');
    rate.value = c.ratePerSecond === null ? '' : String(c.ratePerSecond);
    listBoxes.forEach((boxes, list) => {
      boxes.include.checked = c.audience.lists.indexOf(list) >= 0;
      boxes.exclude.checked = c.audience.excludeLists.indexOf(list) >= 0;
    });
    if (c.audience.segment !== null) {
      if (!Array.from(segment.options).some((o) => o.value === c.audience.segment))
        segment.appendChild(el('option', { value: c.audience.segment, text: c.audience.segment }));
      segment.value = c.audience.segment;
      filterSegment.radio.checked = true;
    } else if (c.audience.where !== null) {
      where.value = c.audience.where;
      filterWhere.radio.checked = true;
    }
  }

  Promise.all([
    api('GET', '/api/v1/lists'),
    api('GET', '/api/v1/segments'),
    api('GET', '/api/v1/templates'),
    id ? api('GET', '/api/v1/campaigns/' + id) : Promise.resolve(null),
  ])
    .then(
      /** @param {[{ items: ListRow[] }, { items: SegmentRow[] }, { items: TemplateRow[] }, CampaignSettings | null]} answers */ (answers) => {
        if (stopped) return;
        var lists = answers[0].items;
        /** @param {ListRow} l @param {'include' | 'exclude'} role */
        var box = (l, role) =>
          /** @type {HTMLInputElement} */ (el('input', { type: 'checkbox', 'data-list': l.name, 'data-role': role, onchange: audienceChanged }));
        put(includeBox, lists.length === 0 ? [el('p', { class: 'muted', text: 'No lists yet: create one and import recipients first.' })] : []);
        lists.forEach((l) => {
          var boxes = { include: box(l, 'include'), exclude: box(l, 'exclude') };
          listBoxes.set(l.name, boxes);
          includeBox.appendChild(
            el('label', { class: 'pick' }, [boxes.include, el('span', { text: l.name }), el('span', { class: 'muted small', text: num(l.members) })]),
          );
          excludeBox.appendChild(
            el('label', { class: 'pick' }, [boxes.exclude, el('span', { text: l.name }), el('span', { class: 'muted small', text: num(l.members) })]),
          );
        });
        answers[1].items.forEach((sg) => {
          segment.appendChild(el('option', { value: sg.name, text: sg.name + ': ' + shorten(sg.expression, 60) }));
        });
        put(template, [
          el('option', { value: '', text: answers[2].items.length ? '— choose a template —' : 'No templates found' }),
          ...answers[2].items.map((t) => el('option', { value: t.name, text: t.name + ' (' + t.parts.join(', ') + ')' })),
        ]);
        var c = answers[3];
        if (c && c.status !== 'draft') {
          view.replaceChildren(
            el('p', {}, [el('a', { href: '#/', text: '← Campaigns' })]),
            el('h1', { text: c.name }),
            el('p', { 'data-testid': 'compose-not-draft' }, [
              'This campaign is ' + c.status + ': only a draft can be edited. ',
              el('a', { href: '#/campaigns/' + c.id, text: 'Its page' }),
            ]),
          );
          return;
        }
        if (c) {
          fill(c);
          showNext();
        }
        audienceChanged();
      },
    )
    .catch(/** @param {ApiError} err */ (err) => put(summary, [err.message]));
}

/** @param {string} part of a URL @returns {string} it decoded, or as it is when it is no valid encoding */
function decoded(part) {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}

function route() {
  stopWatching();
  if (document.body.dataset.tokenRequired === 'true' && !state.token) return showLogin();
  login.hidden = true;
  byId('logout').hidden = !state.token;
  if (location.hash === '#/campaigns/new') return composeView(null);
  var edit = /^#\/campaigns\/(\d+)\/edit$/.exec(location.hash);
  if (edit) return composeView(edit[1]);
  var m = /^#\/campaigns\/(\d+)$/.exec(location.hash);
  if (m) return campaignView(m[1]);
  if (location.hash === '#/lookup') return lookupView();
  if (location.hash === '#/audience') return listsAndSegmentsView();
  // Not under #/segments/: a segment may be called "new".
  if (location.hash === '#/audience/new') return segmentView(null);
  var sg = /^#\/segments\/(.+)$/.exec(location.hash);
  if (sg) return segmentView(decoded(sg[1]));
  campaignsView();
}
window.addEventListener('hashchange', route);
route();
