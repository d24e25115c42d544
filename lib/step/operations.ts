/**
 * The order of an optimizer's asynchronous operations (stepAsync, saveState, loadState): one
 * after another, in call order, with synchronous calls that touch the state refused meanwhile.
 */
export class OperationQueue {
  private tail: Promise<unknown> = Promise.resolve();
  private pending = 0;

  /** Runs `operation` after every earlier one has settled. */
  enqueue<T>(operation: () => Promise<T>): Promise<T> {
    this.pending++;
    const result = this.tail.then(operation).finally(() => {
      this.pending--;
    });
    this.tail = result.catch(() => undefined);
    return result;
  }

  /** Whether no asynchronous operation is pending. */
  get idle(): boolean {
    return this.pending === 0;
  }

  /** Throws when an asynchronous operation is pending: synchronous state access must not interleave. */
  assertIdle(method: string): void {
    if (this.pending > 0) {
      throw new Error(
        `For 'RMSProp', '${method}' cannot run while ${this.pending} asynchronous ` +
          'operation(s) (stepAsync, saveState, loadState) of this optimizer are pending; await them first.',
      );
    }
  }
}
