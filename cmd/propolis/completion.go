package main

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

// The script asks the binary itself (urfave/cli's --generate-bash-completion) for the commands
// and flags valid at the cursor, so it never goes stale.
const bashCompletion = `# propolis bash completion: source <(propolis completion bash)
_propolis_complete() {
  local cur opts
  COMPREPLY=()
  cur="${COMP_WORDS[COMP_CWORD]}"
  if [[ "$cur" == "-"* ]]; then
    opts=$("${COMP_WORDS[@]:0:$COMP_CWORD}" "${cur}" --generate-bash-completion 2>/dev/null)
  else
    opts=$("${COMP_WORDS[@]:0:$COMP_CWORD}" --generate-bash-completion 2>/dev/null)
  fi
  COMPREPLY=($(compgen -W "${opts}" -- "${cur}"))
  return 0
}
complete -o bashdefault -o default -F _propolis_complete propolis
`

func completionCommand() *cli.Command {
	return &cli.Command{
		Name:  "completion",
		Usage: "print a shell completion script (bash or zsh)",
		Description: `Examples:
   source <(propolis completion bash)                       # this shell
   propolis completion bash > /etc/bash_completion.d/propolis
   echo 'source <(propolis completion zsh)' >> ~/.zshrc`,
		ArgsUsage:    "bash|zsh",
		OnUsageError: onUsageError,
		Action: func(c *cli.Context) error {
			switch c.Args().First() {
			case "bash":
				fmt.Fprint(c.App.Writer, bashCompletion)
			case "zsh":
				fmt.Fprint(c.App.Writer, "autoload -U +X compinit && compinit\nautoload -U +X bashcompinit && bashcompinit\n"+bashCompletion)
			default:
				return usageError("completion: give the shell: bash or zsh")
			}
			return nil
		},
	}
}
