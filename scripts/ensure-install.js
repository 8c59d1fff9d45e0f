// Installs dependencies when node_modules is missing or older than the lock file, so that
// `npm run demo` and `npm test` work on a fresh clone with no other step. Also when the devDependencies
// are missing (a production install, `npm ci --omit=dev`): tests, the demo and the bench run the
// TypeScript sources through tsx, which only a full install has.
import { execSync } from 'node:child_process';
import { existsSync, lstatSync, realpathSync, statSync } from 'node:fs';

const lock = 'package-lock.json';
const marker = 'node_modules/.package-lock.json';
const stale = !existsSync(marker) || (existsSync(lock) && statSync(lock).mtimeMs > statSync(marker).mtimeMs + 1000);
const productionOnly = !stale && !existsSync('node_modules/tsx/package.json');
// A linked node_modules (a git worktree sharing another checkout's install): `npm ci` here would
// empty the checkout it points to, so it is left alone; install there when it is out of date.
const linked = existsSync('node_modules') && lstatSync('node_modules').isSymbolicLink();
if ((stale || productionOnly) && linked) {
  console.error(
    `[txmon] node_modules is a link to ${realpathSync('node_modules')}: not reinstalling it from here (run npm ci there if it is out of date)`,
  );
} else if (stale || productionOnly) {
  console.error(`[txmon] installing dependencies (npm ci${productionOnly ? ': the devDependencies are missing' : ''}) ...`);
  execSync('npm ci --no-audit --no-fund', { stdio: 'inherit' });
}
