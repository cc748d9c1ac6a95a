/** `/v1/connect-sessions`: a hosted page where an end user connects accounts. */

import type { RequestOptions, Transport } from '../transport.js';
import type { ConnectSession, CreateConnectSessionParams } from '../types.js';

export class ConnectSessions {
  readonly #http: Transport;

  constructor(http: Transport) {
    this.#http = http;
  }

  /** A single-use link (30 minutes) to a page listing the connections to connect. */
  create(params: CreateConnectSessionParams, options?: RequestOptions): Promise<ConnectSession> {
    return this.#http.request('POST', '/v1/connect-sessions', { ...options, body: params });
  }
}
