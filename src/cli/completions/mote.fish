# fish completion for mote (mote completion fish). The verbs and flags come from mote's own
# --help at completion time, so they are always the installed binary's.
function __mote_verbs
    mote $argv --help 2>/dev/null | sed -n '/^Commands:/,$ s/^  \([a-z][a-z0-9-]*\) .*/\1/p'
end
function __mote_flags
    set -l t (commandline -opc)
    mote $t[2..-1] --help 2>/dev/null | sed -n '/^Options:/,$ s/^  \(-[a-z], \)\{0,1\}\(--[a-z0-9-]*\).*/\2/p'
end
complete -c mote -f
complete -c mote -n '__fish_use_subcommand' -a '(__mote_verbs)'
complete -c mote -n '__fish_seen_subcommand_from deploy; and not __fish_seen_subcommand_from (__mote_verbs deploy)' -a '(__mote_verbs deploy)'
complete -c mote -n 'string match -q -- "-*" (commandline -ct)' -a '(__mote_flags)'
complete -c mote -n '__fish_seen_subcommand_from start state kill delete exec ps pause resume update events' -a '(mote list -q 2>/dev/null)'
complete -c mote -n '__fish_seen_subcommand_from completion' -a 'bash zsh fish'
complete -c mote -n '__fish_seen_subcommand_from run create spec stage' -F
