import * as cdk from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import type { FleetConfig } from '../config/model.js';
import { FLEET_TAG, SERVER_TAG } from '../config/policy-schema.js';

/*
 * Cost and ownership tags, so Cost Explorer can split the bill by server and team: the fleet's
 * tags and `mcp-fleet:stack` on every resource of the stack that takes tags (the gateway, its
 * user pool, roles, the dashboard's …), and on each server's resources (function, role, log
 * group, alarms) its merged tags and `mcp-fleet:server`. A tag applied lower in the construct
 * tree wins, so a server's own value of a fleet key is the one its resources carry.
 */
export function tagFleet(stack: IConstruct, fleet: FleetConfig, stackName: string): void {
  const tags = cdk.Tags.of(stack);
  tags.add(FLEET_TAG, stackName);
  for (const [k, v] of Object.entries(fleet.tags)) tags.add(k, v);
}

export function tagServer(scope: IConstruct, server: FleetConfig['servers'][number]): void {
  const tags = cdk.Tags.of(scope);
  tags.add(SERVER_TAG, server.id);
  for (const [k, v] of Object.entries(server.tags)) tags.add(k, v);
}
