#compdef mote
# zsh completion for mote (mote completion zsh). The verbs and flags come from mote's own
# --help at completion time, so they are always the installed binary's.
_mote() {
    local -a words_ verbs
    local verb="" sub="" i
    for ((i = 2; i < CURRENT; i++)); do
        case ${words[i]} in
            -*) ;;
            *) if [[ -z $verb ]]; then verb=${words[i]}; elif [[ $verb == deploy && -z $sub ]]; then sub=${words[i]}; fi ;;
        esac
    done
    if [[ -z $verb ]]; then
        verbs=(${(f)"$(mote --help 2>/dev/null | sed -n '/^Commands:/,$ s/^  \([a-z][a-z0-9-]*\) .*/\1/p')"})
        compadd -a verbs
    elif [[ $verb == deploy && -z $sub ]]; then
        verbs=(${(f)"$(mote deploy --help 2>/dev/null | sed -n '/^Commands:/,$ s/^  \([a-z][a-z0-9-]*\) .*/\1/p')"})
        compadd -a verbs
    elif [[ $PREFIX == -* ]]; then
        words_=(${(f)"$(mote $verb $sub --help 2>/dev/null | sed -n '/^Options:/,$ s/^  \(-[a-z], \)\{0,1\}\(--[a-z0-9-]*\).*/\2/p')"})
        compadd -a words_
    else
        case $verb in
            start|state|kill|delete|exec|ps|pause|resume|update|events)
                words_=(${(f)"$(mote list -q 2>/dev/null)"}); compadd -a words_ ;;
            completion) compadd bash zsh fish ;;
            *) _files ;;
        esac
    fi
}
_mote "$@"
