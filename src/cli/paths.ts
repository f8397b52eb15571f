import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The installed package's root (dist/cli/.. /..). */
export const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const SCHEMA_FILE = path.join(PACKAGE_ROOT, 'schema', 'servers.schema.json');

/** The `# yaml-language-server: $schema=...` line for a config file written at `file`. */
export function schemaComment(file: string): string {
  let rel = path
    .relative(path.dirname(path.resolve(file)), SCHEMA_FILE)
    .split(path.sep)
    .join('/');
  if (!rel.startsWith('.')) rel = `./${rel}`;
  // Far away (a global install): an absolute path reads better than a climb of ../../..
  const target = rel.startsWith('../../') ? SCHEMA_FILE : rel;
  return `yaml-language-server: $schema=${target}`;
}
