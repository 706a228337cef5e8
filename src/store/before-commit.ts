/**
 * Writes a transaction runs last, just before its COMMIT. The audit chain's head is one lock
 * that every audited transaction takes; taken last, after every row lock the transaction needs,
 * a transaction holding it waits for nothing else, so no two transactions can deadlock on it
 * (the order is: row locks, then the head, then COMMIT). Only transactions opened by the store
 * (`db.transaction()` on PostgreSQL) have the queue; elsewhere the write happens at once.
 */
const queues = new WeakMap<object, (() => Promise<void>)[]>()

/** Queues `write` to run just before `trx` commits; false when `trx` has no queue (write now). */
export function beforeCommit(trx: object, write: () => Promise<void>): boolean {
  const queue = queues.get(trx)
  if (queue === undefined) return false
  queue.push(write)
  return true
}

/** The store opens a queue on each transaction it starts … */
export function openCommitQueue(trx: object): void {
  queues.set(trx, [])
}

/** … and runs it, in order, once the transaction's work is done. */
export async function drainCommitQueue(trx: object): Promise<void> {
  const queue = queues.get(trx) ?? []
  // a queued write may queue another: run until none is left, then close the queue
  while (queue.length > 0) await (queue.shift() as () => Promise<void>)()
  queues.delete(trx)
}
