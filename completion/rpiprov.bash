# bash completion for rpiprov.
# Commands are fixed; each command's options are read from its --help, so
# the completion never falls behind the program.
_rpiprov()
{
    local cur prev words cword
    _init_completion || return

    local commands="eeprom digest prepare flash boot list station report firmware help"
    if [[ $cword -eq 1 ]]; then
        COMPREPLY=($(compgen -W "$commands --help --version" -- "$cur"))
        return
    fi
    local cmd=${words[1]}
    case $cmd in
        help)
            COMPREPLY=($(compgen -W "${commands% help}" -- "$cur"))
            return
            ;;
        eeprom)
            if [[ $cword -eq 2 ]]; then
                COMPREPLY=($(compgen -W "info config set extract" -- "$cur"))
                return
            fi
            ;;
        firmware)
            if [[ $cword -eq 2 ]]; then
                COMPREPLY=($(compgen -W "list fetch" -- "$cur"))
                return
            fi
            ;;
    esac
    case $prev in
        --profile|-P)
            COMPREPLY=($(compgen -W "default netboot netboot-only nvme usb-then-sd" -- "$cur"))
            return
            ;;
        --soc|--sim-soc)
            local socs="2711 2712"
            [[ $cmd == firmware ]] && socs="2711 2712 all"
            COMPREPLY=($(compgen -W "$socs" -- "$cur"))
            return
            ;;
        --channel)
            COMPREPLY=($(compgen -W "default latest" -- "$cur"))
            return
            ;;
        --sim-timing)
            COMPREPLY=($(compgen -W "zero fast realistic" -- "$cur"))
            return
            ;;
        -C|--metadata-dir|--dir|-d|--output|-o)
            _filedir -d
            [[ $prev == -o || $prev == --output ]] && _filedir
            return
            ;;
    esac
    if [[ $cur == -* ]]; then
        local opts
        opts=$("${words[0]}" "$cmd" --help 2>/dev/null | grep -oE -- '--[a-z][a-z0-9-]*' | sort -u)
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
        return
    fi
    _filedir
}
complete -F _rpiprov rpiprov
