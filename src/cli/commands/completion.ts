import { Command, Option, UsageError } from 'clipanion';
import { BaseCommand } from '../base-command.js';
import { BUILTINS, COMMAND_TABLE } from '../command-table.js';

/**
 * Words that may follow each command prefix: sub-commands and, for a full command, its flags.
 * `aliases` lists each command's paths (first one primary): an alias completes as its command.
 */
export function completionTable(
  definitions: { path: string; options: { definition: string }[] }[],
  aliases: string[][][] = [],
): Map<string, Set<string>> {
  const table = new Map<string, Set<string>>();
  const add = (key: string, word: string) => {
    let set = table.get(key);
    if (!set) table.set(key, (set = new Set()));
    set.add(word);
  };
  const addPath = (words: string[]) => {
    for (let i = 0; i < words.length; i++) add(words.slice(0, i).join(' '), words[i]!);
  };
  const flags = new Map<string, string[]>();
  for (const d of definitions) {
    const words = d.path.split(' ').slice(1); // drop the binary name
    addPath(words);
    const names = d.options
      .flatMap((o) => o.definition.split(' ')[0]!.split(','))
      .filter((n) => n.startsWith('-'));
    flags.set(words.join(' '), names);
    for (const n of names) add(words.join(' '), n);
  }
  for (const paths of aliases) {
    const names = flags.get(paths[0]?.join(' ') ?? '') ?? [];
    for (const words of paths.slice(1)) {
      addPath(words);
      for (const n of names) add(words.join(' '), n);
    }
  }
  return table;
}

export class CompletionCommand extends BaseCommand {
  static override paths = [['completion']];
  static override usage = Command.Usage({
    category: 'Configuration',
    description: 'Print a shell completion script (bash or zsh)',
    details: 'Generated from the commands and flags this binary knows, so it never lags behind them.',
    examples: [
      ['Bash, this shell', 'source <($0 completion bash)'],
      ['Bash, for good', '$0 completion bash > ~/.local/share/bash-completion/completions/bai'],
      ['Zsh', 'source <($0 completion zsh)'],
    ],
  });

  shell = Option.String({ name: 'SHELL' });

  async run(): Promise<void> {
    if (this.shell !== 'bash' && this.shell !== 'zsh')
      throw new UsageError(`completion knows bash and zsh (got "${this.shell}").`);
    const table = completionTable(
      this.cli.definitions(),
      [...COMMAND_TABLE, ...BUILTINS].map((e) => e.paths ?? []),
    );
    const cases = [...table.entries()]
      .sort((a, b) => b[0].length - a[0].length)
      .map(([key, words]) => `    "${key}") words="${[...words].sort().join(' ')}" ;;`)
      .join('\n');
    const script = `# bai completion (bash; zsh through bashcompinit)
_bai_complete() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" path="" w i words
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    [[ "$w" == -* ]] && continue
    case "\${path:+$path }$w" in
${[...table.keys()]
  .filter((k) => k !== '')
  .map((k) => `      "${k}") path="${k}" ;;`)
  .join('\n')}
    esac
  done
  case "$path" in
${cases}
    *) words="" ;;
  esac
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
`;
    const tail =
      this.shell === 'zsh'
        ? 'autoload -U +X bashcompinit && bashcompinit\ncomplete -o default -F _bai_complete bai\n'
        : 'complete -o default -F _bai_complete bai\n';
    this.context.stdout.write(script + tail);
  }
}
