import { Argument } from 'commander'
import type { Command } from 'commander'
import type { Act } from './session.js'

/** One command path (`runs list`) with the words that may follow it. */
interface CompletionEntry {
  path: string
  words: string[]
}

/** Walks the commander tree once, so completion never drifts from the real commands. */
export function completionEntries(program: Command): CompletionEntry[] {
  const entries: CompletionEntry[] = []
  const visit = (command: Command, path: string[]): void => {
    const subcommands = command.commands.map((sub) => sub.name())
    const options = command.options.flatMap((option) => [option.long, option.short]).filter(isWord)
    const choices = command.registeredArguments.flatMap((argument) => argument.argChoices ?? [])
    const help = command.commands.length > 0 || path.length > 0 ? ['--help'] : []
    entries.push({ path: path.join(' '), words: [...subcommands, ...choices, ...options, ...help] })
    for (const sub of command.commands) visit(sub, [...path, sub.name()])
  }
  visit(program, [])
  return entries
}

function isWord(value: string | undefined): value is string {
  return typeof value === 'string' && value.length > 0
}

// Command and option names are [a-z-] only, so single quotes need no escaping.
export function bashCompletion(program: Command): string {
  const cases = completionEntries(program)
    .map((entry) => `    '${entry.path}') words='${entry.words.join(' ')}' ;;`)
    .join('\n')
  return `# keyrotor bash completion: source it, or save as /etc/bash_completion.d/keyrotor
_keyrotor() {
  local cur path word i words
  cur="\${COMP_WORDS[COMP_CWORD]}"
  path=''
  # the command path is the words before the cursor that name a subcommand
  for ((i = 1; i < COMP_CWORD; i++)); do
    word="\${COMP_WORDS[i]}"
    [[ "$word" == -* ]] && continue
    if _keyrotor_words "\${path:+$path }$word" >/dev/null; then path="\${path:+$path }$word"; fi
  done
  words="$(_keyrotor_words "$path")"
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
_keyrotor_words() {
  local words
  case "$1" in
${cases}
    *) return 1 ;;
  esac
  printf '%s\\n' "$words"
}
complete -o default -F _keyrotor keyrotor
`
}

export function zshCompletion(program: Command): string {
  const cases = completionEntries(program)
    .map((entry) => `    '${entry.path}') kw=(${entry.words.join(' ')}) ;;`)
    .join('\n')
  return `#compdef keyrotor
# keyrotor zsh completion: save as _keyrotor in a folder on $fpath, then run compinit
# $words is zsh's own array of the command line: the candidates live in kw
_keyrotor_words() {
  local -a kw
  case "$1" in
${cases}
    *) return 1 ;;
  esac
  print -r -- "\${kw[@]}"
}
_keyrotor() {
  local path_ word
  path_=''
  for word in "\${(@)words[2,CURRENT-1]}"; do
    [[ "$word" == -* ]] && continue
    if _keyrotor_words "\${path_:+$path_ }$word" >/dev/null; then path_="\${path_:+$path_ }$word"; fi
  done
  local -a candidates
  candidates=(\${=$(_keyrotor_words "$path_")})
  compadd -- "\${candidates[@]}"
}
if [[ "\${funcstack[1]}" == _keyrotor ]]; then _keyrotor "$@"; else compdef _keyrotor keyrotor; fi
`
}

const SHELLS = { bash: bashCompletion, zsh: zshCompletion } as const
type Shell = keyof typeof SHELLS

export function registerCompletion(program: Command, act: Act): void {
  program
    .command('completion')
    .description('print a shell completion script: eval "$(keyrotor completion bash)"')
    .addArgument(new Argument('<shell>', 'the shell to complete for').choices(Object.keys(SHELLS)))
    .action(
      act(async ({ ctx }, args) => {
        ctx.stdout(SHELLS[args[0] as Shell](program))
      }),
    )
}
