# Bash completion for ernctl: `source client/completion/ernctl.bash` (or copy it to
# /etc/bash_completion.d/ernctl). Completes commands, sub-commands, flags and file names.
_ernctl() {
  local current=${COMP_WORDS[COMP_CWORD]} words=() i command=""
  for ((i = 1; i < COMP_CWORD; i++)); do
    case ${COMP_WORDS[i]} in
      --server | --token | --ca) ((i++)) ;;  # a global flag and its value
      -*) ;;
      *) words+=("${COMP_WORDS[i]}") ;;
    esac
  done
  local globals="--server --token --ca --json --help --version"
  if [ ${#words[@]} -eq 0 ]; then
    COMPREPLY=($(compgen -W "model train eval tune-nlm denoise noise compare search models tokens audit $globals" -- "$current"))
    return
  fi
  command=${words[0]}
  if [ ${#words[@]} -eq 1 ]; then
    case $command in
      model) COMPREPLY=($(compgen -W "init import-nafnet info export derive profile" -- "$current")); return ;;
      search) COMPREPLY=($(compgen -W "run-local submit list get watch cancel" -- "$current")); return ;;
      models) COMPREPLY=($(compgen -W "list get set-default import" -- "$current")); return ;;
      tokens) COMPREPLY=($(compgen -W "create list revoke" -- "$current")); return ;;
    esac
  fi
  if [[ $current == -* ]]; then
    local flags
    flags=$(ernctl "${words[@]:0:2}" --help 2>/dev/null | grep -o -- '--[a-z0-9-]*' | sort -u)
    COMPREPLY=($(compgen -W "$flags $globals" -- "$current"))
    return
  fi
  COMPREPLY=($(compgen -f -- "$current"))
}
complete -o filenames -F _ernctl ernctl
