/**
 * The two functions of Node's `node:crypto` that the webhook verifier uses,
 * declared here so that the package builds without Node's typings: its own
 * API names no Node type. (Deno and Bun provide `node:crypto` as well.)
 */
declare module 'node:crypto' {
  interface Hmac {
    update(data: string | Uint8Array): Hmac;
    digest(): Uint8Array;
  }
  export function createHmac(algorithm: 'sha256', key: Uint8Array): Hmac;
  export function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean;
}
