/**
 * Cursor pagination over the gateway's lists (`{data, next_cursor}`).
 *
 * A list method returns a {@link PagedList}: `await` it for one page, or
 * `for await` over it for every item of every page, fetched one page at a
 * time as the loop reaches it.
 */

import type { ListResponse } from './types.js';

/** Fetches the page that follows `cursor` (the first page when it is undefined). */
export type PageFetcher<T> = (cursor: string | undefined) => Promise<ListResponse<T>>;

/** One page of a list, and the way to the next. */
export class Page<T> implements ListResponse<T> {
  readonly data: T[];
  /** The cursor of the next page; `null` on the last page. */
  readonly next_cursor: string | null;
  readonly #fetch: PageFetcher<T>;

  constructor(response: ListResponse<T>, fetch: PageFetcher<T>) {
    this.data = response.data;
    this.next_cursor = response.next_cursor;
    this.#fetch = fetch;
  }

  /** Whether another page follows this one. */
  hasNextPage(): boolean {
    return this.next_cursor !== null;
  }

  /** The next page, or `null` after the last one. */
  async nextPage(): Promise<Page<T> | null> {
    if (this.next_cursor === null) return null;
    return new Page(await this.#fetch(this.next_cursor), this.#fetch);
  }
}

/**
 * The answer of a list method. Awaiting it gives the first page (from the
 * `cursor` given, if any); iterating it with `for await` gives every item,
 * following `next_cursor` until the last page. Each iteration starts again
 * from the first page.
 */
export class PagedList<T> implements AsyncIterable<T>, PromiseLike<Page<T>> {
  readonly #fetch: PageFetcher<T>;
  readonly #cursor: string | undefined;
  #first: Promise<Page<T>> | undefined;

  constructor(fetch: PageFetcher<T>, cursor: string | undefined) {
    this.#fetch = fetch;
    this.#cursor = cursor;
  }

  /** The first page; fetched once, however often it is awaited. */
  firstPage(): Promise<Page<T>> {
    this.#first ??= this.#fetch(this.#cursor).then((r) => new Page(r, this.#fetch));
    return this.#first;
  }

  then<R1 = Page<T>, R2 = never>(
    onfulfilled?: ((page: Page<T>) => R1 | PromiseLike<R1>) | null,
    onrejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    return this.firstPage().then(onfulfilled, onrejected);
  }

  catch<R = never>(onrejected?: ((reason: unknown) => R | PromiseLike<R>) | null): Promise<Page<T> | R> {
    return this.firstPage().catch(onrejected);
  }

  finally(onfinally?: (() => void) | null): Promise<Page<T>> {
    return this.firstPage().finally(onfinally);
  }

  /** Every page in turn, fetching each as the loop asks for it. */
  async *pages(): AsyncGenerator<Page<T>, void, undefined> {
    let page: Page<T> | null = new Page(await this.#fetch(this.#cursor), this.#fetch);
    while (page !== null) {
      yield page;
      page = await page.nextPage();
    }
  }

  /** Every item of every page. */
  async *[Symbol.asyncIterator](): AsyncGenerator<T, void, undefined> {
    for await (const page of this.pages()) {
      yield* page.data;
    }
  }

  /** Collects every item of every page into one array (mind the size of the list). */
  async toArray(): Promise<T[]> {
    const items: T[] = [];
    for await (const item of this) items.push(item);
    return items;
  }
}
