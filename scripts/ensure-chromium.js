// The console's browser tests (issue 20) drive Debian's Chromium through playwright-core, which
// downloads no browser. This installs the `chromium` package when it is missing, so that `npm test`
// works on a fresh machine with no other step: as root through apt-get, else through sudo when it
// needs no password. `TXMON_CHROMIUM` names another binary (then nothing is installed).
//
// Exit codes: 0, a Chromium is there (its path on stdout); 1, none and it could not be installed
// (one stderr line says which command to run).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const wanted = process.env.TXMON_CHROMIUM || '/usr/bin/chromium';
if (existsSync(wanted)) {
  console.log(wanted);
  process.exit(0);
}
if (process.env.TXMON_CHROMIUM) {
  console.error(`[txmon] TXMON_CHROMIUM=${wanted}: no such file`);
  process.exit(1);
}
const root = typeof process.getuid === 'function' && process.getuid() === 0;
const sudo = !root && spawnSync('sudo', ['-n', 'true'], { stdio: 'ignore' }).status === 0;
if (!root && !sudo) {
  console.error('[txmon] the browser tests need Chromium: run `sudo apt-get install -y chromium` (or set TXMON_CHROMIUM)');
  process.exit(1);
}
const run = (args) =>
  execFileSync(root ? args[0] : 'sudo', root ? args.slice(1) : ['-n', ...args], {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
console.error("[txmon] installing Debian's chromium for the console's browser tests (once; apt-get) ...");
try {
  run(['apt-get', 'install', '-y', '--no-install-recommends', 'chromium']);
} catch {
  // The package lists may be missing or old on a fresh machine: refresh them once and try again.
  run(['apt-get', 'update']);
  run(['apt-get', 'install', '-y', '--no-install-recommends', 'chromium']);
}
if (!existsSync(wanted)) {
  console.error(`[txmon] apt-get installed chromium but ${wanted} is missing`);
  process.exit(1);
}
console.log(wanted);
