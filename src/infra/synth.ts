import path from 'node:path';
import * as cdk from 'aws-cdk-lib';
import * as cxapi from 'aws-cdk-lib/cx-api';
import { applyNagChecks, nagViolations, type NagViolation } from './nag.js';
import { McpFleetStack } from './stack.js';
import type { FleetStackProps } from './types.js';
import { FLEET_ERROR, FleetError } from '../contract/errors.js';

/** Unacknowledged cdk-nag errors: the stack would fail its own checks. */
export class NagCheckError extends FleetError {
  constructor(readonly violations: readonly NagViolation[]) {
    super(
      FLEET_ERROR.nagFailed,
      `cdk-nag AwsSolutions errors:\n  ${violations.map((v) => `${v.rule} at ${v.resources.join(', ')}: ${v.description}`).join('\n  ')}`,
    );
    this.name = 'NagCheckError';
  }
}

export interface SynthFleetOptions extends FleetStackProps {
  /** The cloud assembly directory (cdk.out). */
  readonly outdir: string;
  /**
   * Construct id of the stack.
   * @default fleet.stack
   */
  readonly stackId?: string;
  /**
   * Run cdk-nag's AwsSolutions checks; errors throw a {@link NagCheckError} before synthesis.
   * @default true
   */
  readonly nag?: boolean;
  /**
   * Check the template against the CloudFormation resource schemas CDK ships (its built-in
   * validation plugin; findings go to the validation report as warnings).
   * @default true
   */
  readonly cloudFormationValidation?: boolean;
  /**
   * Extra CDK context.
   * @default - none
   */
  readonly context?: Record<string, unknown>;
}

export interface SynthResult {
  readonly app: cdk.App;
  readonly stack: McpFleetStack;
  readonly assembly: cxapi.CloudAssembly;
  /** The assembly directory (deploy from here). */
  readonly assemblyDir: string;
  readonly templateFile: string;
  /** The synthesized CloudFormation template. */
  readonly template: Record<string, unknown>;
  /** cdk-nag warnings left (errors throw). */
  readonly nagWarnings: readonly NagViolation[];
  /** CDK's validation report (cdk-nag and CloudFormation schema checks), when one was written. */
  readonly validationReportFile: string;
}

/**
 * Defines the fleet's stack in a fresh app, checks it with cdk-nag and synthesizes it into
 * `outdir`. Nothing is printed: CDK's validation report goes to `validationReportFile`, and
 * unacknowledged cdk-nag errors throw a {@link NagCheckError} listing them all.
 */
export function synthFleet(options: SynthFleetOptions): SynthResult {
  const { outdir, stackId, nag = true, cloudFormationValidation = true, context, ...props } = options;
  const app = new cdk.App({
    outdir,
    builtinCloudFormationValidation: cloudFormationValidation,
    context: {
      // Report validation findings to us (the report file, NagCheckError) rather than to stderr.
      [cxapi.FAIL_SYNTH_ON_VALIDATION_ERRORS_CONTEXT]: false,
      ...context,
    },
  });
  const stack = new McpFleetStack(app, stackId ?? props.fleet.stack, props);
  let nagWarnings: NagViolation[] = [];
  if (nag) {
    applyNagChecks(stack);
    const violations = nagViolations(stack);
    const errors = violations.filter((v) => v.severity === 'error');
    if (errors.length > 0) throw new NagCheckError(errors);
    nagWarnings = violations;
  }
  const assembly = app.synth();
  const artifact = assembly.getStackArtifact(stack.artifactId);
  return {
    app,
    stack,
    assembly,
    assemblyDir: assembly.directory,
    templateFile: artifact.templateFullPath,
    template: artifact.template as Record<string, unknown>,
    nagWarnings,
    validationReportFile: path.join(assembly.directory, cxapi.VALIDATION_REPORT_FILE),
  };
}
