// Prometheus's promtool checks the alert rules in deploy/prometheus/ (`promtool check rules`) and
// runs their unit tests (`promtool test rules`) in `npm test` (issue 23). This finds one, or takes
// it out of Debian's `prometheus` package without installing the package (no server is set up or
// started): `apt-get download` as any user, then `dpkg-deb -x`, the binary kept in
// .txmon/tools/promtool. `TXMON_PROMTOOL` names another binary; a `promtool` on PATH is used when it
// is 2.33 or later (the tests use `check config --syntax-only`).
//
// Exit codes: 0, a promtool is there (its path on stdout); 1, none and it could not be fetched (one
// stderr line says which command to run).
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const kept = resolve('.txmon/tools/promtool');

/** Whether `path` runs as a promtool of 2.33 or later (`check config --syntax-only` came in 2.33). */
function works(path) {
  const r = spawnSync(path, ['--version'], { encoding: 'utf8' });
  const m = /version (\d+)\.(\d+)/.exec(`${r.stdout}${r.stderr}`);
  return r.status === 0 && m !== null && (Number(m[1]) > 2 || (Number(m[1]) === 2 && Number(m[2]) >= 33));
}

if (process.env.TXMON_PROMTOOL) {
  if (works(process.env.TXMON_PROMTOOL)) {
    console.log(process.env.TXMON_PROMTOOL);
    process.exit(0);
  }
  console.error(`[txmon] TXMON_PROMTOOL=${process.env.TXMON_PROMTOOL}: not a working promtool of 2.33 or later`);
  process.exit(1);
}
const onPath = spawnSync('sh', ['-c', 'command -v promtool'], { encoding: 'utf8' }).stdout.trim();
for (const candidate of [onPath, kept]) {
  if (candidate !== '' && existsSync(candidate) && works(candidate)) {
    console.log(candidate);
    process.exit(0);
  }
}

console.error(
  "[txmon] fetching promtool from Debian's prometheus package for the alert rules' tests (once; apt-get download) ...",
);
const work = mkdtempSync(join(tmpdir(), 'txmon-promtool-'));
try {
  const download = () => execFileSync('apt-get', ['download', 'prometheus'], { cwd: work, stdio: ['ignore', 'ignore', 'pipe'] });
  try {
    download();
  } catch {
    // The package lists may be missing on a fresh machine: refreshing them needs root.
    const root = typeof process.getuid === 'function' && process.getuid() === 0;
    if (!root) throw new Error('apt-get download prometheus failed');
    execFileSync('apt-get', ['update'], { stdio: ['ignore', 'ignore', 'inherit'] });
    download();
  }
  const deb = readdirSync(work).find((f) => f.startsWith('prometheus_') && f.endsWith('.deb'));
  if (deb === undefined) throw new Error('apt-get download left no prometheus .deb');
  execFileSync('dpkg-deb', ['-x', join(work, deb), join(work, 'x')]);
  mkdirSync(resolve('.txmon/tools'), { recursive: true });
  copyFileSync(join(work, 'x/usr/bin/promtool'), kept);
  chmodSync(kept, 0o755);
  if (!works(kept)) throw new Error(`${kept} does not run`);
  console.log(kept);
} catch (err) {
  console.error(
    `[txmon] the alert rules' tests need promtool 2.33 or later (${err instanceof Error ? err.message : String(err)}): run \`sudo apt-get update\` and try again, or set TXMON_PROMTOOL to a promtool binary (from Prometheus's release archive)`,
  );
  process.exitCode = 1;
} finally {
  rmSync(work, { recursive: true, force: true });
}
