/**
 * `/v1/audit-logs`: the audit trail, newest first, and its export as JSON
 * lines, oldest first. Events are written a moment after they happen.
 */

import { PagedList } from '../pagination.js';
import type { Query, RequestOptions, Transport } from '../transport.js';
import type { AuditEvent, AuditLogFilters, ListAuditLogsParams, ListResponse } from '../types.js';

export class AuditLogs {
  readonly #http: Transport;

  constructor(http: Transport) {
    this.#http = http;
  }

  /**
   * Lists events, newest first, filtered by the params given (`since`
   * inclusive, `until` exclusive; each a `Date` or RFC 3339 text). `await` it
   * for one page, or iterate it with `for await` for every event across
   * pages.
   */
  list(params: ListAuditLogsParams = {}, options?: RequestOptions): PagedList<AuditEvent> {
    const { cursor, limit, ...filters } = params;
    const query: Query = { ...filterQuery(filters), limit };
    return new PagedList(
      (after) =>
        this.#http.request<ListResponse<AuditEvent>>('GET', '/v1/audit-logs', {
          ...options,
          query: { ...query, cursor: after },
        }),
      cursor,
    );
  }

  /**
   * Every matching event, oldest first, from the streamed JSON-lines export:
   * each event is handed out as soon as its line has arrived, and the body
   * is never held whole, so an export of any size takes little memory.
   *
   * ```ts
   * for await (const event of sb.auditLogs.export({ since: new Date('2026-11-01') })) archive(event);
   * ```
   *
   * The request is sent when the loop starts; leaving the loop early closes
   * the stream. `timeoutMs` bounds each wait for the gateway, not the whole
   * export.
   */
  export(filters: AuditLogFilters = {}, options?: RequestOptions): AsyncGenerator<AuditEvent, void, undefined> {
    return this.#http.lines<AuditEvent>('GET', '/v1/audit-logs/export', {
      ...options,
      query: filterQuery(filters),
    });
  }
}

/** The filters as query values, times as RFC 3339 text. */
function filterQuery(filters: AuditLogFilters): Query {
  const { since, until, ...rest } = filters;
  return { ...rest, since: time('since', since), until: time('until', until) };
}

function time(name: string, value: Date | string | undefined): string | undefined {
  if (value === undefined || typeof value === 'string') return value;
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw new RangeError(`${name} is an invalid Date`);
    return value.toISOString();
  }
  throw new TypeError(`${name} must be a Date or RFC 3339 text`);
}
