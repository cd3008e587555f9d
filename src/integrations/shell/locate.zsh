# gatekeep's path when this snippet was made, else gatekeep on PATH (absolute paths only).
__gatekeep_locate() {
  [[ -n $__gatekeep_bin && -x $__gatekeep_bin ]] && return 0
  local __gatekeep_path=${commands[gatekeep]-}
  [[ $__gatekeep_path == /* && -x $__gatekeep_path ]] || return 1
  __gatekeep_bin=$__gatekeep_path
}
