/**
 * `/v1/webhooks`: endpoints the gateway tells of account events, and their
 * deliveries. Checking a delivery's signature is `verifyWebhook`.
 */

import { PagedList } from '../pagination.js';
import type { RequestOptions, Transport } from '../transport.js';
import type {
  CreateWebhookParams,
  DeletedWebhook,
  ListResponse,
  PageParams,
  Webhook,
  WebhookCreated,
  WebhookDelivery,
} from '../types.js';

export class Webhooks {
  readonly #http: Transport;

  constructor(http: Transport) {
    this.#http = http;
  }

  /**
   * Registers an endpoint for account events (all four unless `events` says
   * which). The answer holds the signing secret, shown only this once: keep
   * it to check deliveries with `verifyWebhook`.
   */
  create(params: CreateWebhookParams, options?: RequestOptions): Promise<WebhookCreated> {
    return this.#http.request('POST', '/v1/webhooks', { ...options, body: params });
  }

  /** Reads one endpoint (without its secret). */
  get(id: string, options?: RequestOptions): Promise<Webhook> {
    return this.#http.request('GET', path(id), options);
  }

  /**
   * Lists endpoints, oldest first. `await` it for one page, or iterate it
   * with `for await` for every endpoint across pages.
   */
  list(params: PageParams = {}, options?: RequestOptions): PagedList<Webhook> {
    const { cursor, ...query } = params;
    return new PagedList(
      (after) =>
        this.#http.request<ListResponse<Webhook>>('GET', '/v1/webhooks', {
          ...options,
          query: { ...query, cursor: after },
        }),
      cursor,
    );
  }

  /** Deletes an endpoint; its pending deliveries are dropped. */
  delete(id: string, options?: RequestOptions): Promise<DeletedWebhook> {
    return this.#http.request('DELETE', path(id), options);
  }

  /**
   * An endpoint's deliveries, newest first, each with its attempts, last
   * answer and payload. `await` it for one page, or iterate it with
   * `for await` for every delivery across pages.
   */
  deliveries(webhookId: string, params: PageParams = {}, options?: RequestOptions): PagedList<WebhookDelivery> {
    const { cursor, ...query } = params;
    return new PagedList(
      (after) =>
        this.#http.request<ListResponse<WebhookDelivery>>('GET', `${path(webhookId)}/deliveries`, {
          ...options,
          query: { ...query, cursor: after },
        }),
      cursor,
    );
  }
}

function path(id: string): string {
  return `/v1/webhooks/${encodeURIComponent(id)}`;
}
