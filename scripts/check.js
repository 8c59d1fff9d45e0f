// `npm run check`: the type check, the lint and the format check, run side by side (they share no
// output and each is mostly one process on one core: ~40 s instead of ~60 s here, paid by every
// `npm test`). Each one's output is printed whole when it ends, with its time; the exit code is 1
// when any failed, and the last line names those that did.
import { Buffer } from 'node:buffer';
import { spawn } from 'node:child_process';

const CHECKS = ['typecheck', 'lint', 'format:check'];
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

function run(script) {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(npm, ['run', '--silent', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks = [];
    child.stdout.on('data', (c) => chunks.push(c));
    child.stderr.on('data', (c) => chunks.push(c));
    child.on('error', (err) => chunks.push(Buffer.from(`${err.message}\n`)));
    child.on('close', (code, signal) => {
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      const output = Buffer.concat(chunks).toString().trimEnd();
      const ok = code === 0;
      console.log(`[check] ${script}: ${ok ? 'passed' : `FAILED (${signal ?? `exit code ${code}`})`} in ${seconds} s`);
      if (output !== '' && !ok) console.log(output);
      resolve({ script, ok });
    });
  });
}

const results = await Promise.all(CHECKS.map(run));
const failed = results.filter((r) => !r.ok).map((r) => r.script);
if (failed.length > 0) {
  console.log(`[check] failed: ${failed.join(', ')} (run \`npm run ${failed[0]}\` alone to see it again)`);
  process.exit(1);
}
