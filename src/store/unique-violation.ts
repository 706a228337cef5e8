/**
 * Which unique constraint a failed insert hit, on either dialect, or null if the error is not a
 * unique violation. The database, not application code, decides races such as two triggers for
 * one key (DESIGN §4.1); this turns its verdict into something the services can name.
 */
export function uniqueViolationColumn(error: unknown): string | null {
  if (typeof error !== 'object' || error === null) return null
  const e = error as { code?: unknown; constraint?: unknown; message?: unknown }
  // PostgreSQL: SQLSTATE 23505 with the constraint's name, e.g. runs_active_key_key
  if (e.code === '23505' && typeof e.constraint === 'string') return e.constraint
  // SQLite: "UNIQUE constraint failed: runs.active_key"
  if (typeof e.code === 'string' && e.code.startsWith('SQLITE_CONSTRAINT') && typeof e.message === 'string') {
    const match = /UNIQUE constraint failed: ([\w., ]+)/.exec(e.message)
    if (match !== null) return (match[1] as string).replace(/\./g, '_')
    if (e.code === 'SQLITE_CONSTRAINT_PRIMARYKEY') return 'primary_key'
  }
  return null
}

/** True when the violation concerns `table.column` (SQLite says runs_active_key, PostgreSQL runs_active_key_key). */
export function violates(error: unknown, table: string, column: string): boolean {
  const name = uniqueViolationColumn(error)
  return name !== null && name.startsWith(`${table}_${column}`)
}
