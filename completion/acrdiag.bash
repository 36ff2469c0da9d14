# bash completion for acrdiag(1)                            -*- shell-script -*-
_acrdiag()
{
    local cur prev words cword
    _init_completion || return

    local cmd="" i
    for ((i = 1; i < cword; i++)); do
        case ${words[i]} in
            analyze | probe | watch) cmd=${words[i]}; break ;;
        esac
    done

    case $prev in
        -r | --read)
            _filedir '@(pcap|pcapng|cap|gz|zst|xz)'
            return ;;
        -o | --output | -w | --write | --cacert)
            _filedir
            return ;;
        --config-root)
            _filedir -d
            return ;;
        -i | --interface)
            _available_interfaces -a
            return ;;
        --user)
            COMPREPLY=($(compgen -u -- "$cur"))
            return ;;
        --color)
            COMPREPLY=($(compgen -W 'auto never always' -- "$cur"))
            return ;;
        --threads)
            COMPREPLY=($(compgen -W '1 2' -- "$cur"))
            return ;;
        --host | --port | --private-net | --duration | --until-idle | --dns-server | \
            --data-endpoint | --region | --control | --timeout | --proxy | -B | --buffer-size)
            return ;;
    esac
    if [[ $cur == --color=* ]]; then
        COMPREPLY=($(compgen -W 'auto never always' -- "${cur#--color=}"))
        return
    fi

    local common="--json --json-lines --markdown --host --port --private-net --color --color= --no-color --help --version -h -V"
    if [[ -z $cmd ]]; then
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W "$common -r --read -o --output" -- "$cur"))
        else
            COMPREPLY=($(compgen -W 'analyze probe watch' -- "$cur"))
        fi
        return
    fi
    case $cmd in
        analyze)
            if [[ $cur == -* ]]; then
                COMPREPLY=($(compgen -W "$common -r --read -o --output --threads --" -- "$cur"))
            else
                _filedir '@(pcap|pcapng|cap|gz|zst|xz)'
            fi ;;
        watch)
            COMPREPLY=($(compgen -W "$common -i --interface --duration --until-idle -w --write --user --no-keys -B --buffer-size" -- "$cur")) ;;
        probe)
            COMPREPLY=($(compgen -W "--json --markdown --private-net --dns-server --data-endpoint --region
                --control --cacert --proxy --no-proxy --config-root --no-keys --timeout -w -B --buffer-size --dry-run --push-check --username
                --password-stdin --token-stdin --help --version -h -V" -- "$cur")) ;;
    esac
    [[ ${COMPREPLY-} == *= ]] && compopt -o nospace
} &&
    complete -F _acrdiag acrdiag
