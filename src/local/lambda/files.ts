/**
 * The files the local Lambda service starts, in the installed package: this file is
 * src/local/lambda/files.ts under tsx, dist/local/lambda/files.js when built; the entries it
 * names are always the built ones (the very code a deployed function runs).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package root. */
export const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
/** The environment process: it loads the handler bundle and serves invocations over IPC. */
export const WORKER_FILE = path.join(PACKAGE_ROOT, 'dist', 'local', 'lambda', 'worker.js');
/** The guardian of frozen environments (guardian.ts). */
export const GUARDIAN_FILE = path.join(PACKAGE_ROOT, 'dist', 'local', 'lambda', 'guardian.js');
/** Node.js 22 from scripts/lambda-tools.ts, when installed (the sandbox's /var/lang). */
export const NODE_22 = path.join(PACKAGE_ROOT, '.mcp-fleet', 'tools', 'lambda', 'node', 'bin', 'node');
