/**
 * The send benchmark under the name the docs use: `npm run bench:send -- --recipients N`.
 * Same as `npm run bench` (scripts/bench/run.ts).
 */
import './bench/run.js';
