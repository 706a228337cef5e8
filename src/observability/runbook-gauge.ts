import { Gauge, type Registry } from 'prom-client'

/**
 * `keyrotor_runbooks_overdue`: runbooks whose last review is older than the review period
 * (read at each scrape; `count` comes from governance, wired in main.ts).
 */
export function registerRunbooksOverdue(
  registry: Registry,
  count: () => number,
  onError: (error: unknown) => void,
): void {
  new Gauge({
    name: 'keyrotor_runbooks_overdue',
    help: 'Runbooks not reviewed within the review period (default 90 days), or never dated.',
    registers: [registry],
    collect() {
      try {
        this.set(count())
      } catch (error) {
        onError(error)
      }
    },
  })
}
