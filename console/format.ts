/** "3d 4h", "12m", "40s": how long ago `iso` was, for ages and last-seen times. */
export function age(iso: string | null | undefined, now = Date.now()): string {
  if (iso === null || iso === undefined) return '—'
  const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1000))
  if (seconds < 60) return `${seconds}s`
  const minutes = Math.floor(seconds / 60)
  if (minutes < 60) return `${minutes}m`
  const hours = Math.floor(minutes / 60)
  if (hours < 48) return `${hours}h ${minutes % 60}m`
  return `${Math.floor(hours / 24)}d ${hours % 24}h`
}

export function when(iso: string | null | undefined): string {
  if (iso === null || iso === undefined) return '—'
  return new Date(iso)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, 'Z')
}
