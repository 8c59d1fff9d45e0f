// Types of bin/node-warnings.js (plain JavaScript: bin/ runs before any build or loader).
export function isKafkajsNegativeTimeout(warning: Error | undefined): boolean;
export function quietKnownWarnings(proc?: NodeJS.Process): void;
