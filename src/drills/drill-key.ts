/** The key and dependent every sandbox has (plain names: the CLI reads them without server code). */
export const DRILL_KEY = 'payments-dek'
export const DRILL_ALGORITHM = 'aes-256-gcm'
export const DRILL_DEPENDENT = 'payments-api'
