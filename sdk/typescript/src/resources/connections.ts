/** `/v1/connections`: an application's registration with one provider. */

import { PagedList } from '../pagination.js';
import type { RequestOptions, Transport } from '../transport.js';
import type {
  Connection,
  CreateConnectionParams,
  DeletedConnection,
  ListConnectionsParams,
  ListResponse,
  UpdateConnectionParams,
} from '../types.js';

export class Connections {
  readonly #http: Transport;

  constructor(http: Transport) {
    this.#http = http;
  }

  /** Registers a connection (`POST /v1/connections`). */
  create(params: CreateConnectionParams, options?: RequestOptions): Promise<Connection> {
    return this.#http.request('POST', '/v1/connections', { ...options, body: params });
  }

  /** Reads one connection. */
  get(id: string, options?: RequestOptions): Promise<Connection> {
    return this.#http.request('GET', `/v1/connections/${encodeURIComponent(id)}`, options);
  }

  /**
   * Lists connections, oldest first. `await` it for one page, or iterate it
   * with `for await` for every connection across pages.
   */
  list(params: ListConnectionsParams = {}, options?: RequestOptions): PagedList<Connection> {
    const { cursor, ...query } = params;
    return new PagedList(
      (after) =>
        this.#http.request<ListResponse<Connection>>('GET', '/v1/connections', {
          ...options,
          query: { ...query, cursor: after },
        }),
      cursor,
    );
  }

  /** Changes a connection; each field given replaces the stored value whole. */
  update(id: string, params: UpdateConnectionParams, options?: RequestOptions): Promise<Connection> {
    return this.#http.request('PATCH', `/v1/connections/${encodeURIComponent(id)}`, {
      ...options,
      body: params,
    });
  }

  /** Deletes a connection with all its connected accounts. */
  delete(id: string, options?: RequestOptions): Promise<DeletedConnection> {
    return this.#http.request('DELETE', `/v1/connections/${encodeURIComponent(id)}`, options);
  }
}
