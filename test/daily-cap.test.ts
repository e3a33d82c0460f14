import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assertTimeZone, capForDay, capWindow, parseLocalDate, parseWarmupCaps, type CapRules } from '../src/domain/dailyCap.js';

describe('cap days', () => {
  it('start at the reset hour in the domain’s time zone', () => {
    // 05:59 in Berlin (CET, UTC+1) still belongs to the previous cap day.
    assert.deepEqual(capWindow(new Date('2026-01-15T04:59:00Z'), 6, 'Europe/Berlin'), { day: '2026-01-14', resetsAt: new Date('2026-01-15T05:00:00Z') });
    assert.deepEqual(capWindow(new Date('2026-01-15T05:00:00Z'), 6, 'Europe/Berlin'), { day: '2026-01-15', resetsAt: new Date('2026-01-16T05:00:00Z') });
  });

  it('follow daylight saving time', () => {
    // Berlin moves to CEST (UTC+2) on 29 March 2026: midnight resets come an hour earlier in UTC.
    assert.deepEqual(capWindow(new Date('2026-03-28T12:00:00Z'), 0, 'Europe/Berlin'), { day: '2026-03-28', resetsAt: new Date('2026-03-28T23:00:00Z') });
    assert.deepEqual(capWindow(new Date('2026-03-29T12:00:00Z'), 0, 'Europe/Berlin'), { day: '2026-03-29', resetsAt: new Date('2026-03-29T22:00:00Z') });
  });

  it('default to midnight UTC', () => {
    assert.deepEqual(capWindow(new Date('2026-07-01T23:59:59Z'), 0, 'UTC'), { day: '2026-07-01', resetsAt: new Date('2026-07-02T00:00:00Z') });
  });
});

describe('daily caps and warm-up ramps', () => {
  const ramp: CapRules = { dailyCap: 1000, resetHour: 0, timeZone: 'UTC', warmup: { start: '2026-05-01', caps: [100, 500, 5000] } };

  it('grow day by day from the ramp start, never above the daily cap', () => {
    assert.equal(capForDay(ramp, '2026-05-01'), 100);
    assert.equal(capForDay(ramp, '2026-05-02'), 500);
    assert.equal(capForDay(ramp, '2026-05-03'), 1000);
  });

  it('hold to the first step before the ramp starts and to the daily cap after it ends', () => {
    assert.equal(capForDay(ramp, '2026-04-20'), 100);
    assert.equal(capForDay(ramp, '2026-05-04'), 1000);
    assert.equal(capForDay({ ...ramp, dailyCap: null }, '2026-05-04'), null);
  });

  it('are unlimited without a cap or ramp', () => {
    assert.equal(capForDay({ dailyCap: null, resetHour: 0, timeZone: 'UTC', warmup: null }, '2026-05-04'), null);
  });
});

describe('domain setting input', () => {
  it('rejects what is not a date, a ramp or a time zone, naming the bad part', () => {
    assert.equal(parseLocalDate('2026-02-28'), '2026-02-28');
    assert.throws(() => parseLocalDate('2026-02-30'), /'2026-02-30' is not a calendar date/);
    assert.throws(() => parseLocalDate('1 May'), /not a calendar date/);
    assert.deepEqual(parseWarmupCaps('100, 200,400'), [100, 200, 400]);
    assert.throws(() => parseWarmupCaps('100,lots,400'), /cap #2 \('lots'\)/);
    assert.throws(() => assertTimeZone('Mars/Olympus'), /unknown time zone 'Mars\/Olympus'/);
    assert.doesNotThrow(() => assertTimeZone('America/New_York'));
  });
});
