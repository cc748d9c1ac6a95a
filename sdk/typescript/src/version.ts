/** The SDK's version, sent in the `user-agent` header; kept equal to package.json's. */
export const VERSION = '0.1.0';
