/** `/v1/connected-accounts`: one end user's link to one provider. */

import { PagedList } from '../pagination.js';
import type { RequestOptions, Transport } from '../transport.js';
import type {
  AccountCredentials,
  AuthUrl,
  AuthUrlParams,
  ConnectedAccount,
  CreateAccountParams,
  DeletedAccount,
  ImportedOAuthTokens,
  ListAccountsParams,
  ListResponse,
  UpdateAccountParams,
} from '../types.js';

export class Accounts {
  readonly #http: Transport;

  constructor(http: Transport) {
    this.#http = http;
  }

  /**
   * Creates a connected account (`pending` until it is authorized or given
   * credentials). A taken (connection, identifier, label) throws a
   * `ConflictError` whose `existingId` names the account that holds it.
   */
  create(params: CreateAccountParams, options?: RequestOptions): Promise<ConnectedAccount> {
    return this.#http.request('POST', '/v1/connected-accounts', { ...options, body: params });
  }

  /** Reads one account. */
  get(id: string, options?: RequestOptions): Promise<ConnectedAccount> {
    return this.#http.request('GET', path(id), options);
  }

  /**
   * Lists accounts, oldest first, filtered by the params given. `await` it for
   * one page, or iterate it with `for await` for every account across pages.
   */
  list(params: ListAccountsParams = {}, options?: RequestOptions): PagedList<ConnectedAccount> {
    const { cursor, ...query } = params;
    return new PagedList(
      (after) =>
        this.#http.request<ListResponse<ConnectedAccount>>('GET', '/v1/connected-accounts', {
          ...options,
          query: { ...query, cursor: after },
        }),
      cursor,
    );
  }

  /** Changes the label, the metadata (replaced whole) or account config values. */
  update(id: string, params: UpdateAccountParams, options?: RequestOptions): Promise<ConnectedAccount> {
    return this.#http.request('PATCH', path(id), { ...options, body: params });
  }

  /** Deletes the account and its credentials, revoking its token at the provider where it can. */
  delete(id: string, options?: RequestOptions): Promise<DeletedAccount> {
    return this.#http.request('DELETE', path(id), options);
  }

  /**
   * An authorization link for an OAuth 2.0 account, to send its user to.
   * The answer is `{url, state_expires_at}`; `String(answer)` is the URL.
   */
  async getAuthUrl(id: string, params: AuthUrlParams = {}, options?: RequestOptions): Promise<AuthUrl> {
    const answer = await this.#http.request<{ url: string; state_expires_at: string }>(
      'POST',
      `${path(id)}/auth-url`,
      { ...options, body: params },
    );
    return Object.defineProperty({ ...answer }, 'toString', {
      value: () => answer.url,
      enumerable: false,
    }) as AuthUrl;
  }

  /**
   * Sets an account's credentials, which makes it `active`: the provider's
   * `credential_fields` for `api_key`, `bearer` and `basic` providers (such as
   * `{api_key}`), or OAuth tokens obtained elsewhere for `oauth2` providers
   * (`{access_token, refresh_token?, expires_at?, scopes?}`).
   */
  setCredentials(
    id: string,
    credentials: AccountCredentials | ImportedOAuthTokens,
    options?: RequestOptions,
  ): Promise<ConnectedAccount> {
    return this.#http.request('POST', `${path(id)}/credentials`, { ...options, body: credentials });
  }
}

function path(id: string): string {
  return `/v1/connected-accounts/${encodeURIComponent(id)}`;
}
