/** `/v1/mcp-links`: per-user MCP server URLs over the gateway's tools. */

import type { RequestOptions, Transport } from '../transport.js';
import type { CreateMcpLinkParams, DeletedMcpLink, McpLink } from '../types.js';

export class McpLinks {
  readonly #http: Transport;

  constructor(http: Transport) {
    this.#http = http;
  }

  /**
   * An MCP server URL acting for one end user, limited to some providers or
   * tools if given. The URL's token authenticates: treat it as a secret.
   */
  create(params: CreateMcpLinkParams, options?: RequestOptions): Promise<McpLink> {
    return this.#http.request('POST', '/v1/mcp-links', { ...options, body: params });
  }

  /** Revokes a link. */
  delete(id: string, options?: RequestOptions): Promise<DeletedMcpLink> {
    return this.#http.request('DELETE', `/v1/mcp-links/${encodeURIComponent(id)}`, options);
  }
}
