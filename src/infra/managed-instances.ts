/**
 * Lambda Managed Instances (`host: managed-instances`): the server's event function runs on EC2
 * instances of a capacity provider of its own, several invocations per environment, environments
 * kept running.
 */
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type { Construct } from 'constructs';
import { NAG_PACK, nagFinding, type NagAcknowledgment } from './nag.js';

/** Lambda Managed Instances: the smallest function is 2 GB and 1 vCPU. */
export const MANAGED_INSTANCES_MIN_MEMORY_MB = 2048;
/** The AWS managed policy the capacity provider's operator role gets from the L2. */
export const CAPACITY_PROVIDER_OPERATOR_POLICY = 'AWSLambdaManagedEC2ResourceOperator';

/** Where and how a managed-instances function runs. */
export interface ManagedInstancesProps {
  /** Subnets the instances run in, by id (no VPC lookup at synthesis). */
  readonly subnetIds: readonly string[];
  /** Security groups of the instances, by id. */
  readonly securityGroupIds: readonly string[];
  /**
   * The most vCPUs the capacity provider runs at once.
   * @default - the service's (400)
   */
  readonly maxVCpuCount?: number;
  /**
   * Invocations one execution environment takes at once (`PerExecutionEnvironmentMaxConcurrency`).
   * @default - the service's (for Node.js, 64 per vCPU)
   */
  readonly environmentConcurrency?: number;
  /**
   * Environments of `$LATEST.PUBLISHED` kept running.
   * @default - the service's (3)
   */
  readonly minEnvironments?: number;
  /**
   * The most environments of `$LATEST.PUBLISHED`.
   * @default - no limit beyond the capacity provider's vCPUs
   */
  readonly maxEnvironments?: number;
}

/**
 * A capacity provider for one function, made in `scope` as `CapacityProvider`: the capacity
 * provider is the security boundary of Lambda Managed Instances (functions on one provider may
 * share an instance, and containers do not isolate them), so each server gets its own, with the
 * function's architecture. The function is attached to it and published to `$LATEST.PUBLISHED`,
 * which an unqualified invoke (the gateway's) reaches.
 */
export function addCapacityProvider(
  scope: Construct,
  fn: lambda.Function,
  architecture: lambda.Architecture,
  props: ManagedInstancesProps,
): lambda.CapacityProvider {
  const provider = new lambda.CapacityProvider(scope, 'CapacityProvider', {
    subnets: props.subnetIds.map((id, i) => ec2.Subnet.fromSubnetId(scope, `Subnet${i}`, id)),
    securityGroups: props.securityGroupIds.map((id, i) =>
      ec2.SecurityGroup.fromSecurityGroupId(scope, `SecurityGroup${i}`, id),
    ),
    architectures: [architecture],
  });
  if (props.maxVCpuCount !== undefined) {
    // Set on the L1: the L2 (aws-cdk-lib 2.276) refuses fewer than 12 vCPUs, Lambda's API takes 2–15000.
    const cfn = provider.node.defaultChild as lambda.CfnCapacityProvider;
    cfn.capacityProviderScalingConfig = { maxVCpuCount: props.maxVCpuCount };
  }
  const { minEnvironments: min, maxEnvironments: max } = props;
  provider.addFunction(fn, {
    publishToLatestPublished: true,
    ...(props.environmentConcurrency === undefined
      ? {}
      : { perExecutionEnvironmentMaxConcurrency: props.environmentConcurrency }),
    ...(min === undefined && max === undefined
      ? {}
      : {
          latestPublishedScalingConfig: {
            ...(min === undefined ? {} : { minExecutionEnvironments: min }),
            ...(max === undefined ? {} : { maxExecutionEnvironments: max }),
          },
        }),
  });
  return provider;
}

/** The operator role's AWS managed policy (IAM4), which the L2 attaches and Lambda needs. */
export function capacityProviderNagAcknowledgments(
  provider: lambda.CapacityProvider,
  serverId: string,
): NagAcknowledgment[] {
  const role = provider.node.tryFindChild('OperatorRole');
  if (role === undefined) return [];
  const arn = iam.ManagedPolicy.fromAwsManagedPolicyName(CAPACITY_PROVIDER_OPERATOR_POLICY).managedPolicyArn;
  return [
    {
      scope: role,
      id: `${NAG_PACK}-IAM4[Policy::${nagFinding(provider, arn)}]`,
      reason: `the capacity provider of server ${serverId}: Lambda assumes this role to launch, scale and terminate the provider's EC2 instances, and ${CAPACITY_PROVIDER_OPERATOR_POLICY} is the policy AWS maintains for exactly that (the role is trusted by lambda.amazonaws.com and used by nothing else)`,
    },
  ];
}
