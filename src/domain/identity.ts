/**
 * A user name as four-eyes rules compare it: Unicode NFKC (so `ｓｅｃ` and `sec`, or a ligature
 * and its letters, are one name) and case-folded (so `Security1` and `security1` are one person).
 * Upper- then lower-casing folds what lower-casing alone leaves apart (ß and SS, ς and σ).
 */
export function identityOf(user: string): string {
  return user.normalize('NFKC').toUpperCase().toLowerCase().normalize('NFKC')
}

/** Whether two user names denote the same person for the four-eyes rules. */
export function sameIdentity(a: string, b: string): boolean {
  return identityOf(a) === identityOf(b)
}
