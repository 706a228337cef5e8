import type { Fault } from './fault.js'

/** The fault is outside keyrotor: v1's material leaked. Nothing is broken; the trainee must act. */
export function emergency(): Fault {
  return {
    async inject() {
      return { compromisedVersion: 1 }
    },
  }
}
