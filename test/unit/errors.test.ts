// Error codes: the JSON-RPC table against the MCP SDK's, and mcp-fleet's own failures.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ProtocolErrorCode } from '@modelcontextprotocol/client';
import { BuildError } from '../../src/build/exec.js';
import { EXIT, exitCodeFor, CliError } from '../../src/cli/exit.js';
import { ConfigError } from '../../src/config/problems.js';
import { FLEET_ERROR, FleetError } from '../../src/contract/errors.js';
import { FunctionCallError } from '../../src/contract/function-call.js';
import { FunctionNotFoundError } from '../../src/local/lambda/service.js';
import { ThrottledError } from '../../src/local/lambda/function.js';
import { ServerExitedError } from '../../src/runtime/child.js';
import { CallTimeoutError } from '../../src/runtime/connection.js';
import { ErrorCode } from '../../src/protocol/jsonrpc.js';
import { ServerStartTimeoutError } from '../../src/runtime/supervisor.js';

describe('error codes', () => {
  test("the JSON-RPC table: each code the MCP SDK also defines has the SDK's value; no two names share a code; never -32002", () => {
    const sdk = ProtocolErrorCode as unknown as Record<string, number>;
    for (const [name, code] of Object.entries(ErrorCode)) {
      if (name in sdk) assert.equal(code, sdk[name], name);
    }
    // HeaderMismatch (-32020) is in the 2026-07-28 revision but not in the SDK's public enum.
    assert.deepEqual(
      Object.keys(ErrorCode).filter((n) => !(n in sdk)),
      ['HeaderMismatch'],
    );
    const codes = Object.values(ErrorCode);
    assert.equal(new Set(codes).size, codes.length);
    assert.ok(!codes.includes(sdk['ResourceNotFound'] as never), 'MCP gives -32002 to resource not found');
  });

  test("mcp-fleet's failures share one base class and carry stable codes; the CLI maps codes to exit codes", () => {
    const failures: [FleetError, string][] = [
      [new BuildError('git', 'no'), FLEET_ERROR.buildFailed],
      [new ConfigError([]), 'MCP_FLEET_CONFIG_INVALID'],
      [new FunctionCallError('Unhandled', 'boom'), FLEET_ERROR.functionError],
      [new FunctionNotFoundError('x'), FLEET_ERROR.functionNotFound],
      [new ThrottledError('x', 1), FLEET_ERROR.throttled],
      [new ServerExitedError('gone', { code: 1, signal: null }, ''), FLEET_ERROR.serverExited],
      [new CallTimeoutError('tools/call', 5), FLEET_ERROR.callTimeout],
      [new ServerStartTimeoutError('git', 1, 1, ''), FLEET_ERROR.startTimeout],
      [new CliError('bad flag', EXIT.USAGE), FLEET_ERROR.usage],
    ];
    for (const [err, code] of failures) {
      assert.ok(err instanceof FleetError, err.name);
      assert.equal(err.code, code, err.name);
    }
    // Names Lambda's API gives are kept where the local Lambda API answers with them.
    assert.equal(new FunctionNotFoundError('x').name, 'ResourceNotFoundException');
    const values = Object.values(FLEET_ERROR);
    assert.equal(new Set(values).size, values.length, 'codes are unique');
    assert.equal(exitCodeFor(FLEET_ERROR.usage), EXIT.USAGE);
    assert.equal(exitCodeFor(FLEET_ERROR.buildFailed), EXIT.FAILURE);
    assert.equal(new CliError('x').exitCode, EXIT.FAILURE);
    assert.equal(new CliError('x', EXIT.USAGE).exitCode, EXIT.USAGE);
  });
});
