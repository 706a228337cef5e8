import { describe, expect, it } from 'vitest'
import { isKeyrotorError } from '../errors.js'
import { readEnv } from './env.js'

describe('readEnv', () => {
  it('fills the documented defaults when nothing is set', () => {
    expect(readEnv({})).toEqual({
      url: 'http://127.0.0.1:8420',
      token: undefined,
      masterKey: undefined,
      logLevel: 'info',
      crashPoint: undefined,
      caFile: undefined,
    })
  })

  it('reads every variable and returns a frozen object', () => {
    const env = readEnv({
      KEYROTOR_URL: 'https://keyrotor.internal:8443/',
      KEYROTOR_TOKEN: 'kr_abc',
      KEYROTOR_MASTER_KEY: 'mk',
      KEYROTOR_LOG_LEVEL: 'DEBUG',
      KEYROTOR_CRASH_POINT: 'after-promote',
      KEYROTOR_CA_FILE: '/etc/keyrotor/ca.pem',
      UNRELATED: 'x',
    })
    expect(env).toEqual({
      url: 'https://keyrotor.internal:8443',
      token: 'kr_abc',
      masterKey: 'mk',
      logLevel: 'debug',
      crashPoint: 'after-promote',
      caFile: '/etc/keyrotor/ca.pem',
    })
    expect(Object.isFrozen(env)).toBe(true)
  })

  it('treats empty variables as unset', () => {
    const env = readEnv({ KEYROTOR_URL: '', KEYROTOR_TOKEN: '', KEYROTOR_LOG_LEVEL: '' })
    expect(env.url).toBe('http://127.0.0.1:8420')
    expect(env.token).toBeUndefined()
    expect(env.logLevel).toBe('info')
  })

  it('names each invalid variable without echoing its value', () => {
    let caught: unknown
    try {
      readEnv({ KEYROTOR_URL: 'ftp://secret-host', KEYROTOR_LOG_LEVEL: 'loud' })
    } catch (error) {
      caught = error
    }
    expect(isKeyrotorError(caught, 'INVALID_CONFIG')).toBe(true)
    const message = (caught as Error).message
    expect(message).toContain('environment: KEYROTOR_URL: must be an http(s) URL')
    expect(message).toContain('environment: KEYROTOR_LOG_LEVEL: must be one of fatal, error')
    expect(message).not.toContain('secret-host')
    expect(message).not.toContain('loud')
  })
})
