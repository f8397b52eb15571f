import semver from 'semver';
import validateNpmName from 'validate-npm-package-name';

/** Where a server comes from, pinned to one version. */
export type PackageSpec =
  | { kind: 'npm'; name: string; version: string; spec: string }
  | { kind: 'pypi'; name: string; extras: string[]; version: string; spec: string }
  | { kind: 'go'; module: string; version: string; spec: string }
  | { kind: 'image'; repository: string; tag?: string; digest?: string; spec: string };

export type PackageKind = PackageSpec['kind'];
export const PACKAGE_KINDS = ['npm', 'pypi', 'go', 'image'] as const satisfies readonly PackageKind[];

/** The result of parsing one spec: the spec, or a message saying what is wrong and what is allowed. */
export type ParseResult<T> = { ok: true; value: T } | { ok: false; message: string };

const fail = (message: string): { ok: false; message: string } => ({ ok: false, message });

const NPM_SPEC = /^((?:@[^/@\s]+\/)?[^/@\s]+)(?:@(.*))?$/;

export function parseNpmSpec(spec: string): ParseResult<Extract<PackageSpec, { kind: 'npm' }>> {
  const m = NPM_SPEC.exec(spec.trim());
  if (!m) return fail(`"${spec}" is not an npm package spec; use name@version, e.g. @scope/name@1.2.3`);
  const name = m[1] ?? '';
  const version = m[2];
  const check = validateNpmName(name);
  if (!check.validForOldPackages) {
    const why = [...check.errors, ...(check.warnings ?? [])].join('; ');
    return fail(
      `"${name}" is not a valid npm package name (${why}); use name@version, e.g. @scope/name@1.2.3`,
    );
  }
  if (version === undefined || version === '') {
    return fail(`"${spec}" has no version; pin an exact one, e.g. ${name}@1.2.3`);
  }
  if (semver.valid(version) === null) {
    const what =
      semver.validRange(version) !== null
        ? 'a range'
        : /^[a-z][a-z0-9._-]*$/i.test(version)
          ? 'a dist-tag'
          : 'not a version';
    return fail(`"${version}" is ${what}, not a pinned version; pin an exact one, e.g. ${name}@1.2.3`);
  }
  return { ok: true, value: { kind: 'npm', name, version, spec: `${name}@${version}` } };
}

const PYPI_SPEC =
  /^([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)(?:\[([A-Za-z0-9._,\s-]+)\])?\s*(?:(===?|~=|!=|<=|>=|<|>|@)\s*(.*))?$/;
/** PEP 440 public versions, with an optional local part. */
const PEP440 = /^v?(\d+!)?\d+(\.\d+)*((a|b|rc)\d+)?(\.post\d+)?(\.dev\d+)?(\+[a-z0-9]+(\.[a-z0-9]+)*)?$/i;

export function parsePypiSpec(spec: string): ParseResult<Extract<PackageSpec, { kind: 'pypi' }>> {
  const m = PYPI_SPEC.exec(spec.trim());
  if (!m)
    return fail(`"${spec}" is not a PyPI requirement; use name==version, e.g. awslabs.eks-mcp-server==0.2.5`);
  const name = m[1] ?? '';
  const extras = (m[2] ?? '')
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '');
  const op = m[3];
  const version = (m[4] ?? '').trim();
  if (op === undefined) return fail(`"${spec}" has no version; pin an exact one, e.g. ${name}==1.2.3`);
  if (op !== '==' && op !== '===') {
    return fail(`"${op}${version}" is not a pinned version; pin an exact one with ==, e.g. ${name}==1.2.3`);
  }
  if (!PEP440.test(version)) {
    return fail(`"${version}" is not a PEP 440 version; pin an exact one with ==, e.g. ${name}==1.2.3`);
  }
  const extrasPart = extras.length > 0 ? `[${extras.join(',')}]` : '';
  return {
    ok: true,
    value: { kind: 'pypi', name, extras, version, spec: `${name}${extrasPart}==${version}` },
  };
}

const GO_ELEMENT = /^[A-Za-z0-9._~-]+$/;
const GO_VERSION = /^v\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+incompatible)?$/;

export function parseGoSpec(spec: string): ParseResult<Extract<PackageSpec, { kind: 'go' }>> {
  const at = spec.lastIndexOf('@');
  const module = (at === -1 ? spec : spec.slice(0, at)).trim();
  const version = at === -1 ? '' : spec.slice(at + 1).trim();
  const elements = module.split('/');
  if (
    elements.length < 2 ||
    elements.some((e) => !GO_ELEMENT.test(e)) ||
    !(elements[0] ?? '').includes('.')
  ) {
    return fail(
      `"${module}" is not a Go package path; use host/path/to/cmd@vX.Y.Z, e.g. github.com/github/github-mcp-server/cmd/github-mcp-server@v1.0.0`,
    );
  }
  if (version === '') return fail(`"${spec}" has no version; pin a tagged one, e.g. ${module}@v1.2.3`);
  if (!GO_VERSION.test(version)) {
    return fail(
      `"${version}" is not a pinned Go module version; use a tag such as v1.2.3, not latest or a branch`,
    );
  }
  return { ok: true, value: { kind: 'go', module, version, spec: `${module}@${version}` } };
}

const IMAGE_REF =
  /^((?:[a-z0-9]+(?:[._-][a-z0-9]+)*(?::\d+)?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*)(?::([\w][\w.-]{0,127}))?(?:@(sha256:[a-f0-9]{64}))?$/;

export function parseImageSpec(spec: string): ParseResult<Extract<PackageSpec, { kind: 'image' }>> {
  const m = IMAGE_REF.exec(spec.trim());
  if (!m) {
    return fail(
      `"${spec}" is not an image reference; use registry/repository:tag or @sha256:digest, e.g. ghcr.io/github/github-mcp-server:v1.0.0`,
    );
  }
  const repository = m[1] ?? '';
  const tag = m[2];
  const digest = m[3];
  if (digest === undefined && (tag === undefined || tag === 'latest')) {
    return fail(`"${spec}" is not pinned; add a version tag (not latest) or an @sha256 digest`);
  }
  const value: Extract<PackageSpec, { kind: 'image' }> = { kind: 'image', repository, spec: spec.trim() };
  if (tag !== undefined) value.tag = tag;
  if (digest !== undefined) value.digest = digest;
  return { ok: true, value };
}

export const PACKAGE_PARSERS: {
  [K in PackageKind]: (spec: string) => ParseResult<Extract<PackageSpec, { kind: K }>>;
} = { npm: parseNpmSpec, pypi: parsePypiSpec, go: parseGoSpec, image: parseImageSpec };
