import fs from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../../config/paths.js';

/**
 * The dashboard's browser files, read from the package's source tree (tsc does not copy them
 * to dist/, and they need no build): one page, a script and a style sheet.
 */
export const dashboardDir = path.join(packageRoot, 'src', 'http', 'dashboard', 'public');

export interface DashboardAssets {
  script: string;
  style: string;
}

export function loadDashboardAssets(): DashboardAssets {
  return {
    script: fs.readFileSync(path.join(dashboardDir, 'app.js'), 'utf8'),
    style: fs.readFileSync(path.join(dashboardDir, 'style.css'), 'utf8'),
  };
}

/**
 * The dashboard: one page, no data in it. The script reads everything from the JSON API (the
 * event streams, or polling when they fail) with the bearer token the operator typed in, kept
 * for the browser tab only.
 */
export function dashboardPage(tokenRequired: boolean): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>Herald</title>
<link rel="stylesheet" href="/dashboard/style.css">
</head>
<body data-token-required="${tokenRequired}">
<header>
  <a href="#/" class="brand">Herald</a>
  <nav><a href="#/">Campaigns</a><a href="#/audience">Lists &amp; segments</a><a href="#/lookup">Person lookup</a></nav>
  <button id="logout" hidden>Forget token</button>
</header>
<main id="main">
  <form id="login" hidden>
    <h1>Sign in</h1>
    <p>Paste the API token (<code>HERALD_API_TOKEN</code>). It is kept in this tab only.</p>
    <input id="token" type="password" autocomplete="off" placeholder="API token" required>
    <button type="submit">Open dashboard</button>
    <p id="login-error" class="error" role="alert"></p>
  </form>
  <section id="view"></section>
</main>
<script src="/dashboard/app.js"></script>
</body>
</html>`;
}
