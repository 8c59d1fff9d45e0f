// Node's process warnings, less one that a dependency raises and that changes nothing.
//
// kafkajs 2.2.4 (its latest release) schedules a request-queue check with a negative delay
// (tulios/kafkajs#1751). Every Node line runs such a timer after 1 ms; Node 20 does so silently,
// Node 22 and 24 also print a TimeoutNegativeWarning, once per process that talks to Kafka. The
// behaviour is the same on every line, so that warning (and only when raised inside kafkajs) is not
// printed; every other warning reaches Node's own handler as before.

/** Whether `warning` is kafkajs's negative-timeout warning. */
export function isKafkajsNegativeTimeout(warning) {
  return warning?.name === 'TimeoutNegativeWarning' && /[\\/]kafkajs[\\/]src[\\/]/.test(warning.stack ?? '');
}

const QUIETED = Symbol.for('txmon.quietKnownWarnings');

/**
 * Routes the process's warnings through the filter above (Node's handlers stay, in order). Once per
 * process: a second call (a test worker that runs many files) changes nothing.
 */
export function quietKnownWarnings(proc = process) {
  if (proc[QUIETED]) return;
  proc[QUIETED] = true;
  const handlers = proc.listeners('warning');
  proc.removeAllListeners('warning');
  proc.on('warning', (warning) => {
    if (isKafkajsNegativeTimeout(warning)) return;
    for (const h of handlers) h.call(proc, warning);
  });
}
