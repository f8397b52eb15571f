import type { SecretRef } from '../config/model.js';

/**
 * Reads the values of `secrets:` when a server starts: SSM Parameter Store parameters (decrypted)
 * and Secrets Manager secrets (a JSON field with `key`). The AWS SDK clients are loaded only when
 * a server has secrets; in Lambda they come with the Node.js runtime.
 */
export async function resolveSecrets(
  secrets: Readonly<Record<string, SecretRef>>,
  clientConfig: { region?: string; endpoint?: string } = {},
): Promise<Record<string, string>> {
  const entries = Object.entries(secrets);
  if (entries.length === 0) return {};
  const out: Record<string, string> = {};
  const ssmRefs = entries.filter(
    (e): e is [string, Extract<SecretRef, { source: 'ssm' }>] => e[1].source === 'ssm',
  );
  const smRefs = entries.filter(
    (e): e is [string, Extract<SecretRef, { source: 'secretsManager' }>] => e[1].source === 'secretsManager',
  );

  if (ssmRefs.length > 0) {
    const { SSMClient, GetParameterCommand } = await import('@aws-sdk/client-ssm');
    const ssm = new SSMClient(clientConfig);
    await Promise.all(
      ssmRefs.map(async ([name, ref]) => {
        try {
          const res = await ssm.send(new GetParameterCommand({ Name: ref.parameter, WithDecryption: true }));
          const value = res.Parameter?.Value;
          if (value === undefined) throw new Error('the parameter has no value');
          out[name] = value;
        } catch (err) {
          throw new Error(
            `secret ${name}: cannot read SSM parameter ${ref.parameter}: ${(err as Error).message}`,
            { cause: err },
          );
        }
      }),
    );
  }
  if (smRefs.length > 0) {
    const { SecretsManagerClient, GetSecretValueCommand } = await import('@aws-sdk/client-secrets-manager');
    const sm = new SecretsManagerClient(clientConfig);
    await Promise.all(
      smRefs.map(async ([name, ref]) => {
        let text: string;
        try {
          const res = await sm.send(new GetSecretValueCommand({ SecretId: ref.secret }));
          if (res.SecretString === undefined) throw new Error('the secret has no string value');
          text = res.SecretString;
        } catch (err) {
          throw new Error(
            `secret ${name}: cannot read Secrets Manager secret ${ref.secret}: ${(err as Error).message}`,
            { cause: err },
          );
        }
        out[name] = ref.key === undefined ? text : secretField(name, ref.secret, ref.key, text);
      }),
    );
  }
  return out;
}

/** The field `key` of a secret whose value is a JSON object (a string as it is, anything else as JSON). */
function secretField(name: string, secret: string, key: string, text: string): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new Error(`secret ${name}: ${secret} is not JSON, so it has no key "${key}"`, { cause: err });
  }
  const value = (parsed as Record<string, unknown> | null)?.[key];
  if (value === undefined) throw new Error(`secret ${name}: ${secret} has no key "${key}"`);
  return typeof value === 'string' ? value : JSON.stringify(value);
}
