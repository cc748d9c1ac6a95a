/**
 * The gateway's request and response bodies, as docs/api.md describes them.
 *
 * Field names are the wire names (snake_case) so that what you read in the API
 * documentation is what you type here. Timestamps are RFC 3339 strings in UTC.
 */

/** A JSON value, as the gateway accepts and returns it. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** A JSON object. */
export type JsonObject = { [key: string]: JsonValue };

/** An RFC 3339 timestamp in UTC, such as `2026-11-25T17:01:52.763Z`. */
export type Timestamp = string;

/**
 * How a connection's accounts authenticate with the provider. The list is
 * open: a newer gateway may know more methods.
 */
export type AuthType =
  | 'oauth2'
  | 'oauth2_client_credentials'
  | 'api_key'
  | 'bearer'
  | 'basic'
  | 'none'
  | (string & {});

// === Connections ===

/** An application's registration with one provider. Credentials are never returned. */
export interface Connection {
  id: string;
  provider: string;
  auth_type: AuthType;
  scopes: string[];
  config: Record<string, string>;
  managed: boolean;
  has_credentials: boolean;
  created_at: Timestamp;
  updated_at: Timestamp;
}

/** Body of `POST /v1/connections`. */
export interface CreateConnectionParams {
  /** A loaded provider key, such as `slack`. */
  provider: string;
  /** One of the provider's auth methods; default: the first its spec lists. */
  auth_type?: AuthType;
  /**
   * For OAuth 2.0 providers `{client_id, client_secret}` (unless `managed`);
   * every value a non-empty string.
   */
  credentials?: Record<string, string>;
  scopes?: string[];
  /** The provider's `connection_config` settings. */
  config?: Record<string, string>;
  /** Use the operator's OAuth app instead of the connection's own credentials. */
  managed?: boolean;
}

/**
 * Body of `PATCH /v1/connections/{id}`: a field that is given replaces the
 * stored value whole; `provider`, `auth_type` and `managed` cannot change.
 */
export interface UpdateConnectionParams {
  /** An empty object removes the credentials, where the provider does not require them. */
  credentials?: Record<string, string>;
  scopes?: string[];
  config?: Record<string, string>;
}

/** Query of `GET /v1/connections`. */
export interface ListConnectionsParams extends PageParams {
  provider?: string;
}

/** Answer of `DELETE /v1/connections/{id}`. */
export interface DeletedConnection {
  id: string;
  deleted: true;
  connected_accounts_deleted: number;
  /** Accounts whose grant the provider confirmed revoked. */
  revoked_at_provider: number;
}

// === Connected accounts ===

export type AccountStatus = 'pending' | 'active' | 'expired' | 'revoked';
export type IdentifierType = 'user_id' | 'org_id';

/** One end user's link to one provider through a connection. */
export interface ConnectedAccount {
  id: string;
  connection_id: string;
  provider: string;
  identifier: string;
  identifier_type: IdentifierType;
  label: string;
  /** Who the account is at the provider (a name or email), when its spec says how to ask. */
  display_name: string | null;
  status: AccountStatus;
  status_reason: string | null;
  status_changed_at: Timestamp;
  scopes: string[];
  metadata: JsonObject;
  /** Values discovered at authorization or set with `accounts.update` (`auth.account_config`). */
  config: JsonObject;
  has_credentials: boolean;
  last_used_at: Timestamp | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

/** Body of `POST /v1/connected-accounts`. */
export interface CreateAccountParams {
  connection_id: string;
  /** The application's id for the user or organisation (1 to 256 characters). */
  identifier: string;
  /** Default `user_id`. */
  identifier_type?: IdentifierType;
  /** Default `"default"`; tells several accounts of one user apart. */
  label?: string;
  metadata?: JsonObject;
}

/** Body of `PATCH /v1/connected-accounts/{id}`. */
export interface UpdateAccountParams {
  label?: string;
  /** Replaces the metadata whole. */
  metadata?: JsonObject;
  /** Account values the provider declares; `null` removes one. */
  config?: { [key: string]: JsonValue };
}

/** Query of `GET /v1/connected-accounts`; all filters are combined with "and". */
export interface ListAccountsParams extends PageParams {
  identifier?: string;
  provider?: string;
  status?: AccountStatus;
  connection_id?: string;
  label?: string;
}

/** Answer of `DELETE /v1/connected-accounts/{id}`. */
export interface DeletedAccount {
  id: string;
  deleted: true;
  /** Whether the provider accepted the token revocation (when its spec has a `revoke_url`). */
  revoked_at_provider: boolean;
}

/** Body of `POST /v1/connected-accounts/{id}/auth-url`. */
export interface AuthUrlParams {
  /** Where the user's browser goes after authorization (absolute http(s) URL). */
  redirect_url?: string;
  /** Scopes asked for on top of the spec's and the connection's. */
  scopes?: string[];
}

/**
 * An authorization link for an OAuth 2.0 account. `String(authUrl)` is the
 * URL, so the object can be handed to anything that redirects to a string.
 */
export interface AuthUrl {
  url: string;
  /** The link's `state` is single-use and expires at this time. */
  state_expires_at: Timestamp;
  /** The URL itself. */
  toString(): string;
}

/**
 * Credentials of an `api_key`, `bearer` or `basic` account, keyed as the
 * provider's `credential_fields`: `{api_key}`, `{token}` or `{username, password}`.
 */
export type AccountCredentials = Record<string, string>;

/**
 * OAuth tokens obtained elsewhere (a migration from another system), imported
 * into an `oauth2` account.
 */
export interface ImportedOAuthTokens {
  access_token: string;
  refresh_token?: string;
  /** When the access token expires: RFC 3339 text or Unix seconds. */
  expires_at?: Timestamp | number;
  /** The scopes the user granted; default: those the connection asks for. */
  scopes?: string[];
  /** The token type the provider gave, such as `Bearer`. */
  token_type?: string;
}

// === Connect sessions ===

/** Body of `POST /v1/connect-sessions`. */
export interface CreateConnectSessionParams {
  identifier: string;
  /** The connections offered on the page; default: all. */
  connection_ids?: string[];
  /** Where the page links back to when the user is done. */
  redirect_url?: string;
}

/** A hosted page where an end user connects accounts (single-use, short-lived). */
export interface ConnectSession {
  url: string;
  expires_at: Timestamp;
}

// === MCP links ===

/** Body of `POST /v1/mcp-links`. */
export interface CreateMcpLinkParams {
  /** The end user the MCP server acts for. */
  identifier: string;
  /** Only these providers' tools; default: all. */
  providers?: string[];
  /** Only these tools (`provider.tool` or `provider__tool`); default: all. */
  tools?: string[];
  /** Lifetime of the link in seconds; default: the gateway's. */
  expires_in_s?: number;
}

/** A per-user MCP server URL; its token authenticates, so treat the URL as a secret. */
export interface McpLink {
  id: string;
  url: string;
  identifier?: string;
  providers?: string[] | null;
  tools?: string[] | null;
  expires_at?: Timestamp | null;
  created_at?: Timestamp;
  [key: string]: unknown;
}

/** Answer of `DELETE /v1/mcp-links/{id}`. */
export interface DeletedMcpLink {
  id: string;
  deleted: boolean;
  [key: string]: unknown;
}

// === Webhooks ===

/** The account events a webhook endpoint can receive. */
export type WebhookEventType =
  | 'account.connected'
  | 'account.reauthorization_required'
  | 'account.revoked'
  | 'account.refresh_failed';

/** Body of `POST /v1/webhooks`. */
export interface CreateWebhookParams {
  /** Where events are POSTed: `https`, or `http` on a loopback host. */
  url: string;
  /** The events to send (at least one); default: all four. */
  events?: WebhookEventType[];
}

/** A webhook endpoint, as `get` and `list` answer it (without its signing secret). */
export interface Webhook {
  /** `wh_…` */
  id: string;
  url: string;
  events: WebhookEventType[];
  created_at: Timestamp;
}

/**
 * Answer of `POST /v1/webhooks`: the endpoint and its signing secret, shown
 * only this once. Keep the secret to check deliveries with `verifyWebhook`.
 */
export interface WebhookCreated extends Webhook {
  /** `whsec_` and the base64 of 32 bytes. */
  secret: string;
}

/** Answer of `DELETE /v1/webhooks/{id}`. */
export interface DeletedWebhook {
  id: string;
  deleted: true;
}

/** The account an event is about, as it was when the event happened. */
export interface WebhookEventData {
  connected_account_id: string;
  connection_id: string;
  provider: string;
  identifier: string;
  label: string;
  status: AccountStatus;
  reason: string | null;
}

/** What a delivery POSTs (the body `verifyWebhook` answers). */
export interface WebhookPayload {
  type: WebhookEventType;
  /** When the event happened; deliveries of one account may arrive out of order. */
  timestamp: Timestamp;
  data: WebhookEventData;
}

/** `pending` (waiting for its next attempt), `delivered`, or `failed` (given up after the last retry). */
export type WebhookDeliveryStatus = 'pending' | 'delivered' | 'failed';

/** One event for one endpoint, and what became of it. */
export interface WebhookDelivery {
  /** `msg_…`: the `webhook-id` header, the same on every attempt. */
  id: string;
  webhook_id: string;
  event_type: WebhookEventType;
  status: WebhookDeliveryStatus;
  attempts: number;
  created_at: Timestamp;
  /** When a pending delivery is tried next. */
  next_attempt_at: Timestamp | null;
  last_attempt_at: Timestamp | null;
  last_response_status: number | null;
  last_error: string | null;
  delivered_at: Timestamp | null;
  payload: WebhookPayload;
}

// === Audit trail ===

/**
 * What an audit event records, such as `tool.executed` or
 * `account.credentials_set` (the list is in docs/api.md). Open: a newer
 * gateway may record more.
 */
export type AuditAction =
  | 'connection.created'
  | 'connection.updated'
  | 'connection.deleted'
  | 'account.created'
  | 'account.updated'
  | 'account.deleted'
  | 'account.credentials_set'
  | 'account.credentials_imported'
  | 'authorization.started'
  | 'authorization.completed'
  | 'authorization.failed'
  | 'token.refreshed'
  | 'token.refresh_failed'
  | 'account.revoked'
  | 'account.expired'
  | 'tool.executed'
  | 'proxy.request'
  | 'webhook.created'
  | 'webhook.deleted'
  | (string & {});

/**
 * One entry of the audit trail. It names the acting API key, never a secret
 * or a parameter value; fields that do not apply are `null`.
 */
export interface AuditEvent {
  /** `evt_…`; ids sort by time. */
  id: string;
  at: Timestamp;
  action: AuditAction;
  /** The API key's name; `user` for an end user on a link; `gateway` for background work. */
  actor: string;
  /** The request it happened in (its `x-request-id`). */
  request_id: string | null;
  connected_account_id: string | null;
  connection_id: string | null;
  identifier: string | null;
  provider: string | null;
  /** The tool (`tool.executed`), or the method of a proxied request (`proxy.request`). */
  tool: string | null;
  /** `success` (or `forwarded`), or the error code. */
  outcome: string | null;
  upstream_status: number | null;
  duration_ms: number | null;
  /** Why, in words (a status reason, a provider's refusal). */
  reason: string | null;
}

/** Filters of the audit trail, combined with "and". */
export interface AuditLogFilters {
  connected_account_id?: string;
  connection_id?: string;
  /** Events of the accounts of this end user. */
  identifier?: string;
  provider?: string;
  action?: AuditAction;
  /** Events at or after this time: a `Date` or RFC 3339 text. */
  since?: Date | Timestamp;
  /** Events before this time: a `Date` or RFC 3339 text. */
  until?: Date | Timestamp;
}

/** Query of `GET /v1/audit-logs`. */
export interface ListAuditLogsParams extends AuditLogFilters, PageParams {}

// === Providers ===

/** A loaded provider, as `GET /v1/providers` lists it. */
export interface ProviderSummary {
  provider: string;
  display_name: string;
  categories: string[];
  /** The default auth method. */
  auth_type: AuthType;
  /** Every method a connection may choose. */
  auth_types: AuthType[];
  /** Tool names, without the provider part. */
  tools: string[];
}

export interface ConnectionConfigSetting {
  description: string | null;
  required: boolean;
  default: string | null;
}

export interface CredentialField {
  label: string | null;
  description: string | null;
  secret: boolean;
  /** Where the user finds or creates this value. */
  help_url: string | null;
}

/** What an account lets the app do, in plain words, and the scopes it stands for. */
export interface Permission {
  text: string;
  scopes: string[];
}

export interface AuthMethod {
  auth_type: AuthType;
  label: string | null;
  default_scopes: string[];
  credential_fields: Record<string, CredentialField>;
  permissions: Permission[];
}

/** `GET /v1/providers/{provider}`: the summary and how to connect it. */
export interface ProviderDetail extends ProviderSummary {
  description: string | null;
  docs_url: string | null;
  /** The provider's logo on the gateway (a path), if its spec names one. */
  logo_url: string | null;
  connection_config: Record<string, ConnectionConfigSetting>;
  /** The default method's credential fields. */
  credential_fields: Record<string, CredentialField>;
  /** The default method's default scopes. */
  default_scopes: string[];
  auth_methods: AuthMethod[];
  /** How to register the provider's app (Markdown). */
  setup: string | null;
}

// === Tools ===

/** A JSON Schema, as written in the provider spec. */
export type JsonSchema = { [key: string]: JsonValue };

/** The catalog formats of `GET /v1/tools`. */
export type ToolFormat = 'jsonschema' | 'openai' | 'anthropic' | 'mcp';

/** A tool in the default `jsonschema` format. */
export interface JsonSchemaTool {
  /** `provider.tool`, such as `notes.create_note`. */
  id: string;
  provider: string;
  name: string;
  description: string;
  input_schema: JsonSchema;
  output_schema: JsonSchema;
}

/** A tool for OpenAI's `tools` (Chat Completions); the name is `provider__tool`. */
export interface OpenAITool {
  type: 'function';
  function: { name: string; description: string; parameters: JsonSchema };
}

/** A tool for Anthropic's `tools`; the name is `provider__tool`. */
export interface AnthropicTool {
  name: string;
  description: string;
  input_schema: JsonSchema;
}

/** A tool for a Model Context Protocol `tools/list`; the name is `provider__tool`. */
export interface McpTool {
  name: string;
  title: string;
  description: string;
  inputSchema: JsonSchema;
  outputSchema: JsonSchema;
}

/** The tool type of each catalog format. */
export interface ToolsByFormat {
  jsonschema: JsonSchemaTool;
  openai: OpenAITool;
  anthropic: AnthropicTool;
  mcp: McpTool;
}

/** Query of `GET /v1/tools`. */
export interface ListToolsParams<F extends ToolFormat = ToolFormat> {
  /** Only this provider's tools. */
  provider?: string;
  /** Default `jsonschema`. */
  format?: F;
}

/** Fields of an execution shared by both ways of naming the account. */
interface ExecuteCommon {
  /** `send_message`, `slack.send_message` or `slack__send_message`. */
  tool: string;
  /** The tool's parameters; default `{}`. */
  parameters?: { [key: string]: unknown };
}

/** Execute for the account with this id. */
export interface ExecuteByAccountId extends ExecuteCommon {
  connected_account_id: string;
  identifier?: never;
  provider?: never;
  label?: never;
}

/**
 * Execute for the account of `identifier` on `provider`: the one active
 * account, or the one with `label`.
 */
export interface ExecuteByIdentifier extends ExecuteCommon {
  connected_account_id?: never;
  identifier: string;
  provider: string;
  label?: string;
}

/** Body of `POST /v1/tools/execute`. */
export type ExecuteParams = ExecuteByAccountId | ExecuteByIdentifier;

/** The facts of one tool execution. */
export interface ExecuteMeta {
  request_id: string;
  provider: string;
  /** The tool's name without the provider part. */
  tool: string;
  /** The account used, also when it was found by identifier. */
  connected_account_id: string;
  /** HTTP status of the provider's last response. */
  upstream_status: number;
  /** Requests sent to the provider, retries and pages included. */
  attempts: number;
  duration_ms: number;
  /** Present when the tool paginated over more than one page. */
  pages?: number;
}

/** Answer of `POST /v1/tools/execute`: the tool's output and the call's facts. */
export interface ExecuteResult<T = unknown> {
  data: T;
  meta: ExecuteMeta;
}

// === Lists ===

/** Paging query of the list routes. */
export interface PageParams {
  /** Page size, 1 to 200 (gateway default 50). */
  limit?: number;
  /** Continue after the page whose `next_cursor` this is. */
  cursor?: string;
}

/** One page of a list, as the gateway answers it. */
export interface ListResponse<T> {
  data: T[];
  next_cursor: string | null;
}
