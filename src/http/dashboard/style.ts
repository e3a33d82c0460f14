export const dashboardStyle = `
:root{--fg:#1d2330;--muted:#667085;--line:#e4e7ec;--bg:#f7f8fa;--accent:#3056d3;--ok:#12805c;--bad:#c4320a;--warn:#b54708}
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;color:var(--fg);background:var(--bg)}
header{display:flex;align-items:center;gap:1.5rem;padding:.75rem 1.5rem;background:#fff;border-bottom:1px solid var(--line)}
header nav{display:flex;gap:1rem;flex:1}
header a{color:var(--fg);text-decoration:none}
.brand{font-weight:700;font-size:1.1rem}
main{max-width:1100px;margin:1.5rem auto;padding:0 1.5rem}
h1{font-size:1.4rem;margin:.2rem 0 1rem}
h2{font-size:1.05rem;margin:1.5rem 0 .5rem}
table{width:100%;border-collapse:collapse;background:#fff;border:1px solid var(--line);border-radius:8px;overflow:hidden}
th,td{text-align:left;padding:.5rem .75rem;border-bottom:1px solid var(--line);font-variant-numeric:tabular-nums}
th{font-size:.8rem;text-transform:uppercase;letter-spacing:.03em;color:var(--muted);background:#fafbfc}
tr.link{cursor:pointer}tr.link:hover{background:#f2f5ff}
.badge{display:inline-block;padding:.1rem .5rem;border-radius:999px;font-size:.8rem;background:#eef2f6}
.badge.running{background:#e3f4ec;color:var(--ok)}.badge.paused{background:#fff4e5;color:var(--warn)}
.badge.cancelled{background:#fde8e4;color:var(--bad)}.badge.finished{background:#e8edfb;color:var(--accent)}
.bar{height:8px;background:#e9ecf1;border-radius:4px;overflow:hidden;min-width:120px}
.bar>span{display:block;height:100%;background:var(--accent);transition:width .4s}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(130px,1fr));gap:.75rem}
.card{background:#fff;border:1px solid var(--line);border-radius:8px;padding:.6rem .8rem}
.card b{display:block;font-size:1.3rem;font-variant-numeric:tabular-nums}
.card span{color:var(--muted);font-size:.8rem}
.actions{display:flex;gap:.5rem;margin:1rem 0}
button{font:inherit;padding:.45rem 1rem;border-radius:6px;border:1px solid var(--line);background:#fff;cursor:pointer}
button.primary{background:var(--accent);border-color:var(--accent);color:#fff}
button.danger{color:var(--bad)}
button:disabled{opacity:.45;cursor:default}
input{font:inherit;padding:.45rem .6rem;border:1px solid var(--line);border-radius:6px;min-width:280px}
.muted{color:var(--muted)}.error{color:var(--bad)}.waiting{color:var(--warn);margin:.25rem 0}
svg.chart{width:100%;height:160px;background:#fff;border:1px solid var(--line);border-radius:8px}
form#login{max-width:420px;background:#fff;border:1px solid var(--line);border-radius:8px;padding:1.25rem;margin:3rem auto}
form#login input{width:100%;margin:.5rem 0 1rem}
`;
