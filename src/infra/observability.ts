import * as cdk from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as xray from 'aws-cdk-lib/aws-xray';
import { Construct } from 'constructs';

/** CloudWatch Logs' longest delivery source and destination names. */
const DELIVERY_NAME_MAX = 60;

export interface VendedDeliveryProps {
  /** The resource whose logs or traces AWS delivers (a gateway's or a runtime's ARN). */
  readonly sourceArn: string;
  /** `APPLICATION_LOGS` to a log group, or `TRACES` to X-Ray. */
  readonly logType: 'APPLICATION_LOGS' | 'TRACES';
  /** Where `APPLICATION_LOGS` go: under /aws/vendedlogs/, written with no resource policy of its own. */
  readonly logGroup?: logs.ILogGroup;
}

/**
 * Vended logs or traces of an AgentCore resource (CloudWatch Logs delivery: a source, a
 * destination, the delivery between them), for what the L2s lack: aws-cdk-lib 2.276's Gateway
 * has no logging or tracing settings. Traces go to X-Ray under the stack's
 * {@link TraceDeliveryPolicy}, which lets the delivery service write them for this source.
 */
export class VendedDelivery extends Construct {
  readonly source: logs.CfnDeliverySource;
  readonly destination: logs.CfnDeliveryDestination;
  readonly delivery: logs.CfnDelivery;

  constructor(scope: Construct, id: string, props: VendedDeliveryProps) {
    super(scope, id);
    // Unique in the account: named after the construct's path, as CDK names resources.
    const name = (c: () => Construct): string =>
      cdk.Lazy.string({ produce: () => cdk.Names.uniqueResourceName(c(), { maxLength: DELIVERY_NAME_MAX }) });
    const traces = props.logType === 'TRACES';
    if (!traces && props.logGroup === undefined)
      throw new Error(`${this.node.path}: APPLICATION_LOGS need a log group to go to`);
    this.source = new logs.CfnDeliverySource(this, 'Source', {
      name: name(() => this.source),
      logType: props.logType,
      resourceArn: props.sourceArn,
    });
    this.destination = new logs.CfnDeliveryDestination(this, 'Destination', {
      name: name(() => this.destination),
      ...(traces
        ? { deliveryDestinationType: 'XRAY' }
        : { destinationResourceArn: props.logGroup?.logGroupArn ?? '' }),
    });
    this.delivery = new logs.CfnDelivery(this, 'Delivery', {
      deliverySourceName: this.source.ref,
      deliveryDestinationArn: this.destination.attrArn,
    });
    if (traces) {
      const policy = TraceDeliveryPolicy.of(this);
      policy.allow(props.sourceArn);
      // The destination takes traces only once the delivery service may write them.
      this.destination.node.addDependency(policy.resource);
    }
  }
}

/**
 * The stack's one X-Ray resource policy for vended traces: the CloudWatch Logs delivery service
 * may put trace segments for the stack's own delivery sources only (by source ARN and account).
 * One per stack, not one per resource: an account holds few X-Ray resource policies.
 */
export class TraceDeliveryPolicy extends Construct {
  readonly resource: xray.CfnResourcePolicy;
  private readonly sources: string[] = [];

  static of(scope: Construct): TraceDeliveryPolicy {
    const stack = cdk.Stack.of(scope);
    const found = stack.node.tryFindChild('TraceDeliveryPolicy');
    return found instanceof TraceDeliveryPolicy
      ? found
      : new TraceDeliveryPolicy(stack, 'TraceDeliveryPolicy');
  }

  private constructor(scope: Construct, id: string) {
    super(scope, id);
    const stack = cdk.Stack.of(this);
    const document = cdk.Lazy.string({
      produce: () =>
        stack.toJsonString(
          new iam.PolicyDocument({
            statements: [
              new iam.PolicyStatement({
                sid: 'VendedTraces',
                principals: [new iam.ServicePrincipal('delivery.logs.amazonaws.com')],
                actions: ['xray:PutTraceSegments'],
                resources: ['*'],
                conditions: {
                  'ForAllValues:ArnLike': { 'logs:LogGeneratingResourceArns': [...this.sources] },
                  StringEquals: { 'aws:SourceAccount': stack.account },
                  ArnLike: {
                    'aws:SourceArn': stack.formatArn({
                      service: 'logs',
                      resource: 'delivery-source',
                      resourceName: '*',
                      arnFormat: cdk.ArnFormat.COLON_RESOURCE_NAME,
                    }),
                  },
                },
              }),
            ],
          }).toJSON(),
        ),
    });
    this.resource = new xray.CfnResourcePolicy(this, 'Resource', {
      policyName: cdk.Lazy.string({
        produce: () => `${stack.stackName}-vended-traces`.slice(0, 128),
      }),
      policyDocument: document,
    });
  }

  /** Lets the delivery service put the traces of `sourceArn`. */
  allow(sourceArn: string): void {
    this.sources.push(sourceArn);
  }
}
