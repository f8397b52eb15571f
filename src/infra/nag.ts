import * as cdk from 'aws-cdk-lib';
import { AwsSolutionsChecks, type NagPackProps } from 'cdk-nag';
import type { IConstruct } from 'constructs';

/**
 * One cdk-nag finding a construct knowingly leaves in place, with the reason. `id` is the full
 * rule id, with the finding when the rule reports findings: `AwsSolutions-IAM5[Resource::...]`.
 */
export interface NagAcknowledgment {
  readonly scope: IConstruct;
  readonly id: string;
  readonly reason: string;
}

/** A construct that knows which cdk-nag findings it causes on purpose, and why. */
export interface NagAware {
  nagAcknowledgments(): NagAcknowledgment[];
}

function isNagAware(c: IConstruct): c is IConstruct & NagAware {
  return typeof (c as Partial<NagAware>).nagAcknowledgments === 'function';
}

/** The pack name cdk-nag prefixes its rule ids with. */
export const NAG_PACK = 'AwsSolutions';

/**
 * A value (string, token, CloudFormation intrinsic) as cdk-nag spells it in a finding:
 * `${X}` → `<X>`, `Fn::GetAtt` → `<Logical.Attr>`, `Ref` → `<Logical>`, `Fn::Join` joined.
 * Mirrors cdk-nag's own flattening, so acknowledgments match findings exactly.
 */
export function nagFinding(scope: IConstruct, value: unknown): string {
  return flatten(cdk.Stack.of(scope).resolve(value));
}

function flatten(node: unknown): string {
  if (node === undefined) return '';
  if (typeof node === 'string') return node.replace(/\$\{/g, '<').replace(/\}/g, '>');
  if (typeof node === 'object' && node !== null) {
    const o = node as Record<string, unknown>;
    const join = o['Fn::Join'];
    if (Array.isArray(join)) {
      const [delimiter, items] = join as [string, unknown[]];
      return items.map(flatten).join(delimiter);
    }
    if (o['Fn::Sub'] !== undefined) return flatten(o['Fn::Sub']);
    const getAtt = o['Fn::GetAtt'];
    if (Array.isArray(getAtt)) return `<${flatten(getAtt[0])}.${flatten(getAtt[1])}>`;
    if (o['Fn::ImportValue'] !== undefined) return flatten(o['Fn::ImportValue']);
    if (o['Ref'] !== undefined) return `<${flatten(o['Ref'])}>`;
  }
  return JSON.stringify(node);
}

const applied = new WeakSet<cdk.Stack>();

/**
 * Registers cdk-nag's AwsSolutions checks on the stack's app (cdk-nag 3 is a CDK policy-validation
 * plugin: synthesis fails on an unacknowledged error) and records every acknowledgment the
 * stack's constructs declare, each on the narrowest construct and finding it concerns. Call it
 * after the stack is complete; calling it again does nothing.
 */
export function applyNagChecks(stack: cdk.Stack, props: NagPackProps = { verbose: true }): void {
  if (applied.has(stack)) return;
  applied.add(stack);
  const stage = cdk.Stage.of(stack);
  if (stage === undefined) throw new Error(`${stack.node.path}: a stack outside an app cannot be checked`);
  cdk.Validations.of(stage).addPlugins(new AwsSolutionsChecks(stage, props));
  for (const ack of nagAcknowledgments(stack)) {
    cdk.Validations.of(ack.scope).acknowledge({ id: ack.id, reason: ack.reason });
  }
}

/** Every acknowledgment the constructs under `scope` declare. */
export function nagAcknowledgments(scope: IConstruct): NagAcknowledgment[] {
  return scope.node.findAll().flatMap((c) => (isNagAware(c) ? c.nagAcknowledgments() : []));
}

/** A finding cdk-nag reports and nothing acknowledges. */
export interface NagViolation {
  /** e.g. `AwsSolutions-IAM5[Action::s3:*]` */
  rule: string;
  severity: 'error' | 'warning';
  description: string;
  /** Construct paths. */
  resources: string[];
}

/**
 * Runs the AwsSolutions checks over `scope` now (without synthesizing) and returns what is left
 * after the acknowledgments: what would fail (errors) or be reported (warnings) at synthesis.
 */
export function nagViolations(scope: IConstruct): NagViolation[] {
  const report = new AwsSolutionsChecks(undefined, { verbose: false }).validateScope(scope);
  return report.violations.map((v) => ({
    rule: v.ruleName,
    severity: v.severity === 'warning' ? 'warning' : 'error',
    description: v.description,
    resources: v.violatingResources.map((r) => r.constructPath ?? r.resourceLogicalId ?? '?'),
  }));
}
