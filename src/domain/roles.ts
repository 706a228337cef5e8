import { KeyrotorError } from '../errors.js'

/**
 * Who a token speaks for. People hold `viewer` (reads), `operator` (triggers approved workflows,
 * views, acknowledges), `security` (approves, halts) or `admin` (also manages tokens and config);
 * `consumer` is a dependent service, bound to one key, that may only fetch that key's material.
 */
export const ROLES = ['viewer', 'operator', 'security', 'admin', 'consumer'] as const
export type Role = (typeof ROLES)[number]

/** The roles held by people, as opposed to services. */
export const HUMAN_ROLES = ['viewer', 'operator', 'security', 'admin'] as const satisfies readonly Role[]

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value)
}

/** A role from user input; BAD_REQUEST listing the roles when it is none of them. */
export function parseRole(value: string): Role {
  if (!isRole(value))
    throw new KeyrotorError('BAD_REQUEST', `unknown role "${value}" (roles: ${ROLES.join(', ')})`)
  return value
}
