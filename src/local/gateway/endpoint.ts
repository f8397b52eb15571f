/**
 * The gateway's MCP endpoint (`/mcp`), one HTTP request at a time: the caller identified (inbound
 * auth, before anything else, as AgentCore authorizes first), then MCP Streamable HTTP over the
 * bridge, with the interceptors around each request. The caller — headers, raw body, identity —
 * and the deadline travel with every message in its call context; an interceptor's HTTP status
 * comes back with its answer.
 */
import { McpBridge, type MessageHandler } from '../../protocol/bridge.js';
import { httpFront, type HttpRequest, type HttpResponse, type HttpStreamSink } from '../../protocol/http.js';
import type { LocalGateway } from './gateway.js';
import { identify } from './identity.js';

/** AgentCore Gateway's invocation timeout: a request is answered within it. */
export const GATEWAY_TIMEOUT_MS = 15 * 60_000;

export class GatewayEndpoint {
  private readonly bridge: McpBridge;
  private readonly handler: MessageHandler;

  constructor(private readonly gateway: LocalGateway) {
    this.bridge = new McpBridge(gateway);
    this.handler = {
      handle: (message, ctx) =>
        this.gateway.interceptors
          ? this.gateway.interceptors.handle(this.bridge, message, ctx)
          : this.bridge.handle(message, ctx),
    };
  }

  /**
   * Serves one POST. `req.headers` are the caller's (lower-case; the dev server's own token
   * header and the Origin, checked at the edge, left out). Notifications go to `stream` as they come.
   */
  serve(req: HttpRequest, opts: { deadline: number; stream?: HttpStreamSink }): Promise<HttpResponse> {
    const caller = {
      headers: req.headers,
      rawBody: req.body,
      principal: identify(req.headers, this.gateway.options.principals),
    };
    return httpFront(req, this.handler, {
      deadline: opts.deadline,
      caller,
      ...(opts.stream ? { stream: opts.stream } : {}),
    });
  }
}
