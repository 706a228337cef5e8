import type { ConfigProblem } from './config-problems.js'
import type { ConfigurableProviderType } from './provider-settings.js'
import type { KeyrotorConfig } from './schema.js'

/** The built-in provider: the local keystore, always there, never declared. */
const LOCAL = 'local'

/** What the checks need to know about the installation the config is meant for. */
export interface SemanticCheckOptions {
  /** Whether this build can use a provider type (one still a placeholder cannot). */
  isProviderAvailable?: ((type: ConfigurableProviderType) => boolean) | undefined
}

/**
 * The rules a schema cannot express: references between parts of the file and uniqueness across
 * lists. Runs on a config that already passed the schema; returns every problem, not the first.
 */
export function semanticProblems(
  config: KeyrotorConfig,
  options: SemanticCheckOptions = {},
): ConfigProblem[] {
  const problems: ConfigProblem[] = []
  const isAvailable = options.isProviderAvailable ?? (() => true)
  const keyIds = new Map<string, number>()
  const aliases = new Map<string, number>()

  for (const [name, settings] of Object.entries(config.providers)) {
    if (name === LOCAL) {
      problems.push({
        path: ['providers', name],
        message: '"local" is the built-in provider and cannot be redefined; choose another name',
      })
    } else if (!isAvailable(settings.type)) {
      problems.push({
        path: ['providers', name, 'type'],
        message: `provider type "${settings.type}" is not available in this build`,
      })
    }
  }

  config.keys.forEach((key, k) => {
    const first = keyIds.get(key.id)
    if (first === undefined) keyIds.set(key.id, k)
    else
      problems.push({
        path: ['keys', k, 'id'],
        message: `duplicate key id "${key.id}" (also keys[${first}])`,
      })

    if (key.provider !== LOCAL && !Object.hasOwn(config.providers, key.provider)) {
      problems.push({ path: ['keys', k, 'provider'], message: unknownProvider(key.provider, config) })
    }

    key.aliases.forEach((alias, a) => {
      const owner = aliases.get(alias)
      if (owner === undefined) aliases.set(alias, k)
      else {
        const where =
          owner === k
            ? 'listed twice for this key'
            : `already used by key "${config.keys[owner]?.id}" (keys[${owner}])`
        problems.push({ path: ['keys', k, 'aliases', a], message: `duplicate alias "${alias}": ${where}` })
      }
    })

    const window = key.policy.window
    if (window !== undefined && !Object.hasOwn(config.windows, window)) {
      problems.push({ path: ['keys', k, 'policy', 'window'], message: unknownWindow(window, config) })
    }

    const dependents = new Set<string>()
    key.dependents.forEach((dependent, d) => {
      if (dependents.has(dependent.name)) {
        problems.push({
          path: ['keys', k, 'dependents', d, 'name'],
          message: `duplicate dependent "${dependent.name}" for key "${key.id}"`,
        })
      }
      dependents.add(dependent.name)
    })
  })

  config.blackouts.forEach((blackout, b) => {
    if (Date.parse(blackout.from) >= Date.parse(blackout.to)) {
      problems.push({ path: ['blackouts', b, 'to'], message: `must be after from (${blackout.from})` })
    }
    blackout.keys?.forEach((keyId, i) => {
      if (!keyIds.has(keyId)) {
        problems.push({ path: ['blackouts', b, 'keys', i], message: `unknown key "${keyId}"` })
      }
    })
  })
  const changeWindow = config.changePolicy?.window
  if (changeWindow !== undefined && !Object.hasOwn(config.windows, changeWindow)) {
    problems.push({ path: ['changePolicy', 'window'], message: unknownWindow(changeWindow, config) })
  }
  return problems
}

function unknownProvider(name: string, config: KeyrotorConfig): string {
  const defined = [LOCAL, ...Object.keys(config.providers).filter((n) => n !== LOCAL)].join(', ')
  return `unknown provider "${name}" (defined: ${defined}; declare it under providers)`
}

function unknownWindow(name: string, config: KeyrotorConfig): string {
  const defined = Object.keys(config.windows)
  const known = defined.length === 0 ? 'no windows are defined' : `defined: ${defined.join(', ')}`
  return `unknown window "${name}" (${known})`
}
