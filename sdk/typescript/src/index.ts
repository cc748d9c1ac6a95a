/**
 * The TypeScript client of Switchboard, a self-hosted integration gateway.
 *
 * ```ts
 * import { Switchboard } from '@switchboard/sdk';
 * const sb = new Switchboard({ baseUrl, apiKey });
 * ```
 */

export { Switchboard, type SwitchboardOptions } from './client.js';
export {
  type AccountCandidate,
  ConflictError,
  type ErrorCode,
  type ErrorEnvelope,
  type FieldError,
  ForbiddenError,
  InternalError,
  InvalidParametersError,
  InvalidRequestError,
  NotFoundError,
  ProviderError,
  RateLimitedError,
  ReauthorizationRequiredError,
  SwitchboardError,
  type SwitchboardErrorCode,
  SwitchboardNetworkError,
  SwitchboardTimeoutError,
  UnauthenticatedError,
  UpstreamTimeoutError,
  UpstreamUnavailableError,
} from './errors.js';
export { Page, PagedList } from './pagination.js';
export type { Accounts } from './resources/accounts.js';
export type { AuditLogs } from './resources/audit-logs.js';
export type { ConnectSessions } from './resources/connect-sessions.js';
export type { Connections } from './resources/connections.js';
export type { McpLinks } from './resources/mcp-links.js';
export type { Providers } from './resources/providers.js';
export type { ExecuteToolCallParams, ToolCallAccount, Tools } from './resources/tools.js';
export type { Webhooks } from './resources/webhooks.js';
export {
  type AnthropicToolResult,
  type AnthropicToolUse,
  type OpenAIFunctionCall,
  type OpenAIFunctionCallOutput,
  type OpenAIToolCall,
  type OpenAIToolMessage,
  TOOL_NAME_SEPARATOR,
  type ToolCall,
  type ToolResult,
  type ToolResultFor,
} from './tool-calls.js';
export type {
  AbortSignalLike,
  ByteStreamLike,
  ByteStreamReaderLike,
  FetchLike,
  Query,
  RequestOptions,
  ResponseLike,
} from './transport.js';
export type * from './types.js';
export { VERSION } from './version.js';
export {
  DEFAULT_WEBHOOK_TOLERANCE_S,
  signWebhook,
  type VerifyWebhookOptions,
  verifyWebhook,
  type WebhookHeaders,
  WebhookVerificationError,
} from './webhook-verify.js';
export { Switchboard as default } from './client.js';
