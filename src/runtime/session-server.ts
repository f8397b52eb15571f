/**
 * The AgentCore Runtime session entry's server: an HTTP server (AgentCore's contract:
 * `0.0.0.0:8000`, `POST /mcp`) serving one stdio MCP server over MCP Streamable HTTP,
 * statefully — one server per session (session-table.ts), as AgentCore runs one microVM per
 * runtime session.
 *
 * - POST `/mcp` (or `/`): the session's messages, through the same front as the Web Function
 *   entry's (web-function.ts: `httpFront` and the session's `McpBridge`; both protocol eras, JSON
 *   or SSE answers with the call's progress and log messages as they come, the tool policy, the
 *   Origin rule). Every answer of a session carries its id in `Mcp-Session-Id` (the platform's
 *   runtime session id when it gave one). In the 2026-07-28 era, which has no session of its
 *   own, the platform's session header alone picks the server.
 * - DELETE `/mcp`: ends the session (its server's process groups killed, its folder removed);
 *   from then on its id is answered 404 "Session not found", as is any id not open here.
 * - GET `/mcp` with the session's id: the session's standalone event stream (one at a time, 409
 *   for a second), carrying the server's notifications that belong to no call and its questions
 *   asked between calls; it ends with the session. OPTIONS: the CORS preflight.
 * - Idle sessions are ended by the platform (it stops the microVM), not here.
 *   {@link SessionServer.close} (SIGTERM in session.ts) stops taking requests and kills every
 *   session's servers at once.
 */
import { mkdtempSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { corsFor, sse, type HttpRequest } from '../protocol/http.js';
import { ErrorCode, isRequest } from '../protocol/jsonrpc.js';
import { closeAfterAnswers, OpenResponses } from '../platform/http-close.js';
import { systemClock } from '../platform/time.js';
import { normalizeLaunch, type HandlerEnvironment, type LaunchInput } from './handler.js';
import { Telemetry } from './observability.js';
import { MCP_SESSION_HEADER, SessionTable } from './session-table.js';
import {
  answerMcp,
  type Answered,
  listen,
  multiCallHost,
  localKeyDigest,
  readRequest,
  served,
  ANSWER_GRACE_MS,
  writeProblem,
  type EntryOptions,
  type RequestLimits,
} from './web-function.js';

/** Where AgentCore Runtime expects an MCP server. */
export const SESSION_DEFAULT_HOST = '0.0.0.0';
export const SESSION_DEFAULT_PORT = 8000;
/** AgentCore Runtime's payload limit (100 MB). */
export const SESSION_MAX_BODY_BYTES = 100 * 1024 * 1024;
/** The methods the endpoint takes. */
const ALLOWED_METHODS = 'GET, POST, DELETE, OPTIONS';

export interface SessionServerOptions extends EntryOptions {
  /** Where to listen (default `0.0.0.0`, AgentCore's). */
  host?: string;
  /** Default 8000 (AgentCore's); 0: any free port. */
  port?: number;
  /** Request bodies over this many bytes get 413 (default AgentCore's 100 MB payload limit). */
  maxBodyBytes?: number;
  /**
   * Where each session's folder is made. Default: a new folder under the system's temporary
   * directory, removed on close.
   */
  sessionsDir?: string;
}

/** A session open now, as tests and status see it. */
export interface SessionInfo {
  id: string;
  /** Its folder (the server's working directory, HOME and TMPDIR). */
  dir: string;
  /** Its server processes running now. */
  pids: number[];
  /** Whether its client keeps the session's event stream open (GET). */
  stream: boolean;
}

export interface SessionServer {
  /** Where it listens. */
  readonly address: { host: string; port: number };
  /** The MCP endpoint, `http://host:port/mcp`. */
  readonly url: string;
  /** The sessions open now. */
  sessions(): SessionInfo[];
  /** Stops taking requests, closes every connection and ends every session (its servers killed). */
  close(): Promise<void>;
}

/** What every request of the entry shares. */
interface SessionState extends RequestLimits {
  table: SessionTable;
  telemetry: Telemetry;
  allowOrigin: string | undefined;
}

/**
 * Starts the session entry's server: listens at once; each session's server starts with the
 * session's first call. The returned promise resolves once it listens.
 */
export async function startSessionServer(
  launch: LaunchInput,
  options: SessionServerOptions = {},
): Promise<SessionServer> {
  const spec = normalizeLaunch({ ...launch, host: multiCallHost(launch) });
  const root = options.sessionsDir ?? mkdtempSync(path.join(os.tmpdir(), 'mcp-fleet-sessions-'));
  const telemetry = new Telemetry(spec.id, {
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.metrics ? { metrics: options.metrics } : {}),
    ...(options.log ? { log: options.log } : {}),
  });
  const state: SessionState = {
    table: new SessionTable(spec, { options, root, log: telemetry.log }),
    telemetry,
    allowOrigin: options.allowOrigin,
    maxBodyBytes: options.maxBodyBytes ?? SESSION_MAX_BODY_BYTES,
    closing: false,
    localKey: localKeyDigest(options.localKey),
  };
  const server = createServer((req, res) => {
    void served(telemetry, options.clock ?? systemClock, 'session', res, () => route(state, req, res));
  });
  const open = new OpenResponses(server);
  const where = await listen(
    server,
    options.host ?? SESSION_DEFAULT_HOST,
    options.port ?? SESSION_DEFAULT_PORT,
    telemetry.log,
  );
  let closed: Promise<void> | undefined;
  return {
    ...where,
    sessions: () =>
      state.table.sessions().map((s) => ({
        id: s.id,
        dir: s.dir,
        pids: s.env.supervisor.pids,
        stream: s.env.client?.stream !== undefined,
      })),
    close: () =>
      (closed ??= close(state, server, open, options.sessionsDir === undefined ? root : undefined)),
  };
}

/**
 * Stops taking requests, ends every session (its servers killed), lets the calls that waited on
 * them be answered, then drops every connection; removes its own folder.
 */
async function close(
  state: SessionState,
  server: Server,
  open: OpenResponses,
  ownRoot: string | undefined,
): Promise<void> {
  state.closing = true;
  await closeAfterAnswers(
    server,
    open,
    () => state.table.endAll('the entry is shutting down'),
    ANSWER_GRACE_MS,
  );
  if (ownRoot !== undefined) await rm(ownRoot, { recursive: true, force: true });
}

/** Reads and checks one request, finds its session and serves it there; answers the HTTP status. */
async function route(
  state: SessionState,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<number | Answered> {
  const request = await readRequest(req, res, state);
  if (typeof request === 'number') return request;
  // A page of another origin may not even start a session.
  const access = corsFor(request.headers['origin'], state.allowOrigin);
  if ('refused' in access)
    return writeProblem(res, 403, ErrorCode.InvalidRequest, access.refused, { vary: 'Origin' });
  const cors = access.headers;
  if (request.method === 'OPTIONS') {
    const methods =
      'access-control-allow-origin' in cors ? { 'access-control-allow-methods': ALLOWED_METHODS } : {};
    res.writeHead(204, { ...cors, ...methods, allow: ALLOWED_METHODS });
    res.end();
    return 204;
  }
  if (request.method !== 'POST' && request.method !== 'DELETE' && request.method !== 'GET')
    return writeProblem(
      res,
      405,
      ErrorCode.InvalidRequest,
      `Method not allowed: ${request.method.slice(0, 20)}; this endpoint takes POST, GET (a session's event stream) and DELETE (to end a session)`,
      { ...cors, allow: ALLOWED_METHODS },
    );
  if (request.method === 'GET' && !/text\/event-stream/.test(request.headers['accept'] ?? ''))
    return writeProblem(
      res,
      406,
      ErrorCode.InvalidRequest,
      "Not Acceptable: a GET opens the session's event stream; the client must accept text/event-stream",
      cors,
    );
  const found = state.table.lookup(request.headers, {
    mayStart: request.method === 'POST',
    initialize: initializes(request),
  });
  if ('refused' in found) {
    const { status, code, message } = found.refused;
    return writeProblem(res, status, code, message, cors);
  }
  const { session } = found;
  const headers = { [MCP_SESSION_HEADER]: session.id };
  if (request.method === 'DELETE') {
    await state.table.end(session.id, 'deleted by the client');
    res.writeHead(200, { ...cors, ...headers });
    res.end();
    return 200;
  }
  if (request.method === 'GET') return openStream(session.env, res, { ...cors, ...headers });
  return answerMcp(session.env, request, res, { inFlight: session.inFlight, session: session.id, headers });
}

/**
 * The session's standalone event stream: open until the client goes away or the session ends;
 * the server's notifications of no call and its questions between calls are written to it.
 */
function openStream(
  env: HandlerEnvironment,
  res: ServerResponse,
  headers: Record<string, string>,
): Promise<number> {
  const client = env.client;
  if (client === undefined || client.stream !== undefined)
    return Promise.resolve(
      writeProblem(
        res,
        409,
        ErrorCode.InvalidRequest,
        'Conflict: this session already has an event stream open (GET); one at a time',
        headers,
      ),
    );
  res.writeHead(200, { ...headers, 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  res.flushHeaders();
  const write = (m: unknown): void => {
    if (!res.destroyed) res.write(env.redactor.redact(sse(m)));
  };
  return new Promise((resolve) => {
    const end = (): void => {
      if (client.stream !== write) return;
      delete client.stream;
      delete client.endStream;
      if (!res.writableEnded) res.end();
      resolve(200);
    };
    client.stream = write;
    client.endStream = end;
    res.on('close', end);
  });
}

/** Whether a POST's body is (or, as a batch, holds) an `initialize` request. */
function initializes(request: HttpRequest): boolean {
  let parsed: unknown;
  try {
    parsed = JSON.parse(request.body);
  } catch {
    return false;
  }
  return (Array.isArray(parsed) ? parsed : [parsed]).some((m) => isRequest(m) && m.method === 'initialize');
}
