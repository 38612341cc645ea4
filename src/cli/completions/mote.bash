# bash completion for mote (mote completion bash). The verbs and flags come from mote's own
# --help at completion time, so they are always the installed binary's.
_mote() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} i verb="" sub="" words
    for ((i = 1; i < COMP_CWORD; i++)); do
        case ${COMP_WORDS[i]} in
            --root|--log|--log-format|--criu|--rootless) ((i++)) ;;
            -*) ;;
            *) if [[ -z $verb ]]; then verb=${COMP_WORDS[i]}; elif [[ $verb == deploy && -z $sub ]]; then sub=${COMP_WORDS[i]}; fi ;;
        esac
    done
    case $prev in
        -b|--bundle|--root|--log|--pid-file|--console-socket|--pidfd-socket|--config-dir|--config|--store|--keys|--cwd|--process|--resources)
            COMPREPLY=($(compgen -f -- "$cur")); return ;;
    esac
    if [[ -z $verb ]]; then
        words=$(mote --help 2>/dev/null | sed -n '/^Commands:/,$ s/^  \([a-z][a-z0-9-]*\) .*/\1/p')
        [[ $cur == -* ]] && words=$(mote --help 2>/dev/null | sed -n '/^Options:/,/^Commands:/ s/^  \(-[^ ,]*\).*/\1/p')
    elif [[ $verb == deploy && -z $sub ]]; then
        words=$(mote deploy --help 2>/dev/null | sed -n '/^Commands:/,$ s/^  \([a-z][a-z0-9-]*\) .*/\1/p')
    elif [[ $cur == -* ]]; then
        words=$(mote $verb $sub --help 2>/dev/null | sed -n '/^Options:/,$ s/^  \(-[a-z], \)\{0,1\}\(--[a-z0-9-]*\).*/\2/p')
    else
        case $verb in
            start|state|kill|delete|exec|ps|pause|resume|update|events) words=$(mote list -q 2>/dev/null) ;;
            completion) words="bash zsh fish" ;;
            *) COMPREPLY=($(compgen -f -- "$cur")); return ;;
        esac
    fi
    COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -F _mote mote
