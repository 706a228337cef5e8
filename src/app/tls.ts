import { readFileSync } from 'node:fs'
import { KeyrotorError } from '../errors.js'
import type { StartOptions } from './start-options.js'

/** The certificate and key when both are given; INVALID_CONFIG for one without the other or an unreadable file. */
export function readTls(options: StartOptions): { cert: Buffer; key: Buffer } | undefined {
  const { tlsCertFile, tlsKeyFile } = options
  if (tlsCertFile === undefined && tlsKeyFile === undefined) return undefined
  if (tlsCertFile === undefined || tlsKeyFile === undefined) {
    throw new KeyrotorError('INVALID_CONFIG', '--tls-cert and --tls-key go together: give both or neither')
  }
  const read = (file: string, flag: string) => {
    try {
      return readFileSync(file)
    } catch (error) {
      throw new KeyrotorError('INVALID_CONFIG', `${flag}: cannot read ${file}: ${(error as Error).message}`)
    }
  }
  return { cert: read(tlsCertFile, '--tls-cert'), key: read(tlsKeyFile, '--tls-key') }
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.')
}
