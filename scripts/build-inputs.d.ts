// Types of build-inputs.js (plain JavaScript: bin/txmon.js imports it without a TypeScript loader).

/** Top-level folders of the shipped program. */
export declare const SOURCE_ROOTS: readonly string[];
/** The console's sources: bundled into dist/console/ (console/build.js), part of the fingerprint. */
export declare const CONSOLE_ROOT: string;
/** Whether a shipped file is copied as is (not compiled). */
export declare function isAsset(rel: string): boolean;
/** Every file the build reads, relative to the package root, sorted. */
export declare function buildInputs(root: string): string[];
/** SHA-256 over the build inputs' paths and contents. */
export declare function sourceFingerprint(root: string): string;
