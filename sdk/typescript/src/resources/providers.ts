/** `/v1/providers`: the providers the gateway has loaded. */

import type { RequestOptions, Transport } from '../transport.js';
import type { ListResponse, ProviderDetail, ProviderSummary } from '../types.js';

export class Providers {
  readonly #http: Transport;

  constructor(http: Transport) {
    this.#http = http;
  }

  /** Every loaded provider, in key order (the gateway answers them in one page). */
  async list(options?: RequestOptions): Promise<ProviderSummary[]> {
    const page = await this.#http.request<ListResponse<ProviderSummary>>('GET', '/v1/providers', options);
    return page.data;
  }

  /** One provider: its auth methods, credential fields, config settings and setup notes. */
  get(provider: string, options?: RequestOptions): Promise<ProviderDetail> {
    return this.#http.request('GET', `/v1/providers/${encodeURIComponent(provider)}`, options);
  }
}
