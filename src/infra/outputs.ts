// Kept free of aws-cdk-lib: `verify` reads these names without loading the CDK.
/** Names of the stack's fleet-wide outputs. */
export const OUTPUTS = {
  gatewayUrl: 'GatewayUrl',
  gatewayId: 'GatewayId',
  gatewayArn: 'GatewayArn',
  gatewayMcpConfig: 'GatewayMcpConfig',
  userPoolId: 'GatewayUserPoolId',
  clientId: 'GatewayClientId',
  tokenEndpoint: 'GatewayTokenEndpoint',
  oauthScope: 'GatewayOAuthScope',
  dashboard: 'DashboardName',
} as const;
